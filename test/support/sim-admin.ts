/**
 * The simulator's /_sim/ admin API over HTTP(S), as the end-to-end, chaos and benchmark code use it.
 */
import https from 'node:https';
import http from 'node:http';
import type { TrafficType } from '../../src/cph/wire.js';
import type { WriteLogEntry } from '../../src/simulator/index.js';

export interface SimPhone {
  phone_id: string;
  phone_name: string;
  server_id: string;
  pool: string;
  status: number;
  traffic_type: TrafficType;
  running_job_id: string | null;
}

/** One ImportTraffic call in the simulator's write log. */
export type SimWrite = WriteLogEntry;

export interface SimCounters {
  total: number;
  byOperation: Record<string, { total: number; byStatus: Record<string, number> }>;
  routeWrites: { total: number; phones: number; byPhone: Record<string, number> };
  costlyRepeats: { total: number; byPhone: Record<string, number> };
  overlappingWrites: { total: number };
  jobs: { created: number; running: number; succeeded: number; failed: number };
  [key: string]: unknown;
}

/** Hands out phones of `all()` that no earlier call handed out, so the tests of one file never disturb each other. */
export function phoneDealer(all: () => readonly SimPhone[]): (n: number) => string[] {
  let next = 0;
  return (n) => {
    const taken = all()
      .slice(next, next + n)
      .map((p) => p.phone_id);
    next += n;
    if (taken.length < n) throw new Error('the simulator has too few phones for the tests');
    return taken;
  };
}

export class SimAdmin {
  private readonly agent: http.Agent;

  constructor(
    readonly url: string,
    caPem?: string,
  ) {
    this.agent = url.startsWith('https:')
      ? new https.Agent({ keepAlive: true, ...(caPem ? { ca: caPem } : {}) })
      : new http.Agent({ keepAlive: true });
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const target = new URL(path, this.url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = (target.protocol === 'https:' ? https : http).request(
        target,
        {
          method,
          agent: this.agent,
          headers:
            payload === undefined
              ? {}
              : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(payload);
    });
    if (status < 200 || status >= 300) throw new Error(`${method} ${path}: ${status} ${text}`);
    return JSON.parse(text) as T;
  }

  async phones(prefix?: string): Promise<SimPhone[]> {
    const query = prefix ? `?phone_name_prefix=${encodeURIComponent(prefix)}` : '';
    return (await this.call<{ phones: SimPhone[] }>('GET', `/_sim/phones${query}`)).phones;
  }

  async phone(phoneId: string): Promise<SimPhone> {
    return this.call<SimPhone>('GET', `/_sim/phones/${phoneId}`);
  }

  /** Changes a route behind the operator's back (no job, no API call counted). */
  async drift(phoneId: string, trafficType: TrafficType): Promise<void> {
    await this.call('POST', `/_sim/phones/${phoneId}/traffic`, { traffic_type: trafficType });
  }

  async setStatus(phoneId: string, status: number): Promise<void> {
    await this.call('POST', `/_sim/phones/${phoneId}/status`, { status });
  }

  async setFaults(settings: Record<string, unknown>): Promise<void> {
    await this.call('POST', '/_sim/faults', settings);
  }

  /** Odd but allowed answers (see docs/cph-simulator.md, POST /_sim/quirks); fields given replace what they name. */
  async setQuirks(quirks: Record<string, unknown>): Promise<void> {
    await this.call('POST', '/_sim/quirks', quirks);
  }

  async counters(): Promise<SimCounters> {
    return this.call<SimCounters>('GET', '/_sim/counters');
  }

  async resetCounters(): Promise<void> {
    await this.call('POST', '/_sim/counters/reset');
  }

  async writes(since = 0): Promise<SimWrite[]> {
    return (await this.call<{ writes: SimWrite[] }>('GET', `/_sim/writes?since=${since}`)).writes;
  }

  close(): void {
    this.agent.destroy();
  }
}
