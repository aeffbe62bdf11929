/**
 * Sends route changes for one CPH account, coalescing the drifted phones of every resource into
 * phones-traffic calls of at most 100 IDs. Guarantees:
 *   - coalescing: changes submitted within `lingerMs` of each other, by any resource, share calls;
 *     a full batch of 100 is sent at once without waiting;
 *   - no duplicate sends: a phone already queued, being sent, or with a job in flight for the same route
 *     is not sent again; its new owner joins the existing change;
 *   - each submitter learns, per phone, the job ID and request ID, or the per-phone error from inside the
 *     200, or that the outcome is unknown (`unconfirmed`: the answer held neither job nor error for the
 *     phone, or a job without a request ID to follow it by), or the error of the whole call; a failed call
 *     affects only the phones it carried, except a refusal of the whole account (credentials, permission,
 *     arrears: isAccountWideRefusal), which fails every change still queued for that credential without
 *     sending it;
 *   - a call carries changes of one credential only (the owners' account object's), so no resource's change
 *     is ever signed with another's credentials, and one tenant's refused key never fails another's changes;
 *   - at most `maxConcurrentCalls` calls (default 8) are in flight at once (the client's rate limiter bounds
 *     the rate), and only one per credential while its standing is unknown (before its first answer, and
 *     after an account-wide refusal): a refused key costs one call, not eight.
 */
import type { Clock } from '../runtime/clock.js';
import { MAX_PHONES_PER_CALL } from '../api/v1alpha1/constants.js';
import type { Logger } from '../runtime/logger.js';
import { isAccountWideRefusal } from '../cph/errors.js';
import type { TrafficType } from '../cph/wire.js';
import type { CphPort } from './ports.js';
import type { JobTracker } from './job-tracker.js';

export interface RouteChange {
  phoneId: string;
  trafficType: TrafficType;
  /** The resource key (namespace/name) that wants the change. */
  owner: string;
  /** The credential of the owner's account object: the change goes out signed with it, never another. */
  credentialId: string;
}

export interface RouteChangeResult {
  phoneId: string;
  trafficType: TrafficType;
  requestId?: string;
  jobId?: string;
  errorCode?: string;
  errorMessage?: string;
  /** Set when the whole call failed (not a per-phone error): the phone may or may not have been changed. */
  callError?: unknown;
  /** The call was answered but the outcome for this phone is unknown: read its route again. */
  unconfirmed?: true;
}

interface Waiting {
  /** The credential of the first owner; later owners of the same change join it. */
  credentialId: string;
  owners: Set<string>;
  resolvers: Array<(result: RouteChangeResult) => void>;
}

export interface RouteWriterOptions {
  /** The port that calls CPH with a given credential. */
  portFor(credentialId: string): CphPort;
  tracker: JobTracker;
  clock: Clock;
  logger: Logger;
  lingerMs?: number;
  maxConcurrentCalls?: number;
  /** Told of each call sent, for metrics and events. */
  onCallSent?: (trafficType: TrafficType, phoneIds: readonly string[], requestId: string | undefined) => void;
}

export class RouteWriter {
  private readonly queues = new Map<TrafficType, Map<string, Waiting>>([
    ['direct', new Map()],
    ['routing', new Map()],
  ]);
  private readonly sending = new Map<string, { trafficType: TrafficType; waiting: Waiting }>();
  private timer: NodeJS.Timeout | undefined;
  private callsInFlight = 0;
  /** Credentials a call has been answered for since their first use or their last account-wide refusal. */
  private readonly answered = new Set<string>();
  /** Calls in flight per credential. */
  private readonly inFlightFor = new Map<string, number>();
  private readonly lingerMs: number;
  private readonly maxConcurrentCalls: number;
  private readonly stopController = new AbortController();

  constructor(private readonly options: RouteWriterOptions) {
    this.lingerMs = options.lingerMs ?? 25;
    this.maxConcurrentCalls = options.maxConcurrentCalls ?? 8;
  }

  /** Queues route changes; resolves once every phone's call has been answered. */
  submit(changes: readonly RouteChange[]): Promise<RouteChangeResult[]> {
    return Promise.all(changes.map((change) => this.submitOne(change)));
  }

  private submitOne(change: RouteChange): Promise<RouteChangeResult> {
    const { phoneId, trafficType, owner, credentialId } = change;
    const inFlight = this.options.tracker.inFlight(phoneId);
    if (inFlight && inFlight.trafficType === trafficType) {
      this.options.tracker.addOwners(phoneId, [owner]);
      return Promise.resolve({ phoneId, trafficType, requestId: inFlight.requestId, jobId: inFlight.jobId });
    }
    const beingSent = this.sending.get(phoneId);
    if (beingSent && beingSent.trafficType === trafficType) return this.join(beingSent.waiting, owner);
    const queue = this.queue(trafficType);
    const queued = queue.get(phoneId);
    if (queued) return this.join(queued, owner);
    // A change to the other route still waiting in its queue is superseded by this one.
    const other = this.queue(trafficType === 'direct' ? 'routing' : 'direct');
    const superseded = other.get(phoneId);
    if (superseded) {
      other.delete(phoneId);
      for (const resolve of superseded.resolvers)
        resolve({
          phoneId,
          trafficType: trafficType === 'direct' ? 'routing' : 'direct',
          errorCode: 'Superseded',
          errorMessage: `superseded by a change to ${trafficType}`,
        });
    }
    const waiting: Waiting = { credentialId, owners: new Set([owner]), resolvers: [] };
    queue.set(phoneId, waiting);
    const result = this.join(waiting, owner);
    this.schedule();
    return result;
  }

  private join(waiting: Waiting, owner: string): Promise<RouteChangeResult> {
    waiting.owners.add(owner);
    return new Promise((resolve) => waiting.resolvers.push(resolve));
  }

  private queue(trafficType: TrafficType): Map<string, Waiting> {
    const queue = this.queues.get(trafficType);
    if (!queue) throw new Error(`no queue for ${trafficType}`);
    return queue;
  }

  private schedule(): void {
    const full = [...this.queues.values()].some((queue) => queue.size >= MAX_PHONES_PER_CALL);
    if (full) {
      this.flush();
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.lingerMs);
  }

  private flush(): void {
    // A credential whose standing is unknown gets one call at a time.
    const mayCall = (credentialId: string): boolean =>
      this.answered.has(credentialId) || (this.inFlightFor.get(credentialId) ?? 0) === 0;
    for (const [trafficType, queue] of this.queues) {
      while (queue.size > 0 && this.callsInFlight < this.maxConcurrentCalls) {
        const batch = oneCredentialBatch(queue, mayCall);
        if (batch.length === 0) break;
        const credentialId = batch[0]![1].credentialId;
        for (const [phoneId, waiting] of batch) {
          queue.delete(phoneId);
          this.sending.set(phoneId, { trafficType, waiting });
        }
        this.callsInFlight += 1;
        this.inFlightFor.set(credentialId, (this.inFlightFor.get(credentialId) ?? 0) + 1);
        void this.send(trafficType, credentialId, batch).finally(() => {
          this.callsInFlight -= 1;
          const left = (this.inFlightFor.get(credentialId) ?? 1) - 1;
          if (left > 0) this.inFlightFor.set(credentialId, left);
          else this.inFlightFor.delete(credentialId);
          if ([...this.queues.values()].some((q) => q.size > 0)) this.schedule();
        });
      }
    }
  }

  // Long on purpose: one CPH answer settles each phone of the batch in one of four ways, all read from that answer.
  private async send(trafficType: TrafficType, credentialId: string, batch: Array<[string, Waiting]>): Promise<void> {
    const phoneIds = batch.map(([phoneId]) => phoneId);
    const settle = (phoneId: string, waiting: Waiting, result: RouteChangeResult): void => {
      this.sending.delete(phoneId);
      for (const resolve of waiting.resolvers) resolve(result);
    };
    try {
      const answer = await this.options
        .portFor(credentialId)
        .setTrafficType(trafficType, phoneIds, this.stopController.signal);
      this.answered.add(credentialId);
      const { requestId } = answer;
      this.options.onCallSent?.(trafficType, phoneIds, requestId);
      const jobs = new Map(answer.jobs.map((job) => [job.phoneId, job.jobId]));
      const errors = new Map(answer.errors.map((error) => [error.phoneId, error]));
      const ownersOf = new Map(batch);
      // Jobs are followed by their request ID (ListJobs): without one they cannot be, and their phones are read again instead.
      if (requestId !== undefined)
        this.options.tracker.track(
          requestId,
          trafficType,
          answer.jobs,
          new Set(answer.jobs.flatMap((job) => [...(ownersOf.get(job.phoneId)?.owners ?? [])])),
        );
      else if (answer.jobs.length > 0)
        this.options.logger.warn(
          'route change answered without a request ID: its jobs cannot be followed; the phones are read again on the next sweep',
          { trafficType, jobs: answer.jobs.length },
        );
      if (answer.unconfirmed.length > 0)
        this.options.logger.warn(
          'route change answered with neither a job nor an error for some phones; they are read again on the next sweep',
          { trafficType, requestId, phones: answer.unconfirmed.length },
        );
      const ids = requestId === undefined ? {} : { requestId };
      for (const [phoneId, waiting] of batch) {
        if (requestId !== undefined) this.options.tracker.addOwners(phoneId, waiting.owners);
        const jobId = jobs.get(phoneId);
        const error = errors.get(phoneId);
        if (jobId !== undefined)
          settle(phoneId, waiting, {
            phoneId,
            trafficType,
            ...ids,
            jobId,
            ...(requestId === undefined ? { unconfirmed: true } : {}),
          });
        else if (error)
          settle(phoneId, waiting, {
            phoneId,
            trafficType,
            ...ids,
            errorCode: error.errorCode,
            errorMessage: error.errorMessage,
          });
        else settle(phoneId, waiting, { phoneId, trafficType, ...ids, unconfirmed: true });
      }
    } catch (error) {
      this.options.onCallSent?.(trafficType, phoneIds, undefined);
      this.options.logger.warn('route change call failed', {
        trafficType,
        phones: phoneIds.length,
        error: String(error),
      });
      for (const [phoneId, waiting] of batch) settle(phoneId, waiting, { phoneId, trafficType, callError: error });
      if (isAccountWideRefusal(error)) this.refuseQueued(error, credentialId);
    }
  }

  /** After a refusal of the whole account: every change still queued fails with it, unsent; the next call goes alone. */
  private refuseQueued(error: unknown, credentialId: string): void {
    this.answered.delete(credentialId);
    let refused = 0;
    for (const [trafficType, queue] of this.queues) {
      for (const [phoneId, waiting] of queue) {
        if (waiting.credentialId !== credentialId) continue;
        refused += 1;
        queue.delete(phoneId);
        for (const resolve of waiting.resolvers) resolve({ phoneId, trafficType, callError: error });
      }
    }
    if (refused > 0)
      this.options.logger.warn('CPH refused the account: changes still queued are not sent', {
        phones: refused,
        error: String(error),
      });
  }

  /** Fails what is still queued and stops sending. */
  stop(): void {
    this.stopController.abort(new Error('route writer stopped'));
    if (this.timer) clearTimeout(this.timer);
    for (const [trafficType, queue] of this.queues) {
      for (const [phoneId, waiting] of queue)
        for (const resolve of waiting.resolvers)
          resolve({ phoneId, trafficType, callError: new Error('route writer stopped') });
      queue.clear();
    }
  }
}

/** Up to 100 queued changes, oldest first, all of the credential of the oldest change that `mayCall` allows. */
function oneCredentialBatch(
  queue: ReadonlyMap<string, Waiting>,
  mayCall: (credentialId: string) => boolean,
): Array<[string, Waiting]> {
  const batch: Array<[string, Waiting]> = [];
  let credentialId: string | undefined;
  for (const entry of queue) {
    if (credentialId === undefined && !mayCall(entry[1].credentialId)) continue;
    credentialId ??= entry[1].credentialId;
    if (entry[1].credentialId !== credentialId) continue;
    batch.push(entry);
    if (batch.length === MAX_PHONES_PER_CALL) break;
  }
  return batch;
}

/** Takes out of `pending` the changes that fill whole calls of 100 phones of one route, oldest first. */
export function takeFullCalls(pending: Map<string, RouteChange[]>): RouteChange[] {
  const taken: RouteChange[] = [];
  for (const trafficType of ['direct', 'routing'] as const) {
    const phones = [...pending].filter(([, changes]) => changes[0]?.trafficType === trafficType);
    for (let start = 0; start + MAX_PHONES_PER_CALL <= phones.length; start += MAX_PHONES_PER_CALL)
      for (const [phoneId, changes] of phones.slice(start, start + MAX_PHONES_PER_CALL)) {
        pending.delete(phoneId);
        taken.push(...changes);
      }
  }
  return taken;
}
