/**
 * A sleep that can be cut short. Background loops (inventory sweeps, job polls) wait for their next turn
 * with `wait`, and anything that changes what they should do calls `wake` so they re-read their state at
 * once instead of after the full wait. Guarantees:
 *   - `wait` never throws: it resolves when the time is up, when woken, or when `signal` aborts;
 *   - `wake` with nobody waiting is a no-op (the loop re-reads its state before waiting anyway).
 */
import type { Clock } from './clock.js';

export class Alarm {
  private wakeUp: (() => void) | undefined;

  constructor(private readonly clock: Clock) {}

  async wait(ms: number, signal: AbortSignal): Promise<void> {
    const woken = new AbortController();
    this.wakeUp = () => woken.abort();
    try {
      await this.clock.sleep(ms, AbortSignal.any([signal, woken.signal]));
    } catch {
      // woken or stopped: the caller re-reads its state
    } finally {
      this.wakeUp = undefined;
    }
  }

  wake(): void {
    this.wakeUp?.();
  }
}
