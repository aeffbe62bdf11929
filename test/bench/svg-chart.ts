/**
 * A small SVG line chart, written by hand so the benchmark draws its own figure without a plotting
 * dependency: axes with round ticks, one polyline per series (step or straight), optional vertical markers
 * (e.g. the lower bound), a legend. Pure: data in, SVG text out.
 */

export interface Series {
  name: string;
  /** [x, y] points, x ascending. */
  points: ReadonlyArray<readonly [number, number]>;
  color: string;
  /** Draw as steps (the value holds until the next point); default false. */
  step?: boolean;
  dashed?: boolean;
}

export interface Marker {
  x: number;
  label: string;
  color: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  markers?: readonly Marker[];
  width?: number;
  height?: number;
  /** Fixed axis ranges; default from the data (starting at 0). */
  xMax?: number;
  yMax?: number;
}

/** "Nice" tick step for a range split in about `count` parts: 1, 2 or 5 times a power of ten. */
export function niceStep(range: number, count = 5): number {
  if (!(range > 0) || !Number.isFinite(range)) return 1;
  const raw = range / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/** Ticks from 0 to at least `max`, on a nice step. */
export function ticks(max: number, count = 5): number[] {
  const step = niceStep(max, count);
  const out: number[] = [];
  const top = Math.ceil(max / step - 1e-9) * step;
  for (let v = 0; v <= top + step / 2; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function label(value: number): string {
  if (Math.abs(value) >= 10_000) return `${value / 1000}k`;
  return String(Number(value.toPrecision(6)));
}

export function renderLineChart(spec: ChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 420;
  const margin = { left: 70, right: 20, top: 40, bottom: 80 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const allX = spec.series.flatMap((s) => s.points.map((p) => p[0])).concat((spec.markers ?? []).map((m) => m.x));
  const allY = spec.series.flatMap((s) => s.points.map((p) => p[1]));
  const xTicks = ticks(spec.xMax ?? Math.max(1, ...allX));
  const yTicks = ticks(spec.yMax ?? Math.max(1, ...allY));
  const xMax = xTicks[xTicks.length - 1] as number;
  const yMax = yTicks[yTicks.length - 1] as number;
  const sx = (x: number): number => margin.left + (x / xMax) * plotW;
  const sy = (y: number): number => margin.top + plotH - (y / yMax) * plotH;
  const f = (n: number): string => n.toFixed(1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`,
  );
  for (const t of yTicks) {
    parts.push(
      `<line x1="${f(margin.left)}" y1="${f(sy(t))}" x2="${f(margin.left + plotW)}" y2="${f(sy(t))}" stroke="#e5e5e5"/>`,
    );
    parts.push(`<text x="${f(margin.left - 6)}" y="${f(sy(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of xTicks) {
    parts.push(
      `<line x1="${f(sx(t))}" y1="${f(margin.top)}" x2="${f(sx(t))}" y2="${f(margin.top + plotH)}" stroke="#f0f0f0"/>`,
    );
    parts.push(`<text x="${f(sx(t))}" y="${f(margin.top + plotH + 16)}" text-anchor="middle">${label(t)}</text>`);
  }
  parts.push(
    `<line x1="${margin.left}" y1="${f(margin.top + plotH)}" x2="${f(margin.left + plotW)}" y2="${f(margin.top + plotH)}" stroke="black"/>`,
  );
  parts.push(
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${f(margin.top + plotH)}" stroke="black"/>`,
  );
  parts.push(
    `<text x="${f(margin.left + plotW / 2)}" y="${f(margin.top + plotH + 34)}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(16 ${f(margin.top + plotH / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  (spec.markers ?? []).forEach((marker, i) => {
    parts.push(
      `<line x1="${f(sx(marker.x))}" y1="${margin.top}" x2="${f(sx(marker.x))}" y2="${f(margin.top + plotH)}" stroke="${marker.color}" stroke-dasharray="2 3"/>`,
    );
    // Each label a line lower than the one before, so that close markers stay readable; right-aligned near the right edge.
    const nearRight = sx(marker.x) > margin.left + plotW * 0.8;
    const x = nearRight ? sx(marker.x) - 4 : sx(marker.x) + 4;
    parts.push(
      `<text x="${f(x)}" y="${margin.top + 12 + 14 * i}" fill="${marker.color}"${nearRight ? ' text-anchor="end"' : ''}>${escapeXml(marker.label)}</text>`,
    );
  });
  for (const series of spec.series) {
    if (series.points.length === 0) continue;
    const coords: string[] = [];
    let previous: readonly [number, number] | undefined;
    for (const point of series.points) {
      if (series.step && previous) coords.push(`${f(sx(point[0]))},${f(sy(previous[1]))}`);
      coords.push(`${f(sx(point[0]))},${f(sy(point[1]))}`);
      previous = point;
    }
    parts.push(
      `<polyline fill="none" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''} points="${coords.join(' ')}"/>`,
    );
  }
  let legendX = margin.left;
  const legendY = height - 22;
  for (const series of spec.series) {
    parts.push(
      `<line x1="${legendX}" y1="${legendY - 4}" x2="${legendX + 24}" y2="${legendY - 4}" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    parts.push(`<text x="${legendX + 30}" y="${legendY}">${escapeXml(series.name)}</text>`);
    legendX += 40 + series.name.length * 7;
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
