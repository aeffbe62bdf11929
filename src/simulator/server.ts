/**
 * The simulator's HTTP face. Every API request goes through the same gate, in the order the real gateway
 * applies it: fault injection, latency, authentication (token or AK/SK over the raw bytes), the project
 * check, a refusal of the account when one is set (quirks), the per-API rate limit, then the operation.
 * Admin requests under /_sim/ skip the gate and are not counted. Every answer carries X-Request-Id, and every
 * JSON body a request_id, unless a quirk or the error-body reading says otherwise.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WireIamTokenResponse } from '../cph/wire.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Authenticator } from './auth.js';
import { knownFaultKinds, type FaultKind, type Readings, type RuntimeSettings } from './options.js';
import { SeededRandom, unitFor } from './random.js';
import { handleAdmin } from './admin.js';
import type { CphState, OpResult } from './state.js';

export type Operation =
  | 'ListCloudPhones'
  | 'ShowCloudPhoneDetail'
  | 'ImportTraffic'
  | 'ListJobs'
  | 'ShowJob'
  | 'IamToken';
export const operations: readonly Operation[] = [
  'ListCloudPhones',
  'ShowCloudPhoneDetail',
  'ImportTraffic',
  'ListJobs',
  'ShowJob',
  'IamToken',
];

const maxBodyBytes = 1024 * 1024;

interface Route {
  operation: Operation;
  projectId?: string;
  id?: string;
}

function route(method: string, path: string): Route | undefined {
  const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  let m: RegExpExecArray | null;
  if (method === 'POST' && p === '/v3/auth/tokens') return { operation: 'IamToken' };
  if (method === 'GET' && (m = /^\/v1\/([^/]+)\/cloud-phone\/phones$/.exec(p)))
    return { operation: 'ListCloudPhones', projectId: m[1] as string };
  if (method === 'GET' && (m = /^\/v1\/([^/]+)\/cloud-phone\/phones\/([^/]+)$/.exec(p))) {
    return { operation: 'ShowCloudPhoneDetail', projectId: m[1] as string, id: safeDecode(m[2] as string) };
  }
  if (method === 'POST' && (m = /^\/v1\/([^/]+)\/cloud-phone\/phones-traffic$/.exec(p)))
    return { operation: 'ImportTraffic', projectId: m[1] as string };
  if (method === 'GET' && (m = /^\/v1\/([^/]+)\/cloud-phone\/jobs$/.exec(p)))
    return { operation: 'ListJobs', projectId: m[1] as string };
  if (method === 'GET' && (m = /^\/v1\/([^/]+)\/cloud-phone\/jobs\/([^/]+)$/.exec(p))) {
    return { operation: 'ShowJob', projectId: m[1] as string, id: safeDecode(m[2] as string) };
  }
  return undefined;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export interface ScriptedFault {
  kind: FaultKind;
  /** Only requests of this operation; any when absent. */
  operation?: Operation;
  /** How many requests get it (default 1). */
  count: number;
}

export interface OperationCounter {
  total: number;
  byStatus: Record<string, number>;
}

export interface IamConfig {
  user?: string | undefined;
  password?: string | undefined;
  domain?: string | undefined;
  tokenTtlMs: number;
}

export class SimulatorServer {
  private readonly requestIds: SeededRandom;
  /** Admin answers draw from their own stream, so polling /_sim/ never shifts the API's request IDs. */
  private readonly adminRequestIds: SeededRandom;
  private seq = 0;
  private readonly counters = new Map<Operation, OperationCounter>();
  private readonly statusTotals: Record<string, number> = {};
  private readonly faultCounts: Record<string, number> = {};
  private unknownRequests = 0;
  private signatureFailures = 0;
  private rateLimited = 0;
  private readonly windows = new Map<Operation, { second: number; count: number }>();
  /** Faults to give, in order, before any seeded draw: deterministic retry tests. */
  private faultScript: ScriptedFault[] = [];
  /** Responses held open by the timeout fault, ended at close. */
  readonly hung = new Set<ServerResponse>();

  constructor(
    readonly state: CphState,
    readonly auth: Authenticator,
    private readonly projectId: string,
    private readonly iam: IamConfig,
    private readonly seed: number,
    private readonly clock: Clock,
    readonly logger: Logger,
  ) {
    this.requestIds = new SeededRandom(seed ^ 0x7e9);
    this.adminRequestIds = new SeededRandom(seed ^ 0xad);
    this.resetCounters();
  }

  get settings(): RuntimeSettings {
    return this.state.settings;
  }

  get readings(): Readings {
    return this.state.readings;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = this.clock.now();
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      this.dispatch(req, res, body, tooLarge, receivedAt).catch((err: unknown) => {
        this.logger.error('simulator request failed', { err: String(err) });
        if (!res.headersSent)
          this.send(
            res,
            { status: 500, body: { error_code: 'CPS.0003', error_msg: 'Internal error' } },
            this.nextRequestId(),
          );
      });
    });
  }

  private nextRequestId(): string {
    return this.requestIds.hex(32);
  }

  private send(res: ServerResponse, result: OpResult, requestId: string, adminAnswer = false): void {
    if (res.destroyed) return;
    let body = { ...result.body } as Record<string, unknown>;
    const placement = result.requestIdIn ?? 'body';
    if (!adminAnswer && this.readings.errorBody === 'nested' && typeof body.error_code === 'string') {
      body = { error: { code: body.error_code, message: body.error_msg } };
    } else if (!adminAnswer && this.readings.errorBody === 'top' && typeof body.error_code === 'string') {
      body = { code: body.error_code, message: body.error_msg };
    } else if (placement === 'body' && !('request_id' in body) && !('token' in body) && !('error' in body)) {
      body.request_id = requestId;
    }
    const text = JSON.stringify(body);
    res.writeHead(result.status, {
      'Content-Type': 'application/json;charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
      ...(placement === 'none' ? {} : { 'X-Request-Id': requestId }),
      ...result.headers,
    });
    res.end(text);
  }

  private count(operation: Operation | undefined, status: string): void {
    this.statusTotals[status] = (this.statusTotals[status] ?? 0) + 1;
    if (!operation) {
      this.unknownRequests++;
      return;
    }
    const counter = this.counters.get(operation) as OperationCounter;
    counter.total++;
    counter.byStatus[status] = (counter.byStatus[status] ?? 0) + 1;
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    tooLarge: boolean,
    receivedAt: number,
  ): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://sim.invalid');
    if (url.pathname.startsWith('/_sim/') || url.pathname === '/_sim') {
      this.admin(method, url, body, res);
      return;
    }
    const settings = this.settings;
    const requestId = this.nextRequestId();
    const seq = ++this.seq;
    const matched = route(method, url.pathname);
    const operation = matched?.operation;
    let lost = false;
    const reply = (result: OpResult): void => {
      if (lost) {
        // The operation took effect; its answer never arrives.
        this.count(operation, 'lost');
        req.socket.destroy();
        return;
      }
      this.count(operation, String(result.status));
      this.logger.debug('cph-sim request', { method, path: url.pathname, operation, status: result.status, requestId });
      this.send(res, result, requestId);
    };
    if (settings.unreachable) {
      this.count(operation, 'reset');
      req.socket.destroy();
      return;
    }
    const fault = this.nextScriptedFault(operation) ?? this.drawFault(seq);
    if (fault === 'lost') lost = true;
    else if (fault !== undefined) {
      await this.delay(settings.latencyMs);
      switch (fault) {
        case 'reset':
          this.count(operation, 'reset');
          req.socket.destroy();
          return;
        case 'timeout':
          this.count(operation, 'timeout');
          this.hung.add(res);
          res.on('close', () => this.hung.delete(res));
          return;
        case '429':
          reply({
            status: 429,
            body: {
              error_code: 'APIGW.0308',
              error_msg: 'The throttling threshold has been reached: policy user over ratelimit',
            },
            headers: { 'Retry-After': String(settings.retryAfterSeconds) },
          });
          return;
        case '503':
          reply({ status: 503, body: { error_code: 'APIGW.0503', error_msg: 'Service unavailable, retry later' } });
          return;
        default:
          reply({ status: 500, body: { error_code: 'CPS.0003', error_msg: 'Internal error, retry later' } });
          return;
      }
    }
    await this.delay(settings.latencyMs);
    if (!matched) {
      reply({
        status: 404,
        body: {
          error_code: 'APIGW.0101',
          error_msg: 'The API does not exist or has not been published in the environment',
        },
      });
      return;
    }
    if (tooLarge) {
      reply({ status: 413, body: { error_code: 'APIGW.0201', error_msg: 'Request body too large' } });
      return;
    }
    const now = this.clock.now();
    this.state.settle(now);
    if (matched.operation === 'IamToken') {
      const limited = this.throttle('IamToken', now);
      if (limited) return reply(limited);
      reply(this.iamToken(body, now));
      return;
    }
    const authResult = this.auth.authenticate({ method, rawUrl, headers: req.headers, body }, now);
    if (!authResult.ok) {
      if (authResult.signatureFailure) this.signatureFailures++;
      reply({
        status: authResult.httpStatus,
        body: { error_code: authResult.errorCode, error_msg: authResult.errorMsg },
      });
      return;
    }
    if (matched.projectId !== this.projectId) {
      reply(this.state.error(403, 'CPS.0001', `No permission for project ${matched.projectId ?? ''}`, requestId));
      return;
    }
    const refusal = this.state.quirks.refuse;
    if (refusal && (refusal.operation === undefined || refusal.operation === matched.operation)) {
      reply(this.state.error(refusal.httpStatus, refusal.errorCode, refusal.errorMsg, requestId));
      return;
    }
    const limited = this.throttle(matched.operation, now);
    if (limited) return reply(limited);
    switch (matched.operation) {
      case 'ListCloudPhones':
        reply(this.state.listPhones(url.searchParams, requestId));
        return;
      case 'ShowCloudPhoneDetail':
        reply(this.state.showPhone(matched.id ?? '', requestId));
        return;
      case 'ImportTraffic': {
        const userAgent = req.headers['user-agent'] ?? '';
        const remote = `${req.socket.remoteAddress ?? ''}:${req.socket.remotePort ?? ''}`;
        reply(this.state.importTraffic(body, requestId, authResult.identity, now, { receivedAt, remote, userAgent }));
        return;
      }
      case 'ListJobs':
        reply(this.state.listJobs(url.searchParams, requestId));
        return;
      case 'ShowJob':
        reply(this.state.showJob(matched.id ?? '', requestId));
        return;
    }
  }

  /** Consumes the first scripted fault that applies to `operation` (any operation when it names none). */
  private nextScriptedFault(operation: Operation | undefined): FaultKind | undefined {
    const index = this.faultScript.findIndex((f) => f.operation === undefined || f.operation === operation);
    if (index < 0) return undefined;
    const entry = this.faultScript[index] as ScriptedFault;
    entry.count--;
    if (entry.count <= 0) this.faultScript.splice(index, 1);
    this.faultCounts[entry.kind] = (this.faultCounts[entry.kind] ?? 0) + 1;
    return entry.kind;
  }

  /** Replaces the fault script; returns an error message, or undefined. */
  setFaultScript(value: unknown): string | undefined {
    if (!Array.isArray(value)) return 'faults must be a list of { kind, operation?, count? }';
    const script: ScriptedFault[] = [];
    for (const item of value as unknown[]) {
      const kind = field(item, ['kind']);
      const operation = field(item, ['operation']);
      const count = field(item, ['count']) ?? 1;
      if (!(knownFaultKinds as readonly unknown[]).includes(kind))
        return `kind must be one of ${knownFaultKinds.join(', ')}`;
      if (operation !== undefined && !(operations as readonly unknown[]).includes(operation))
        return `operation must be one of ${operations.join(', ')}`;
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) return 'count must be a positive integer';
      script.push({
        kind: kind as FaultKind,
        count,
        ...(operation !== undefined ? { operation: operation as Operation } : {}),
      });
    }
    this.faultScript = script;
    return undefined;
  }

  /** The fault for API request number `seq`, if the seeded draw gives one. */
  private drawFault(seq: number): FaultKind | undefined {
    const { faultRate, faultKinds } = this.settings;
    if (faultRate <= 0 || faultKinds.length === 0 || unitFor(this.seed, `fault:${seq}`) >= faultRate) return undefined;
    const kind = faultKinds[Math.floor(unitFor(this.seed, `fault-kind:${seq}`) * faultKinds.length)] as FaultKind;
    this.faultCounts[kind] = (this.faultCounts[kind] ?? 0) + 1;
    return kind;
  }

  private delay(ms: number): Promise<void> {
    return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
  }

  /** A fixed one-second window per API; undefined when the request may pass. */
  private throttle(operation: Operation, now: number): OpResult | undefined {
    const limit = this.settings.rateLimit;
    if (limit <= 0) return undefined;
    const second = Math.floor(now / 1000);
    const window = this.windows.get(operation);
    if (!window || window.second !== second) {
      this.windows.set(operation, { second, count: 1 });
      return undefined;
    }
    window.count++;
    if (window.count <= limit) return undefined;
    this.rateLimited++;
    const retryAfter = Math.max(1, Math.ceil(((second + 1) * 1000 - now) / 1000));
    return {
      status: 429,
      body: {
        error_code: 'APIGW.0308',
        error_msg: `The throttling threshold has been reached: at most ${limit} requests per second for ${operation}`,
      },
      headers: { 'Retry-After': String(retryAfter) },
    };
  }

  private iamToken(raw: Buffer, now: number): OpResult {
    const refused: OpResult = {
      status: 401,
      body: { error: { code: 'IAM.0004', message: 'The username or password is wrong.', title: 'Unauthorized' } },
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      return {
        status: 400,
        body: { error: { code: 'IAM.0001', message: 'The request body is not valid JSON.', title: 'Bad Request' } },
      };
    }
    const identity = field(parsed, ['auth', 'identity']);
    const methods = field(identity, ['methods']);
    const user = field(identity, ['password', 'user']);
    const name = field(user, ['name']);
    const password = field(user, ['password']);
    const domain = field(user, ['domain', 'name']);
    if (
      !Array.isArray(methods) ||
      !methods.includes('password') ||
      typeof name !== 'string' ||
      typeof password !== 'string'
    ) {
      return {
        status: 400,
        body: {
          error: { code: 'IAM.0001', message: 'auth.identity.password.user is required.', title: 'Bad Request' },
        },
      };
    }
    if (this.iam.user === undefined || name !== this.iam.user || password !== this.iam.password) return refused;
    if (this.iam.domain !== undefined && domain !== this.iam.domain) return refused;
    const { token, expiresAt } = this.auth.issueToken(
      name,
      typeof domain === 'string' ? domain : '',
      now,
      this.iam.tokenTtlMs,
    );
    const project = field(parsed, ['auth', 'scope', 'project']);
    const body: WireIamTokenResponse & { token: Record<string, unknown> } = {
      token: {
        expires_at: iamTime(expiresAt),
        issued_at: iamTime(now),
        methods: ['password'],
        user: { name, domain: { name: typeof domain === 'string' ? domain : '' } },
        project: {
          id: this.projectId,
          name: typeof field(project, ['name']) === 'string' ? field(project, ['name']) : this.projectId,
        },
      },
    };
    return { status: 201, body, headers: { 'X-Subject-Token': token } };
  }

  resetCounters(): void {
    for (const operation of operations) this.counters.set(operation, { total: 0, byStatus: {} });
    for (const key of Object.keys(this.statusTotals)) delete this.statusTotals[key];
    for (const key of Object.keys(this.faultCounts)) delete this.faultCounts[key];
    this.unknownRequests = 0;
    this.signatureFailures = 0;
    this.rateLimited = 0;
    const state = this.state;
    state.routeWrites.clear();
    state.costlyRepeatsByPhone.clear();
    state.costlyRepeats = 0;
    state.resendsWhileRunning = 0;
    state.resendsWhileRunningByPhone.clear();
    state.overlappingWrites = 0;
    state.overlaps.length = 0;
    state.jobsSucceeded = 0;
    state.jobsFailed = 0;
    state.jobs.created = 0;
    state.resetWrites();
  }

  countersSnapshot(): object {
    const state = this.state;
    const byOperation: Record<string, OperationCounter> = {};
    for (const [operation, counter] of this.counters)
      byOperation[operation] = { total: counter.total, byStatus: { ...counter.byStatus } };
    let total = 0;
    for (const counter of this.counters.values()) total += counter.total;
    let writes = 0;
    for (const n of state.routeWrites.values()) writes += n;
    return {
      total,
      byOperation,
      byStatus: { ...this.statusTotals },
      unknownRequests: this.unknownRequests,
      signatureFailures: this.signatureFailures,
      lockedAccessKeys: this.auth.lockedKeys(this.clock.now()),
      rateLimited: this.rateLimited,
      faults: { ...this.faultCounts },
      routeWrites: { total: writes, phones: state.routeWrites.size, byPhone: Object.fromEntries(state.routeWrites) },
      costlyRepeats: { total: state.costlyRepeats, byPhone: Object.fromEntries(state.costlyRepeatsByPhone) },
      resendsWhileRunning: {
        total: state.resendsWhileRunning,
        byPhone: Object.fromEntries(state.resendsWhileRunningByPhone),
      },
      overlappingWrites: { total: state.overlappingWrites, samples: state.overlaps.slice(0, 100) },
      jobs: {
        created: state.jobs.created,
        running: state.jobs.due.size,
        succeeded: state.jobsSucceeded,
        failed: state.jobsFailed,
        kept: state.jobs.size,
        evicted: state.jobs.evicted,
      },
    };
  }

  /** The admin API's answer (no auth, never faulted, not counted). */
  private admin(method: string, url: URL, raw: Buffer, res: ServerResponse): void {
    const requestId = this.adminRequestIds.hex(32);
    this.state.settle(this.clock.now());
    handleAdmin(this, method, url, raw, this.clock.now(), (status, body) =>
      this.send(res, { status, body }, requestId, true),
    );
  }

  faultScriptView(): ScriptedFault[] {
    return this.faultScript.map((f) => ({ ...f }));
  }
}

function field(value: unknown, path: readonly string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** IAM's expires_at form: `2020-01-04T09:05:22.701000Z`. */
export function iamTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}
