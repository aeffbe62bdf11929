/**
 * The plan: a pure function from what every CloudPhoneRoute of one CPH account wants, what the phones
 * actually are, and which route-change jobs are in flight, to the state of each selected phone and the
 * route changes to send. It is computed for a whole account at once because only there can conflicts
 * between resources be seen; the route writer coalesces the changes into calls.
 * The plan never sends a change that could do harm: not twice, not against a conflict, not to a phone that
 * is not running, and not again while a job for that phone is still running. Output is sorted, so the same
 * input always yields the same plan.
 *
 * Rules, per phone of a resource, first match wins:
 *  1. NotFound  the phone is not in the inventory.
 *  2. Conflict  the resource is live and acting (not suspended, not being deleted) and another live,
 *               acting resource wants the phone on a different route. Reported on every such resource;
 *               nothing is sent for the phone by anyone. Suspended resources neither cause nor see
 *               conflicts: they do not act, so the acting resource wins, and the suspended one reports
 *               the phone as drifted from its own wish.
 *  3. Released  the resource is being deleted with deletionPolicy Revert and a live resource (suspended or
 *               not) still selects the phone: it is left to that resource, never reverted. Counted as in
 *               sync.
 *  4. Pending   a route-change job for the phone is in flight, whatever route it sets. Nothing new is sent
 *               until it ends: a second job on a phone with one running is never useful (same route) or
 *               races it (other route; the drift is corrected on the round after the job ends). Also
 *               pending: a change whose outcome CPH's answer did not tell (`unconfirmed`): nothing is sent
 *               until the next sweep has read the phone again.
 *  5. InSync    the actual route is the wanted one.
 *  6. Failed    a recent change of the phone to the wanted route failed and the caller holds it back
 *               (`holds`, its retry backoff); not sent this round.
 *  7. Waiting   the phone is not known to run (CPH status other than 2: creating, resetting, restarting,
 *               frozen, stopping, stopped or failed; or no status reported). CPH does not document whether a
 *               route can change in those states, and a change may restart the phone, so it is not sent;
 *               the phone is changed on a later round once it runs.
 *  8. Drifted   off route; a change is sent if the resource acts (willChange). A route CPH did not report,
 *               or reported as a value that is neither direct nor routing, is off route: it is not the
 *               wanted one.
 * Who acts: a resource acts unless it is suspended or being deleted with deletionPolicy Retain; a resource
 * being deleted with Revert wants every phone on `direct`.
 */
import type { TrafficType } from '../cph/wire.js';
import type { DeletionPolicy, Summary } from '../api/v1alpha1/types.js';
import type { UnconfirmedChange } from './ports.js';
import { REVERT_TRAFFIC_TYPE } from '../api/v1alpha1/constants.js';

/** CPH phone status "running". */
export const PHONE_STATUS_RUNNING = 2;

/** What one CloudPhoneRoute wants, with its selector already resolved against the inventory. */
export interface DesiredRoute {
  /** namespace/name. */
  key: string;
  trafficType: TrafficType;
  /** Explicit IDs and selector matches; duplicates are ignored. */
  phoneIds: readonly string[];
  suspended: boolean;
  /** Set once metadata.deletionTimestamp is: the resource's deletionPolicy. */
  deleting?: DeletionPolicy;
}

/** A phone as the inventory saw it (src/controller/ports.ts ObservedPhone fits). */
export interface ActualPhone {
  /** undefined: CPH reported no route, or one that is neither direct nor routing (then in `unknownTrafficType`). */
  trafficType: TrafficType | undefined;
  unknownTrafficType?: string | undefined;
  /** CPH status code; 2 is running; undefined when CPH reported none (not known to run). */
  status: number | undefined;
  /** A change sent whose outcome CPH's answer did not tell; the phone is read again on the next sweep. */
  unconfirmed?: UnconfirmedChange | undefined;
}

/** A route-change job that has not ended yet. */
export interface InFlightJob {
  phoneId: string;
  jobId: string;
  requestId: string;
  /** The route the job sets. */
  trafficType: TrafficType;
}

/** A phone whose recent change to `trafficType` failed and that must not be re-sent yet. */
export interface RetryHold {
  phoneId: string;
  trafficType: TrafficType;
  errorCode?: string;
  errorMessage?: string;
  jobId?: string;
  requestId?: string;
}

export interface PlanInput {
  resources: readonly DesiredRoute[];
  /** Every phone of the account by phone ID; a phone absent here does not exist. */
  phones: ReadonlyMap<string, ActualPhone>;
  jobs?: readonly InFlightJob[];
  holds?: readonly RetryHold[];
}

export type PhonePlanState =
  | 'InSync'
  | 'Drifted'
  | 'Pending'
  | 'Failed'
  | 'NotFound'
  | 'Conflict'
  | 'Waiting'
  | 'Released';

export interface ConflictingClaim {
  key: string;
  trafficType: TrafficType;
}

export interface PhonePlan {
  phoneId: string;
  state: PhonePlanState;
  /** The route this resource wants for the phone. */
  desired: TrafficType;
  /** The route CPH reports, as it reports it (an unknown value too); absent when NotFound or not reported. */
  actual?: string;
  /** The CPH status code; absent when NotFound or not reported. */
  phoneStatus?: number;
  /** Pending: the job in flight. */
  job?: InFlightJob;
  /** Pending: a change whose outcome is not known until the next sweep. */
  unconfirmed?: UnconfirmedChange;
  /** Failed: the hold that keeps it back. */
  hold?: RetryHold;
  /** Conflict: the other resources and what they want; Released: the live resources that keep it. */
  claimedBy?: ConflictingClaim[];
}

export interface ResourcePlan {
  key: string;
  desired: TrafficType;
  /** Not suspended and not being deleted with Retain. */
  acting: boolean;
  suspended: boolean;
  deleting?: DeletionPolicy;
  /** Sorted by phone ID, one per selected phone. */
  phones: PhonePlan[];
  /** Counts by state; Released counts as inSync. */
  counts: Summary;
  /** The phones whose route this plan changes for this resource, sorted. */
  toChange: string[];
  /** Nothing left to do or wait for: every phone is InSync, Released or NotFound. */
  settled: boolean;
}

export interface Plan {
  /** Sorted by key. */
  resources: ResourcePlan[];
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function emptySummary(): Summary {
  return { total: 0, inSync: 0, drifted: 0, pending: 0, failed: 0, conflicted: 0, notFound: 0, waiting: 0 };
}

/** The Summary field a plan state counts under. */
export function summaryKeyOf(state: PhonePlanState): Exclude<keyof Summary, 'total'> {
  switch (state) {
    case 'InSync':
    case 'Released':
      return 'inSync';
    case 'Drifted':
      return 'drifted';
    case 'Pending':
      return 'pending';
    case 'Failed':
      return 'failed';
    case 'NotFound':
      return 'notFound';
    case 'Conflict':
      return 'conflicted';
    case 'Waiting':
      return 'waiting';
  }
}

function wantedRoute(resource: DesiredRoute): TrafficType {
  return resource.deleting === 'Revert' ? REVERT_TRAFFIC_TYPE : resource.trafficType;
}

function isActing(resource: DesiredRoute): boolean {
  return !resource.suspended && resource.deleting !== 'Retain';
}

/**
 * The plan for every resource of one CPH account. Pure and deterministic.
 * Long on purpose: the rules of the module comment applied in one pass over the phones, first match wins, in the
 * order listed there.
 */
export function planRoutes(input: PlanInput): Plan {
  const resources = [...input.resources].sort((a, b) => compare(a.key, b.key));
  for (let i = 1; i < resources.length; i++) {
    if (resources[i]!.key === resources[i - 1]!.key) throw new Error(`resource ${resources[i]!.key} is listed twice`);
  }
  // The default sort orders strings by UTF-16 code units, as `compare` does, without a call per comparison.
  const selections = resources.map((r) => [...new Set(r.phoneIds)].sort());

  // Claims of live resources (not being deleted): by phone, the acting ones and all of them.
  const actingClaims = new Map<string, ConflictingClaim[]>();
  const liveClaims = new Map<string, ConflictingClaim[]>();
  resources.forEach((resource, i) => {
    if (resource.deleting !== undefined) return;
    const claim = { key: resource.key, trafficType: resource.trafficType };
    for (const phoneId of selections[i]!) {
      push(liveClaims, phoneId, claim);
      if (isActing(resource)) push(actingClaims, phoneId, claim);
    }
  });
  const conflicted = new Set<string>();
  for (const [phoneId, claims] of actingClaims)
    if (claims.some((c) => c.trafficType !== claims[0]!.trafficType)) conflicted.add(phoneId);

  const jobs = new Map<string, InFlightJob>();
  for (const job of [...(input.jobs ?? [])].sort(
    (a, b) => compare(a.requestId, b.requestId) || compare(a.jobId, b.jobId),
  )) {
    if (!jobs.has(job.phoneId)) jobs.set(job.phoneId, job);
  }
  const holds = new Map<string, RetryHold>();
  for (const hold of input.holds ?? []) holds.set(`${hold.phoneId}\u0000${hold.trafficType}`, hold);

  // Route -> phones some resource will change to it.
  const changes = new Map<TrafficType, Set<string>>();
  const resourcePlans: ResourcePlan[] = resources.map((resource, i) => {
    const desired = wantedRoute(resource);
    const acting = isActing(resource);
    const live = resource.deleting === undefined;
    const counts = emptySummary();
    const phones: PhonePlan[] = [];
    const toChange: string[] = [];
    const others = (claims: ConflictingClaim[] | undefined): ConflictingClaim[] =>
      (claims ?? []).filter((c) => c.key !== resource.key);
    for (const phoneId of selections[i]!) {
      const actual = input.phones.get(phoneId);
      const plan: PhonePlan = { phoneId, state: 'Drifted', desired };
      if (actual) {
        const reported = actual.trafficType ?? actual.unknownTrafficType;
        if (reported !== undefined) plan.actual = reported;
        if (actual.status !== undefined) plan.phoneStatus = actual.status;
      }
      const job = jobs.get(phoneId);
      const hold = holds.size > 0 ? holds.get(`${phoneId}\u0000${desired}`) : undefined;
      if (!actual) {
        plan.state = 'NotFound';
      } else if (live && acting && conflicted.has(phoneId)) {
        plan.state = 'Conflict';
        plan.claimedBy = others(actingClaims.get(phoneId)).filter((c) => c.trafficType !== desired);
      } else if (resource.deleting === 'Revert' && liveClaims.has(phoneId)) {
        plan.state = 'Released';
        plan.claimedBy = others(liveClaims.get(phoneId));
      } else if (job) {
        plan.state = 'Pending';
        plan.job = job;
      } else if (actual.unconfirmed) {
        plan.state = 'Pending';
        plan.unconfirmed = actual.unconfirmed;
      } else if (actual.trafficType === desired) {
        plan.state = 'InSync';
      } else if (hold) {
        plan.state = 'Failed';
        plan.hold = hold;
      } else if (actual.status !== PHONE_STATUS_RUNNING) {
        plan.state = 'Waiting';
      } else {
        plan.state = 'Drifted';
        if (acting) {
          toChange.push(phoneId);
          const phonesOfRoute = changes.get(desired) ?? new Set<string>();
          changes.set(desired, phonesOfRoute.add(phoneId));
        }
      }
      counts[summaryKeyOf(plan.state)]++;
      counts.total++;
      phones.push(plan);
    }
    const settled = phones.every((p) => p.state === 'InSync' || p.state === 'Released' || p.state === 'NotFound');
    return {
      key: resource.key,
      desired,
      acting,
      suspended: resource.suspended,
      ...(resource.deleting === undefined ? {} : { deleting: resource.deleting }),
      phones,
      counts,
      toChange,
      settled,
    };
  });

  // A phone wanted on both routes cannot happen (that is a conflict, or a Revert released to a live
  // resource); should it anyway, sending neither is the safe answer.
  const routing = changes.get('routing');
  for (const phoneId of changes.get('direct') ?? [])
    if (routing?.has(phoneId))
      for (const plan of resourcePlans) plan.toChange = plan.toChange.filter((id) => id !== phoneId);
  return { resources: resourcePlans };
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
