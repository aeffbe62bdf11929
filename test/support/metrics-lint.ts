/**
 * Checks a /metrics exposition the way `promtool check metrics` does, for the tests that scrape a live
 * operator: it must parse (parse-prometheus-text-format, plus a line grammar the parser is lenient about),
 * and follow Prometheus naming conventions. Values are read as Go's ParseFloat reads them (prom-client writes
 * `Nan`, which Prometheus accepts). Returns the problems found; an empty list means clean.
 * The parser merges the samples of a histogram with labels into one, so sample values are read from the
 * lines by the grammar here.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const sampleLine =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|[Nn][Aa][Nn]|[+-]?[Ii][Nn][Ff])( -?\d+)?$/;
const nonBaseUnits =
  /_(milliseconds|microseconds|nanoseconds|minutes|hours|days|ms|kilobytes|megabytes|gigabytes|kb|mb|gb|percent)(_|$)/;

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  families: ParsedFamily[];
  /** Every sample line, as written (histograms: their _bucket, _sum and _count lines). */
  lines: Sample[];
  problems: string[];
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
    labels[match[1] ?? ''] = (match[2] ?? '').replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return labels;
}

export function checkExposition(text: string): Exposition {
  const problems: string[] = [];
  const helped = new Set<string>();
  const typed = new Map<string, string>();
  const lines: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      if (!help[2]?.trim()) problems.push(`${help[1]}: no help text`);
      helped.add(help[1] ?? '');
    } else if (type) typed.set(type[1] ?? '', type[2] ?? '');
    else if (line.startsWith('#')) problems.push(`unexpected comment: ${line}`);
    else {
      const sample = sampleLine.exec(line);
      if (!sample) problems.push(`not a sample line: ${line}`);
      else lines.push({ name: sample[1] ?? '', labels: parseLabels(sample[2] ?? ''), value: Number(sample[4]) });
    }
  }
  const families = parsePrometheusTextFormat(text);
  for (const family of families) {
    const { name } = family;
    const type = typed.get(name);
    if (!metricName.test(name)) problems.push(`${name}: not a metric name`);
    if (!helped.has(name)) problems.push(`${name}: no HELP line`);
    if (!type) problems.push(`${name}: no TYPE line`);
    if (/[A-Z]/.test(name)) problems.push(`${name}: metric names should be snake_case, not camelCase`);
    if (type === 'counter' && !name.endsWith('_total'))
      problems.push(`${name}: counter metrics should have "_total" suffix`);
    if (type !== 'counter' && name.endsWith('_total'))
      problems.push(`${name}: non-counter metrics should not have "_total" suffix`);
    if (nonBaseUnits.test(name))
      problems.push(`${name}: use base units (seconds, bytes), not ${nonBaseUnits.exec(name)?.[1]}`);
    const own = lines.filter((l) => l.name === name || l.name.startsWith(`${name}_`));
    for (const sample of own)
      for (const label of Object.keys(sample.labels))
        if (/[A-Z]/.test(label)) problems.push(`${name}: label ${label} should be snake_case`);
    if (type === 'histogram') {
      const counts = own.filter((l) => l.name === `${name}_count`).length;
      const infinite = own.filter((l) => l.name === `${name}_bucket` && l.labels.le === '+Inf').length;
      if (counts !== infinite) problems.push(`${name}: ${counts} series but ${infinite} +Inf buckets`);
    }
  }
  return { families, lines, problems };
}

/** The series of one family, as label sets with their value (histograms and summaries: their count). */
export function samples(
  exposition: Exposition,
  name: string,
): Array<{ labels: Record<string, string>; value: number }> {
  const family = exposition.families.find((f) => f.name === name);
  const line = family?.type === 'HISTOGRAM' || family?.type === 'SUMMARY' ? `${name}_count` : name;
  return exposition.lines.filter((l) => l.name === line).map(({ labels, value }) => ({ labels, value }));
}
