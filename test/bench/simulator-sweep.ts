/**
 * Measures the simulator at fleet scale: start time and memory for N phones, then a full list sweep
 * (ceil(N/100) signed ListCloudPhones calls over real HTTP, one keep-alive connection) unfiltered and with
 * a phone_name filter. Run: npx tsx test/bench/simulator-sweep.ts [phones]. Prints one JSON object.
 */
import http from 'node:http';
import { signRequest } from '../../src/cph/signer.js';
import { startSimulator } from '../../src/simulator/index.js';

const phones = Number(process.argv[2] ?? 100_000);
const key = { ak: 'AK', sk: 'SK' };
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function mb(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

function get(base: string, path: string): Promise<{ count: number; phones: Array<{ phone_id: string }> }> {
  const url = new URL(path, base);
  const headers = {
    'Content-Type': 'application/json',
    ...signRequest({ method: 'GET', url, headers: { 'Content-Type': 'application/json' }, body: '' }, key, new Date()),
  };
  return new Promise((resolve, reject) => {
    const req = http.request(url, { headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${res.statusCode} ${Buffer.concat(chunks).toString()}`));
        else resolve(JSON.parse(Buffer.concat(chunks).toString()));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function sweep(
  base: string,
  query: string,
  pageSize: number,
): Promise<{ calls: number; phones: number; ms: number }> {
  const t0 = performance.now();
  let offset = 0;
  let calls = 0;
  let seen = 0;
  for (;;) {
    const page = await get(base, `/v1/P/cloud-phone/phones?offset=${offset}&limit=${pageSize}${query}`);
    calls++;
    seen += page.phones.length;
    offset += pageSize;
    if (offset >= page.count) break;
  }
  return { calls, phones: seen, ms: Math.round(performance.now() - t0) };
}

global.gc?.();
const before = process.memoryUsage();
const t0 = performance.now();
const sim = await startSimulator({ phones, seed: 7, projectId: 'P', ...key, rateLimit: 0 });
const startMs = Math.round(performance.now() - t0);
global.gc?.();
const afterStart = process.memoryUsage();
const full = await sweep(sim.url, '', 100);
const full200 = await sweep(sim.url, '', 200);
const filtered = await sweep(sim.url, '&phone_name=pool-a-', 100);
global.gc?.();
const afterSweep = process.memoryUsage();
await sim.close();
agent.destroy();
console.log(
  JSON.stringify(
    {
      node: process.version,
      phones,
      startMs,
      heapUsedMbForFleet: mb(afterStart.heapUsed - before.heapUsed),
      rssMbAfterStart: mb(afterStart.rss),
      sweep100: full,
      sweep200: full200,
      sweepFilteredPoolA: filtered,
      rssMbAfterSweeps: mb(afterSweep.rss),
      heapUsedMbAfterSweeps: mb(afterSweep.heapUsed),
    },
    null,
    2,
  ),
);
