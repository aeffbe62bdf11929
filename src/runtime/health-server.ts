/**
 * The HTTP endpoints a kubelet and Prometheus read: /metrics on the metrics address, /healthz and /readyz on the
 * probe address (separate binds, as controller-runtime's --metrics-bind-address and
 * --health-probe-bind-address).
 * Guarantees:
 * - /healthz is 200 while every liveness check passes (the process serves and no informer is wedged); a failing
 *   check gives 500 and names itself in the body, like the API server's `[-]name failed`.
 * - /readyz is 200 once every readiness check passes (informers synced); a standby replica is ready too.
 * - A check that throws or hangs past 5 s counts as failed; the server never crashes on a bad check.
 * - Bind address "0" disables a server; ":8080" binds every interface; "127.0.0.1:0" picks a free port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../errors.js';
import type { OperatorMetrics } from './metrics.js';

export type Check = () => boolean | Promise<boolean>;

export class HealthChecks {
  private readonly liveness = new Map<string, Check>();
  private readonly readiness = new Map<string, Check>();

  addHealthCheck(name: string, check: Check): void {
    this.liveness.set(name, check);
  }

  addReadyCheck(name: string, check: Check): void {
    this.readiness.set(name, check);
  }

  health(): Promise<CheckReport> {
    return runChecks(this.liveness);
  }

  ready(): Promise<CheckReport> {
    return runChecks(this.readiness);
  }
}

export interface CheckReport {
  ok: boolean;
  text: string;
}

async function runChecks(checks: Map<string, Check>): Promise<CheckReport> {
  const lines: string[] = [];
  let ok = true;
  for (const [name, check] of checks) {
    let passed = false;
    let detail = '';
    try {
      passed = await Promise.race([
        Promise.resolve(check()),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5000).unref()),
      ]);
    } catch (err) {
      detail = `: ${errorMessage(err)}`;
    }
    if (!passed) ok = false;
    lines.push(`[${passed ? '+' : '-'}]${name} ${passed ? 'ok' : `failed${detail}`}`);
  }
  lines.push(ok ? 'ok' : 'check failed');
  return { ok, text: `${lines.join('\n')}\n` };
}

export interface RunningServer {
  /** host:port actually bound. */
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Parses `host:port`, `:port` or `port`; returns undefined for "0" (disabled). */
export function parseBindAddress(bind: string): { host: string | undefined; port: number } | undefined {
  if (bind === '0' || bind === '') return undefined;
  const colon = bind.lastIndexOf(':');
  const hostPart = colon < 0 ? '' : bind.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(colon < 0 ? bind : bind.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid bind address: ${bind}`);
  return { host: hostPart || undefined, port };
}

type Route = (req: http.IncomingMessage) => Promise<{ status: number; contentType: string; body: string }>;

async function serve(bind: string, routes: Record<string, Route>): Promise<RunningServer | undefined> {
  const parsed = parseBindAddress(bind);
  if (!parsed) return undefined;
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    route(req).then(
      (reply) => res.writeHead(reply.status, { 'Content-Type': reply.contentType }).end(reply.body),
      (err: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${errorMessage(err)}\n`),
    );
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(parsed.port, parsed.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  return {
    address: `${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`,
    port: info.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Serves /metrics; undefined when `bind` is "0". */
export function startMetricsServer(bind: string, metrics: OperatorMetrics): Promise<RunningServer | undefined> {
  return serve(bind, {
    '/metrics': async () => ({ status: 200, contentType: metrics.contentType, body: await metrics.text() }),
  });
}

/** Serves /healthz and /readyz; undefined when `bind` is "0". */
export function startProbeServer(bind: string, checks: HealthChecks): Promise<RunningServer | undefined> {
  const probe =
    (run: () => Promise<CheckReport>): Route =>
    async () => {
      const report = await run();
      return { status: report.ok ? 200 : 500, contentType: 'text/plain; charset=utf-8', body: report.text };
    };
  return serve(bind, {
    '/healthz': probe(() => checks.health()),
    '/livez': probe(() => checks.health()),
    '/readyz': probe(() => checks.ready()),
  });
}
