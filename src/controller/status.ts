/**
 * The next status of a CloudPhoneRoute: a pure function of the previous status, the resource's plan, the
 * jobs of its phones that ended since the last status, and any failure of the round as a whole. The status
 * is a promise to the user and a cost to the API server, so it obeys two rules:
 *  - it stays small: in-sync phones are counted, only phones worth a look are listed, at most
 *    MAX_STATUS_PHONES of them (of which at most MAX_STATUS_PENDING_PHONES with a job running and
 *    MAX_STATUS_CHANGED_PHONES successful changes, the most recent), and what did not fit is counted in
 *    phonesTruncated;
 *  - it only changes when something happened: no time is stamped unless a condition or a phone changes
 *    state, lists are sorted, keys come in one order, so the same inputs give a deep-equal status and
 *    `statusChanged` says there is nothing to write.
 * Every top-level field is always present (zeros, empty lists), so a merge patch of the whole status also
 * clears what an earlier round wrote.
 */
import type { TrafficType } from '../cph/wire.js';
import type {
  CloudPhoneRouteStatus,
  Condition,
  PhoneEntryState,
  PhoneStatusEntry,
  StatusJobStatus,
  Summary,
} from '../api/v1alpha1/types.js';
import {
  MAX_PENDING_REQUESTS,
  MAX_STATUS_CHANGED_PHONES,
  MAX_STATUS_PENDING_PHONES,
  MAX_STATUS_PHONES,
} from '../api/v1alpha1/constants.js';
import { ConditionType, Reason, formatTime, removeCondition, setCondition } from '../api/v1alpha1/conditions.js';
import { canonicalEntry } from '../api/v1alpha1/parse.js';
import { canonicalEqual } from '../runtime/status-writer.js';
import { emptySummary, type PhonePlan, type ResourcePlan } from './plan.js';
import type { RoundFailure } from './failure.js';

export type { RoundFailure } from './failure.js';

/**
 * A job of one phone of the resource that ended since its status last said so. Sent changes and refusals
 * reach the status through the plan (a job in flight, a hold); an ended job is news the plan no longer holds.
 */
export interface PhoneEvent {
  kind: 'jobEnded';
  phoneId: string;
  trafficType: TrafficType;
  requestId: string;
  jobId: string;
  state: 'succeeded' | 'failed';
  errorCode?: string;
  errorMessage?: string;
}

export interface StatusInput {
  /** metadata.generation of the spec this round acted on. */
  generation: number;
  previous?: CloudPhoneRouteStatus;
  /** The resource's part of the account plan; absent when the round failed before a plan was made. */
  plan?: ResourcePlan;
  events?: readonly PhoneEvent[];
  failure?: RoundFailure;
  /** Used when there is no plan; the plan's own values win otherwise. */
  suspended?: boolean;
  /** The wanted route (spec.trafficType), for messages when there is no plan. */
  desired?: TrafficType;
  deleting?: 'Retain' | 'Revert';
  /** Stamped only on what changed state in this round. */
  now: number | Date;
  /** Default MAX_STATUS_PHONES. */
  maxPhones?: number;
  /** Phones with a job running listed at most; default MAX_STATUS_PENDING_PHONES. */
  maxPendingPhones?: number;
  /** Successful changes listed at most; default MAX_STATUS_CHANGED_PHONES. */
  maxChangedPhones?: number;
  /** Request IDs whose jobs still run for this resource (kept so a restarted operator can follow them). */
  pendingRequests?: readonly string[];
  /** Phones the resource names that are outside its account's phoneScope, and that account, for the message. */
  outOfScope?: { phoneIds: readonly string[]; account: string };
  /** A deletion with Revert: when it gives up waiting for the phones (deletionTimestamp + spec.revertTimeout). */
  revertDeadline?: { deadline: number; timeout: string };
}

const CPH_PHONE_STATUS: Record<number, string> = {
  0: 'creating',
  1: 'creating',
  2: 'running',
  3: 'resetting',
  4: 'restarting',
  6: 'frozen',
  7: 'stopping',
  8: 'stopped',
  [-5]: 'reset failed',
  [-6]: 'restart failed',
  [-7]: 'abnormal',
  [-8]: 'creation failed',
  [-9]: 'stop failed',
};

/** Words for a CPH phone status code. */
export function phoneStatusName(status: number): string {
  return CPH_PHONE_STATUS[status] ?? `status ${status}`;
}

/** Why a phone that is not known to run is not changed, in words. */
function notRunningText(status: number | undefined): string {
  return status === undefined
    ? 'CPH reported no status for the phone, so it is not known to run; its route is changed once CPH reports it running'
    : `the phone is ${phoneStatusName(status)} (CPH status ${status}); its route is changed once it is running`;
}

/** Why a drifted phone is off route, in words. */
function driftText(phone: PhonePlan): string {
  if (phone.actual === undefined) return `CPH reported no route for the phone, wanted ${phone.desired}`;
  if (phone.actual !== 'direct' && phone.actual !== 'routing')
    return `CPH reports the route as ${JSON.stringify(phone.actual)}, which is neither direct nor routing, wanted ${phone.desired}`;
  return `on ${phone.actual}, wanted ${phone.desired}`;
}

const KNOWN_ERRORS: Record<string, string> = {
  'CPS.0001': 'no permission',
  'CPS.0003': 'CPH internal error',
  'CPS.0004': 'invalid phone ID',
  'CPS.0005': 'phone not found',
  'CPS.0006': 'account in arrears',
  'CPS.0007': 'account frozen',
  'CPS.0008': 'real-name verification missing',
};

/** Keeps stored messages within the schema's 1024 characters. */
function clip(text: string, max = 1024): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

/** The errorMessage of a failed phone: CPH's words, else the meaning of its code, else what failed. */
function failureText(errorMessage: string | undefined, errorCode: string | undefined, jobFailed: boolean): string {
  return clip(
    errorMessage ||
      (errorCode ? KNOWN_ERRORS[errorCode] : undefined) ||
      (jobFailed ? 'the route-change job failed' : 'CPH refused the route change'),
  );
}

/** Another resource as a conflict message may name it: by name only in the same namespace (tenants do not learn each other's names). */
function claimantName(claim: { key: string; trafficType: TrafficType }, ownNamespace: string): string {
  const namespace = claim.key.slice(0, claim.key.indexOf('/'));
  return namespace === ownNamespace
    ? `${claim.key} (${claim.trafficType})`
    : `a CloudPhoneRoute in another namespace (${claim.trafficType})`;
}

/**
 * The entry for one phone: what the plan says, overridden by jobs that ended (newer than the plan), with
 * history kept from the previous entry. Undefined: the phone is not worth listing.
 * Long on purpose: one case per phone state, a few lines each; split per state, the history rules they share would be
 * repeated.
 */
function entryFor(
  phone: PhonePlan,
  previous: PhoneStatusEntry | undefined,
  events: readonly PhoneEvent[],
  suspended: boolean,
  ownNamespace: string,
): PhoneStatusEntry | undefined {
  const base = { phoneId: phone.phoneId, ...(phone.actual ? { actual: phone.actual } : {}), desired: phone.desired };
  let entry: PhoneStatusEntry | undefined;
  switch (phone.state) {
    case 'InSync':
      if (previous && previous.desired === phone.desired && previous.state === 'Changed') {
        entry = { ...previous, ...base };
      } else if (
        previous &&
        previous.desired === phone.desired &&
        previous.state === 'Pending' &&
        previous.jobId !== undefined
      ) {
        // The job ended without this round hearing how; the phone is on route anyway.
        entry = {
          ...base,
          state: 'InSync',
          jobId: previous.jobId,
          jobStatus: 'Unknown',
          ...(previous.requestId ? { requestId: previous.requestId } : {}),
        };
      } else if (previous && previous.desired === phone.desired && previous.state === 'InSync') {
        entry = { ...previous, ...base };
      }
      break;
    case 'Released':
      break;
    case 'Pending': {
      const job = phone.job;
      if (job) {
        entry = { ...base, state: 'Pending', jobId: job.jobId, jobStatus: 'Running', requestId: job.requestId };
        if (job.trafficType !== phone.desired)
          entry.errorMessage = `a job setting ${job.trafficType} is still running; the route is corrected to ${phone.desired} once it ends`;
      } else {
        // A change CPH's answer did not account for: the previous entry (from the round that sent it) keeps its IDs.
        const sent = phone.unconfirmed;
        const jobId = sent?.jobId ?? (previous?.state === 'Pending' ? previous.jobId : undefined);
        const requestId = sent?.requestId ?? (previous?.state === 'Pending' ? previous.requestId : undefined);
        entry = {
          ...base,
          state: 'Pending',
          ...(jobId ? { jobId } : {}),
          jobStatus: 'Unknown',
          ...(requestId ? { requestId } : {}),
          errorMessage: sent?.adopted
            ? 'its job, started before the operator restarted, ended: the route is read again on the next sweep'
            : jobId
              ? 'CPH started a job but its answer gave no request ID to follow it by: the route is read again on the next sweep'
              : 'CPH answered without a job or an error for this phone: the route is read again on the next sweep',
        };
      }
      break;
    }
    case 'Failed': {
      const hold = phone.hold!;
      entry = {
        ...base,
        state: 'Failed',
        ...(hold.jobId ? { jobId: hold.jobId, jobStatus: 'Failed' as StatusJobStatus } : {}),
        ...(hold.requestId ? { requestId: hold.requestId } : {}),
        ...(hold.errorCode ? { errorCode: hold.errorCode } : {}),
        // The same words as the event that caused the hold, so the entry does not change between rounds.
        errorMessage: failureText(hold.errorMessage, hold.errorCode, hold.jobId !== undefined),
      };
      break;
    }
    case 'NotFound':
      entry = {
        phoneId: phone.phoneId,
        state: 'NotFound',
        desired: phone.desired,
        errorCode: 'CPS.0005',
        errorMessage: 'CPH does not know this phone in the project; check spec.phoneIds',
      };
      break;
    case 'Conflict': {
      const others = [...new Set((phone.claimedBy ?? []).map((c) => claimantName(c, ownNamespace)))].join(', ');
      entry = {
        ...base,
        state: 'Conflict',
        errorMessage: clip(
          `also selected by ${others}; neither resource changes the phone until one of them lets it go`,
        ),
      };
      break;
    }
    case 'Waiting':
      entry = { ...base, state: 'Waiting', errorMessage: notRunningText(phone.phoneStatus) };
      break;
    case 'Drifted':
      entry = {
        ...base,
        state: 'Drifted',
        errorMessage: suspended
          ? 'suspended: the route is not corrected'
          : `${driftText(phone)}; the change has not been sent yet`,
      };
      break;
  }
  for (const event of events) {
    if (event.trafficType !== phone.desired) continue;
    entry =
      event.state === 'succeeded'
        ? {
            ...base,
            actual: event.trafficType,
            state: 'Changed',
            jobId: event.jobId,
            jobStatus: 'Succeeded',
            requestId: event.requestId,
          }
        : {
            ...base,
            state: 'Failed',
            jobId: event.jobId,
            jobStatus: 'Failed',
            requestId: event.requestId,
            ...(event.errorCode ? { errorCode: event.errorCode } : {}),
            errorMessage: failureText(event.errorMessage, event.errorCode, true),
          };
  }
  if (!entry) return undefined;
  const sameTransition =
    previous && previous.state === entry.state && previous.jobId === entry.jobId && previous.lastTransitionTime;
  entry.lastTransitionTime = sameTransition ? previous.lastTransitionTime : undefined;
  return entry;
}

const ENTRY_PRIORITY: Record<PhoneEntryState, number> = {
  Failed: 0,
  NotFound: 1,
  Conflict: 2,
  Pending: 3,
  Waiting: 4,
  Drifted: 5,
  Changed: 6,
  InSync: 6,
};

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** How many entries of a kind are listed at most, beside the overall bound. */
export interface EntrySampling {
  /** Phones with a job running (Pending). */
  pending?: number;
  /** Phones changed with success or in sync (Changed, InSync). */
  changed?: number;
}

/**
 * The entries to keep: by ENTRY_PRIORITY; within a class by phone ID (stable from round to round, so the
 * same phones stay listed and keep their times), and among changed phones the most recent first. Pending
 * and changed phones are sampled (`sampling`): past their number they are not worth listing, being counted
 * in the summary already. At most `max` are kept, sorted by phone ID; `truncated` counts the entries worth
 * listing that found no room. Sampled-out entries do not count: a changed phone left out is not carried to
 * the next round (which only carries listed entries forward), so counting it would change the count with
 * nothing happening.
 */
export function boundEntries(
  entries: readonly PhoneStatusEntry[],
  max: number,
  sampling: EntrySampling = {},
): { kept: PhoneStatusEntry[]; truncated: number } {
  const ranked = [...entries].sort((a, b) => {
    const pa = ENTRY_PRIORITY[a.state];
    const pb = ENTRY_PRIORITY[b.state];
    if (pa !== pb) return pa - pb;
    if (pa === ENTRY_PRIORITY.Changed) {
      const byTime = compare(b.lastTransitionTime ?? '', a.lastTransitionTime ?? '');
      if (byTime !== 0) return byTime;
    }
    return compare(a.phoneId, b.phoneId);
  });
  const limit = Math.max(0, max);
  const sampleOf = (state: PhoneEntryState): 'pending' | 'changed' | undefined =>
    state === 'Pending' ? 'pending' : state === 'Changed' || state === 'InSync' ? 'changed' : undefined;
  const listed = { pending: 0, changed: 0 };
  const kept: PhoneStatusEntry[] = [];
  let truncated = 0;
  for (const entry of ranked) {
    const sample = sampleOf(entry.state);
    if (sample) {
      if (listed[sample] >= (sampling[sample] ?? Number.POSITIVE_INFINITY)) continue;
      listed[sample] += 1;
    }
    if (kept.length < limit) kept.push(entry);
    else truncated += 1;
  }
  kept.sort((a, b) => compare(a.phoneId, b.phoneId));
  return { kept, truncated };
}

function summaryOf(states: readonly PhoneEntryState[], total: number): Summary {
  const summary = emptySummary();
  summary.total = total;
  for (const state of states) {
    switch (state) {
      case 'Pending':
        summary.pending++;
        break;
      case 'Failed':
        summary.failed++;
        break;
      case 'NotFound':
        summary.notFound++;
        break;
      case 'Conflict':
        summary.conflicted++;
        break;
      case 'Waiting':
        summary.waiting++;
        break;
      case 'Drifted':
        summary.drifted++;
        break;
      case 'InSync':
      case 'Changed':
        break;
    }
  }
  summary.inSync =
    total -
    summary.pending -
    summary.failed -
    summary.notFound -
    summary.conflicted -
    summary.waiting -
    summary.drifted;
  return summary;
}

/** "CPS.0005 phone not found (2), job failed (1)": failures grouped by error, most frequent first, at most 5 groups. */
export function describeFailures(failed: readonly PhoneStatusEntry[]): string {
  const groups = new Map<string, number>();
  for (const entry of failed) {
    const label = entry.errorCode
      ? `${entry.errorCode} ${KNOWN_ERRORS[entry.errorCode] ?? firstClause(entry.errorMessage) ?? 'error'}`
      : entry.jobStatus === 'Failed'
        ? 'job failed'
        : (firstClause(entry.errorMessage) ?? 'failed');
    groups.set(label, (groups.get(label) ?? 0) + 1);
  }
  const sorted = [...groups].sort((a, b) => b[1] - a[1] || compare(a[0], b[0]));
  const shown = sorted.slice(0, 5).map(([label, n]) => `${label} (${n})`);
  if (sorted.length > 5) shown.push(`${sorted.length - 5} more kinds`);
  return shown.join(', ');
}

function firstClause(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const clause = text.split(/[;\n]/)[0]!.trim();
  return clause.length > 80 ? `${clause.slice(0, 77)}...` : clause || undefined;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "3 of 120 phones failed: ...; 5 pending; 112 of 120 on routing": every non-zero count, problems first. */
export function describeSummary(
  summary: Summary,
  desired: TrafficType | undefined,
  failed: readonly PhoneStatusEntry[],
): string {
  const parts: string[] = [];
  const of = `of ${plural(summary.total, 'phone')}`;
  if (summary.failed > 0) parts.push(`${summary.failed} ${of} failed: ${describeFailures(failed)}`);
  if (summary.conflicted > 0)
    parts.push(
      `${summary.conflicted} conflicted (wanted on another route by another CloudPhoneRoute; see status.phones)`,
    );
  if (summary.notFound > 0) parts.push(`${summary.notFound} not found in CPH (check spec.phoneIds)`);
  if (summary.pending > 0) parts.push(`${summary.pending} pending (route-change jobs running)`);
  if (summary.drifted > 0) parts.push(`${summary.drifted} drifted`);
  if (summary.waiting > 0) parts.push(`${summary.waiting} waiting for the phone to run`);
  parts.push(`${summary.inSync} ${of} on ${desired ?? 'the wanted route'}`);
  return parts.join('; ');
}

interface ConditionSet {
  ready: { status: 'True' | 'False'; reason: Reason; message: string };
  reconciling?: { reason: Reason; message: string };
  stalled?: { reason: Reason; message: string };
}

// Long on purpose: the condition rules as one decision list, in the order they take precedence (failure, deletion,
// suspension, scope, phones).
function decideConditions(
  summary: Summary,
  desired: TrafficType | undefined,
  failed: readonly PhoneStatusEntry[],
  input: StatusInput,
): ConditionSet {
  const counts = describeSummary(summary, desired, failed);
  const suspended = input.plan?.suspended ?? input.suspended ?? false;
  const deleting = input.plan ? input.plan.deleting : input.deleting;
  if (input.failure) {
    const { reason } = input.failure;
    const message = clip(
      `${input.failure.message}${input.plan || input.previous?.summary ? `. Last known: ${counts}` : ''}`,
      32768,
    );
    return input.failure.stalled
      ? { ready: { status: 'False', reason, message }, stalled: { reason, message } }
      : {
          ready: { status: 'False', reason, message },
          reconciling: { reason, message: `retrying with backoff: ${input.failure.message}` },
        };
  }
  if (deleting === 'Revert') {
    const until = input.revertDeadline
      ? `; gives up at ${formatTime(input.revertDeadline.deadline)} (spec.revertTimeout ${input.revertDeadline.timeout})`
      : '';
    const message = input.plan?.settled
      ? `deleting: every phone is back on direct or kept by another CloudPhoneRoute`
      : `deleting: setting the phones back to direct before the resource goes (deletionPolicy Revert)${until}; ${counts}`;
    return input.plan?.settled
      ? { ready: { status: 'False', reason: Reason.Deleting, message } }
      : {
          ready: { status: 'False', reason: Reason.Deleting, message },
          reconciling: { reason: Reason.Deleting, message },
        };
  }
  if (deleting === 'Retain') {
    return {
      ready: {
        status: 'False',
        reason: Reason.Deleting,
        message: 'deleting: the phones keep their route (deletionPolicy Retain)',
      },
    };
  }
  if (suspended) {
    return {
      ready: {
        status: 'False',
        reason: Reason.Suspended,
        message: `suspended (spec.suspend): the operator changes nothing; ${counts}`,
      },
    };
  }
  if (input.outOfScope && input.outOfScope.phoneIds.length > 0) {
    const { phoneIds, account } = input.outOfScope;
    const shown = phoneIds.slice(0, 10).join(', ') + (phoneIds.length > 10 ? `, and ${phoneIds.length - 10} more` : '');
    const message = clip(
      `${plural(phoneIds.length, 'selected phone')} outside the phoneScope of ${account}, never changed: ${shown}; the other phones are kept in line: ${counts}`,
      32768,
    );
    const set: ConditionSet = {
      ready: { status: 'False', reason: Reason.PhonesOutOfScope, message },
      stalled: { reason: Reason.PhonesOutOfScope, message },
    };
    const progress = summary.pending > 0 ? Reason.JobsPending : summary.drifted > 0 ? Reason.ApplyingRoute : undefined;
    if (progress) set.reconciling = { reason: progress, message: counts };
    return set;
  }
  if (summary.total === 0) {
    return {
      ready: {
        status: 'True',
        reason: Reason.NoPhonesSelected,
        message: 'no phone is selected: spec.selector matches no phone and spec.phoneIds is empty',
      },
    };
  }
  if (summary.inSync === summary.total) {
    return {
      ready: { status: 'True', reason: Reason.InSync, message: `all ${plural(summary.total, 'phone')} on ${desired}` },
    };
  }
  const readyReason =
    summary.conflicted > 0
      ? Reason.Conflict
      : summary.failed > 0
        ? Reason.JobFailed
        : summary.notFound > 0
          ? Reason.PhonesNotFound
          : summary.pending > 0
            ? Reason.JobsPending
            : summary.drifted > 0
              ? Reason.ApplyingRoute
              : Reason.PhonesNotRunning;
  const progress =
    summary.pending > 0
      ? Reason.JobsPending
      : summary.drifted > 0
        ? Reason.ApplyingRoute
        : summary.failed > 0
          ? Reason.JobFailed
          : summary.waiting > 0
            ? Reason.PhonesNotRunning
            : undefined;
  const set: ConditionSet = { ready: { status: 'False', reason: readyReason, message: counts } };
  if (progress) set.reconciling = { reason: progress, message: counts };
  else set.stalled = { reason: summary.conflicted > 0 ? Reason.Conflict : Reason.PhonesNotFound, message: counts };
  return set;
}

/**
 * The next status. Pure: same input, deep-equal output.
 * Long on purpose: entries, summary, bound, then the three conditions, each a few lines over the same input.
 */
export function nextStatus(input: StatusInput): CloudPhoneRouteStatus {
  const max = input.maxPhones ?? MAX_STATUS_PHONES;
  const now = formatTime(input.now);
  const previousEntries = new Map((input.previous?.phones ?? []).map((e) => [e.phoneId, e]));
  let entries: PhoneStatusEntry[];
  let summary: Summary;
  if (input.plan) {
    const suspended = input.plan.suspended;
    const eventsByPhone = new Map<string, PhoneEvent[]>();
    for (const event of input.events ?? []) {
      const list = eventsByPhone.get(event.phoneId);
      if (list) list.push(event);
      else eventsByPhone.set(event.phoneId, [event]);
    }
    entries = [];
    const states: PhoneEntryState[] = [];
    for (const phone of input.plan.phones) {
      const entry = entryFor(
        phone,
        previousEntries.get(phone.phoneId),
        eventsByPhone.get(phone.phoneId) ?? [],
        suspended,
        input.plan.key.slice(0, input.plan.key.indexOf('/')),
      );
      if (entry) {
        entry.lastTransitionTime ??= now;
        entries.push(canonicalEntry(entry));
        states.push(entry.state);
      }
    }
    summary = summaryOf(states, input.plan.phones.length);
  } else {
    // No plan this round: what was known stays as it was.
    entries = [...previousEntries.values()].map(canonicalEntry);
    summary = { ...emptySummary(), ...input.previous?.summary };
  }
  const failed = entries.filter((e) => e.state === 'Failed');
  const { kept, truncated } = boundEntries(entries, max, {
    pending: input.maxPendingPhones ?? MAX_STATUS_PENDING_PHONES,
    changed: input.maxChangedPhones ?? MAX_STATUS_CHANGED_PHONES,
  });
  const previousTruncated = input.plan ? 0 : (input.previous?.phonesTruncated ?? 0);

  const decided = decideConditions(
    summary,
    input.plan?.desired ?? input.desired ?? firstDesired(entries),
    failed,
    input,
  );
  const generation = input.generation;
  let conditions: Condition[] = setCondition(
    input.previous?.conditions,
    { type: ConditionType.Ready, ...decided.ready, observedGeneration: generation },
    input.now,
  );
  conditions = decided.reconciling
    ? setCondition(
        conditions,
        {
          type: ConditionType.Reconciling,
          status: 'True',
          ...decided.reconciling,
          message: clip(decided.reconciling.message, 32768),
          observedGeneration: generation,
        },
        input.now,
      )
    : removeCondition(conditions, ConditionType.Reconciling);
  conditions = decided.stalled
    ? setCondition(
        conditions,
        {
          type: ConditionType.Stalled,
          status: 'True',
          ...decided.stalled,
          message: clip(decided.stalled.message, 32768),
          observedGeneration: generation,
        },
        input.now,
      )
    : removeCondition(conditions, ConditionType.Stalled);

  return {
    observedGeneration: generation,
    conditions,
    summary,
    phones: kept,
    phonesTruncated: truncated + previousTruncated,
    pendingRequests: input.pendingRequests
      ? [...new Set(input.pendingRequests)].sort().slice(0, MAX_PENDING_REQUESTS)
      : [...(input.previous?.pendingRequests ?? [])],
  };
}

function firstDesired(entries: readonly PhoneStatusEntry[]): TrafficType | undefined {
  return entries.find((e) => e.desired)?.desired;
}

/**
 * Whether `next` differs from `previous` as the API server would store it (undefined fields ignored, key
 * order ignored, array order significant). False means: make no write.
 */
export function statusChanged(previous: CloudPhoneRouteStatus | undefined, next: CloudPhoneRouteStatus): boolean {
  // A walk, not two canonical JSON strings: every reconcile compares statuses of up to 100 phones.
  return !canonicalEqual(previous ?? {}, next);
}
