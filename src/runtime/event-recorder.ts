/**
 * Kubernetes Events (events.k8s.io/v1) about our objects: what `kubectl describe` and `kubectl events` show.
 * Events are a courtesy to the user, never a reason to fail or slow a reconcile.
 * Guarantees:
 * - `record` never blocks and never throws: writes happen in the background, one at a time; failures are logged.
 * - Deduplicated: the same regarding object + type + reason + action + note within the window (default 10 min)
 *   does not create a new Event; it bumps the first Event's `series.count`, written at most once per
 *   `seriesFlushMs` (default 30 s) per Event.
 * - Rate-limited per regarding object (token bucket: burst 25, one more per 5 min, like client-go's spam
 *   filter), and at most `maxPending` writes queued overall; what is dropped is logged.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { errorMessage } from '../errors.js';
import { isNotFound, resourcePath, type KubeRequester, type ResourceRef } from './kube-client.js';
import { microTime } from './leader-election.js';

export const eventResource: ResourceRef = { group: 'events.k8s.io', version: 'v1', plural: 'events', namespaced: true };

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  client: KubeRequester;
  clock: Clock;
  logger: Logger;
  /** e.g. `cloudphone.dev/cph-route-operator`. */
  reportingController: string;
  /** This replica, e.g. the pod name. */
  reportingInstance: string;
  seriesWindowMs?: number;
  seriesFlushMs?: number;
  burst?: number;
  refillIntervalMs?: number;
  maxPending?: number;
}

interface SeriesEntry {
  namespace: string;
  eventName: string | undefined;
  count: number;
  writtenCount: number;
  firstSeen: number;
  lastObserved: number;
  lastWrite: number;
  flushScheduled: boolean;
}

interface Bucket {
  tokens: number;
  updated: number;
}

const maxNoteLength = 1024;

export class EventRecorder {
  private readonly options: EventRecorderOptions;
  private readonly seriesWindowMs: number;
  private readonly seriesFlushMs: number;
  private readonly burst: number;
  private readonly refillIntervalMs: number;
  private readonly maxPending: number;
  private readonly series = new Map<string, SeriesEntry>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly stopAbort = new AbortController();
  private flushAbort = new AbortController();
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private timers = new Set<Promise<void>>();
  private sequence = 0;
  /** Counts for tests and metrics. */
  readonly stats = { created: 0, seriesUpdates: 0, deduplicated: 0, dropped: 0, failed: 0 };

  constructor(options: EventRecorderOptions) {
    this.options = options;
    this.seriesWindowMs = options.seriesWindowMs ?? 10 * 60_000;
    this.seriesFlushMs = options.seriesFlushMs ?? 30_000;
    this.burst = options.burst ?? 25;
    this.refillIntervalMs = options.refillIntervalMs ?? 5 * 60_000;
    this.maxPending = options.maxPending ?? 1000;
  }

  /** Records an event about `regarding`. Returns at once; never throws. */
  record(regarding: ObjectReference, type: EventType, reason: string, action: string, note: string): void {
    try {
      this.recordUnsafe(regarding, type, reason, action, note);
    } catch (err) {
      this.options.logger.warn('event not recorded', { reason, error: errorMessage(err) });
    }
  }

  /** Writes pending series counts now, and resolves when every write queued so far has been attempted. */
  async flush(): Promise<void> {
    const flushing = this.flushAbort;
    this.flushAbort = new AbortController();
    flushing.abort(new Error('flush'));
    await Promise.all([...this.timers]);
    await this.chain;
  }

  /** Stops scheduled series updates; pending writes still run (await `flush`). */
  stop(): void {
    this.stopAbort.abort(new Error('event recorder stopped'));
  }

  private recordUnsafe(
    regarding: ObjectReference,
    type: EventType,
    reason: string,
    action: string,
    note: string,
  ): void {
    const now = this.options.clock.now();
    const namespace = regarding.namespace || 'default';
    const objectId = `${regarding.kind}/${namespace}/${regarding.name}/${regarding.uid ?? ''}`;
    const key = `${objectId}\u0000${type}\u0000${reason}\u0000${action}\u0000${note}`;
    const existing = this.series.get(key);
    if (existing && now - existing.lastObserved <= this.seriesWindowMs) {
      existing.count++;
      existing.lastObserved = now;
      this.stats.deduplicated++;
      this.scheduleSeriesFlush(existing);
      return;
    }
    if (!this.takeToken(objectId, now)) {
      this.stats.dropped++;
      this.options.logger.debug('event dropped by rate limit', { resource: `${namespace}/${regarding.name}`, reason });
      return;
    }
    this.evictOld(now);
    const entry: SeriesEntry = {
      namespace,
      eventName: undefined,
      count: 1,
      writtenCount: 1,
      firstSeen: now,
      lastObserved: now,
      lastWrite: now,
      flushScheduled: false,
    };
    this.series.set(key, entry);
    const name = `${regarding.name}.${(BigInt(now) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16)}${randomBytes(2).toString('hex')}`;
    const body = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace },
      eventTime: microTime(now),
      reportingController: this.options.reportingController,
      reportingInstance: this.options.reportingInstance,
      action,
      reason,
      type,
      note: note.length > maxNoteLength ? `${note.slice(0, maxNoteLength - 3)}...` : note,
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        name: regarding.name,
        ...(regarding.namespace ? { namespace: regarding.namespace } : {}),
        ...(regarding.uid ? { uid: regarding.uid } : {}),
      },
    };
    this.enqueue(async () => {
      await this.options.client.request({ method: 'POST', path: resourcePath(eventResource, { namespace }), body });
      entry.eventName = name;
      this.stats.created++;
    }, reason);
  }

  private scheduleSeriesFlush(entry: SeriesEntry): void {
    if (entry.flushScheduled) return;
    entry.flushScheduled = true;
    const wait = Math.max(0, entry.lastWrite + this.seriesFlushMs - this.options.clock.now());
    // `flush()` cuts the wait short; `stop()` drops the update.
    const signal = AbortSignal.any([this.flushAbort.signal, this.stopAbort.signal]);
    const timer = this.options.clock
      .sleep(wait, signal)
      .catch(() => undefined)
      .then(() => {
        entry.flushScheduled = false;
        if (!this.stopAbort.signal.aborted) this.enqueue(() => this.writeSeries(entry), 'series');
      });
    this.timers.add(timer);
    void timer.finally(() => this.timers.delete(timer));
  }

  private async writeSeries(entry: SeriesEntry): Promise<void> {
    if (!entry.eventName || entry.count === entry.writtenCount) return;
    const count = entry.count;
    try {
      await this.options.client.request({
        method: 'PATCH',
        path: resourcePath(eventResource, { namespace: entry.namespace, name: entry.eventName }),
        contentType: 'application/merge-patch+json',
        body: { series: { count, lastObservedTime: microTime(entry.lastObserved) } },
      });
      entry.writtenCount = count;
      entry.lastWrite = this.options.clock.now();
      this.stats.seriesUpdates++;
    } catch (err) {
      // The Event expired (events live about an hour): the next occurrence starts a new one.
      if (isNotFound(err)) entry.lastObserved = -Infinity;
      else throw err;
    }
  }

  private enqueue(write: () => Promise<void>, what: string): void {
    if (this.pending >= this.maxPending) {
      this.stats.dropped++;
      this.options.logger.warn('event dropped: too many pending event writes', { reason: what });
      return;
    }
    this.pending++;
    this.chain = this.chain
      .then(write)
      .catch((err: unknown) => {
        this.stats.failed++;
        this.options.logger.warn('event write failed', { reason: what, error: errorMessage(err) });
      })
      .finally(() => {
        this.pending--;
      });
  }

  private takeToken(objectId: string, now: number): boolean {
    const bucket = this.buckets.get(objectId) ?? { tokens: this.burst, updated: now };
    const refill = Math.floor((now - bucket.updated) / this.refillIntervalMs);
    if (refill > 0) {
      bucket.tokens = Math.min(this.burst, bucket.tokens + refill);
      bucket.updated += refill * this.refillIntervalMs;
    }
    if (bucket.tokens < 1) {
      this.buckets.set(objectId, bucket);
      return false;
    }
    bucket.tokens--;
    this.buckets.set(objectId, bucket);
    return true;
  }

  private evictOld(now: number): void {
    if (this.series.size < 4096) return;
    for (const [key, entry] of this.series) {
      if (now - entry.lastObserved > this.seriesWindowMs) this.series.delete(key);
    }
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens >= this.burst || now - bucket.updated > this.burst * this.refillIntervalMs)
        this.buckets.delete(key);
    }
  }
}
