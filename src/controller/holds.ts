/**
 * Route changes that failed, held back per phone before they are tried again, for one CPH account: a phone
 * refused inside a 200 (e.g. CPS.0005) or whose job failed. Guarantees:
 *   - the delay is the pure `holdDelayMs`: 30 s, doubling while the same change keeps failing, at most 15 min;
 *     a failure to another route starts again at 30 s;
 *   - a succeeded job drops its phone's hold;
 *   - `version` changes whenever the set of holds in force does (set, dropped or expired), so a plan made
 *     under other holds can be told apart.
 */
import { backoff } from '../runtime/backoff.js';
import type { Clock } from '../runtime/clock.js';
import type { RetryHold } from './plan.js';

/** How long a change that failed `attempts` times in a row is held back. */
export function holdDelayMs(attempts: number): number {
  return backoff(30_000, 15 * 60_000, attempts);
}

interface Hold extends RetryHold {
  until: number;
  attempts: number;
}

export class Holds {
  private readonly holds = new Map<string, Hold>();
  /** Bumped when a hold is set or dropped (expiry is seen through the count in force). */
  private changes = 0;

  constructor(private readonly clock: Clock) {}

  /** Holds a failed change back. */
  hold(failure: RetryHold): void {
    const previous = this.holds.get(failure.phoneId);
    const attempts = previous && previous.trafficType === failure.trafficType ? previous.attempts + 1 : 1;
    this.holds.set(failure.phoneId, { ...failure, attempts, until: this.clock.now() + holdDelayMs(attempts) });
    this.changes += 1;
  }

  /** The phone's change went through: nothing is held for it any more. */
  drop(phoneId: string): void {
    if (this.holds.delete(phoneId)) this.changes += 1;
  }

  /** Changes when the set of holds in force does. */
  get version(): string {
    const now = this.clock.now();
    let active = 0;
    for (const hold of this.holds.values()) if (hold.until > now) active += 1;
    return `${this.changes}.${active}`;
  }

  /** The holds in force (an expired hold lets its phone be tried again). */
  active(): RetryHold[] {
    const now = this.clock.now();
    const active: RetryHold[] = [];
    for (const [phoneId, hold] of this.holds) {
      if (hold.until <= now) continue;
      const { until: _until, attempts: _attempts, ...rest } = hold;
      active.push({ ...rest, phoneId });
    }
    return active;
  }

  /** When the first hold in force ends, to look again then. */
  nextExpiry(): number | undefined {
    const now = this.clock.now();
    let next: number | undefined;
    for (const hold of this.holds.values())
      if (hold.until > now && (next === undefined || hold.until < next)) next = hold.until;
    return next;
  }
}
