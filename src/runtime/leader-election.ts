/**
 * Leader election on a coordination.k8s.io/v1 Lease, after client-go's tools/leaderelection: replicas race to
 * write their identity into the Lease with optimistic concurrency (resourceVersion), the holder renews it, and
 * the others take over once it has not changed for a whole lease duration measured on their own clock (no
 * trust in other machines' clocks).
 * Guarantees:
 * - At most one elector sees itself leading for a given Lease at a time, as long as the renew deadline is
 *   shorter than the lease duration (checked at construction: lease > renewDeadline > 1.2 × retryPeriod).
 * - A leader that cannot renew within renewDeadline stops leading: its signal aborts, onStoppedLeading runs,
 *   and `run` returns; the caller should exit (as client-go's users do) or at least stop acting.
 * - On cancel (shutdown) with releaseOnCancel, the Lease is released after onStoppedLeading resolves (holder
 *   emptied, leaseDurationSeconds 1), so a standby takes over within one retry period.
 * - onNewLeader is called whenever the observed holder changes, including to ourselves.
 * - Takeover: a standby leads at most `takeoverBoundMs` = leaseDuration + retryPeriod × 2.2 after the leader's last
 *   renewal, plus its own Lease requests' latency: its jittered poll sees that renewal up to retryPeriod × 2.2 late,
 *   and it wakes exactly when the lease it observed expires (client-go waits for its next jittered poll instead,
 *   which adds up to another retryPeriod × 2.2).
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { OperatorError, errorMessage } from '../errors.js';
import { isConflict, isNotFound, resourcePath, type KubeRequester, type ResourceRef } from './kube-client.js';

export const leaseResource: ResourceRef = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  namespaced: true,
};

export interface LeaderCallbacks {
  /** Called when this elector becomes leader; `signal` aborts when leadership ends. Errors are logged. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called once after leading ends (lost or cancelled); the release waits for it. */
  onStoppedLeading(): void | Promise<void>;
  onNewLeader?(identity: string): void;
}

export interface LeaderElectionOptions {
  client: KubeRequester;
  namespace: string;
  name: string;
  /** Unique per replica: pod name plus a random suffix. */
  identity: string;
  clock: Clock;
  logger: Logger;
  callbacks: LeaderCallbacks;
  /** Default 15 s. */
  leaseDurationMs?: number;
  /** Default 10 s. */
  renewDeadlineMs?: number;
  /** Default 2 s. */
  retryPeriodMs?: number;
  /** Default true. */
  releaseOnCancel?: boolean;
}

interface LeaderRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string | undefined;
  renewTime: string | undefined;
  leaseTransitions: number;
}

/** As client-go's wait.JitterUntil(retryPeriod, 1.2): each wait is retryPeriod × (1 + 1.2 × random). */
const jitterFactor = 1.2;

const expiryMarginMs = 10;

/** The takeover contract above, for the given timing (without request latency). */
export function takeoverBoundMs(timing: { leaseDurationMs: number; retryPeriodMs: number }): number {
  return timing.leaseDurationMs + timing.retryPeriodMs * (1 + jitterFactor);
}

/**
 * How long a candidate waits before its next attempt: the jittered retry period, cut short to the moment the
 * lease it last observed (held by someone else) expires, so that expiry is acted on at once. Pure.
 */
export function nextAttemptDelayMs(input: {
  retryPeriodMs: number;
  random: number;
  /** When the other holder's lease expires on our clock, or undefined when none is held by another. */
  expiresAt: number | undefined;
  now: number;
}): number {
  const jittered = input.retryPeriodMs * (1 + jitterFactor * input.random);
  if (input.expiresAt === undefined) return jittered;
  // A timer may fire a millisecond before the wall clock says it is due: wake a little after the expiry.
  const untilExpiry = input.expiresAt - input.now + expiryMarginMs;
  return untilExpiry > expiryMarginMs ? Math.min(jittered, untilExpiry) : jittered;
}

/** metav1.MicroTime: RFC 3339 with six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function parseLease(raw: unknown): { record: LeaderRecord; resourceVersion: string } {
  if (!raw || typeof raw !== 'object') throw new OperatorError('ParseError', 'lease: not an object');
  const lease = raw as { metadata?: { resourceVersion?: unknown }; spec?: Record<string, unknown> };
  const spec = lease.spec ?? {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  return {
    resourceVersion: str(lease.metadata?.resourceVersion) ?? '',
    record: {
      holderIdentity: str(spec.holderIdentity) ?? '',
      leaseDurationSeconds: num(spec.leaseDurationSeconds) ?? 0,
      acquireTime: str(spec.acquireTime),
      renewTime: str(spec.renewTime),
      leaseTransitions: num(spec.leaseTransitions) ?? 0,
    },
  };
}

function sameRecord(a: LeaderRecord | undefined, b: LeaderRecord): boolean {
  return (
    !!a &&
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

export class LeaderElector {
  readonly identity: string;
  private readonly options: LeaderElectionOptions;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly releaseOnCancel: boolean;
  private readonly logger: Logger;
  private observed: LeaderRecord | undefined;
  private observedTime = 0;
  private leading = false;
  private reportedLeader: string | undefined;

  constructor(options: LeaderElectionOptions) {
    this.options = options;
    this.identity = options.identity;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.releaseOnCancel = options.releaseOnCancel ?? true;
    if (!options.identity) throw new OperatorError('LeaderElectionInvalid', 'identity must not be empty');
    if (!(this.leaseDurationMs > this.renewDeadlineMs)) {
      throw new OperatorError('LeaderElectionInvalid', 'leaseDuration must be greater than renewDeadline');
    }
    if (!(this.renewDeadlineMs > jitterFactor * this.retryPeriodMs) || !(this.retryPeriodMs > 0)) {
      throw new OperatorError('LeaderElectionInvalid', 'renewDeadline must be greater than 1.2 × retryPeriod');
    }
    this.logger = options.logger.child({ lease: `${options.namespace}/${options.name}`, identity: options.identity });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder last observed in the Lease ('' if none). */
  leader(): string {
    return this.observed?.holderIdentity ?? '';
  }

  /**
   * Acquires, then renews until the lease is lost or `signal` aborts; returns when leading has ended (or when
   * `signal` aborts before acquiring). Never throws for API failures: they are retried and logged.
   */
  async run(signal: AbortSignal): Promise<void> {
    const acquired = await this.acquire(signal);
    if (!acquired) {
      // An acquisition cut short by the cancellation may still have reached the server.
      if (this.releaseOnCancel) await this.release();
      return;
    }
    this.leading = true;
    const leaderAbort = new AbortController();
    this.logger.info('started leading');
    try {
      Promise.resolve(this.options.callbacks.onStartedLeading(leaderAbort.signal)).catch((err: unknown) =>
        this.logger.error('onStartedLeading failed', { error: errorMessage(err) }),
      );
    } catch (err) {
      this.logger.error('onStartedLeading failed', { error: errorMessage(err) });
    }
    const lost = await this.renewLoop(signal);
    this.leading = false;
    leaderAbort.abort(new Error(lost ? 'leadership lost' : 'leader election cancelled'));
    if (lost) this.logger.error('failed to renew the lease within the renew deadline; stopped leading');
    else this.logger.info('stopping leading');
    try {
      await this.options.callbacks.onStoppedLeading();
    } catch (err) {
      this.logger.error('onStoppedLeading failed', { error: errorMessage(err) });
    }
    if (!lost && this.releaseOnCancel) await this.release();
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    this.logger.info('attempting to acquire the lease');
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(signal)) return true;
      const delay = nextAttemptDelayMs({
        retryPeriodMs: this.retryPeriodMs,
        random: Math.random(),
        expiresAt: this.otherHoldersExpiry(),
        now: this.options.clock.now(),
      });
      try {
        await this.options.clock.sleep(delay, signal);
      } catch {
        return false;
      }
    }
    return false;
  }

  /** When the lease last observed expires on our clock, if another identity holds it. */
  private otherHoldersExpiry(): number | undefined {
    const record = this.observed;
    if (!record?.holderIdentity || record.holderIdentity === this.identity) return undefined;
    return this.observedTime + record.leaseDurationSeconds * 1000;
  }

  /** Resolves true when leadership is lost, false when `signal` aborted while still leading. */
  private async renewLoop(signal: AbortSignal): Promise<boolean> {
    const clock = this.options.clock;
    while (!signal.aborted) {
      const deadline = clock.now() + this.renewDeadlineMs;
      let renewed = false;
      while (!signal.aborted && clock.now() < deadline) {
        const attempt = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, deadline - clock.now()))]);
        if (await this.tryAcquireOrRenew(attempt)) {
          renewed = true;
          break;
        }
        const wait = Math.min(this.retryPeriodMs, deadline - clock.now());
        if (wait <= 0) break;
        try {
          await clock.sleep(wait, signal);
        } catch {
          return false;
        }
      }
      if (signal.aborted) return false;
      if (!renewed) return true;
      try {
        await clock.sleep(this.retryPeriodMs, signal);
      } catch {
        return false;
      }
    }
    return false;
  }

  private path(name?: string): string {
    return resourcePath(leaseResource, { namespace: this.options.namespace, ...(name ? { name } : {}) });
  }

  private leaseBody(record: LeaderRecord, resourceVersion?: string): unknown {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.options.name,
        namespace: this.options.namespace,
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      spec: {
        holderIdentity: record.holderIdentity,
        leaseDurationSeconds: record.leaseDurationSeconds,
        ...(record.acquireTime ? { acquireTime: record.acquireTime } : {}),
        ...(record.renewTime ? { renewTime: record.renewTime } : {}),
        leaseTransitions: record.leaseTransitions,
      },
    };
  }

  private observe(record: LeaderRecord): void {
    if (!sameRecord(this.observed, record)) {
      this.observed = record;
      this.observedTime = this.options.clock.now();
    }
    if (record.holderIdentity && record.holderIdentity !== this.reportedLeader) {
      this.reportedLeader = record.holderIdentity;
      if (record.holderIdentity !== this.identity)
        this.logger.info('new leader observed', { leader: record.holderIdentity });
      try {
        this.options.callbacks.onNewLeader?.(record.holderIdentity);
      } catch (err) {
        this.logger.error('onNewLeader failed', { error: errorMessage(err) });
      }
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const now = this.options.clock.now();
    const desired: LeaderRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    const client = this.options.client;
    try {
      let current: ReturnType<typeof parseLease>;
      try {
        current = parseLease(await client.request({ method: 'GET', path: this.path(this.options.name), signal }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const created = parseLease(
          await client.request({ method: 'POST', path: this.path(), body: this.leaseBody(desired), signal }),
        );
        this.observe(created.record);
        return true;
      }
      this.observe(current.record);
      const old = current.record;
      const expired = this.observedTime + old.leaseDurationSeconds * 1000 <= this.options.clock.now();
      if (old.holderIdentity && old.holderIdentity !== this.identity && !expired) return false;
      if (old.holderIdentity === this.identity) {
        desired.acquireTime = old.acquireTime;
        desired.leaseTransitions = old.leaseTransitions;
      } else {
        desired.leaseTransitions = old.leaseTransitions + 1;
      }
      const updated = parseLease(
        await client.request({
          method: 'PUT',
          path: this.path(this.options.name),
          body: this.leaseBody(desired, current.resourceVersion),
          signal,
        }),
      );
      this.observe(updated.record);
      return true;
    } catch (err) {
      if (isConflict(err)) {
        this.logger.debug('lease changed under us', { error: errorMessage(err) });
      } else if (!signal.aborted) {
        this.logger.warn('lease acquire/renew failed', { error: errorMessage(err) });
      }
      return false;
    }
  }

  /**
   * Empties the holder and shortens the lease so a standby need not wait out the lease duration. Reads the Lease
   * first: a renewal cut short by the cancellation may still have been applied, leaving our resourceVersion stale.
   */
  private async release(): Promise<void> {
    const client = this.options.client;
    const path = this.path(this.options.name);
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const current = parseLease(await client.request({ method: 'GET', path }));
        if (current.record.holderIdentity !== this.identity) return;
        const now = this.options.clock.now();
        const released: LeaderRecord = {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: current.record.leaseTransitions,
        };
        const updated = parseLease(
          await client.request({ method: 'PUT', path, body: this.leaseBody(released, current.resourceVersion) }),
        );
        this.observe(updated.record);
        this.logger.info('released the lease');
        return;
      } catch (err) {
        if (isConflict(err) && attempt < 3) continue;
        if (isNotFound(err)) return;
        this.logger.warn('failed to release the lease; standbys will wait for it to expire', {
          error: errorMessage(err),
        });
        return;
      }
    }
  }
}
