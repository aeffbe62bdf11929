/**
 * The metric names a PromQL expression reads, found without a PromQL parser: drop what cannot hold a metric
 * name (string literals, label matchers in braces, range and subquery brackets, the label lists of by, without,
 * on, ignoring, group_left and group_right), then every identifier left that is not a function or aggregation
 * (followed by a parenthesis), a keyword or a number is a metric name. Enough for the queries this project
 * ships; test/unit/monitoring.test.ts pins its behaviour on examples.
 */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
]);

export function metricNamesInQuery(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?[\w$]+/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = match[0];
    const after = stripped.slice((match.index ?? 0) + name.length);
    if (/^\s*\(/.test(after)) continue; // a function or an aggregation
    if (KEYWORDS.has(name.toLowerCase())) continue;
    // The exponent or hex digits of a number (1e3, 0x1f) are not names.
    const before = stripped.slice(0, match.index ?? 0);
    if (/[0-9.]$/.test(before)) continue;
    names.add(name);
  }
  return [...names].sort();
}
