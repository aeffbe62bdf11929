/**
 * The work queue between watch events and reconcilers, with client-go's `util/workqueue` semantics.
 * Guarantees:
 * - Fair: keys are handed out in the order they were added (FIFO).
 * - Stingy: a key waits in the queue at most once, however often it is added before a worker takes it.
 * - One worker per key: a key handed out by `get()` is not handed out again until `done(key)`.
 * - Re-add while processing: a key added while a worker holds it is queued again when that worker calls `done`.
 * - Delayed and rate-limited adds: `addAfter` queues a key once its delay passes (the earliest pending delay
 *   wins); `addRateLimited` delays by the per-key exponential backoff, which `forget` resets.
 * - Shutdown: `shutDown()` drops queued keys and releases waiting workers at once; `shutDownWithDrain()` refuses
 *   new keys, still hands out the queued ones (and those re-added before the shutdown), and resolves when every
 *   key handed out is done; only then do waiting `get()` calls resolve `undefined`.
 * - Observable as client-go's queues are: adds, retries, time waited in the queue and time worked per key go
 *   to `metrics` as they happen; `unfinishedWork()` tells how long the keys handed out have been worked on.
 */
import type { Clock } from './clock.js';
import { backoff } from './backoff.js';

/** How long a key waits before its next rate-limited retry. */
export interface RateLimiter<K = string> {
  /** The delay for this retry of `key`; counts the retry. */
  when(key: K): number;
  /** Retries counted for `key` since the last `forget`. */
  numRequeues(key: K): number;
  /** Stops tracking `key`: its next failure starts again at the base delay. */
  forget(key: K): void;
}

/** client-go's ItemExponentialFailureRateLimiter: base * 2^failures, capped at max. Defaults 5 ms and 1000 s. */
export class ItemExponentialFailureRateLimiter<K = string> implements RateLimiter<K> {
  private readonly failures = new Map<K, number>();

  constructor(
    readonly baseDelayMs = 5,
    readonly maxDelayMs = 1_000_000,
  ) {
    if (!(baseDelayMs > 0) || !(maxDelayMs >= baseDelayMs)) {
      throw new RangeError(`invalid backoff: base ${baseDelayMs} ms, max ${maxDelayMs} ms`);
    }
  }

  when(key: K): number {
    const attempt = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, attempt);
    return backoff(this.baseDelayMs, this.maxDelayMs, attempt);
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.failures.delete(key);
  }
}

/** What the queue reports, as client-go's workqueue metrics provider sees it. Hooks must not throw. */
export interface WorkQueueMetrics {
  /** A key was added (not counted when it already waited in the queue). */
  added(): void;
  /** A key was handed out after waiting this long since it was added. */
  queued(seconds: number): void;
  /** A key handed out was done after being worked on this long. */
  worked(seconds: number): void;
  /** A key was added again after its rate limiter's backoff. */
  retried(): void;
}

/** The work in progress: summed and longest time of the keys handed out and not yet done. */
export interface UnfinishedWork {
  seconds: number;
  longestSeconds: number;
}

export interface WorkQueueOptions<K> {
  clock: Clock;
  /** Defaults to ItemExponentialFailureRateLimiter(5 ms, 1000 s). */
  rateLimiter?: RateLimiter<K>;
  /** Called with the number of queued keys (not counting delayed ones) whenever it changes. */
  onDepthChange?: (depth: number) => void;
  metrics?: WorkQueueMetrics;
}

interface Waiter<K> {
  resolve: (key: K | undefined) => void;
}

export class WorkQueue<K = string> {
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter<K>;
  private readonly onDepthChange: ((depth: number) => void) | undefined;
  private readonly metrics: WorkQueueMetrics | undefined;
  /** When each key waiting in the queue was added, and when each key handed out was taken (for the metrics). */
  private readonly addedAt = new Map<K, number>();
  private readonly takenAt = new Map<K, number>();
  private readonly queue: K[] = [];
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly waiters: Waiter<K>[] = [];
  /** Delayed keys and the time each becomes ready. */
  private readonly waiting = new Map<K, number>();
  private timerAbort: AbortController | undefined;
  private timerDueAt = Infinity;
  private shuttingDown = false;
  private draining = false;
  private drained: (() => void) | undefined;

  constructor(options: WorkQueueOptions<K>) {
    this.clock = options.clock;
    this.rateLimiter = options.rateLimiter ?? new ItemExponentialFailureRateLimiter<K>();
    this.onDepthChange = options.onDepthChange;
    this.metrics = options.metrics;
  }

  /** Queues `key` unless it is already queued; a key being processed is queued again after `done`. */
  add(key: K): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
    this.metrics?.added();
    if (!this.addedAt.has(key)) this.addedAt.set(key, this.clock.now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  /** Queues `key` after `delayMs`. If `key` already waits for a later time, the earlier time wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.shuttingDown) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.clock.now() + delayMs;
    const existing = this.waiting.get(key);
    if (existing !== undefined && existing <= readyAt) return;
    this.waiting.set(key, readyAt);
    this.armTimer();
  }

  /** Queues `key` after its rate limiter's backoff. */
  addRateLimited(key: K): void {
    this.metrics?.retried();
    this.addAfter(key, this.rateLimiter.when(key));
  }

  /** Resets the backoff of `key` (call after a success). Does not remove a pending delayed add. */
  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.numRequeues(key);
  }

  /**
   * The next key to process, waiting for one if the queue is empty. Resolves `undefined` once the queue is
   * shut down (immediately), or shut down with drain and empty. The caller must call `done(key)`.
   */
  get(): Promise<K | undefined> {
    if (this.queue.length > 0) return Promise.resolve(this.take());
    if (this.shuttingDown && (!this.draining || this.processing.size === 0)) return Promise.resolve(undefined);
    return new Promise<K | undefined>((resolve) => this.waiters.push({ resolve }));
  }

  /** Marks `key` as no longer processed; queues it again if it was added meanwhile. */
  done(key: K): void {
    this.processing.delete(key);
    const takenAt = this.takenAt.get(key);
    if (takenAt !== undefined) {
      this.takenAt.delete(key);
      this.metrics?.worked((this.clock.now() - takenAt) / 1000);
    }
    // An immediate shutdown cleared `dirty`; while draining, a key re-added before the shutdown still runs.
    if (this.dirty.has(key)) this.push(key);
    this.checkDrained();
  }

  /** Keys queued and ready (the workqueue_depth metric). */
  len(): number {
    return this.queue.length;
  }

  /** Keys waiting for a delay to pass. */
  delayedLen(): number {
    return this.waiting.size;
  }

  /** Keys handed out and not yet done. */
  processingLen(): number {
    return this.processing.size;
  }

  /** How long the keys handed out have been worked on, in total and the longest (client-go's unfinished work). */
  unfinishedWork(): UnfinishedWork {
    const now = this.clock.now();
    let seconds = 0;
    let longestSeconds = 0;
    for (const takenAt of this.takenAt.values()) {
      const worked = Math.max(0, now - takenAt) / 1000;
      seconds += worked;
      longestSeconds = Math.max(longestSeconds, worked);
    }
    return { seconds, longestSeconds };
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops at once: queued and delayed keys are dropped, waiting `get()` calls resolve `undefined`. */
  shutDown(): void {
    this.shuttingDown = true;
    this.draining = false;
    this.queue.length = 0;
    this.dirty.clear();
    this.addedAt.clear();
    this.waiting.clear();
    this.cancelTimer();
    this.releaseWaiters();
    this.depthChanged();
    this.checkDrained();
  }

  /**
   * Stops taking new keys (delayed ones are dropped), hands out the queued ones, and resolves when the queue
   * is empty and every handed-out key is done.
   */
  shutDownWithDrain(): Promise<void> {
    const finished = new Promise<void>((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        previous?.();
        resolve();
      };
    });
    if (!this.shuttingDown) {
      this.shuttingDown = true;
      this.draining = true;
      this.waiting.clear();
      this.cancelTimer();
    }
    this.checkDrained();
    return finished;
  }

  private push(key: K): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.handOut(key);
      waiter.resolve(key);
      return;
    }
    this.queue.push(key);
    this.depthChanged();
  }

  private take(): K {
    const key = this.queue.shift() as K;
    this.handOut(key);
    this.depthChanged();
    return key;
  }

  private handOut(key: K): void {
    this.processing.add(key);
    this.dirty.delete(key);
    const now = this.clock.now();
    const addedAt = this.addedAt.get(key);
    if (addedAt !== undefined) {
      this.addedAt.delete(key);
      this.metrics?.queued((now - addedAt) / 1000);
    }
    this.takenAt.set(key, now);
  }

  private releaseWaiters(): void {
    for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
  }

  private checkDrained(): void {
    if (!this.shuttingDown || this.queue.length > 0 || this.processing.size > 0) return;
    this.releaseWaiters();
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
  }

  private depthChanged(): void {
    this.onDepthChange?.(this.queue.length);
  }

  /** Keeps one timer, due at the earliest delayed key. */
  private armTimer(): void {
    let earliest = Infinity;
    for (const readyAt of this.waiting.values()) earliest = Math.min(earliest, readyAt);
    if (earliest === Infinity) {
      this.cancelTimer();
      return;
    }
    if (this.timerAbort && this.timerDueAt <= earliest) return;
    this.cancelTimer();
    const abort = new AbortController();
    this.timerAbort = abort;
    this.timerDueAt = earliest;
    this.clock.sleep(earliest - this.clock.now(), abort.signal).then(
      () => {
        if (this.timerAbort !== abort) return;
        this.timerAbort = undefined;
        this.timerDueAt = Infinity;
        this.releaseDue();
        this.armTimer();
      },
      () => undefined,
    );
  }

  private releaseDue(): void {
    const now = this.clock.now();
    const due = [...this.waiting.entries()].filter(([, readyAt]) => readyAt <= now).sort((a, b) => a[1] - b[1]);
    for (const [key] of due) {
      this.waiting.delete(key);
      this.add(key);
    }
  }

  private cancelTimer(): void {
    this.timerAbort?.abort();
    this.timerAbort = undefined;
    this.timerDueAt = Infinity;
  }
}
