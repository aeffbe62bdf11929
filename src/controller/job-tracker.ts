/**
 * Follows route-change jobs of one CPH account to their end. Jobs are polled by request ID through
 * ListJobs, up to 20 requests a call, so one call covers up to 2,000 phones. Guarantees:
 *   - every tracked job is polled until it ends; its outcome is kept for the resources that asked for it;
 *   - a phone has at most one job in flight known to the tracker;
 *   - the first poll of a request waits for the expected job duration (learnt from finished jobs), later
 *     polls follow every `pollIntervalMs`, so a batch costs about one poll when jobs run as long as usual;
 *   - the owners (resource keys) of a job are told when it ends; a succeeded job's route is recorded in the
 *     inventory so the next plan sees the phone in line without another list sweep;
 *   - `adopt(requestIds)` resumes following requests known from a resource's status after a restart,
 *     so no job result is lost when the operator is replaced mid-flight.
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
  /** Told with the owners of jobs that ended in one poll round. */
  onJobsEnded: (owners: ReadonlySet<string>, outcomes: readonly JobOutcome[]) => void;
  /** Told of a route confirmed by a succeeded job. */
  onRouteConfirmed: (phoneId: string, trafficType: TrafficType) => void;
  pollIntervalMs?: number;
  /** Expected job duration before any job has ended. */
  initialJobEstimateMs?: number;
}

const maxRequestIdsPerCall = 20;

export class JobTracker {
  private readonly inFlightByPhone = new Map<string, TrackedJob>();
  private readonly requests = new Map<string, { firstPollAt: number; owners: Set<string>; adopted: boolean }>();
  private readonly outcomes = new Map<string, JobOutcome>();
  private readonly ownersByPhone = new Map<string, Set<string>>();
  private readonly adoptionWaiters = new Map<string, Array<() => void>>();
  private jobEstimateMs: number;
  private readonly pollIntervalMs: number;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly alarm: Alarm;
  /** The error of the last poll round, if it failed. */
  lastError: unknown;
  pollCalls = 0;

  constructor(private readonly options: JobTrackerOptions) {
    this.alarm = new Alarm(options.clock);
    this.pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.jobEstimateMs = options.initialJobEstimateMs ?? 3_000;
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
    const existing = this.requests.get(requestId);
    if (existing) for (const owner of ownerSet) existing.owners.add(owner);
    else this.requests.set(requestId, { firstPollAt: now + this.jobEstimateMs, owners: ownerSet, adopted: false });
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
      else this.requests.set(requestId, { firstPollAt: now, owners: new Set([owner]), adopted: true });
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

  private async runLoop(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      const now = this.options.clock.now();
      const due = [...this.requests].filter(([, r]) => r.firstPollAt <= now).map(([id]) => id);
      if (due.length === 0) {
        const next = Math.min(...[...this.requests.values()].map((r) => r.firstPollAt));
        await this.alarm.wait(Number.isFinite(next) ? Math.max(0, next - now) : 3_600_000, signal);
        continue;
      }
      try {
        await this.pollRound(due, signal);
        this.lastError = undefined;
      } catch (error) {
        if (signal.aborted) return;
        this.lastError = error;
        this.options.logger.warn('job poll failed; will retry', { error: String(error) });
      }
      await this.alarm.wait(this.pollIntervalMs, signal);
    }
  }

  private async pollRound(requestIds: string[], signal: AbortSignal): Promise<void> {
    const ended: JobOutcome[] = [];
    const owners = new Set<string>();
    // ListJobs does not say which request a job belongs to. Requests this tracker started are matched
    // through their phones' jobs in flight, so up to 20 share a call; adopted ones (whose jobs it does not
    // know yet) are asked about one per call, where the answer can only be theirs.
    const chunks: string[][] = [];
    const own = requestIds.filter((id) => !this.requests.get(id)?.adopted);
    for (let i = 0; i < own.length; i += maxRequestIdsPerCall) chunks.push(own.slice(i, i + maxRequestIdsPerCall));
    for (const id of requestIds) if (this.requests.get(id)?.adopted) chunks.push([id]);
    for (const chunk of chunks) {
      this.pollCalls += 1;
      const jobs = await this.options.cph.listJobs(chunk, signal);
      const byRequest = new Map<string, ObservedJob[]>();
      for (const job of jobs) {
        const requestId = job.requestId || (chunk.length === 1 ? chunk[0] : this.inFlightByPhone.get(job.phoneId)?.requestId) || '';
        const list = byRequest.get(requestId) ?? [];
        list.push({ ...job, requestId });
        byRequest.set(requestId, list);
      }
      for (const requestId of chunk) {
        const request = this.requests.get(requestId);
        if (!request) continue;
        const requestJobs = byRequest.get(requestId) ?? [];
        let running = 0;
        for (const job of requestJobs) {
          if (job.state === 'running') {
            running += 1;
            if (request.adopted && !this.inFlightByPhone.has(job.phoneId)) {
              this.inFlightByPhone.set(job.phoneId, {
                phoneId: job.phoneId,
                jobId: job.jobId,
                requestId,
                trafficType: undefined,
                startedAt: this.options.clock.now(),
              });
              this.addOwners(job.phoneId, request.owners);
            }
            continue;
          }
          const outcome = this.finish(job, request.owners);
          if (outcome) {
            ended.push(outcome);
            for (const owner of this.ownersByPhone.get(job.phoneId) ?? request.owners) owners.add(owner);
          }
        }
        // A request with no running job left (or unknown to CPH) is done.
        if (running === 0) {
          this.requests.delete(requestId);
          for (const owner of request.owners) owners.add(owner);
        }
      }
      this.adopted(chunk);
    }
    if (ended.length > 0 || owners.size > 0) this.options.onJobsEnded(owners, ended);
  }

  private finish(job: ObservedJob, requestOwners: Set<string>): JobOutcome | undefined {
    const tracked = this.inFlightByPhone.get(job.phoneId);
    // A newer job for this phone supersedes an older one: the old result is no longer news.
    if (tracked && tracked.jobId !== job.jobId) return undefined;
    const now = this.options.clock.now();
    const trafficType = tracked?.trafficType;
    if (tracked) {
      this.inFlightByPhone.delete(job.phoneId);
      // Learn how long jobs take, so the first poll of the next request comes when it is likely done.
      this.jobEstimateMs = Math.round(0.7 * this.jobEstimateMs + 0.3 * Math.max(500, now - tracked.startedAt));
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
    if (!this.ownersByPhone.has(job.phoneId)) this.addOwners(job.phoneId, requestOwners);
    return outcome;
  }

}
