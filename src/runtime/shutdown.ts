/**
 * Graceful shutdown on SIGTERM/SIGINT: the kubelet sends SIGTERM, waits terminationGracePeriodSeconds, then
 * kills. Shutdown is an ordered list of steps, e.g. stop controllers (in-flight reconciles end), release the
 * Lease, stop informers, flush events, close the servers.
 * Guarantees:
 * - `signal` aborts the moment shutdown begins, so everything watching it stops taking work.
 * - Steps run one after another in the order added, each bounded by what is left of the overall deadline; a
 *   step that fails or overruns is logged and the next one still runs.
 * - The process exits once: 0 when every step finished in time, 1 otherwise; a second signal exits at once (130).
 */
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { errorMessage } from '../errors.js';

export interface ShutdownStep {
  name: string;
  /** `signal` aborts when the step's share of the deadline is over. */
  run(signal: AbortSignal): void | Promise<void>;
}

/** The slice of `process` this module uses, so tests can pass a fake. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

export interface GracefulShutdownOptions {
  clock: Clock;
  logger: Logger;
  /** Overall budget; keep it below terminationGracePeriodSeconds. Default 25 s. */
  deadlineMs?: number;
  signals?: NodeJS.Signals[];
  source?: SignalSource;
  exit?: (code: number) => void;
}

export class GracefulShutdown {
  private readonly options: GracefulShutdownOptions;
  private readonly steps: ShutdownStep[] = [];
  private readonly abort = new AbortController();
  private readonly listeners: [NodeJS.Signals, () => void][] = [];
  private running: Promise<number> | undefined;

  constructor(options: GracefulShutdownOptions) {
    this.options = options;
  }

  /** Aborts when shutdown begins. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  addStep(name: string, run: (signal: AbortSignal) => void | Promise<void>): void {
    this.steps.push({ name, run });
  }

  /** Listens for the signals (default SIGTERM and SIGINT). */
  install(): void {
    const source = this.options.source ?? process;
    for (const sig of this.options.signals ?? (['SIGTERM', 'SIGINT'] as NodeJS.Signals[])) {
      const listener = (): void => {
        if (this.running) {
          this.options.logger.warn('second signal: exiting now', { signal: sig });
          this.exit(130);
          return;
        }
        void this.shutdown(`received ${sig}`);
      };
      source.on(sig, listener);
      this.listeners.push([sig, listener]);
    }
  }

  uninstall(): void {
    const source = this.options.source ?? process;
    for (const [sig, listener] of this.listeners.splice(0)) source.off(sig, listener);
  }

  /** Runs the steps once and exits; resolves with the exit code. */
  shutdown(reason: string): Promise<number> {
    this.running ??= this.runSteps(reason);
    return this.running;
  }

  private async runSteps(reason: string): Promise<number> {
    const { clock, logger } = this.options;
    const deadline = clock.now() + (this.options.deadlineMs ?? 25_000);
    logger.info('shutting down', { reason });
    this.abort.abort(new Error(`shutting down: ${reason}`));
    let clean = true;
    for (const step of this.steps) {
      const left = deadline - clock.now();
      const stepAbort = new AbortController();
      const timer = new AbortController();
      const started = clock.now();
      try {
        const outcome = await Promise.race([
          Promise.resolve()
            .then(() => step.run(stepAbort.signal))
            .then(() => 'done' as const),
          clock.sleep(Math.max(0, left), timer.signal).then(
            () => 'overran' as const,
            () => 'done' as const,
          ),
        ]);
        if (outcome === 'overran') {
          clean = false;
          stepAbort.abort(new Error('shutdown deadline passed'));
          logger.error('shutdown step overran the deadline', { step: step.name });
        } else {
          logger.debug('shutdown step done', { step: step.name, ms: clock.now() - started });
        }
      } catch (err) {
        clean = false;
        logger.error('shutdown step failed', { step: step.name, error: errorMessage(err) });
      } finally {
        timer.abort();
      }
    }
    const code = clean ? 0 : 1;
    logger.info('shutdown complete', { exitCode: code });
    this.uninstall();
    this.exit(code);
    return code;
  }

  private exit(code: number): void {
    (this.options.exit ?? ((c: number) => process.exit(c)))(code);
  }
}
