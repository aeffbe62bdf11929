/**
 * Checks a /metrics exposition the way `promtool check metrics` does, for the tests that scrape a live
 * operator: it must parse (parse-prometheus-text-format, plus a line grammar the parser is lenient about),
 * and follow Prometheus naming conventions. Values are read as Go's ParseFloat reads them (prom-client writes
 * `Nan`, which Prometheus accepts). Returns the problems found; an empty list means clean.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const sampleLine =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|[Nn][Aa][Nn]|[+-]?[Ii][Nn][Ff])( -?\d+)?$/;
const nonBaseUnits =
  /_(milliseconds|microseconds|nanoseconds|minutes|hours|days|ms|kilobytes|megabytes|gigabytes|kb|mb|gb|percent)(_|$)/;

export interface Exposition {
  families: ParsedFamily[];
  problems: string[];
}

export function checkExposition(text: string): Exposition {
  const problems: string[] = [];
  const helped = new Set<string>();
  const typed = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (help) {
      if (!help[2]?.trim()) problems.push(`${help[1]}: no help text`);
      helped.add(help[1] ?? '');
    } else if (type) typed.set(type[1] ?? '', type[2] ?? '');
    else if (line.startsWith('#')) problems.push(`unexpected comment: ${line}`);
    else if (!sampleLine.test(line)) problems.push(`not a sample line: ${line}`);
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
    for (const sample of family.metrics) {
      for (const label of Object.keys(sample.labels ?? {}))
        if (/[A-Z]/.test(label)) problems.push(`${name}: label ${label} should be snake_case`);
      if (type === 'histogram' && sample.buckets?.['+Inf'] === undefined)
        problems.push(`${name}: histogram without +Inf bucket`);
    }
  }
  return { families, problems };
}

/** The samples of one family, as label sets with their value (histograms: their count). */
export function samples(
  exposition: Exposition,
  name: string,
): Array<{ labels: Record<string, string>; value: number }> {
  const family = exposition.families.find((f) => f.name === name);
  return (family?.metrics ?? []).map((sample) => ({
    labels: sample.labels ?? {},
    value: Number(sample.value ?? sample.count ?? Number.NaN),
  }));
}
