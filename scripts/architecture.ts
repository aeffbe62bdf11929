/**
 * Draws docs/architecture.svg: the data flow of ../shared/design.md, from the CloudPhoneRoute watch to the
 * CPH calls and back to the status. Run `npm run docs:architecture` after changing the boxes below.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Box {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
  title: string;
  lines: string[];
  fill: string;
}

const boxes: Box[] = [
  {
    id: 'api',
    x: 20,
    y: 30,
    w: 220,
    h: 90,
    title: 'kube-apiserver',
    lines: ['CloudPhoneRoute (spec, /status)', 'Secrets (get), Leases, Events'],
    fill: '#e8f0fe',
  },
  {
    id: 'informer',
    x: 300,
    y: 30,
    w: 220,
    h: 90,
    title: 'informer',
    lines: ['list + watch, bookmarks,', '410 relist, watchdog'],
    fill: '#fef7e0',
  },
  {
    id: 'queue',
    x: 580,
    y: 30,
    w: 220,
    h: 90,
    title: 'work queue',
    lines: ['one worker per key,', 'dedup, per-key backoff'],
    fill: '#fef7e0',
  },
  {
    id: 'reconcile',
    x: 580,
    y: 180,
    w: 220,
    h: 110,
    title: 'reconcile(key)',
    lines: ['parse spec, finalizer,', 'resolve account, plan,', 'send, next status'],
    fill: '#e6f4ea',
  },
  {
    id: 'plan',
    x: 300,
    y: 180,
    w: 220,
    h: 110,
    title: 'plan (pure)',
    lines: ['desired vs actual,', 'conflicts, holds,', 'batches of ≤100'],
    fill: '#e6f4ea',
  },
  {
    id: 'status',
    x: 20,
    y: 180,
    w: 220,
    h: 110,
    title: 'status (pure)',
    lines: ['conditions, summary,', 'bounded phone list;', 'patch only if changed'],
    fill: '#e6f4ea',
  },
  {
    id: 'inventory',
    x: 20,
    y: 350,
    w: 240,
    h: 100,
    title: 'phone inventory (per account)',
    lines: ['one paged sweep serves every', 'resource: ceil(N/100) calls'],
    fill: '#fce8e6',
  },
  {
    id: 'writer',
    x: 290,
    y: 350,
    w: 240,
    h: 100,
    title: 'route writer (per account)',
    lines: ['coalesces all resources', 'into ≤100-ID calls'],
    fill: '#fce8e6',
  },
  {
    id: 'tracker',
    x: 560,
    y: 350,
    w: 240,
    h: 100,
    title: 'job tracker (per account)',
    lines: ['ListJobs by request ID,', '≤20 requests per poll'],
    fill: '#fce8e6',
  },
  {
    id: 'cph',
    x: 20,
    y: 510,
    w: 780,
    h: 80,
    title: 'CPH API (client: AK/SK or IAM token, rate limit, retries, timeouts)',
    lines: ['GET phones (list, detail) · POST phones-traffic · GET jobs'],
    fill: '#f1f3f4',
  },
];

const arrows: Array<[string, string, string]> = [
  ['api', 'informer', 'watch'],
  ['informer', 'queue', 'keys'],
  ['queue', 'reconcile', 'key'],
  ['reconcile', 'plan', ''],
  ['reconcile', 'status', ''],
  ['status', 'api', 'patch /status'],
  ['inventory', 'reconcile', 'snapshot'],
  ['reconcile', 'writer', 'drifted phones'],
  ['writer', 'tracker', 'request IDs'],
  ['tracker', 'queue', 'jobs ended'],
  ['inventory', 'cph', ''],
  ['writer', 'cph', ''],
  ['tracker', 'cph', ''],
];

const center = (b: Box): { x: number; y: number } => ({ x: b.x + b.w / 2, y: b.y + b.h / 2 });
const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The point where the line from the centre of `b` towards `to` leaves the box. */
function edge(b: Box, to: { x: number; y: number }): { x: number; y: number } {
  const c = center(b);
  const dx = to.x - c.x;
  const dy = to.y - c.y;
  const scale = Math.min(Math.abs(b.w / 2 / (dx || 1e-9)), Math.abs(b.h / 2 / (dy || 1e-9)));
  return { x: c.x + dx * scale, y: c.y + dy * scale };
}

export function renderArchitecture(): string {
  const byId = new Map(boxes.map((b) => [b.id, b]));
  const parts: string[] = [
    '<svg xmlns="http://www.w3.org/2000/svg" width="820" height="610" viewBox="0 0 820 610" font-family="Helvetica, Arial, sans-serif">',
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5f6368"/></marker></defs>',
    '<rect width="820" height="610" fill="#ffffff"/>',
    '<text x="410" y="18" text-anchor="middle" font-size="14" font-weight="bold">cph-route-operator: how a CloudPhoneRoute becomes phone routes</text>',
  ];
  for (const [from, to, label] of arrows) {
    const a = byId.get(from);
    const b = byId.get(to);
    if (!a || !b) throw new Error(`unknown box in arrow ${from} -> ${to}`);
    const start = edge(a, center(b));
    const end = edge(b, center(a));
    parts.push(
      `<line x1="${start.x.toFixed(1)}" y1="${start.y.toFixed(1)}" x2="${end.x.toFixed(1)}" y2="${end.y.toFixed(1)}" stroke="#5f6368" stroke-width="1.5" marker-end="url(#arrow)"/>`,
    );
    if (label)
      parts.push(
        `<text x="${((start.x + end.x) / 2 + 4).toFixed(1)}" y="${((start.y + end.y) / 2 - 4).toFixed(1)}" font-size="11" fill="#3c4043">${escapeXml(label)}</text>`,
      );
  }
  for (const b of boxes) {
    parts.push(`<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="8" fill="${b.fill}" stroke="#5f6368"/>`);
    parts.push(
      `<text x="${b.x + b.w / 2}" y="${b.y + 24}" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(b.title)}</text>`,
    );
    for (const [i, line] of b.lines.entries()) {
      parts.push(
        `<text x="${b.x + b.w / 2}" y="${b.y + 46 + i * 17}" text-anchor="middle" font-size="12">${escapeXml(line)}</text>`,
      );
    }
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/architecture.svg');
  await writeFile(out, renderArchitecture());
  process.stdout.write(`wrote ${path.relative(process.cwd(), out)}\n`);
}
