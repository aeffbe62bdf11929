/**
 * Draws deploy/monitoring/dashboard.json as a picture for docs/operations.md: every panel's queries are run as
 * range queries against a real Prometheus, each panel is drawn with the project's own chart code
 * (test/bench/svg-chart.ts) at its place on the dashboard's 24-column grid, and the SVG is turned into a PNG with
 * rsvg-convert (Debian's librsvg2-bin). Not Grafana's look, but the same panels, queries and legends.
 * The Prometheus e2e (test/e2e/prometheus.test.ts) calls renderDashboardPng with the data of its run;
 * `DASHBOARD_PNG=docs/dashboard.png npx mocha test/e2e/prometheus.test.ts` refreshes the picture in the docs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderLineChart, type Series } from '../bench/svg-chart.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const COLUMN_PX = 60;
const ROW_PX = 50;
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];

export interface DashboardPanel {
  id: number;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: { expr: string; legendFormat?: string }[];
}

/** One range-query result: a series' labels and its [unix seconds, value] samples. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export function readDashboard(): { title: string; panels: DashboardPanel[] } {
  return JSON.parse(readFileSync(join(root, 'deploy/monitoring/dashboard.json'), 'utf8')) as {
    title: string;
    panels: DashboardPanel[];
  };
}

/** Grafana's legend format: {{label}} replaced by the series' label value. */
export function legendOf(format: string | undefined, metric: Record<string, string>): string {
  if (!format)
    return (
      Object.entries(metric)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || 'value'
    );
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => metric[name] ?? '');
}

/** The dashboard as one SVG: each panel a line chart over the seconds since `start`. Pure. */
export function dashboardSvg(
  dashboard: { title: string; panels: DashboardPanel[] },
  results: ReadonlyMap<string, RangeSeries[]>,
  start: number,
): string {
  const width = 24 * COLUMN_PX;
  const height = Math.max(...dashboard.panels.map((p) => (p.gridPos.y + p.gridPos.h) * ROW_PX));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#f4f5f5"/>`,
  ];
  for (const panel of dashboard.panels) {
    const series: Series[] = [];
    for (const target of panel.targets ?? []) {
      for (const result of results.get(target.expr) ?? []) {
        const points = result.values
          .map(([time, value]) => [time - start, Number(value)] as const)
          .filter(([, value]) => Number.isFinite(value));
        series.push({
          name: legendOf(target.legendFormat, result.metric),
          points,
          color: PALETTE[series.length % PALETTE.length] as string,
        });
      }
    }
    const chart = renderLineChart({
      title: panel.title,
      xLabel: 'seconds',
      yLabel: panel.fieldConfig?.defaults?.unit ?? '',
      series,
      width: panel.gridPos.w * COLUMN_PX - 8,
      height: panel.gridPos.h * ROW_PX - 8,
    });
    const x = panel.gridPos.x * COLUMN_PX + 4;
    const y = panel.gridPos.y * ROW_PX + 4;
    // A nested <svg> places the chart; its own root element carries the size.
    parts.push(chart.replace('<svg ', `<svg x="${x}" y="${y}" `));
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Runs every query of the dashboard over [start, end] against `prometheusUrl` and writes the PNG to `outPath`. */
export async function renderDashboardPng(options: {
  prometheusUrl: string;
  start: number;
  end: number;
  stepSeconds: number;
  outPath: string;
}): Promise<void> {
  const dashboard = readDashboard();
  const results = new Map<string, RangeSeries[]>();
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      // $__rate_interval is Grafana's; four scrape intervals is what it would choose here.
      const expr = target.expr.replaceAll('$__rate_interval', `${4 * options.stepSeconds}s`);
      const query = new URLSearchParams({
        query: expr,
        start: String(options.start),
        end: String(options.end),
        step: String(options.stepSeconds),
      });
      const response = await fetch(`${options.prometheusUrl}/api/v1/query_range?${query}`);
      const body = (await response.json()) as { status: string; error?: string; data: { result: RangeSeries[] } };
      if (body.status !== 'success') throw new Error(`${panel.title}: ${expr}: ${body.error}`);
      results.set(target.expr, body.data.result);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-'));
  try {
    const svgPath = join(dir, 'dashboard.svg');
    writeFileSync(svgPath, dashboardSvg(dashboard, results, options.start));
    execFileSync('rsvg-convert', ['--format', 'png', '--output', options.outPath, svgPath]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
