/**
 * Shared set-up for the CPH client's integration tests: a simulator over HTTP or HTTPS, its admin API read
 * through the same kind of agent the client uses, and a client wired to it. No mocks: every call below
 * crosses a real socket to the simulator.
 */
import { PassThrough } from 'node:stream';
import http from 'node:http';
import https from 'node:https';
import nodeFetch from 'node-fetch';
import { AkSkAuth, type CphAuth } from '../../src/cph/auth.js';
import { CphClient, type CphCallRecord, type CphClientOptions } from '../../src/cph/client.js';
import { TokenBucket } from '../../src/cph/rate-limiter.js';
import type { RetryPolicy } from '../../src/cph/retry.js';
import { systemClock, type Clock } from '../../src/runtime/clock.js';
import { createLogger } from '../../src/runtime/logger.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js';

export const projectId = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
export const ak = 'QTWAOYTTINDUT2QVKYUC';
export const sk = 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc';
export const iamUser = 'route-operator';
export const iamPassword = 'correct horse battery staple';
export const iamDomain = 'acme';

/** Retries fast, so tests of the retry bounds do not wait seconds for backoff (Retry-After is still honoured). */
export const fastRetry: Partial<RetryPolicy> = {
  maxAttempts: 3,
  baseDelayMs: 5,
  maxDelayMs: 20,
  throttleDelayMs: { min: 5, max: 10 },
  maxElapsedMs: 10_000,
};

export async function simulator(options: Partial<SimulatorOptions> = {}): Promise<RunningSimulator> {
  return startSimulator({
    projectId,
    ak,
    sk,
    iamUser,
    iamPassword,
    iamDomain,
    phones: 250,
    seed: 7,
    jobMs: 50,
    rateLimit: 0,
    ...options,
  });
}

/** The admin API (/_sim/), over HTTP or HTTPS with the simulator's CA. */
export async function admin(
  sim: RunningSimulator,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Json> {
  const agent = sim.url.startsWith('https:') ? new https.Agent({ ca: sim.caPem }) : new http.Agent();
  try {
    const res = await nodeFetch.default(sim.url + path, {
      method,
      agent,
      headers: { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const parsed: unknown = await res.json();
    if (res.status !== 200) throw new Error(`admin ${method} ${path}: HTTP ${res.status} ${JSON.stringify(parsed)}`);
    return new Json(parsed);
  } finally {
    agent.destroy();
  }
}

/** Reads a path out of JSON from the admin API without casts: `j.num('byOperation', 'ListJobs', 'total')`. */
export class Json {
  constructor(readonly value: unknown) {}

  at(...path: string[]): unknown {
    let current: unknown = this.value;
    for (const key of path) {
      if (typeof current !== 'object' || current === null) return undefined;
      current = Reflect.get(current, key);
    }
    return current;
  }

  num(...path: string[]): number {
    const value = this.at(...path);
    return typeof value === 'number' ? value : 0;
  }
}

export async function counters(sim: RunningSimulator): Promise<Json> {
  return admin(sim, 'GET', '/_sim/counters');
}

export async function resetCounters(sim: RunningSimulator): Promise<void> {
  await admin(sim, 'POST', '/_sim/counters/reset');
}

export async function setFaults(sim: RunningSimulator, settings: Record<string, unknown>): Promise<void> {
  await admin(sim, 'POST', '/_sim/faults', settings);
}

/** Phone IDs from the simulator's own inventory, in its order. */
export async function simPhoneIds(
  sim: RunningSimulator,
  limit?: number,
): Promise<Array<{ phoneId: string; trafficType: string }>> {
  const list = await admin(sim, 'GET', `/_sim/phones${limit === undefined ? '' : `?limit=${limit}`}`);
  const phones = list.at('phones');
  if (!Array.isArray(phones)) throw new Error('no phones in /_sim/phones');
  return phones.map((p: unknown) => {
    const j = new Json(p);
    return { phoneId: String(j.at('phone_id')), trafficType: String(j.at('traffic_type')) };
  });
}

/** Log lines written by the client, as text, for asserting what reached them (and what did not). */
export class LogCapture {
  readonly lines: string[] = [];
  readonly logger = createLogger({ level: 'debug', format: 'json', stream: this.stream() });

  private stream(): PassThrough {
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) =>
      this.lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      ),
    );
    return stream;
  }

  text(): string {
    return this.lines.join('\n');
  }
}

/** A Clock on real time that records every sleep it was asked for (to see the waits retries chose). */
export class RecordingClock implements Clock {
  readonly sleeps: number[] = [];

  constructor(private readonly offsetMs = 0) {}

  now(): number {
    return Date.now() + this.offsetMs;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return systemClock.sleep(ms, signal);
  }
}

export interface ClientHarness {
  client: CphClient;
  calls: CphCallRecord[];
  logs: LogCapture;
}

export function client(
  sim: RunningSimulator,
  overrides: Partial<CphClientOptions> & { auth?: CphAuth; clock?: Clock } = {},
): ClientHarness {
  const calls: CphCallRecord[] = [];
  const logs = new LogCapture();
  const clock = overrides.clock ?? systemClock;
  const instance = new CphClient({
    endpoint: sim.url,
    projectId,
    auth: overrides.auth ?? new AkSkAuth({ ak, sk }, clock),
    caPem: sim.caPem,
    timeoutMs: 5_000,
    retryPolicy: fastRetry,
    rateLimiter: new TokenBucket({ qps: 500, burst: 100, clock }),
    logger: logs.logger,
    clock,
    userAgent: 'cph-route-operator-test',
    onCall: (call) => calls.push(call),
    ...overrides,
  });
  return { client: instance, calls, logs };
}

/** The request ID of a phones-traffic answer; the simulator always sends one, so its absence fails the test. */
export function requestIdOf(answer: { requestId: string | undefined }): string {
  if (answer.requestId === undefined) throw new Error('the phones-traffic answer carried no request ID');
  return answer.requestId;
}
