/**
 * The simulated CPH account: the fleet, its jobs and the API operations over them, with no HTTP in sight.
 * Each operation takes parsed inputs and the caller's identity and returns a status and a wire body, so the
 * transport (server.ts) only deals with bytes, auth, faults and throttling.
 */
import type {
  TrafficType,
  WireErrorBody,
  WirePhone,
  WireJob,
  WireListJobsResponse,
  WireListPhonesResponse,
  WirePhoneJob,
  WireShowJobResponse,
  WireTrafficResponse,
} from '../cph/wire.js';
import { trafficTypes } from '../cph/wire.js';
import { cphTime, type Fleet, type PhoneFilter, type SimPhone } from './fleet.js';
import { JobStore, type SimJob } from './jobs.js';
import { noQuirks, type Quirks, type Readings, type RuntimeSettings } from './options.js';
import { SeededRandom, unitFor } from './random.js';

export interface OpResult {
  status: number;
  body: object;
  headers?: Record<string, string>;
  /** Where the request ID goes: body and X-Request-Id header (default), the header only, or nowhere. */
  requestIdIn?: 'body' | 'header' | 'none';
}

export const knownStatusCodes = new Set([0, 1, 2, 3, 4, 6, 7, 8, -5, -6, -7, -8, -9]);
/** Phone IDs are at most 32 bytes of letters, digits, `-` and `_`; anything else is CPS.0004. */
const wellFormedId = /^[A-Za-z0-9_-]{1,32}$/;
const wellFormedServerId = /^[A-Za-z0-9_-]{1,64}$/;
export const notRunningErrorCode = 'CPS.0012';
export const jobFailureErrorCode = 'CPS.0003';

export interface WriteLogEntry {
  seq: number;
  receivedAt: string;
  time: string;
  identity: string;
  remote: string;
  userAgent: string;
  requestId: string;
  trafficType: TrafficType;
  phoneIds: string[];
  jobs: number;
  errors: number;
}

export interface Overlap {
  time: string;
  phoneId: string;
  runningJobId: string;
  runningIdentity: string;
  identity: string;
  requestId: string;
}

export class CphState {
  readonly fleet: Fleet;
  readonly jobs: JobStore;
  private readonly jobIds: SeededRandom;
  private readonly jobIdentity = new Map<string, string>();
  private readonly perPhoneJobCount = new Map<string, number>();
  readonly routeWrites = new Map<string, number>();
  readonly costlyRepeatsByPhone = new Map<string, number>();
  costlyRepeats = 0;
  /** Writes of the value a still-running job for the phone is already setting. */
  readonly resendsWhileRunningByPhone = new Map<string, number>();
  resendsWhileRunning = 0;
  overlappingWrites = 0;
  readonly overlaps: Overlap[] = [];
  jobsSucceeded = 0;
  jobsFailed = 0;
  readonly writes: WriteLogEntry[] = [];
  private writeSeq = 0;
  /** Odd but allowed answers (POST /_sim/quirks); none by default. */
  readonly quirks: Quirks = noQuirks();

  constructor(
    fleet: Fleet,
    private readonly seed: number,
    readonly readings: Readings,
    readonly settings: RuntimeSettings,
    private readonly maxWriteLog: number,
    maxJobs = 1_000_000,
  ) {
    this.fleet = fleet;
    this.jobs = new JobStore(maxJobs);
    this.jobIds = new SeededRandom(seed ^ 0x10b5);
  }

  /** Ends every job due by `now`, applying the route of those that succeed. */
  settle(now: number): void {
    for (let job = this.jobs.due.popDue(now); job; job = this.jobs.due.popDue(now)) this.finish(job);
  }

  private finish(job: SimJob): void {
    job.endTime = job.dueTime;
    const phone = this.fleet.get(job.phoneId);
    if (job.willFail) {
      job.status = -1;
      job.errorCode = jobFailureErrorCode;
      job.errorMsg = 'Failed to change the route of the phone, retry later.';
      job.executeMsg = 'route change failed';
      this.jobsFailed++;
    } else {
      job.status = 2;
      this.jobsSucceeded++;
      if (phone) {
        phone.trafficType = job.trafficType;
        phone.updateTime = job.dueTime;
      }
    }
    if (phone && phone.runningJobId === job.jobId) {
      phone.runningJobId = undefined;
      if (phone.statusBeforeJob !== undefined) {
        this.fleet.setStatus(phone, phone.statusBeforeJob);
        phone.statusBeforeJob = undefined;
      }
    }
  }

  notFound(requestId: string, what: string): OpResult {
    return this.error(this.readings.notFoundStatus, 'CPS.0005', `${what} not found`, requestId);
  }

  error(status: number, errorCode: string, errorMsg: string, requestId: string): OpResult {
    const body: WireErrorBody = { request_id: requestId, error_code: errorCode, error_msg: errorMsg };
    return { status, body };
  }

  listPhones(query: URLSearchParams, requestId: string): OpResult {
    const offset = parseIntParam(query.get('offset'), 0);
    const limit = parseIntParam(query.get('limit'), 100);
    if (offset === undefined || offset < 0)
      return this.error(400, 'CPS.0002', 'Invalid offset: must be an integer >= 0', requestId);
    if (limit === undefined || limit < 1 || limit > this.readings.maxListLimit) {
      return this.error(
        400,
        'CPS.0002',
        `Invalid limit: must be an integer from 1 to ${this.readings.maxListLimit}`,
        requestId,
      );
    }
    const filter: PhoneFilter = {};
    const phoneName = query.get('phone_name');
    if (phoneName !== null && phoneName !== '') filter.phoneName = phoneName;
    const serverId = query.get('server_id');
    if (serverId !== null && serverId !== '') {
      if (!wellFormedServerId.test(serverId)) return this.error(400, 'CPS.0016', 'Invalid server_id', requestId);
      filter.serverId = serverId;
    }
    const status = query.get('status');
    if (status !== null && status !== '') {
      const code = parseIntParam(status, 0, true);
      if (code === undefined || !knownStatusCodes.has(code))
        return this.error(400, 'CPS.0010', 'Invalid status', requestId);
      filter.status = code;
    }
    const type = query.get('type');
    if (type !== null && type !== '') {
      if (type !== '0' && type !== '1') return this.error(400, 'APIGW.0201', 'Invalid type: must be 0 or 1', requestId);
      filter.type = Number(type);
    }
    const { count, page } = this.fleet.list(filter, offset, limit);
    const phones = page.map((p) => this.withQuirks(p.phoneId, this.fleet.render(p)));
    // With quirks the phones may lack fields the documented shape has: the body is then only what it is.
    const body: WireListPhonesResponse | { request_id: string; count: number; phones: object[] } = {
      request_id: requestId,
      count,
      phones,
    };
    return { status: 200, body };
  }

  showPhone(phoneId: string, requestId: string): OpResult {
    if (!wellFormedId.test(phoneId)) return this.error(400, 'CPS.0004', 'Invalid phone_id', requestId);
    const phone = this.fleet.get(phoneId);
    if (!phone) return this.notFound(requestId, `Phone ${phoneId}`);
    const body = this.withQuirks(phone.phoneId, this.fleet.renderDetail(phone, requestId));
    return { status: 200, body };
  }

  /** A rendered phone as its quirk (POST /_sim/quirks) wants it: fields left out, an odd traffic_type. */
  private withQuirks(phoneId: string, wire: WirePhone): WirePhone | Record<string, unknown> {
    const quirk = this.quirks.phones[phoneId];
    if (!quirk) return wire;
    const odd: Record<string, unknown> = Object.fromEntries(Object.entries(wire));
    if ('trafficType' in quirk) odd.traffic_type = quirk.trafficType;
    for (const field of quirk.omit ?? []) delete odd[field];
    return odd;
  }

  importTraffic(
    raw: Buffer,
    requestId: string,
    identity: string,
    now: number,
    meta: { receivedAt: number; remote: string; userAgent: string },
  ): OpResult {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.error(400, 'APIGW.0201', 'Request body is not valid JSON', requestId);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return this.error(400, 'APIGW.0201', 'Request body must be a JSON object', requestId);
    }
    const { traffic_type: trafficType, phone_ids: phoneIds } = parsed as Record<string, unknown>;
    if (typeof trafficType !== 'string' || !(trafficTypes as readonly string[]).includes(trafficType)) {
      return this.error(400, 'APIGW.0201', 'Invalid traffic_type: must be direct or routing', requestId);
    }
    if (phoneIds === undefined || phoneIds === null || (Array.isArray(phoneIds) && phoneIds.length === 0)) {
      return this.error(400, 'CPS.0009', 'The phone_ids list is empty', requestId);
    }
    if (!Array.isArray(phoneIds) || !phoneIds.every((id): id is string => typeof id === 'string')) {
      return this.error(400, 'APIGW.0201', 'Invalid phone_ids: must be an array of strings', requestId);
    }
    if (phoneIds.length > 100) {
      return this.error(
        400,
        this.readings.tooManyIdsErrorCode,
        `Too many phone_ids: at most 100 per call, got ${phoneIds.length}`,
        requestId,
      );
    }
    const wanted = trafficType as TrafficType;
    const entries: WirePhoneJob[] = [];
    const seen = new Set<string>();
    let jobCount = 0;
    for (const phoneId of phoneIds) {
      if (seen.has(phoneId)) continue;
      seen.add(phoneId);
      if (!wellFormedId.test(phoneId)) {
        entries.push(this.phoneError(phoneId, 'CPS.0004', 'Invalid phone_id'));
        continue;
      }
      const phone = this.fleet.get(phoneId);
      if (!phone) {
        entries.push(this.phoneError(phoneId, 'CPS.0005', `Phone ${phoneId} not found`));
        continue;
      }
      if (this.readings.refuseNotRunning && phone.status !== 2) {
        entries.push(
          this.phoneError(phoneId, notRunningErrorCode, `Phone ${phoneId} is not running (status ${phone.status})`),
        );
        continue;
      }
      const job = this.startJob(phone, wanted, requestId, identity, now);
      // A quirk: the job runs, but the answer says nothing of it.
      entries.push(this.quirks.noJobFor.includes(phoneId) ? { phone_id: phoneId } : this.phoneJob(phoneId, job.jobId));
      jobCount++;
    }
    this.logWrite({
      seq: ++this.writeSeq,
      receivedAt: new Date(meta.receivedAt).toISOString(),
      time: new Date(now).toISOString(),
      identity,
      remote: meta.remote,
      userAgent: meta.userAgent,
      requestId,
      trafficType: wanted,
      phoneIds,
      jobs: jobCount,
      errors: entries.length - jobCount,
    });
    if (this.quirks.trafficRequestId !== 'body')
      return { status: 200, body: { jobs: entries }, requestIdIn: this.quirks.trafficRequestId };
    const body: WireTrafficResponse = { request_id: requestId, jobs: entries };
    return { status: 200, body };
  }

  private startJob(
    phone: SimPhone,
    trafficType: TrafficType,
    requestId: string,
    identity: string,
    now: number,
  ): SimJob {
    const n = (this.perPhoneJobCount.get(phone.phoneId) ?? 0) + 1;
    this.perPhoneJobCount.set(phone.phoneId, n);
    this.routeWrites.set(phone.phoneId, (this.routeWrites.get(phone.phoneId) ?? 0) + 1);
    const repeat = phone.trafficType === trafficType && phone.runningJobId === undefined;
    if (repeat) {
      this.costlyRepeats++;
      this.costlyRepeatsByPhone.set(phone.phoneId, (this.costlyRepeatsByPhone.get(phone.phoneId) ?? 0) + 1);
    }
    if (phone.runningJobId !== undefined && this.jobs.get(phone.runningJobId)?.trafficType === trafficType) {
      this.resendsWhileRunning++;
      this.resendsWhileRunningByPhone.set(phone.phoneId, (this.resendsWhileRunningByPhone.get(phone.phoneId) ?? 0) + 1);
    }
    if (phone.runningJobId !== undefined) {
      const runningIdentity = this.jobIdentity.get(phone.runningJobId) ?? '';
      if (runningIdentity !== identity) {
        this.overlappingWrites++;
        if (this.overlaps.length < 1000) {
          this.overlaps.push({
            time: new Date(now).toISOString(),
            phoneId: phone.phoneId,
            runningJobId: phone.runningJobId,
            runningIdentity,
            identity,
            requestId,
          });
        }
      }
    }
    const instant = repeat && !this.readings.repeatCreatesJob;
    const willFail =
      !instant &&
      (this.settings.failJobsForPhones.includes(phone.phoneId) ||
        unitFor(this.seed, `job:${phone.phoneId}:${n}`) < this.settings.jobFailureRate);
    const job: SimJob = {
      jobId: this.jobIds.hex(32),
      requestId,
      phoneId: phone.phoneId,
      serverId: phone.serverId,
      trafficType,
      beginTime: now,
      dueTime: instant ? now : now + Math.max(0, this.settings.jobMs),
      willFail,
      repeat,
      status: 1,
    };
    this.jobIdentity.set(job.jobId, identity);
    if (instant) {
      job.status = 2;
      job.endTime = now;
      this.jobsSucceeded++;
      this.jobs.add(job);
      return job;
    }
    this.jobs.add(job);
    if (this.readings.restartOnRouteChange) {
      if (phone.statusBeforeJob === undefined) phone.statusBeforeJob = phone.status;
      this.fleet.setStatus(phone, 4);
    }
    phone.runningJobId = job.jobId;
    if (job.dueTime <= now) this.settle(now);
    return job;
  }

  private logWrite(entry: WriteLogEntry): void {
    this.writes.push(entry);
    // Trim in chunks: one splice per ~10% of the bound, not one per write.
    if (this.writes.length > this.maxWriteLog * 1.1 + 1) this.writes.splice(0, this.writes.length - this.maxWriteLog);
  }

  resetWrites(): void {
    this.writes.length = 0;
  }

  private phoneError(phoneId: string, errorCode: string, errorMsg: string): WirePhoneJob {
    switch (this.readings.jobErrorFields) {
      case 'null':
        return { phone_id: phoneId, job_id: null, error_code: errorCode, error_msg: errorMsg };
      case 'empty':
        return { phone_id: phoneId, job_id: '', error_code: errorCode, error_msg: errorMsg };
      default:
        return { phone_id: phoneId, error_code: errorCode, error_msg: errorMsg };
    }
  }

  private phoneJob(phoneId: string, jobId: string): WirePhoneJob {
    switch (this.readings.jobErrorFields) {
      case 'null':
        return { phone_id: phoneId, job_id: jobId, error_code: null, error_msg: null };
      case 'empty':
        return { phone_id: phoneId, job_id: jobId, error_code: '', error_msg: '' };
      default:
        return { phone_id: phoneId, job_id: jobId };
    }
  }

  renderJob(job: SimJob, style: 'show' | 'list'): WireJob {
    const reading = this.readings.jobErrorFields;
    const blank: string | null = reading === 'null' ? null : reading === 'empty' ? '' : style === 'show' ? null : '';
    return {
      job_id: job.jobId,
      begin_time: cphTime(job.beginTime),
      end_time: job.endTime === undefined ? blank : cphTime(job.endTime),
      status: job.status,
      phone_id: job.phoneId,
      server_id: job.serverId,
      error_code: job.errorCode ?? blank,
      error_msg: job.errorMsg ?? blank,
      execute_msg: job.executeMsg ?? blank,
    };
  }

  showJob(jobId: string, requestId: string): OpResult {
    if (!wellFormedId.test(jobId)) return this.error(400, 'CPS.0004', 'Invalid job_id', requestId);
    const job = this.jobs.get(jobId);
    if (!job) return this.notFound(requestId, `Job ${jobId}`);
    const body: WireShowJobResponse = { ...this.renderJob(job, 'show'), request_id: requestId };
    return { status: 200, body };
  }

  listJobs(query: URLSearchParams, requestId: string): OpResult {
    const offset = parseIntParam(query.get('offset'), 0);
    const limit = parseIntParam(query.get('limit'), 100);
    if (offset === undefined || offset < 0)
      return this.error(400, 'CPS.0002', 'Invalid offset: must be an integer >= 0', requestId);
    if (limit === undefined || limit < 1 || limit > 100)
      return this.error(400, 'CPS.0002', 'Invalid limit: must be an integer from 1 to 100', requestId);
    const many = query.get('request_ids');
    const one = query.get('request_id');
    let ids: string[];
    if (many !== null && many !== '') {
      ids = many
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id !== '');
      if (ids.length > 20)
        return this.error(400, 'APIGW.0201', `Too many request_ids: at most 20, got ${ids.length}`, requestId);
    } else if (one !== null && one !== '') {
      ids = [one];
    } else {
      return this.error(400, 'APIGW.0201', 'One of request_id or request_ids is required', requestId);
    }
    const page: WireJob[] = [];
    let index = 0;
    for (const id of new Set(ids)) {
      for (const job of this.jobs.forRequest(id)) {
        if (index >= offset && page.length < limit) page.push(this.renderJob(job, 'list'));
        index++;
      }
    }
    const body: WireListJobsResponse = { request_id: requestId, jobs: page };
    return { status: 200, body };
  }
}

/** A decimal integer query parameter; `fallback` when absent; undefined when malformed. */
export function parseIntParam(value: string | null, fallback: number, allowNegative = false): number | undefined {
  if (value === null || value === '') return fallback;
  if (!(allowNegative ? /^-?\d{1,9}$/ : /^\d{1,9}$/).test(value)) return undefined;
  return Number(value);
}
