/**
 * Follows route-change jobs of one CPH account to their end, through ListJobs by request ID. Guarantees:
 *   - every tracked job is polled until it ends; its outcome is kept for the resources that asked for it;
 *   - a phone has at most one job in flight known to the tracker;
 *   - a request is first polled when its jobs are expected to have ended: the job duration learnt from
 *     finished jobs, or `initialJobEstimateMs` before any has ended; the due time is computed when the poll
 *     comes, so requests written before anything was learnt profit from what was learnt since;
 *   - probing: before any job has ended, or after first polls found every job still running (the estimate
 *     is short), only the oldest request is polled, at a gap that grows with its age (a tenth of it, 250 ms
 *     to `pollIntervalMs`); the other requests' first polls wait until jobs are seen to end. Jobs of one
 *     batch run about as long, so a round that would find every job still running costs one call, not one
 *     per request. A request seen running is polled again after its own gap;
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
  /** Told of each phone whose job in flight starts, ends or becomes known (plans are redone for it). */
  onPhoneChanged?: (phoneId: string) => void;
  /** The longest gap between two polls of a running request; default 2 s. */
  pollIntervalMs?: number;
  /** Expected job duration before any job has ended; default 4 s (the only ShowJob example in the docs spans 6 s). */
  initialJobEstimateMs?: number;
  /** ListJobs calls in flight at once; default 8 (the client's rate limiter bounds the rate; this bounds the wait on slow answers). */
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
  /** Per owner, the job of each phone it was last told of: an ended job is news to an owner once. */
  private readonly told = new Map<string, Map<string, string>>();
  /** Owners whose running requests were adopted from their status after the start. */
  private readonly adoptedOwners = new Set<string>();
  private jobEstimateMs: number;
  /** Whether the estimate comes from jobs seen to end (not the initial guess). */
  private learnt = false;
  private lastDecayAt = 0;
  private readonly pollIntervalMs: number;
  private readonly maxConcurrentPolls: number;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly alarm: Alarm;
  /** No job has been seen to end since the estimate was last found short: first polls go one at a time. */
  private probing = true;
  /** The request being probed: while it runs, first polls of the other requests wait. */
  private probe: string | undefined;
  /** Requests in a ListJobs call now, and the calls themselves. */
  private readonly polling = new Set<string>();
  private readonly calls = new Set<Promise<void>>();
  private changes = 0;
  pollCalls = 0;

  constructor(private readonly options: JobTrackerOptions) {
    this.alarm = new Alarm(options.clock);
    this.pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.jobEstimateMs = options.initialJobEstimateMs ?? 4_000;
    this.maxConcurrentPolls = options.maxConcurrentPolls ?? 8;
  }

  /** Changes whenever the jobs in flight do. */
  get version(): number {
    return this.changes;
  }

  /** Starts following the jobs of one phones-traffic request. */
  track(
    requestId: string,
    trafficType: TrafficType,
    jobs: ReadonlyArray<{ phoneId: string; jobId: string }>,
    owners: Iterable<string>,
  ): void {
    const now = this.options.clock.now();
    const ownerSet = new Set(owners);
    for (const job of jobs) {
      this.inFlightByPhone.set(job.phoneId, { ...job, requestId, trafficType, startedAt: now });
      this.outcomes.delete(job.phoneId);
      this.addOwners(job.phoneId, ownerSet);
      this.options.onPhoneChanged?.(job.phoneId);
    }
    if (jobs.length > 0) this.changes += 1;
    const existing = this.requests.get(requestId);
    if (existing) for (const owner of ownerSet) existing.owners.add(owner);
    else
      this.requests.set(requestId, {
        sentAt: now,
        nextPollAt: undefined,
        owners: ownerSet,
        adopted: false,
        jobCount: jobs.length,
        lastSeenRunningAt: undefined,
      });
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
      else
        this.requests.set(requestId, {
          sentAt: now,
          nextPollAt: now,
          owners: new Set([owner]),
          adopted: true,
          jobCount: 0,
          lastSeenRunningAt: undefined,
        });
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

  /** `adopt` once per owner after a start: its status is read once. Undefined: nothing to wait for. */
  adoptOnce(requestIds: Iterable<string>, owner: string): Promise<void> | undefined {
    if (this.adoptedOwners.has(owner)) return undefined;
    this.adoptedOwners.add(owner);
    const ids = [...requestIds];
    return ids.length > 0 ? this.adopt(ids, owner) : undefined;
  }

  /** The outcomes of the phones' jobs that ended and that `owner` has not been told of yet; told now. */
  newOutcomes(owner: string, phoneIds: Iterable<string>): JobOutcome[] {
    const told = this.told.get(owner) ?? new Map<string, string>();
    this.told.set(owner, told);
    const news: JobOutcome[] = [];
    for (const phoneId of phoneIds) {
      const outcome = this.outcomes.get(phoneId);
      if (!outcome || told.get(phoneId) === outcome.jobId) continue;
      told.set(phoneId, outcome.jobId);
      news.push(outcome);
    }
    return news;
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
    this.told.delete(owner);
    this.adoptedOwners.delete(owner);
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
      if (this.probe !== undefined && !this.requests.has(this.probe)) this.probe = undefined;
      // First polls wait while a probe is out; adopted requests (a reconcile waits on them) and requests
      // already seen running (their own gap) never wait. Requests in a call now are left alone.
      const firstPollsWait = this.probe !== undefined;
      const adopted: Array<[string, FollowedRequest]> = [];
      const repolls: Array<[string, FollowedRequest]> = [];
      const firstPolls: Array<[string, FollowedRequest]> = [];
      let next = Number.POSITIVE_INFINITY;
      for (const entry of this.requests) {
        const [requestId, request] = entry;
        if (this.polling.has(requestId)) continue;
        const first = !request.adopted && request.nextPollAt === undefined;
        if (first && firstPollsWait && requestId !== this.probe) continue;
        const at = this.dueAt(request);
        if (at > now) next = Math.min(next, at);
        else if (request.adopted) adopted.push(entry);
        else (first ? firstPolls : repolls).push(entry);
      }
      firstPolls.sort((a, b) => a[1].sentAt - b[1].sentAt);
      const first = this.probing ? firstPolls.slice(0, 1) : firstPolls;
      const calls = this.pack([...adopted, ...repolls, ...first]);
      if (calls.length === 0 || this.calls.size >= this.maxConcurrentPolls) {
        // A call that ends wakes the alarm too.
        await this.alarm.wait(Number.isFinite(next) ? Math.max(0, next - now) : 3_600_000, signal);
        continue;
      }
      if (this.probing && first.length > 0) this.probe = first[0]![0];
      for (const call of calls.slice(0, this.maxConcurrentPolls - this.calls.size)) this.launch(call, first, signal);
    }
    await Promise.allSettled(this.calls);
  }

  /**
   * Packs requests into ListJobs calls. ListJobs does not say which request a job belongs to: requests this
   * tracker started are matched through their phones' jobs in flight, so those whose jobs fit one page of
   * 100 share a call (up to 20 IDs); adopted ones (whose jobs are not known yet) go one per call, where the
   * answer can only be theirs.
   */
  private pack(requests: Array<[string, FollowedRequest]>): Array<{ ids: string[]; expectedJobs: number | undefined }> {
    const calls: Array<{ ids: string[]; expectedJobs: number | undefined }> = [];
    let packing: { ids: string[]; expectedJobs: number } | undefined;
    for (const [requestId, request] of requests) {
      if (request.adopted) {
        calls.push({ ids: [requestId], expectedJobs: undefined });
        continue;
      }
      if (
        !packing ||
        packing.ids.length >= maxRequestIdsPerCall ||
        packing.expectedJobs + request.jobCount > jobsPerPage
      ) {
        packing = { ids: [], expectedJobs: 0 };
        calls.push(packing);
      }
      packing.ids.push(requestId);
      packing.expectedJobs += request.jobCount;
    }
    return calls;
  }

  /** Starts one ListJobs call without waiting for it: calls end at their own pace, and due requests need not wait for the slowest. */
  private launch(
    call: { ids: string[]; expectedJobs: number | undefined },
    firstPolls: ReadonlyArray<[string, FollowedRequest]>,
    signal: AbortSignal,
  ): void {
    const hadFirstPoll = call.ids.some((id) => firstPolls.some(([firstId]) => firstId === id));
    for (const id of call.ids) this.polling.add(id);
    const done = this.pollCall(call.ids, call.expectedJobs, signal)
      .then((ended) => {
        if (ended > 0) {
          this.probing = false;
          this.probe = undefined;
        } else if (hadFirstPoll && !this.probing) {
          // First polls came too early: the estimate is short. Probe with the oldest until jobs end.
          this.probing = true;
        }
      })
      .catch((error: unknown) => {
        if (signal.aborted) return;
        this.options.logger.warn('job poll failed; will retry', { error: String(error) });
        const retryAt = this.options.clock.now() + this.pollIntervalMs;
        for (const id of call.ids) {
          const request = this.requests.get(id);
          if (request) request.nextPollAt = retryAt;
        }
      })
      .finally(() => {
        for (const id of call.ids) this.polling.delete(id);
        this.calls.delete(done);
        this.alarm.wake();
      });
    this.calls.add(done);
  }

  // Long on purpose: matching the jobs of one ListJobs answer to their requests and finishing them share that
  // answer's bookkeeping.
  private async pollCall(chunk: string[], expectedJobs: number | undefined, signal: AbortSignal): Promise<number> {
    this.pollCalls += 1;
    const polledAt = this.options.clock.now();
    const jobs = await this.options.cph.listJobs(chunk, signal, expectedJobs);
    const outcomes: JobOutcome[] = [];
    const owners = new Set<string>();
    let ended = 0;
    const byRequest = new Map<string, ObservedJob[]>();
    for (const job of jobs) {
      const requestId =
        job.requestId || (chunk.length === 1 ? chunk[0] : this.inFlightByPhone.get(job.phoneId)?.requestId) || '';
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
            this.inFlightByPhone.set(job.phoneId, {
              phoneId: job.phoneId,
              jobId: job.jobId,
              requestId,
              trafficType: undefined,
              startedAt: now,
            });
            this.addOwners(job.phoneId, request.owners);
            this.changes += 1;
            this.options.onPhoneChanged?.(job.phoneId);
          }
          continue;
        }
        const outcome = this.finish(job);
        if (outcome) {
          outcomes.push(outcome);
          ended += 1;
          for (const owner of this.ownersByPhone.get(job.phoneId) ?? request.owners) owners.add(owner);
          // Told now; kept per phone only while a job runs (10,000 sets add up).
          this.ownersByPhone.delete(job.phoneId);
        }
      }
      // A request with no running job left (or unknown to CPH) is done.
      if (running === 0) {
        // Only requests this tracker wrote (jobCount known, sentAt their start) say how long jobs take.
        if (request.jobCount > 0 && (byRequest.get(requestId)?.length ?? 0) > 0) this.learn(request, polledAt);
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

  /**
   * Learns the job duration from a request whose jobs have all ended, as of the poll that saw it (sent at
   * `polledAt`, so the answer's latency does not count). A request seen running before gives a tight
   * bound: the estimate moves halfway to it (all the way the first time). A request found ended at its
   * first poll only says the estimate was long enough: it may shrink, by at most 5% a minute, so that a
   * faster CPH is noticed without every burst's first polls coming early.
   */
  private learn(request: FollowedRequest, polledAt: number): void {
    const upper = Math.max(500, polledAt - request.sentAt);
    if (request.lastSeenRunningAt !== undefined || !this.learnt) {
      this.jobEstimateMs = this.learnt ? Math.round((this.jobEstimateMs + upper) / 2) : upper;
      this.learnt = true;
      this.lastDecayAt = polledAt;
      return;
    }
    const decay = 0.05 * Math.min(1, (polledAt - this.lastDecayAt) / 60_000);
    this.jobEstimateMs = Math.max(500, Math.round(Math.min(this.jobEstimateMs, upper) * (1 - decay)));
    this.lastDecayAt = polledAt;
  }

  private finish(job: ObservedJob): JobOutcome | undefined {
    const tracked = this.inFlightByPhone.get(job.phoneId);
    // A newer job for this phone supersedes an older one: the old result is no longer news.
    if (tracked && tracked.jobId !== job.jobId) return undefined;
    const now = this.options.clock.now();
    const trafficType = tracked?.trafficType;
    if (tracked) {
      this.inFlightByPhone.delete(job.phoneId);
      this.changes += 1;
      this.options.onPhoneChanged?.(job.phoneId);
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
    return outcome;
  }
}
