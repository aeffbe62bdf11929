/**
 * The CPH client: the five calls the operator needs (ListCloudPhones, ShowCloudPhoneDetail, ImportTraffic,
 * ListJobs, ShowJob), each rate-limited, authorised, bounded in time, retried when that can help, logged with
 * its operation and request ID, and reported to a metrics hook. Results are parsed into src/cph/types.ts or
 * the call fails with a CphError; nothing untyped leaves this module.
 *
 * Chosen readings of what the docs leave open (../shared/cph-api.md):
 * - pages of 100 phones, the size every source accepts;
 * - a phones-traffic POST is not repeated after a timeout or a broken connection by default (the change may
 *   have happened, and a repeat may be costly); it is repeated after 429 and 5xx, which mean the change did
 *   not happen, and after a connection that never opened. Such a failure carries `outcomeUnknown: true`;
 * - a 401 is never retried with the same credentials; a token refused by CPH is replaced once per call; and
 *   after `authFailureLimit` refusals in a row the client stops sending for `authSuspendMs` (the gateway
 *   locks an AK after 5 bad signatures).
 */
import type { Clock } from '../runtime/clock.js';
import { systemClock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import { silentLogger } from '../runtime/logger.js';
import { ParseError, errorMessage } from '../errors.js';
import type { CphAuth } from './auth.js';
import {
  CphError,
  callOutcome,
  clientErrorCodes,
  isAccountWideRefusal,
  isAuthError,
  type CallOutcome,
} from './errors.js';
import { createAgent, exchange, type Agent } from './http.js';
import {
  parseErrorBody,
  parseJobList,
  parsePhoneDetail,
  parsePhoneList,
  parseShowJob,
  parseTrafficResponse,
} from './parse.js';
import { TokenBucket, type ApiWindowLimiter, type RateLimiter } from './rate-limiter.js';
import { defaultRetryPolicy, parseRetryAfter, withRetry, type RetryPolicy } from './retry.js';
import type {
  Job,
  JobList,
  JobQuery,
  PhoneDetail,
  PhoneFilter,
  PhoneJobAccepted,
  PhoneJobRefused,
  PhoneJobUnconfirmed,
  PhoneList,
  PhoneListQuery,
  PhoneJobResult,
  PhoneSweep,
  Phone,
  SkippedPhone,
} from './types.js';
import { trafficTypes, type TrafficType } from './wire.js';

/** The SDK names of the calls, used as `operation` in logs, errors and metrics. */
export const cphOperations = {
  listPhones: 'ListCloudPhones',
  getPhone: 'ShowCloudPhoneDetail',
  setTrafficType: 'ImportTraffic',
  listJobs: 'ListJobs',
  getJob: 'ShowJob',
} as const;

/** One HTTP attempt, for metrics: count CPH calls by operation and outcome. */
export interface CphCallRecord {
  operation: string;
  outcome: CallOutcome;
  httpStatus: number | undefined;
  durationMs: number;
  /** 1 for the first attempt of a call, 2 for its first retry, ... */
  attempt: number;
  errorCode: string | undefined;
  requestId: string | undefined;
}

export interface CphClientOptions {
  /** e.g. https://cph.cn-north-4.myhuaweicloud.com (a path prefix is kept). */
  endpoint: string;
  projectId: string;
  auth: CphAuth;
  /** Extra CA certificates (PEM), trusted in addition to the system CAs. Verification cannot be switched off. */
  caPem?: string | undefined;
  /** Per HTTP attempt, the body included; default 30 s. */
  timeoutMs?: number | undefined;
  /** Overrides of defaultRetryPolicy. */
  retryPolicy?: Partial<RetryPolicy> | undefined;
  /** Share one per account; default a private TokenBucket of 20 QPS. */
  rateLimiter?: RateLimiter | undefined;
  /** Caps each API's calls per second on top of the bucket; share one per account. Default none. */
  apiWindow?: ApiWindowLimiter | undefined;
  logger?: Logger | undefined;
  clock?: Clock | undefined;
  userAgent?: string | undefined;
  onCall?: ((call: CphCallRecord) => void) | undefined;
  /** Jitter source, for tests; default Math.random. */
  random?: (() => number) | undefined;
  /** Auth refusals in a row after which calls are held back; default 3 (the gateway locks at 5). */
  authFailureLimit?: number | undefined;
  /** How long calls are held back then; default 5 minutes (the gateway's lock time). */
  authSuspendMs?: number | undefined;
  /** Repeat a phones-traffic POST after a timeout or reset too; default false. */
  retryAmbiguousWrites?: boolean | undefined;
  /** Sockets to the endpoint; default 16. */
  maxSockets?: number | undefined;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
}

export interface SweepOptions extends CallOptions {
  /** Default 100 (the safe page size). */
  pageSize?: number | undefined;
  /** Bound on list calls; default twice the pages the first count implies, plus two. */
  maxPages?: number | undefined;
  /** List calls in flight at once after the first page; 1..16, default 4. The rate limiter still paces them. */
  concurrency?: number | undefined;
  /**
   * Told each page's phones as it arrives, in arrival order, before the sweep ends: a caller can act on
   * what one page says while the others are read. A phone may come twice if the list moves under the
   * sweep. What it throws is logged and does not fail the sweep.
   */
  onPage?: ((phones: readonly Phone[]) => void) | undefined;
}

/** One phones-traffic call of a setTrafficType, in the order sent. */
export type TrafficBatch =
  | ({ state: 'sent'; phoneIds: string[] } & PhoneJobResult)
  /** The call failed after its retries. If `error.outcomeUnknown`, the routes may have changed anyway. */
  | { state: 'failed'; phoneIds: string[]; error: CphError }
  /** Not attempted: an earlier batch failed in a way that would fail this one too (auth, cancel, server down). */
  | { state: 'notSent'; phoneIds: string[]; error: CphError };

export interface TrafficResult {
  batches: TrafficBatch[];
  /** Every job created, across the sent batches. */
  jobs: PhoneJobAccepted[];
  /** Every per-phone refusal inside a 200, across the sent batches. */
  errors: PhoneJobRefused[];
  /** Every phone of a sent batch whose outcome the answer did not tell. */
  unconfirmed: PhoneJobUnconfirmed[];
  /** True when every batch was sent and answered. */
  complete: boolean;
}

export const maxPhonesPerTrafficCall = 100;
export const maxRequestIdsPerJobList = 20;
export const phonePageSize = 100;
/**
 * A sweep reads at most this many pages (200,000 phones), whatever `count` says: far above what one project
 * honestly holds (a CPH server carries tens of phones), so a count that lies costs a bounded, logged sweep.
 */
export const maxSweepPages = 2_000;
export const defaultSweepConcurrency = 4;
export const maxSweepConcurrency = 16;

interface CallSpec<T> {
  operation: string;
  method: 'GET' | 'POST';
  /** Below /v1/{project_id}/cloud-phone, starting with a slash, segments already encoded. */
  path: string;
  query?: URLSearchParams;
  body?: unknown;
  /** Safe to repeat after an answer was lost. */
  idempotent: boolean;
  /** Parses a 2xx body; `headerRequestId` (X-Request-Id) stands in when the body carries none. */
  parse: (value: unknown, headerRequestId: string | undefined) => T;
  requestIdOf: (result: T) => string | undefined;
}

export class CphClient {
  readonly endpoint: string;
  readonly projectId: string;
  private readonly auth: CphAuth;
  private readonly agent: Agent;
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly retryPolicy: RetryPolicy;
  private readonly rateLimiter: RateLimiter;
  private readonly apiWindow: ApiWindowLimiter | undefined;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly userAgent: string;
  private readonly onCall: ((call: CphCallRecord) => void) | undefined;
  private readonly random: () => number;
  private readonly authFailureLimit: number;
  private readonly authSuspendMs: number;
  private readonly retryAmbiguousWrites: boolean;
  private consecutiveAuthFailures = 0;
  private suspendedUntil = 0;
  private lastAuthError: CphError | undefined;

  constructor(options: CphClientOptions) {
    if (!options.projectId) throw new TypeError('CphClient needs a projectId');
    this.endpoint = options.endpoint;
    this.projectId = options.projectId;
    this.auth = options.auth;
    const endpoint = new URL(options.endpoint);
    this.base = new URL(
      `${endpoint.pathname.replace(/\/+$/, '')}/v1/${encodeURIComponent(options.projectId)}/cloud-phone`,
      endpoint,
    );
    this.agent = createAgent(endpoint, { caPem: options.caPem, maxSockets: options.maxSockets });
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retryPolicy = { ...defaultRetryPolicy, ...options.retryPolicy };
    this.clock = options.clock ?? systemClock;
    this.rateLimiter = options.rateLimiter ?? new TokenBucket({ clock: this.clock });
    this.apiWindow = options.apiWindow;
    this.logger = options.logger ?? silentLogger();
    this.userAgent = options.userAgent ?? 'cph-route-operator';
    this.onCall = options.onCall;
    this.random = options.random ?? Math.random;
    this.authFailureLimit = options.authFailureLimit ?? 3;
    this.authSuspendMs = options.authSuspendMs ?? 300_000;
    this.retryAmbiguousWrites = options.retryAmbiguousWrites ?? false;
  }

  /** What a log line or a status dump may show of a client: never its credentials. */
  toJSON(): object {
    return { endpoint: this.endpoint, projectId: this.projectId, auth: { kind: this.auth.kind } };
  }

  /** Closes idle keep-alive sockets; the client must not be used afterwards. */
  close(): void {
    this.agent.destroy();
  }

  // ---- phones ----

  /** One page of ListCloudPhones (newest first). */
  async listPhones(query: PhoneListQuery = {}, options: CallOptions = {}): Promise<PhoneList> {
    const params = new URLSearchParams();
    const operation = cphOperations.listPhones;
    if (query.offset !== undefined)
      params.set('offset', String(checkInteger(operation, 'offset', query.offset, 0, Number.MAX_SAFE_INTEGER)));
    if (query.limit !== undefined)
      params.set('limit', String(checkInteger(operation, 'limit', query.limit, 1, phonePageSize)));
    if (query.phoneName !== undefined && query.phoneName !== '') params.set('phone_name', query.phoneName);
    if (query.serverId !== undefined && query.serverId !== '') params.set('server_id', query.serverId);
    if (query.status !== undefined)
      params.set('status', String(checkInteger(operation, 'status', query.status, -100, 100)));
    if (query.type !== undefined) params.set('type', String(checkInteger(operation, 'type', query.type, 0, 1)));
    return this.call(
      {
        operation,
        method: 'GET',
        path: '/phones',
        query: params,
        idempotent: true,
        parse: (v, h) => withRequestId(parsePhoneList(v), h),
        requestIdOf: (r) => r.requestId,
      },
      options.signal,
    );
  }

  /**
   * Every phone matching `filter`, by pages of 100 until `count` is reached. Offset paging over a list that
   * changes can repeat or skip phones: repeats are dropped, and `stable: false` says the sweep cannot vouch
   * for phones it did not see. The number of pages is bounded, so a lying `count` cannot loop forever.
   *
   * The first page gives `count`; the other pages' offsets follow from it and are read concurrently
   * (`concurrency`, default 4), because the sweep's duration is what every drift check waits on: 20 pages
   * one after another at 50 ms each is a second, four at a time a quarter of it. The rate limiter inside
   * each call still bounds the rate. Pages are merged in offset order, whatever order they arrived in.
   * A list that grew during the sweep is marked unstable and not chased beyond the first count (the next
   * sweep reads it); chasing would mean reading page after page again. If any page fails, the sweep fails
   * with that error, and the pages still waiting or in flight are aborted.
   */
  async listAllPhones(filter: PhoneFilter = {}, options: SweepOptions = {}): Promise<PhoneSweep> {
    const operation = cphOperations.listPhones;
    const pageSize = checkInteger(operation, 'pageSize', options.pageSize ?? phonePageSize, 1, phonePageSize);
    const concurrency = checkInteger(
      operation,
      'concurrency',
      options.concurrency ?? defaultSweepConcurrency,
      1,
      maxSweepConcurrency,
    );
    const sweep = linkedAbort(options.signal);
    const onPage = (page: PhoneList): void => {
      try {
        options.onPage?.(page.phones);
      } catch (error) {
        this.logger.warn('phone page handler failed', { operation, error: String(error) });
      }
    };
    try {
      const first = await this.listPhones({ ...filter, offset: 0, limit: pageSize }, { signal: sweep.signal });
      onPage(first);
      const count = first.count;
      const maxPages = Math.max(1, Math.min(maxSweepPages, options.maxPages ?? 2 * Math.ceil(count / pageSize) + 2));
      // The pages the count implies after the first, within the bound. Offsets are made as pages start, not
      // listed up front: a count that lies (10^12) must cost nothing until pages are actually read.
      const implied =
        first.phones.length + first.skipped.length >= pageSize ? Math.max(0, Math.ceil(count / pageSize) - 1) : 0;
      const bounded = implied + 1 > maxPages;
      const rest = await this.readPages(filter, Math.min(implied, maxPages - 1), pageSize, concurrency, sweep, onPage);
      if (bounded && rest.length === maxPages - 1)
        this.logger.warn('phone list sweep stopped at its page bound', {
          operation,
          pages: maxPages,
          count,
          offset: maxPages * pageSize,
        });
      const pages = [first, ...rest].map((page, i) => ({ offset: i * pageSize, page }));
      const seen = new Map<string, Phone>();
      const requestIds: string[] = [];
      const skipped: SkippedPhone[] = [];
      let stable = !bounded;
      for (const { offset, page } of pages) {
        if (page.requestId !== undefined) requestIds.push(page.requestId);
        // A skipped entry still took its place on the page: the offsets and the count stay right.
        skipped.push(...page.skipped.map((entry) => ({ ...entry, field: `(offset ${offset}) ${entry.field}` })));
        if (page.count !== count) stable = false;
        for (const phone of page.phones) {
          if (seen.has(phone.phoneId)) stable = false;
          else seen.set(phone.phoneId, phone);
        }
        // A short page before the end: phones moved under the offsets.
        const entries = page.phones.length + page.skipped.length;
        if (entries < pageSize && offset + entries < page.count) stable = false;
      }
      if (skipped.length > 0)
        this.logger.warn('phone list entries skipped: not usable as phones', {
          operation,
          skipped: skipped.length,
          first: skipped.slice(0, 5),
        });
      const last = pages.at(-1)?.page ?? first;
      return { phones: [...seen.values()], skipped, count: last.count, pages: pages.length, stable, requestIds };
    } finally {
      sweep.unlink();
    }
  }

  /**
   * Up to `pages` pages after the first (offsets pageSize, 2 pageSize, ...), at most `concurrency` in flight,
   * answers in offset order. A short page ends the list: no page after it starts. On the first failure no
   * further page starts, the others are aborted through `sweep`, and once they have all settled the first
   * failure is thrown.
   */
  private async readPages(
    filter: PhoneFilter,
    pages: number,
    pageSize: number,
    concurrency: number,
    sweep: LinkedAbort,
    onPage: (page: PhoneList) => void,
  ): Promise<PhoneList[]> {
    const answers: PhoneList[] = [];
    let next = 0;
    let ended = false;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && !ended && next < pages) {
        const index = next++;
        try {
          const page = await this.listPhones(
            { ...filter, offset: (index + 1) * pageSize, limit: pageSize },
            { signal: sweep.signal },
          );
          answers[index] = page;
          onPage(page);
          if (page.phones.length + page.skipped.length < pageSize) ended = true;
        } catch (error) {
          if (failure === undefined) {
            failure = { error };
            sweep.abort(new Error('another page of the phone list sweep failed'));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, pages) }, worker));
    if (failure !== undefined) throw failure.error;
    return answers;
  }

  /** ShowCloudPhoneDetail. A missing phone fails with CPS.0005 (see isNotFound). */
  async getPhone(phoneId: string, options: CallOptions = {}): Promise<PhoneDetail> {
    const operation = cphOperations.getPhone;
    checkId(operation, 'phoneId', phoneId);
    return this.call(
      {
        operation,
        method: 'GET',
        path: `/phones/${encodeURIComponent(phoneId)}`,
        idempotent: true,
        parse: (v, h) => withRequestId(parsePhoneDetail(v), h),
        requestIdOf: (r) => r.requestId,
      },
      options.signal,
    );
  }

  // ---- routes ----

  /**
   * Sets the route of any number of phones: duplicates dropped, split into calls of at most 100 IDs, sent in
   * order. Each batch says whether it was sent (with its request ID, jobs, per-phone refusals and phones of
   * unknown outcome), failed (with `error.outcomeUnknown` when the change may have happened anyway) or was not
   * sent. A batch refused with a 4xx that concerns only its phones does not stop the others; a refusal of the
   * whole account (isAccountWideRefusal: credentials, permission, arrears, whatever the HTTP status) and any
   * other failure mark the rest `notSent`.
   */
  async setTrafficType(
    trafficType: TrafficType,
    phoneIds: readonly string[],
    options: CallOptions = {},
  ): Promise<TrafficResult> {
    const operation = cphOperations.setTrafficType;
    checkTrafficType(operation, trafficType);
    const unique = [...new Set(phoneIds)];
    for (const [i, id] of unique.entries()) checkId(operation, `phoneIds[${i}]`, id);
    const result: TrafficResult = { batches: [], jobs: [], errors: [], unconfirmed: [], complete: true };
    let stopper: CphError | undefined;
    for (const batch of chunk(unique, maxPhonesPerTrafficCall)) {
      if (stopper !== undefined) {
        result.batches.push({ state: 'notSent', phoneIds: batch, error: stopper });
        result.complete = false;
        continue;
      }
      try {
        const answer = await this.setTrafficTypeBatch(trafficType, batch, options);
        result.batches.push({ state: 'sent', phoneIds: batch, ...answer });
        result.jobs.push(...answer.jobs);
        result.errors.push(...answer.errors);
        result.unconfirmed.push(...answer.unconfirmed);
      } catch (err) {
        const error =
          err instanceof CphError
            ? err
            : new CphError({
                operation,
                errorCode: clientErrorCodes.InvalidResponse,
                errorMessage: errorMessage(err),
                retryable: false,
                cause: err,
              });
        result.batches.push({ state: 'failed', phoneIds: batch, error });
        result.complete = false;
        const batchSpecific =
          error.httpStatus !== undefined &&
          error.httpStatus >= 400 &&
          error.httpStatus < 500 &&
          error.httpStatus !== 429 &&
          !isAccountWideRefusal(error);
        if (!batchSpecific) stopper = error;
      }
    }
    return result;
  }

  /** One phones-traffic call of 1..100 IDs; throws CphError when the call as a whole fails. */
  async setTrafficTypeBatch(
    trafficType: TrafficType,
    phoneIds: readonly string[],
    options: CallOptions = {},
  ): Promise<PhoneJobResult> {
    const operation = cphOperations.setTrafficType;
    checkTrafficType(operation, trafficType);
    if (phoneIds.length < 1 || phoneIds.length > maxPhonesPerTrafficCall) {
      throw invalidArgument(
        operation,
        `phoneIds must hold 1 to ${maxPhonesPerTrafficCall} IDs, got ${phoneIds.length}`,
      );
    }
    for (const [i, id] of phoneIds.entries()) checkId(operation, `phoneIds[${i}]`, id);
    const sent = [...phoneIds];
    return this.call(
      {
        operation,
        method: 'POST',
        path: '/phones-traffic',
        body: { traffic_type: trafficType, phone_ids: sent },
        idempotent: false,
        parse: (value, headerRequestId) => withRequestId(parseTrafficResponse(value, sent), headerRequestId),
        requestIdOf: (r) => r.requestId,
      },
      options.signal,
    );
  }

  // ---- jobs ----

  /**
   * ListJobs for one request ID or many (split into calls of at most 20), each paged from `offset` by `limit`
   * (default 100) until a short page. Jobs are de-duplicated by job ID. CPH's job entries do not say which
   * request made them: a job's `requestId` is set when a call asked about one request ID only; after a
   * call about several, match jobs by `jobId` (setTrafficType returned one per phone).
   *
   * `expectedJobs`, the number of jobs the caller knows the asked requests hold (setTrafficType returned
   * them), saves the last, empty page: paging stops once that many distinct jobs were collected, so one
   * request of exactly 100 jobs costs one call instead of two. It counts for the whole query, so it is used
   * only when the query fits one call's 20 request IDs; with more it is ignored and every group is paged to
   * its short page. At least one call is always made.
   */
  async listJobs(query: JobQuery, options: CallOptions = {}): Promise<JobList> {
    const operation = cphOperations.listJobs;
    const hasOne = typeof query.requestId === 'string';
    const hasMany = Array.isArray(query.requestIds);
    if (hasOne === hasMany) throw invalidArgument(operation, 'give exactly one of requestId and requestIds');
    const ids = hasOne ? [query.requestId ?? ''] : [...new Set(query.requestIds ?? [])];
    if (ids.length === 0) throw invalidArgument(operation, 'requestIds is empty');
    for (const [i, id] of ids.entries()) checkId(operation, hasOne ? 'requestId' : `requestIds[${i}]`, id);
    const limit = checkInteger(operation, 'limit', query.limit ?? 100, 1, 100);
    const startOffset = checkInteger(operation, 'offset', query.offset ?? 0, 0, Number.MAX_SAFE_INTEGER);
    if (query.expectedJobs !== undefined && (!Number.isSafeInteger(query.expectedJobs) || query.expectedJobs < 0)) {
      throw invalidArgument(operation, `expectedJobs must be a whole number >= 0, got ${query.expectedJobs}`);
    }
    const groups = chunk(ids, maxRequestIdsPerJobList);
    // The expected total is for the whole query: with several groups it says nothing about any one of them.
    const expectedJobs = groups.length === 1 ? query.expectedJobs : undefined;
    const jobs = new Map<string, Job>();
    const requestIds: string[] = [];
    for (const group of groups) {
      // A request holds at most 100 jobs (one per phone), so a group holds at most 100 * its size.
      const maxPages = Math.ceil((group.length * maxPhonesPerTrafficCall) / limit) + 2;
      let offset = startOffset;
      for (let page = 0; page < maxPages; page++) {
        const params = new URLSearchParams();
        if (hasOne) params.set('request_id', group[0] ?? '');
        else params.set('request_ids', group.join(','));
        params.set('offset', String(offset));
        params.set('limit', String(limit));
        const answer = await this.call(
          {
            operation,
            method: 'GET',
            path: '/jobs',
            query: params,
            idempotent: true,
            parse: (v, h) => withRequestId(parseJobList(v), h),
            requestIdOf: (r) => r.requestId,
          },
          options.signal,
        );
        if (answer.requestId !== undefined) requestIds.push(answer.requestId);
        let fresh = 0;
        for (const entry of answer.jobs) {
          // Asked about one request, every job answered belongs to it.
          const job = entry.requestId === undefined && group.length === 1 ? { ...entry, requestId: group[0] } : entry;
          if (!jobs.has(job.jobId)) {
            jobs.set(job.jobId, job);
            fresh += 1;
          }
        }
        offset += answer.jobs.length;
        if (answer.jobs.length < limit || fresh === 0) break;
        if (expectedJobs !== undefined && jobs.size >= expectedJobs) break;
      }
    }
    return { jobs: [...jobs.values()], requestIds };
  }

  /** ShowJob. The answer's request_id is the call's own (`callRequestId`); `requestId` stays undefined. */
  async getJob(jobId: string, options: CallOptions = {}): Promise<Job> {
    const operation = cphOperations.getJob;
    checkId(operation, 'jobId', jobId);
    return this.call(
      {
        operation,
        method: 'GET',
        path: `/jobs/${encodeURIComponent(jobId)}`,
        idempotent: true,
        parse: (v, h) => {
          const job = parseShowJob(v);
          return job.callRequestId === undefined ? { ...job, callRequestId: h } : job;
        },
        requestIdOf: (r) => r.callRequestId,
      },
      options.signal,
    );
  }

  // ---- the one road every call takes ----

  private async call<T>(spec: CallSpec<T>, signal: AbortSignal | undefined): Promise<T> {
    const url = new URL(this.base.pathname + spec.path, this.base);
    if (spec.query !== undefined) url.search = spec.query.toString();
    const body = spec.body === undefined ? '' : JSON.stringify(spec.body);
    let reauthorised = false;
    try {
      return await withRetry(
        async (attempt) => {
          for (;;) {
            this.checkSuspended(spec.operation);
            await this.rateLimiter.acquire(signal);
            await this.apiWindow?.acquire(spec.operation, signal);
            const headers: Record<string, string> = {
              'Content-Type': 'application/json',
              Accept: 'application/json',
              'User-Agent': this.userAgent,
              'X-Project-Id': this.projectId,
            };
            const authHeaders = await this.auth.authorize({ method: spec.method, url, headers, body }, signal);
            try {
              return await this.attempt(spec, url, { ...headers, ...authHeaders }, body, attempt, signal);
            } catch (err) {
              if (!isAuthError(err) || !(err instanceof CphError) || err.errorCode === clientErrorCodes.AuthSuspended)
                throw err;
              if (!reauthorised && this.auth.invalidate(authHeaders)) {
                // A token revoked early: replaced once for this call (concurrent calls share the renewal).
                reauthorised = true;
                this.logger.info('CPH refused the token; authenticating again once', {
                  operation: spec.operation,
                  requestId: err.requestId,
                });
                continue;
              }
              // Only refusals that stand count toward the suspension, not the one a fresh token answers.
              this.noteAuthFailure(err);
              throw err;
            }
          }
        },
        {
          policy: this.retryPolicy,
          clock: this.clock,
          signal,
          random: this.random,
          mayRetry: (err) => spec.idempotent || this.retryAmbiguousWrites || !err.outcomeUnknown,
          onRetry: ({ attempt, delayMs, error }) =>
            this.logger.debug('CPH call failed; retrying', {
              operation: spec.operation,
              attempt,
              delayMs,
              errorCode: error.errorCode,
              httpStatus: error.httpStatus,
              requestId: error.requestId,
            }),
        },
      );
    } catch (err) {
      if (err instanceof CphError) throw err;
      if (signal?.aborted)
        throw new CphError({
          operation: spec.operation,
          errorCode: clientErrorCodes.Aborted,
          errorMessage: 'the call was cancelled',
          retryable: false,
          cause: err,
        });
      throw err;
    }
  }

  private async attempt<T>(
    spec: CallSpec<T>,
    url: URL,
    headers: Record<string, string>,
    body: string,
    attempt: number,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const started = this.clock.now();
    let httpStatus: number | undefined;
    let requestId: string | undefined;
    const report = (outcome: CallOutcome, errorCode: string | undefined): void => {
      const durationMs = this.clock.now() - started;
      this.logger.debug('CPH call', {
        operation: spec.operation,
        requestId,
        httpStatus,
        outcome,
        errorCode,
        attempt,
        durationMs,
      });
      try {
        this.onCall?.({ operation: spec.operation, outcome, httpStatus, durationMs, attempt, errorCode, requestId });
      } catch (hookErr) {
        this.logger.warn('CPH onCall hook threw', { operation: spec.operation, error: errorMessage(hookErr) });
      }
    };
    try {
      const answer = await exchange({
        operation: spec.operation,
        method: spec.method,
        url,
        headers,
        body,
        agent: this.agent,
        timeoutMs: this.timeoutMs,
        clock: this.clock,
        signal,
      });
      httpStatus = answer.status;
      const headerRequestId = answer.headers.get('x-request-id') ?? undefined;
      requestId = headerRequestId;
      let json: unknown;
      let jsonError: unknown;
      try {
        json = answer.text === '' ? undefined : JSON.parse(answer.text);
      } catch (err) {
        jsonError = err;
      }
      if (answer.status < 200 || answer.status > 299) {
        const info = parseErrorBody(json);
        // The header, as the Go SDK reads it; the body's request_id only when there is no header.
        requestId = headerRequestId ?? info.requestId;
        throw new CphError({
          operation: spec.operation,
          httpStatus: answer.status,
          errorCode: info.errorCode ?? clientErrorCodes.HttpError,
          errorMessage: info.errorMessage ?? `HTTP ${answer.status} without a CPH error body`,
          requestId,
          retryAfterMs: parseRetryAfter(answer.headers.get('retry-after'), this.clock.now()),
        });
      }
      if (jsonError !== undefined || json === undefined) {
        throw new CphError({
          operation: spec.operation,
          httpStatus: answer.status,
          errorCode: clientErrorCodes.InvalidResponse,
          errorMessage: 'the body is not JSON',
          requestId,
          retryable: false,
          cause: jsonError,
        });
      }
      let result: T;
      try {
        result = spec.parse(json, headerRequestId);
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        throw new CphError({
          operation: spec.operation,
          httpStatus: answer.status,
          errorCode: clientErrorCodes.InvalidResponse,
          errorMessage: `unexpected body: ${err.message}`,
          requestId,
          retryable: false,
          cause: err,
        });
      }
      requestId = spec.requestIdOf(result) ?? headerRequestId;
      this.consecutiveAuthFailures = 0;
      report('success', undefined);
      return result;
    } catch (err) {
      report(callOutcome(err), err instanceof CphError ? err.errorCode : undefined);
      if (!isAuthError(err)) this.consecutiveAuthFailures = 0;
      throw err;
    }
  }

  private noteAuthFailure(err: CphError): void {
    this.consecutiveAuthFailures += 1;
    this.lastAuthError = err;
    if (this.consecutiveAuthFailures >= this.authFailureLimit) {
      this.suspendedUntil = this.clock.now() + this.authSuspendMs;
      this.logger.error(
        'CPH refused the credentials repeatedly; holding calls back so the gateway does not lock the access key',
        {
          operation: err.operation,
          errorCode: err.errorCode,
          requestId: err.requestId,
          failures: this.consecutiveAuthFailures,
          suspendMs: this.authSuspendMs,
        },
      );
    }
  }

  private checkSuspended(operation: string): void {
    const now = this.clock.now();
    if (now >= this.suspendedUntil) return;
    throw new CphError({
      operation,
      errorCode: clientErrorCodes.AuthSuspended,
      errorMessage: `not sent: the credentials were refused ${this.consecutiveAuthFailures} times in a row (last ${this.lastAuthError?.errorCode ?? 'unknown'}); calls resume in ${Math.ceil((this.suspendedUntil - now) / 1000)} s`,
      retryable: false,
    });
  }

  /** Lifts an auth suspension, e.g. after the credentials were replaced. */
  resetAuthFailures(): void {
    this.consecutiveAuthFailures = 0;
    this.suspendedUntil = 0;
  }
}

/** An answer without a body request_id takes it from the X-Request-Id header. */
function withRequestId<T extends { requestId: string | undefined }>(result: T, headerRequestId: string | undefined): T {
  return result.requestId === undefined && headerRequestId !== undefined
    ? { ...result, requestId: headerRequestId }
    : result;
}

interface LinkedAbort {
  /** Aborts when the caller's signal does, or when `abort` is called. */
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
  /** Stops following the caller's signal; call when done. */
  unlink(): void;
}

/** An AbortController that follows the caller's signal, so one failed page can stop its siblings too. */
function linkedAbort(parent: AbortSignal | undefined): LinkedAbort {
  const controller = new AbortController();
  const follow = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) follow();
  else parent?.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    unlink: () => parent?.removeEventListener('abort', follow),
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function invalidArgument(operation: string, message: string): CphError {
  return new CphError({
    operation,
    errorCode: clientErrorCodes.InvalidArgument,
    errorMessage: message,
    retryable: false,
  });
}

function checkInteger(operation: string, name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw invalidArgument(operation, `${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

function checkId(operation: string, name: string, value: string): void {
  if (typeof value !== 'string' || value === '' || value.length > 128 || /[\s/,?#%]/.test(value)) {
    throw invalidArgument(operation, `${name} is not a valid ID: ${JSON.stringify(String(value).slice(0, 70))}`);
  }
}

function checkTrafficType(operation: string, value: string): void {
  if (!(trafficTypes as readonly string[]).includes(value))
    throw invalidArgument(operation, `trafficType must be "direct" or "routing", got ${JSON.stringify(value)}`);
}
