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
 */
import type { Clock } from './clock.js';

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
    const exp = this.failures.get(key) ?? 0;
    this.failures.set(key, exp + 1);
    const delay = this.baseDelayMs * 2 ** exp;
    return Number.isFinite(delay) && delay < this.maxDelayMs ? delay : this.maxDelayMs;
  }

  numRequeues(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.failures.delete(key);
  }
}

export interface WorkQueueOptions<K> {
  clock: Clock;
  /** Defaults to ItemExponentialFailureRateLimiter(5 ms, 1000 s). */
  rateLimiter?: RateLimiter<K>;
  /** Called with the number of queued keys (not counting delayed ones) whenever it changes. */
  onDepthChange?: (depth: number) => void;
}

interface Waiter<K> {
  resolve: (key: K | undefined) => void;
}

export class WorkQueue<K = string> {
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter<K>;
  private readonly onDepthChange: ((depth: number) => void) | undefined;
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
  }

  /** Queues `key` unless it is already queued; a key being processed is queued again after `done`. */
  add(key: K): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) return;
    this.dirty.add(key);
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

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Stops at once: queued and delayed keys are dropped, waiting `get()` calls resolve `undefined`. */
  shutDown(): void {
    this.shuttingDown = true;
    this.draining = false;
    this.queue.length = 0;
    this.dirty.clear();
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
      this.processing.add(key);
      this.dirty.delete(key);
      waiter.resolve(key);
      return;
    }
    this.queue.push(key);
    this.depthChanged();
  }

  private take(): K {
    const key = this.queue.shift() as K;
    this.processing.add(key);
    this.dirty.delete(key);
    this.depthChanged();
    return key;
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
