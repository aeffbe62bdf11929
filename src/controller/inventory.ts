/**
 * The phone inventory of one CPH account. One paged list sweep reads every phone of the account and serves
 * every resource that uses it, so the cost of a drift check is ceil(N/100) list calls whatever the number
 * of resources. Guarantees:
 *   - single flight: concurrent callers of `sweep()` share one sweep in progress;
 *   - on demand, coalesced: `sweepSince(t)` answers with a sweep begun at or after t, joining the one in
 *     progress when it began late enough, else starting one right after it, which later callers share;
 *   - periodic: after `start()`, a sweep runs every `intervalMs` (the shortest drift interval of the
 *     account's resources), and `onSwept` is told, so the controller re-checks every resource; a failed
 *     sweep is retried sooner, with a backoff that doubles up to the interval while failures continue;
 *   - no stale overwrite: a route learnt from a finished job after a sweep began wins over what that sweep
 *     read, so a slow sweep never makes a phone that was just changed look drifted again;
 *   - pages as they come: `onPhonesRead` is told each page's phones (with routes learnt since the sweep
 *     began) while the sweep still reads, so changes can go out before the last page is in; the sweep ends,
 *     and its snapshot is published, only once what the hook started has settled;
 *   - re-read, not guessed: a phone whose change CPH answered without saying what became of it is marked
 *     `unconfirmed` until a sweep that began after the mark has read it again (`sweepSoon` asks for one
 *     before the interval ends);
 *   - a phone missing from a complete sweep does not exist, and costs no further call; only when the sweep
 *     could have skipped phones (the list moved under it) do missing IDs get a detail call each, at most
 *     `maxDetailLookups` per sweep, remembered until the next sweep (the rest count as missing until then).
 */
import type { Clock } from '../runtime/clock.js';
import { Alarm } from '../runtime/alarm.js';
import { backoff } from '../runtime/backoff.js';
import type { Logger } from '../runtime/logger.js';
import type { SkippedPhone } from '../cph/types.js';
import type { TrafficType } from '../cph/wire.js';
import type { CphPort, ObservedPhone, UnconfirmedChange } from './ports.js';

export interface InventorySnapshot {
  /** When the sweep that produced it began (ms since epoch). */
  readonly takenAt: number;
  /** The sweep saw every phone: a phone missing from it does not exist. */
  readonly complete: boolean;
  readonly phones: ReadonlyMap<string, ObservedPhone>;
  /** List entries the sweep could not use as phones (no usable phone_id): left out, counted. */
  readonly skipped: readonly SkippedPhone[];
}

export interface PhoneInventoryOptions {
  cph: CphPort;
  clock: Clock;
  logger: Logger;
  /** Called after each completed sweep. */
  onSwept?: (snapshot: InventorySnapshot) => void;
  /** Called when a periodic sweep fails. */
  onSweepFailed?: (error: unknown) => void;
  /** Called when any sweep ends (periodic or asked for), with how long it took: for the sweep metrics. */
  onSweepEnded?: (outcome: 'success' | 'failed', durationMs: number) => void;
  /** Told each page of a sweep as it arrives (`sweep` numbers the sweep); what it returns is awaited before the sweep ends. */
  onPhonesRead?: (phones: readonly ObservedPhone[], sweep: number) => Promise<void>;
  intervalMs: number;
  /** Detail calls allowed per incomplete sweep for phones it missed; default 100. */
  maxDetailLookups?: number;
  /** Told of a phone whose view changed outside a sweep (marked unconfirmed), so plans are redone for it. */
  onPhoneChanged?: (phoneId: string) => void;
}

/** The inventory's own snapshot: its phone map is updated in place by routes learnt from jobs. */
interface MutableSnapshot extends InventorySnapshot {
  readonly phones: Map<string, ObservedPhone>;
}

export class PhoneInventory {
  private current: MutableSnapshot | undefined;
  /** Bumped whenever what the snapshot says changes (a sweep, a route learnt from a job). */
  private changes = 0;
  private inFlight: Promise<InventorySnapshot> | undefined;
  /** When the sweep in progress began. */
  private inFlightSince = 0;
  private readonly localRoutes = new Map<string, { trafficType: TrafficType; at: number }>();
  /** Changes of unknown outcome, until a sweep that began after them has read their phones. */
  /** Per phone, the change of unknown outcome and the number of sweeps begun when it was marked. */
  private readonly unconfirmed = new Map<string, { change: UnconfirmedChange; afterSweep: number }>();
  /** A sweep numbered above this one is wanted before the interval ends (`sweepSoon`). */
  private wantedAfterSweep: number | undefined;
  /** The number of the sweep whose snapshot is current. */
  private snapshotSweep = 0;
  /** Detail lookups of phones missing from the sweep, valid for one snapshot. */
  private readonly detailLookups = new Map<string, Promise<ObservedPhone | undefined>>();
  private intervalMs: number;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly alarm: Alarm;
  lastError: unknown;
  /** Periodic sweeps failed in a row (for the retry backoff). */
  private sweepFailures = 0;
  /** When the periodic loop tries again after a failed sweep. */
  private retryAt = 0;
  /** Sweeps started, to number them for `onPhonesRead`. */
  private sweeps = 0;

  constructor(private readonly options: PhoneInventoryOptions) {
    this.intervalMs = options.intervalMs;
    this.alarm = new Alarm(options.clock);
  }

  snapshot(): InventorySnapshot | undefined {
    return this.current;
  }

  /** Changes whenever the snapshot's content does: plans made from an older version are out of date. */
  get version(): number {
    return this.changes;
  }

  /**
   * The current snapshot when it is younger than `maxAgeMs`, otherwise a new sweep. While the periodic
   * sweeps fail and their retry is not yet due, the last failure is thrown instead: callers share the loop's
   * backoff rather than starting a sweep each (every failed sweep wakes every resource of the account).
   */
  async fresh(maxAgeMs: number): Promise<InventorySnapshot> {
    const current = this.current;
    const now = this.options.clock.now();
    if (current && now - current.takenAt <= maxAgeMs) return current;
    if (this.lastError !== undefined && now < this.retryAt) throw this.lastError;
    return this.sweep();
  }

  /** Runs a sweep, or joins the one in progress. */
  sweep(): Promise<InventorySnapshot> {
    if (!this.inFlight) {
      this.inFlightSince = this.options.clock.now();
      this.inFlight = this.runSweep().finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  /**
   * A snapshot of a sweep that began at or after `since` (ms since epoch): the current one, the sweep in
   * progress, or a new one once the sweep in progress (begun too early) has ended. Rate limits still hold:
   * its calls go through the account's client like every other.
   */
  async sweepSince(since: number): Promise<InventorySnapshot> {
    for (;;) {
      if (this.current && this.current.takenAt >= since) return this.current;
      const inFlight = this.inFlight;
      if (!inFlight) return this.sweep();
      if (this.inFlightSince >= since) return inFlight;
      await inFlight.catch(() => undefined);
    }
  }

  private async runSweep(): Promise<InventorySnapshot> {
    const startedAt = this.options.clock.now();
    const sweep = ++this.sweeps;
    // A route learnt from a job after the sweep began wins over what the sweep read; a change of unknown
    // outcome sent after it began stays unconfirmed (the sweep may have read the phone before it).
    const current = (phone: ObservedPhone): ObservedPhone => {
      const local = this.localRoutes.get(phone.phoneId);
      const routed =
        local && local.at >= startedAt && local.trafficType !== phone.trafficType
          ? { ...phone, trafficType: local.trafficType, unknownTrafficType: undefined }
          : phone;
      const unsure = this.unconfirmed.get(phone.phoneId);
      return unsure && unsure.afterSweep >= sweep ? { ...routed, unconfirmed: unsure.change } : routed;
    };
    const hook = this.options.onPhonesRead;
    const pageWork: Promise<void>[] = [];
    const onPage = hook
      ? (page: ObservedPhone[]): void => {
          pageWork.push(
            hook(page.map(current), sweep).catch((error: unknown) => {
              this.options.logger.warn('acting on a page of the phone sweep failed', { error: String(error) });
            }),
          );
        }
      : undefined;
    let listed: Awaited<ReturnType<CphPort['listAllPhones']>>;
    try {
      listed = await this.options.cph.listAllPhones(this.stopController.signal, onPage);
    } catch (error) {
      this.options.onSweepEnded?.('failed', this.options.clock.now() - startedAt);
      throw error;
    } finally {
      await Promise.all(pageWork);
    }
    const { phones, skipped, calls, complete } = listed;
    const byId = new Map<string, ObservedPhone>();
    for (const phone of phones) byId.set(phone.phoneId, current(phone));
    // Routes learnt and changes of unknown outcome sent before this sweep began are now covered by what it read.
    for (const [phoneId, local] of this.localRoutes) if (local.at < startedAt) this.localRoutes.delete(phoneId);
    for (const [phoneId, unsure] of this.unconfirmed) if (unsure.afterSweep < sweep) this.unconfirmed.delete(phoneId);
    this.detailLookups.clear();
    const snapshot: MutableSnapshot = { takenAt: startedAt, complete, phones: byId, skipped };
    this.current = snapshot;
    this.snapshotSweep = sweep;
    this.changes += 1;
    this.lastError = undefined;
    this.sweepFailures = 0;
    this.options.logger.debug('phone inventory swept', { phones: byId.size, listCalls: calls });
    this.options.onSweepEnded?.('success', this.options.clock.now() - startedAt);
    this.options.onSwept?.(snapshot);
    return snapshot;
  }

  /** Records a route the operator knows from a finished job, until a later sweep confirms it. */
  recordRoute(phoneId: string, trafficType: TrafficType): void {
    const at = this.options.clock.now();
    this.localRoutes.set(phoneId, { trafficType, at });
    // In place: copying the map for every finished job made a batch of N jobs cost N x P.
    const phone = this.current?.phones.get(phoneId);
    if (phone && phone.trafficType !== trafficType) {
      this.current?.phones.set(phoneId, { ...phone, trafficType, unknownTrafficType: undefined });
      this.changes += 1;
    }
  }

  /**
   * Records a change whose outcome CPH's answer did not tell (no job, or a job that cannot be followed): the
   * phone is planned as pending, and nothing is sent for it, until the next sweep has read it again.
   */
  markUnconfirmed(phoneId: string, change: UnconfirmedChange): void {
    this.unconfirmed.set(phoneId, { change, afterSweep: this.sweeps });
    this.localRoutes.delete(phoneId);
    const phone = this.current?.phones.get(phoneId);
    if (phone) {
      this.current?.phones.set(phoneId, { ...phone, unconfirmed: change });
      this.changes += 1;
    }
    this.options.onPhoneChanged?.(phoneId);
  }

  /** A phone's view: from the snapshot, else (after an incomplete sweep) from a detail call made once per snapshot. */
  async lookup(phoneId: string): Promise<ObservedPhone | undefined> {
    const seen = this.current?.phones.get(phoneId);
    if (seen) return seen;
    if (this.current?.complete) return undefined;
    let pending = this.detailLookups.get(phoneId);
    if (!pending) {
      if (this.detailLookups.size >= (this.options.maxDetailLookups ?? 100)) return undefined;
      pending = this.options.cph.getPhone(phoneId, this.stopController.signal);
      this.detailLookups.set(phoneId, pending);
      pending.catch(() => this.detailLookups.delete(phoneId));
    }
    const found = await pending;
    const local = this.localRoutes.get(phoneId);
    const unsure = this.unconfirmed.get(phoneId);
    if (!found) return found;
    return {
      ...found,
      ...(local ? { trafficType: local.trafficType, unknownTrafficType: undefined } : {}),
      ...(unsure ? { unconfirmed: unsure.change } : {}),
    };
  }

  /** Asks the periodic loop for a sweep that begins after now, without waiting for the interval. */
  sweepSoon(): void {
    this.wantedAfterSweep = this.sweeps;
    this.alarm.wake();
  }

  /** Changes the period of the sweep loop; takes effect at once. */
  setIntervalMs(intervalMs: number): void {
    if (intervalMs === this.intervalMs) return;
    this.intervalMs = intervalMs;
    this.alarm.wake();
  }

  start(): void {
    if (this.loop) return;
    this.loop = this.runLoop();
  }

  async stop(): Promise<void> {
    this.stopController.abort(new Error('phone inventory stopped'));
    this.alarm.wake();
    await this.loop;
  }

  private async runLoop(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      const last = this.current?.takenAt;
      const wanted = this.wantedAfterSweep !== undefined && this.snapshotSweep <= this.wantedAfterSweep;
      const dueIn = last === undefined || wanted ? 0 : last + this.intervalMs - this.options.clock.now();
      if (dueIn > 0) {
        await this.alarm.wait(dueIn, signal);
        continue;
      }
      try {
        await this.sweep();
      } catch (error) {
        if (signal.aborted) return;
        this.lastError = error;
        this.options.onSweepFailed?.(error);
        // A failed sweep is retried after a tenth of the interval (at least 5 s), doubling with each failure
        // in a row up to the interval: a long CPH outage is not hammered at a fixed rate (each failed sweep
        // also wakes every resource of the account).
        this.sweepFailures += 1;
        const firstRetryMs = Math.max(5_000, this.intervalMs / 10);
        const retryMs = backoff(firstRetryMs, Math.max(firstRetryMs, this.intervalMs), this.sweepFailures);
        this.retryAt = this.options.clock.now() + retryMs;
        await this.alarm.wait(retryMs, signal);
      }
    }
  }
}
