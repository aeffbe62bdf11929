/**
 * A controller: event sources feed keys into a work queue, N workers take keys and call the reconciler, and
 * the result decides what happens to the key (see reconcile.ts). Modelled on controller-runtime's internal
 * controller.
 * Guarantees:
 * - At most `maxConcurrentReconciles` reconciles run at once, and never two for one key.
 * - Success forgets the key's backoff; `requeueAfterMs` requeues after that delay; an error requeues with
 *   per-key exponential backoff; a TerminalError is logged and counted but not retried.
 * - A reconciler that throws or rejects never stops a worker; every outcome is reported to the metrics hooks.
 * - Every reconcile runs in a context of its own (controller, namespace, name, a fresh reconcileID) that every
 *   log line written during it carries (see reconcile-context.ts).
 * - `stop(deadlineMs)` takes no new work, lets in-flight reconciles finish, aborts their signal when the
 *   deadline passes, and resolves once every worker has returned.
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { errorMessage } from '../errors.js';
import { isTerminalError, objectKey, type Reconciler, type ReconcileResult } from './reconcile.js';
import { WorkQueue, type RateLimiter, type UnfinishedWork, type WorkQueueMetrics } from './workqueue.js';
import { newReconcileContext, runInReconcile } from './reconcile-context.js';

export type ReconcileOutcome = 'success' | 'requeue_after' | 'error' | 'terminal';

/** Hooks the metrics module implements (see metrics.ts); they must not throw. */
export interface ControllerMetrics {
  reconcileFinished(controller: string, outcome: ReconcileOutcome, durationSeconds: number): void;
  queueDepth(controller: string, depth: number): void;
  /** A controller with this many workers was made (controller-runtime's max concurrent reconciles). */
  controllerCreated?(controller: string, maxConcurrentReconciles: number): void;
  /** Reconciles running now changed by `delta` (controller-runtime's active workers). */
  activeWorkers?(controller: string, delta: number): void;
  /** The hooks of the controller's work queue; `unfinished` reads the work in progress at scrape time. */
  workQueue?(controller: string, unfinished: () => UnfinishedWork): WorkQueueMetrics;
}

/** Anything that emits objects on add/update/delete: an Informer. */
export interface EventSource<T> {
  addEventHandler(handler: {
    onAdd?: (obj: T) => void;
    onUpdate?: (oldObj: T, newObj: T) => void;
    onDelete?: (obj: T) => void;
  }): void;
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  clock: Clock;
  logger: Logger;
  /** Default 1. */
  maxConcurrentReconciles?: number;
  /** Default: 5 ms → 1000 s per-key exponential. */
  rateLimiter?: RateLimiter<string>;
  metrics?: ControllerMetrics;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  private readonly reconciler: Reconciler;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly workers: number;
  private readonly metrics: ControllerMetrics | undefined;
  private readonly stopAbort = new AbortController();
  private readonly inFlight = new Map<string, Promise<void>>();
  private running: Promise<void> | undefined;

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.reconciler = options.reconciler;
    this.clock = options.clock;
    this.logger = options.logger.child({ controller: options.name });
    this.workers = Math.max(1, Math.floor(options.maxConcurrentReconciles ?? 1));
    this.metrics = options.metrics;
    const queueMetrics = this.metrics?.workQueue?.(this.name, () => this.queue.unfinishedWork());
    this.queue = new WorkQueue<string>({
      clock: options.clock,
      ...(options.rateLimiter ? { rateLimiter: options.rateLimiter } : {}),
      onDepthChange: (depth) => this.metrics?.queueDepth(this.name, depth),
      ...(queueMetrics ? { metrics: queueMetrics } : {}),
    });
    this.metrics?.controllerCreated?.(this.name, this.workers);
  }

  /**
   * Enqueues keys from an event source. `toKeys` maps an object to the keys to reconcile (default: its own
   * `namespace/name`); for updates it is called with the new object, and `updateFilter` may drop updates
   * that cannot matter (e.g. status-only changes: same metadata.generation).
   */
  watch<T extends { metadata?: { namespace?: string; name?: string } }>(
    source: EventSource<T>,
    toKeys: (obj: T) => string[] = (obj) => [objectKey(obj.metadata ?? {})],
    updateFilter: (oldObj: T, newObj: T) => boolean = () => true,
  ): void {
    const enqueue = (obj: T): void => {
      for (const key of toKeys(obj)) if (key) this.queue.add(key);
    };
    source.addEventHandler({
      onAdd: enqueue,
      onUpdate: (oldObj, newObj) => {
        if (updateFilter(oldObj, newObj)) enqueue(newObj);
      },
      onDelete: enqueue,
    });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  enqueueAfter(key: string, delayMs: number): void {
    this.queue.addAfter(key, delayMs);
  }

  /** Starts the workers. Resolves when they have all returned after `stop`. Idempotent. */
  start(): Promise<void> {
    if (!this.running) {
      this.logger.info('starting workers', { workers: this.workers });
      this.running = Promise.all(Array.from({ length: this.workers }, () => this.worker())).then(() => undefined);
    }
    return this.running;
  }

  /** Reconciles in progress now (for tests and shutdown logs). */
  inFlightKeys(): string[] {
    return [...this.inFlight.keys()];
  }

  /**
   * Stops taking work (queued keys are dropped: they are rebuilt from the informers' state on the next start),
   * waits up to `deadlineMs` for in-flight reconciles, then aborts their signal and waits for them to return.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.queue.shutDown();
    const inFlight = Promise.all(this.inFlight.values()).then(() => 'done' as const);
    const timer = new AbortController();
    const outcome = await Promise.race([
      inFlight,
      this.clock.sleep(deadlineMs, timer.signal).then(
        () => 'deadline' as const,
        () => 'done' as const,
      ),
    ]);
    timer.abort();
    if (outcome === 'deadline') {
      this.logger.warn('in-flight reconciles passed the shutdown deadline; aborting them', {
        keys: this.inFlightKeys(),
      });
      this.stopAbort.abort(new Error('controller stopping'));
      await inFlight;
    }
    await this.running;
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const run = runInReconcile(newReconcileContext(this.name, key), () => this.reconcileKey(key));
      this.inFlight.set(key, run);
      this.metrics?.activeWorkers?.(this.name, 1);
      try {
        await run;
      } finally {
        this.metrics?.activeWorkers?.(this.name, -1);
        this.inFlight.delete(key);
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string): Promise<void> {
    const started = this.clock.now();
    let outcome: ReconcileOutcome;
    try {
      const result: ReconcileResult = (await this.reconciler.reconcile(key, this.stopAbort.signal)) ?? {};
      this.queue.forget(key);
      if (result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
        this.queue.addAfter(key, result.requeueAfterMs);
        outcome = 'requeue_after';
      } else {
        outcome = 'success';
      }
    } catch (err) {
      if (isTerminalError(err)) {
        this.queue.forget(key);
        outcome = 'terminal';
        this.logger.error('reconcile failed terminally; not retrying', {
          resource: key,
          code: err.code,
          error: errorMessage(err),
        });
      } else {
        outcome = 'error';
        this.queue.addRateLimited(key);
        this.logger.warn('reconcile failed; retrying with backoff', {
          resource: key,
          retries: this.queue.numRequeues(key),
          error: errorMessage(err),
        });
      }
    }
    this.metrics?.reconcileFinished(this.name, outcome, (this.clock.now() - started) / 1000);
  }
}
