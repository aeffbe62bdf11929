/**
 * Raw HTTP(S) access to a running simulator for tests: no client library between the test and the wire,
 * so the bodies, headers and status codes checked are exactly what the simulator sent.
 */
import http from 'node:http';
import https from 'node:https';
import { signRequest, type AkSkCredentials } from '../../src/cph/signer.js';
import type { Clock } from '../../src/runtime/clock.js';
import type { RunningSimulator } from '../../src/simulator/index.js';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary answer fields
  json: any;
}

export interface RawRequestOptions {
  method?: string;
  /** Path with query, e.g. `/v1/P/cloud-phone/phones?limit=2`. */
  path: string;
  body?: string | object;
  headers?: Record<string, string>;
  /** Sign with these credentials (our signer); `date` overrides the signing time. */
  sign?: AkSkCredentials;
  date?: Date;
  token?: string;
  signal?: AbortSignal;
}

export function rawRequest(sim: RunningSimulator, options: RawRequestOptions): Promise<RawResponse> {
  const url = new URL(options.path, sim.url);
  const body =
    options.body === undefined ? '' : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...options.headers };
  if (options.token !== undefined) headers['X-Auth-Token'] = options.token;
  if (options.sign) {
    Object.assign(
      headers,
      signRequest(
        { method: options.method ?? 'GET', url, headers: { ...headers }, body },
        options.sign,
        options.date ?? new Date(),
      ),
    );
  }
  return send(sim, url, options.method ?? 'GET', headers, body, options.signal);
}

/** Sends exactly these headers and body bytes. */
export function send(
  sim: RunningSimulator,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string,
  signal?: AbortSignal,
): Promise<RawResponse> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method,
        headers: body.length > 0 ? { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } : headers,
        agent: false,
        ...(sim.caPem !== undefined ? { ca: sim.caPem } : {}),
        ...(signal !== undefined ? { signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (body.length > 0) req.write(body);
    req.end();
  });
}

/** Admin API call (no auth). */
// biome-ignore lint/suspicious/noExplicitAny: tests assert on arbitrary answer fields
export async function admin(sim: RunningSimulator, method: string, path: string, body?: object): Promise<any> {
  // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await rawRequest(sim, { method, path, ...(body !== undefined ? { body } : {}) });
  if (res.status !== 200) throw new Error(`admin ${method} ${path}: ${res.status} ${res.text}`);
  return res.json;
}

/** A clock the test moves by hand; sleeps use real time (the simulator only reads now()). */
export class ManualClock implements Clock {
  constructor(private time: number) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason);
      });
    });
  }
}
