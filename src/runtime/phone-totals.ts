/**
 * The `phones` gauge: phones of every CloudPhoneRoute by state. Each route reports its summary after a round
 * (undefined once it is gone); the totals move by the difference, so a round costs O(1), not O(routes).
 */
import type { Summary } from '../api/v1alpha1/types.js';

const phoneStates = ['inSync', 'drifted', 'pending', 'failed', 'conflicted', 'notFound', 'waiting'] as const;
export type PhoneState = (typeof phoneStates)[number];

export class PhoneTotals {
  private readonly summaries = new Map<string, Summary>();
  private readonly totals = Object.fromEntries(phoneStates.map((state) => [state, 0])) as Record<PhoneState, number>;

  constructor(private readonly publish: (totals: Readonly<Record<PhoneState, number>>) => void) {}

  /** A route's phones by state after its round; undefined: the route is gone. */
  route(key: string, summary: Summary | undefined): void {
    const before = this.summaries.get(key);
    if (summary) this.summaries.set(key, summary);
    else this.summaries.delete(key);
    for (const state of phoneStates) this.totals[state] += (summary?.[state] ?? 0) - (before?.[state] ?? 0);
    this.publish(this.totals);
  }
}
