/**
 * Follows route-change jobs of one CPH account to their end, through ListJobs by request ID. Guarantees:
 *   - every tracked job is polled until it ends; its outcome is kept for the resources that asked for it;
 *   - a phone has at most one job in flight known to the tracker;
 *   - a request is first polled when its jobs are expected to have ended: the job duration learnt from
 *     finished jobs, or `initialJobEstimateMs` before any has ended; the due time is computed when the poll
 *     comes, so requests written before anything was learnt profit from what was learnt since;
 *   - probing: while the last poll round saw no job end, only the oldest due request is polled (one call),
 *     at a gap that grows with its age (a tenth of it, 250 ms to `pollIntervalMs`); once jobs are seen to
 *     end, every due request is polled. Jobs of one batch run about as long, so a round that would find
 *     every job still running costs one call, not one per request;
 *   - polls are packed: requests whose jobs fit one page of 100 share a ListJobs call (up to 20 IDs), told
 *     how many jobs to expect so that no empty page is read; up to `maxConcurrentPolls` calls run at once;
 *   - the owners (resource keys) of a job are told when it ends; a succeeded job's route is recorded in the
 *     inventory so the next plan sees the phone in line without another list sweep;
 *   - `adopt(requestIds)` resumes following requests known from a resource's status after a restart,
 *     so no job result is lost when the operator is replaced mid-flight;
 *   - `version` changes whenever the jobs in flight do, so a plan made from an older state can be told apart.
 */
import type { Clock } from '../runtime/clock.js';
import { Alarm } from '../runtime/alarm.js';
import type { Logger } from '../runtime/logger.js';
import type { TrafficType } from '../cph/wire.js';
import type { CphPort, JobState, ObservedJob } from './ports.js';

export interface TrackedJob {
  phoneId: string;
  jobId: string;
  requestId: string;
  /** The route asked for; unknown for jobs adopted from a status after a restart. */
  trafficType: TrafficType | undefined;
  startedAt: number;
}

export interface JobOutcome {
  phoneId: string;
  jobId: string;
  requestId: string;
  trafficType: TrafficType | undefined;
  state: Exclude<JobState, 'running'>;
  errorCode: string;
  errorMessage: string;
  endedAt: number;
}

export interface JobTrackerOptions {
  cph: CphPort;
  clock: Clock;
  logger: Logger;
  /** Told with the owners of jobs that ended in one poll call. */
  onJobsEnded: (owners: ReadonlySet<string>, outcomes: readonly JobOutcome[]) => void;
  /** Told of a route confirmed by a succeeded job. */
  onRouteConfirmed: (phoneId: string, trafficType: TrafficType) => void;
  /** The longest gap between two polls of a running request; default 2 s. */
  pollIntervalMs?: number;
  /** Expected job duration before any job has ended; default 4 s (the only ShowJob example in the docs spans 6 s). */
  initialJobEstimateMs?: number;
  /** ListJobs calls in flight at once; default 4. */
  maxConcurrentPolls?: number;
}

interface FollowedRequest {
  /** When the request was written (or adopted). */
  sentAt: number;
  /** Set once polled: when to poll again. Before that, the due time follows the current job estimate. */
  nextPollAt: number | undefined;
  owners: Set<string>;
  /** Adopted from a status after a restart: its jobs are not known until its first poll. */
  adopted: boolean;
  /** How many jobs the request started (0 when adopted: unknown). */
  jobCount: number;
  /** When a poll last saw its jobs running: a job seen ended next has ended between then and that poll. */
  lastSeenRunningAt: number | undefined;
}

const maxRequestIdsPerCall = 20;
const jobsPerPage = 100;
const minProbeGapMs = 250;

export class JobTracker {
  private readonly inFlightByPhone = new Map<string, TrackedJob>();
  private readonly requests = new Map<string, FollowedRequest>();
  private readonly outcomes = new Map<string, JobOutcome>();
  private readonly ownersByPhone = new Map<string, Set<string>>();
  private readonly adoptionWaiters = new Map<string, Array<() => void>>();
  private jobEstimateMs: number;
  private readonly pollIntervalMs: number;
  private readonly maxConcurrentPolls: number;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly alarm: Alarm;
  /** The last round found every polled job still running: poll only the oldest due request next. */
  private probing = true;
  /** While probing, the other due requests wait until the probe is due again. */
  private holdUntil = 0;
  private changes = 0;
  /** The error of the last poll round, if it failed. */
  lastError: unknown;
  pollCalls = 0;

  constructor(private readonly options: JobTrackerOptions) {
    this.alarm = new Alarm(options.clock);
    this.pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.jobEstimateMs = options.initialJobEstimateMs ?? 4_000;
    this.maxConcurrentPolls = options.maxConcurrentPolls ?? 4;
  }

  /** Changes whenever the jobs in flight do. */
  get version(): number {
    return this.changes;
  }

  /** Starts following the jobs of one phones-traffic request. */
  track(requestId: string, trafficType: TrafficType, jobs: ReadonlyArray<{ phoneId: string; jobId: string }>, owners: Iterable<string>): void {
    const now = this.options.clock.now();
    const ownerSet = new Set(owners);
    for (const job of jobs) {
      this.inFlightByPhone.set(job.phoneId, { ...job, requestId, trafficType, startedAt: now });
      this.outcomes.delete(job.phoneId);
      this.addOwners(job.phoneId, ownerSet);
    }
    if (jobs.length > 0) this.changes += 1;
    const existing = this.requests.get(requestId);
    if (existing) for (const owner of ownerSet) existing.owners.add(owner);
    else this.requests.set(requestId, { sentAt: now, nextPollAt: undefined, owners: ownerSet, adopted: false, jobCount: jobs.length, lastSeenRunningAt: undefined });
    this.alarm.wake();
  }

  /**
   * Resumes following requests recorded in a resource's status (after a restart). Resolves once each has
   * been polled (its running jobs are then known as in flight), so a plan made afterwards does not send
   * those phones again. Unknown IDs are polled once and dropped.
   */
  adopt(requestIds: Iterable<string>, owner: string): Promise<void> {
    const now = this.options.clock.now();
    const polled: Promise<void>[] = [];
    for (const requestId of requestIds) {
      const existing = this.requests.get(requestId);
      if (existing) existing.owners.add(owner);
      else this.requests.set(requestId, { sentAt: now, nextPollAt: now, owners: new Set([owner]), adopted: true, jobCount: 0, lastSeenRunningAt: undefined });
      if (this.requests.get(requestId)?.adopted) {
        polled.push(
          new Promise<void>((resolve) => {
            const waiters = this.adoptionWaiters.get(requestId) ?? [];
            waiters.push(resolve);
            this.adoptionWaiters.set(requestId, waiters);
          }),
        );
      }
    }
    this.alarm.wake();
    return Promise.all(polled).then(() => undefined);
  }

  private adopted(requestIds: Iterable<string>): void {
    for (const requestId of requestIds) {
      const request = this.requests.get(requestId);
      if (request) request.adopted = false;
      for (const resolve of this.adoptionWaiters.get(requestId) ?? []) resolve();
      this.adoptionWaiters.delete(requestId);
    }
  }

  /** Adds an owner to a phone's job in flight (a second resource wanting the same route). */
  addOwners(phoneId: string, owners: Iterable<string>): void {
    let set = this.ownersByPhone.get(phoneId);
    if (!set) this.ownersByPhone.set(phoneId, (set = new Set()));
    for (const owner of owners) set.add(owner);
  }

  inFlight(phoneId: string): TrackedJob | undefined {
    return this.inFlightByPhone.get(phoneId);
  }

  /** The last outcome of a phone's job, until a new job starts for it. */
  outcome(phoneId: string): JobOutcome | undefined {
    return this.outcomes.get(phoneId);
  }

  /** Request IDs still followed on behalf of `owner`. */
  pendingRequestIds(owner: string): string[] {
    const ids: string[] = [];
    for (const [requestId, request] of this.requests) if (request.owners.has(owner)) ids.push(requestId);
    return ids.sort();
  }

  /** Whether any request is still followed (adopted ones included). */
  get busy(): boolean {
    return this.requests.size > 0;
  }

  /** Forgets what the tracker kept for a resource that is gone. Jobs keep being followed for other owners. */
  forgetOwner(owner: string): void {
    for (const request of this.requests.values()) request.owners.delete(owner);
    for (const set of this.ownersByPhone.values()) set.delete(owner);
  }

  start(): void {
    if (!this.loop) this.loop = this.runLoop();
  }

  async stop(): Promise<void> {
    this.stopController.abort(new Error('job tracker stopped'));
    this.adopted([...this.adoptionWaiters.keys()]);
    this.alarm.wake();
    await this.loop;
  }

  private dueAt(request: FollowedRequest): number {
    return request.nextPollAt ?? request.sentAt + this.jobEstimateMs;
  }

  /** The gap before polling a still-running request again: a tenth of its age, within [250 ms, pollIntervalMs]. */
  private gapFor(request: FollowedRequest, now: number): number {
    return Math.min(this.pollIntervalMs, Math.max(minProbeGapMs, (now - request.sentAt) / 10));
  }

  private async runLoop(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      const now = this.options.clock.now();
      const due: Array<[string, FollowedRequest]> = [];
      let next = Number.POSITIVE_INFINITY;
      for (const entry of this.requests) {
        const at = this.dueAt(entry[1]);
        if (at <= now) due.push(entry);
        else next = Math.min(next, at);
      }
      const adoptedDue = due.filter(([, r]) => r.adopted);
      // Adopted requests are polled at once (a reconcile waits for them); the others respect the probe's hold.
      if (adoptedDue.length === 0 && (due.length === 0 || now < this.holdUntil)) {
        const wakeAt = due.length > 0 ? this.holdUntil : next;
        await this.alarm.wait(Number.isFinite(wakeAt) ? Math.max(0, wakeAt - now) : 3_600_000, signal);
        continue;
      }
      const own = now < this.holdUntil ? [] : due.filter(([, r]) => !r.adopted).sort((a, b) => a[1].sentAt - b[1].sentAt);
      const polled = [...adoptedDue, ...(this.probing ? own.slice(0, 1) : own)];
      const ended = await this.pollRound(polled, signal);
      if (signal.aborted) return;
      if (this.lastError !== undefined) {
        await this.alarm.wait(this.pollIntervalMs, signal);
        continue;
      }
      if (own.length > 0) {
        this.probing = ended === 0;
        const probe = own[0]![1];
        this.holdUntil = this.probing && this.requests.has(own[0]![0]) ? this.dueAt(probe) : 0;
      }
    }
  }

  /**
   * Polls the given requests, packed into as few ListJobs calls as their job counts allow, a few calls at
   * once. Returns how many jobs were seen to end (requests that finished count as one each).
   */
  private async pollRound(requests: Array<[string, FollowedRequest]>, signal: AbortSignal): Promise<number> {
    // ListJobs does not say which request a job belongs to. Requests this tracker started are matched
    // through their phones' jobs in flight, so several share a call; adopted ones (whose jobs it does not
    // know yet) are asked about one per call, where the answer can only be theirs.
    const calls: Array<{ ids: string[]; expectedJobs: number | undefined }> = [];
    let packing: { ids: string[]; expectedJobs: number } | undefined;
    for (const [requestId, request] of requests) {
      if (request.adopted) {
        calls.push({ ids: [requestId], expectedJobs: undefined });
        continue;
      }
      if (!packing || packing.ids.length >= maxRequestIdsPerCall || packing.expectedJobs + request.jobCount > jobsPerPage) {
        packing = { ids: [], expectedJobs: 0 };
        calls.push(packing);
      }
      packing.ids.push(requestId);
      packing.expectedJobs += request.jobCount;
    }
    let ended = 0;
    let failure: unknown;
    let nextCall = 0;
    const worker = async (): Promise<void> => {
      while (nextCall < calls.length && !signal.aborted) {
        const call = calls[nextCall++]!;
        try {
          ended += await this.pollCall(call.ids, call.expectedJobs, signal);
        } catch (error) {
          failure ??= error;
          const retryAt = this.options.clock.now() + this.pollIntervalMs;
          for (const id of call.ids) {
            const request = this.requests.get(id);
            if (request) request.nextPollAt = retryAt;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.maxConcurrentPolls, calls.length) }, worker));
    this.lastError = failure;
    if (failure !== undefined && !signal.aborted) this.options.logger.warn('job poll failed; will retry', { error: String(failure) });
    return ended;
  }

  private async pollCall(chunk: string[], expectedJobs: number | undefined, signal: AbortSignal): Promise<number> {
    this.pollCalls += 1;
    const jobs = await this.options.cph.listJobs(chunk, signal, expectedJobs);
    const outcomes: JobOutcome[] = [];
    const owners = new Set<string>();
    let ended = 0;
    const byRequest = new Map<string, ObservedJob[]>();
    for (const job of jobs) {
      const requestId = job.requestId || (chunk.length === 1 ? chunk[0] : this.inFlightByPhone.get(job.phoneId)?.requestId) || '';
      const list = byRequest.get(requestId) ?? [];
      list.push({ ...job, requestId });
      byRequest.set(requestId, list);
    }
    const now = this.options.clock.now();
    for (const requestId of chunk) {
      const request = this.requests.get(requestId);
      if (!request) continue;
      let running = 0;
      for (const job of byRequest.get(requestId) ?? []) {
        if (job.state === 'running') {
          running += 1;
          if (request.adopted && !this.inFlightByPhone.has(job.phoneId)) {
            this.inFlightByPhone.set(job.phoneId, { phoneId: job.phoneId, jobId: job.jobId, requestId, trafficType: undefined, startedAt: now });
            this.addOwners(job.phoneId, request.owners);
            this.changes += 1;
          }
          continue;
        }
        const outcome = this.finish(job, request);
        if (outcome) {
          outcomes.push(outcome);
          ended += 1;
          for (const owner of this.ownersByPhone.get(job.phoneId) ?? request.owners) owners.add(owner);
        }
      }
      // A request with no running job left (or unknown to CPH) is done.
      if (running === 0) {
        this.requests.delete(requestId);
        ended += 1;
        for (const owner of request.owners) owners.add(owner);
      } else {
        request.lastSeenRunningAt = now;
        request.nextPollAt = now + this.gapFor(request, now);
      }
    }
    this.adopted(chunk);
    if (outcomes.length > 0 || owners.size > 0) this.options.onJobsEnded(owners, outcomes);
    return ended;
  }

  private finish(job: ObservedJob, request: FollowedRequest): JobOutcome | undefined {
    const tracked = this.inFlightByPhone.get(job.phoneId);
    // A newer job for this phone supersedes an older one: the old result is no longer news.
    if (tracked && tracked.jobId !== job.jobId) return undefined;
    const now = this.options.clock.now();
    const trafficType = tracked?.trafficType;
    if (tracked) {
      this.inFlightByPhone.delete(job.phoneId);
      this.changes += 1;
      // Learn how long jobs take, so the first poll of the next request comes when it is likely done. The job
      // ended between the last poll that saw it running and this one: take the middle, not this poll's time,
      // or every probe's lateness would stretch the estimate.
      const seenRunning = request.lastSeenRunningAt !== undefined && request.lastSeenRunningAt > tracked.startedAt ? request.lastSeenRunningAt : undefined;
      const endedAt = seenRunning === undefined ? now : (seenRunning + now) / 2;
      this.jobEstimateMs = Math.round(0.7 * this.jobEstimateMs + 0.3 * Math.max(500, endedAt - tracked.startedAt));
    }
    const outcome: JobOutcome = {
      phoneId: job.phoneId,
      jobId: job.jobId,
      requestId: job.requestId,
      trafficType,
      state: job.state === 'succeeded' ? 'succeeded' : 'failed',
      errorCode: job.errorCode,
      errorMessage: job.errorMessage,
      endedAt: now,
    };
    this.outcomes.set(job.phoneId, outcome);
    if (outcome.state === 'succeeded' && trafficType) this.options.onRouteConfirmed(job.phoneId, trafficType);
    if (!this.ownersByPhone.has(job.phoneId)) this.addOwners(job.phoneId, request.owners);
    return outcome;
  }
}
