/**
 * Tells people about phone list entries CPH sent that could not be used as phones (no usable phone_id):
 * the sweep leaves them out and every other phone is read and corrected as usual, so nothing fails; but the
 * entries are counted, and the resources of the account say so in a Warning Event. Guarantees:
 *   - every skipped entry of every sweep is counted (metric `cph_route_operator_cph_phone_entries_skipped_total{reason}`);
 *   - Events are rate-limited per account: at most one round of them per `eventIntervalMs` (default 10 min),
 *     one Event on each resource bound to the account, whatever the number of sweeps in between.
 */
import type { Clock } from '../runtime/clock.js';
import type { SkippedPhone } from '../cph/types.js';
import type { EventSink } from './account-plans.js';

/** The Event reason of the warning. */
export const PHONES_SKIPPED_REASON = 'PhoneEntriesSkipped';

export interface SkippedPhonesReporterOptions {
  clock: Clock;
  events: EventSink;
  /** Counts skipped entries by reason. */
  count: (reason: SkippedPhone['reason'], entries: number) => void;
  eventIntervalMs?: number;
}

export type EventRegarding = Parameters<EventSink['record']>[0];

export class SkippedPhonesReporter {
  private readonly lastWarned = new Map<string, number>();
  private readonly eventIntervalMs: number;

  constructor(private readonly options: SkippedPhonesReporterOptions) {
    this.eventIntervalMs = options.eventIntervalMs ?? 10 * 60_000;
  }

  /** One finished sweep of `account` (its description, safe to show) and the resources bound to it. */
  swept(
    accountKey: string,
    accountDescription: string,
    skipped: readonly SkippedPhone[],
    resources: () => readonly EventRegarding[],
  ): void {
    if (skipped.length === 0) return;
    const byReason = new Map<SkippedPhone['reason'], number>();
    for (const entry of skipped) byReason.set(entry.reason, (byReason.get(entry.reason) ?? 0) + 1);
    for (const [reason, entries] of byReason) this.options.count(reason, entries);
    const now = this.options.clock.now();
    const last = this.lastWarned.get(accountKey);
    if (last !== undefined && now - last < this.eventIntervalMs) return;
    this.lastWarned.set(accountKey, now);
    const kinds = [...byReason]
      .map(
        ([reason, entries]) =>
          `${entries} ${reason === 'noPhoneId' ? 'without a usable phone_id' : 'that are not objects'}`,
      )
      .join(', ');
    const examples = skipped
      .slice(0, 3)
      .map((entry) => entry.field)
      .join(', ');
    const note = `CPH (${accountDescription}) listed ${skipped.length} phone entries that cannot be used as phones (${kinds}; e.g. ${examples}). They were skipped; every other phone was read and is kept in line as usual.`;
    for (const regarding of resources())
      this.options.events.record(regarding, 'Warning', PHONES_SKIPPED_REASON, 'ListPhones', note);
  }
}
