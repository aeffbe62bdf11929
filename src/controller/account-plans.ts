/**
 * The plan of each CPH account, made once per state of the account and shared by every resource of it, and
 * the one place where the account's route changes are sent. Why here and not per resource: conflicts are
 * only seen across all resources, and a round (a sweep, a batch of ended jobs) wakes every resource of the
 * account; planning per reconcile cost R x (R + P) per round and spread the writes over R reconciles,
 * which let them out in small, late calls. Guarantees:
 *   - one plan per state: the state is the inventory's version, the tracker's version, the holds, and the
 *     spec-bearing metadata (generation, deletion, finalizer) of every resource bound to the account; status
 *     writes do not change it. Concurrent callers of one state share one build;
 *   - one send per plan: the first caller sends every acting resource's changes together (coalesced into
 *     calls of 100 by the route writer), the others wait for the same send. The resources whose phones were
 *     sent are requeued so their statuses follow;
 *   - a failed call is not re-sent from the same plan: the plan stays current, and reports the failure to its
 *     resources, until a backoff (1 s doubling to 60 s while calls keep failing) lets the next caller plan
 *     and send again;
 *   - a per-phone refusal inside a 200 puts the phone on hold once, whatever the number of resources wanting it;
 *   - sending while the sweep reads: each page of a sweep is planned as it arrives (a phone's plan needs only
 *     the phone and the resources that select it) and its changes go out as soon as they fill a call of 100;
 *     what does not fill one is left to the plan made after the sweep, so sending early costs no extra call.
 */
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import { API_VERSION, FINALIZER, KIND, MAX_PHONES_PER_CALL } from '../api/v1alpha1/constants.js';
import type { CloudPhoneRoute, CloudPhoneRouteSpec } from '../api/v1alpha1/types.js';
import type { PhoneScope } from '../api/v1alpha1/account-types.js';
import { phoneInScope } from '../api/v1alpha1/account-rules.js';
import type { TrafficType } from '../cph/wire.js';
import type { Account } from './accounts.js';
import type { InventorySnapshot } from './inventory.js';
import { planRoutes, type DesiredRoute, type InFlightJob, type ResourcePlan } from './plan.js';
import type { ObservedPhone } from './ports.js';
import type { RouteChange } from './route-writer.js';

/** One resource as the planner needs it, from the informer cache. */
export interface PlannedResource {
  route: CloudPhoneRoute;
  /** Changes when the spec, the deletion, the finalizer or the account object does (not on status writes). */
  stamp: string;
  /** The credential of its account object: its changes go out with it. */
  credentialId: string;
  /** Its account object's phoneScope: phones outside it are reported, never changed. */
  scope: PhoneScope;
}

export interface AccountPlanSources {
  /** The resources bound to an account, sorted. */
  owners(account: Account): readonly string[];
  /**
   * A resource by key; undefined when gone or unparseable. The same object while its stamp holds: the
   * planner tells a changed resource by a new object.
   */
  resource(key: string): PlannedResource | undefined;
}

/** Where Kubernetes Events about a resource go. */
export interface EventSink {
  record(
    regarding: { apiVersion: string; kind: string; name: string; namespace?: string; uid?: string },
    type: 'Normal' | 'Warning',
    reason: string,
    action: string,
    note: string,
  ): void;
}

/** The object reference an Event about a resource names. */
export function routeRef(route: CloudPhoneRoute): {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid?: string;
} {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: route.metadata.name,
    namespace: route.metadata.namespace,
    ...(route.metadata.uid ? { uid: route.metadata.uid } : {}),
  };
}

export interface AccountPlansOptions {
  sources: AccountPlanSources;
  events: EventSink;
  clock: Clock;
  logger: Logger;
  /** Resources to reconcile again (their phones were sent by another resource's round). */
  requeue?: (keys: Iterable<string>) => void;
  /** Told how many phones were sent a change. */
  onSent?: (phones: number) => void;
}

/** The plan of one account in one state. */
export interface AccountPlan {
  /** Each bound resource's part, by key. */
  readonly resources: ReadonlyMap<string, ResourcePlan>;
  /** Every change the plan sends, each with the resource that wants it. */
  readonly changes: readonly RouteChange[];
  /** The call error per resource when this plan's send failed for some of its phones. */
  readonly callErrors: ReadonlyMap<string, unknown>;
  /** Per resource, the phones it selects by ID that are outside its account's phoneScope, sorted. */
  readonly outOfScope: ReadonlyMap<string, readonly string[]>;
}

interface Entry extends AccountPlan {
  readonly state: string;
  /** What the plan was made from, so that a later one can redo only the resources of phones changed since. */
  readonly basis: PlanBasis;
  callErrors: Map<string, unknown>;
  /** When a failed send may be tried again from a new plan. */
  retryAt: number | undefined;
  sending: Promise<void> | undefined;
}

/** The inputs of a plan that, when unchanged, let the next plan redo only the resources of changed phones. */
interface PlanBasis {
  readonly snapshot: InventorySnapshot;
  /** The version of the resources bound to the account and their stamps. */
  readonly owners: number;
  readonly holds: string;
  /** The account's change sequence when the plan read the jobs and routes. */
  readonly sequence: number;
  /** Phones looked up one by one (an incomplete sweep): the plan is not a function of the snapshot alone. */
  readonly lookedUp: boolean;
}

const sendRetryBaseMs = 1_000;
const sendRetryMaxMs = 60_000;

/** Whether a spec's selector picks the phone (only phones in the scope); undefined without a selector. */
function selectorMatcher(
  spec: CloudPhoneRouteSpec,
  scope: PhoneScope,
): ((phone: ObservedPhone) => boolean) | undefined {
  const selector = spec.selector;
  if (!selector || !(selector.serverIds?.length || selector.phoneNamePrefix)) return undefined;
  const servers = selector.serverIds?.length ? new Set(selector.serverIds) : undefined;
  const prefix = selector.phoneNamePrefix;
  // A phone CPH listed without a server or a name never matches a selector (or a scope) that needs it.
  return (phone) =>
    (!servers || (phone.serverId !== undefined && servers.has(phone.serverId))) &&
    (!prefix || phone.phoneName?.startsWith(prefix) === true) &&
    phoneInScope(scope, phone);
}

/**
 * The phones a resource selects: its explicit IDs plus the inventory's phones matching its selector, within
 * its account's scope; explicit IDs of known phones outside the scope come back apart, to be reported.
 */
export function selectPhones(
  resource: Pick<PlannedResource, 'route' | 'scope'>,
  phones: ReadonlyMap<string, ObservedPhone>,
): { phoneIds: string[]; outOfScope: string[] } {
  const ids = new Set<string>();
  const outOfScope: string[] = [];
  for (const id of new Set(resource.route.spec.phoneIds ?? [])) {
    const phone = phones.get(id);
    if (phone && !phoneInScope(resource.scope, phone)) outOfScope.push(id);
    else ids.add(id);
  }
  const matches = selectorMatcher(resource.route.spec, resource.scope);
  if (matches) for (const phone of phones.values()) if (matches(phone)) ids.add(phone.phoneId);
  return { phoneIds: [...ids], outOfScope: outOfScope.sort() };
}

/** What a resource wants, for the plan, over the given phones. */
function desiredRoute(key: string, route: CloudPhoneRoute, phoneIds: readonly string[]): DesiredRoute {
  const deleting = route.metadata.deletionTimestamp ? (route.spec.deletionPolicy ?? 'Retain') : undefined;
  return {
    key,
    trafficType: route.spec.trafficType,
    phoneIds,
    suspended: route.spec.suspend === true,
    ...(deleting ? { deleting } : {}),
  };
}

/** The jobs in flight for the given phones. */
function jobsInFlight(account: Account, resources: readonly DesiredRoute[]): InFlightJob[] {
  const jobs: InFlightJob[] = [];
  const seen = new Set<string>();
  for (const resource of resources)
    for (const phoneId of resource.phoneIds) {
      if (seen.has(phoneId)) continue;
      seen.add(phoneId);
      const job = account.tracker.inFlight(phoneId);
      if (job)
        jobs.push({
          phoneId,
          jobId: job.jobId,
          requestId: job.requestId,
          trafficType: job.trafficType ?? resource.trafficType,
        });
    }
  return jobs;
}

/** Which resources of an account select which phones (for planning a page, or the resources of changed phones): explicit IDs by phone, and the resources with a selector. */
interface ClaimIndex {
  /** The version of the owners and their stamps it was made from. */
  readonly stamp: number;
  readonly byPhone: ReadonlyMap<string, ReadonlyArray<{ key: string; scope: PhoneScope }>>;
  readonly selecting: ReadonlyArray<{ key: string; matches: (phone: ObservedPhone) => boolean }>;
}

/**
 * Calls `claim` with each resource of the index that selects the phone within its scope (selectors and
 * scopes need the phone itself; an unknown phone is claimed by the resources naming it).
 */
function eachClaimant(
  index: ClaimIndex,
  phoneId: string,
  phone: ObservedPhone | undefined,
  claim: (key: string) => void,
): void {
  for (const { key, scope } of index.byPhone.get(phoneId) ?? []) if (!phone || phoneInScope(scope, phone)) claim(key);
  if (phone) for (const { key, matches } of index.selecting) if (matches(phone)) claim(key);
}

/** Changes read from the pages of one sweep that did not fill a call yet. */
interface EarlyChanges {
  readonly sweep: number;
  readonly byPhone: Map<string, RouteChange[]>;
}

/** The stamp of a resource's metadata that matters to a plan. */
export function planStamp(metadata: {
  generation?: number | undefined;
  resourceVersion?: string | undefined;
  deletionTimestamp?: string | undefined;
  finalizers?: readonly string[] | undefined;
}): string {
  // Without a generation (not set by every server), any change must count.
  const version = metadata.generation ? `g${metadata.generation}` : `rv${metadata.resourceVersion ?? ''}`;
  return `${version}:${metadata.deletionTimestamp ? 'deleting' : ''}:${metadata.finalizers?.includes(FINALIZER) ? 'f' : ''}`;
}

export class AccountPlans {
  // Keyed by the Account object, so that what an account no longer in use kept goes with it.
  private readonly current = new WeakMap<Account, Entry>();
  private readonly building = new WeakMap<Account, { state: string; promise: Promise<Entry> }>();
  /** Sends in a row that had a failed call, per account (for the retry backoff). */
  private readonly failedSends = new WeakMap<Account, number>();
  private readonly claimIndexes = new WeakMap<Account, ClaimIndex>();
  private readonly ownerStates = new WeakMap<
    Account,
    { owners: readonly string[]; resources: Array<PlannedResource | undefined>; version: number }
  >();
  private readonly early = new WeakMap<Account, EarlyChanges>();

  constructor(private readonly options: AccountPlansOptions) {}

  /** The account's plan for its current state: the one already made, or a new one (shared by concurrent callers). */
  async plan(account: Account): Promise<AccountPlan> {
    const snapshot = account.inventory.snapshot();
    if (!snapshot) throw new Error(`no phone inventory yet for ${account.description}`);
    const owners = this.ownersVersion(account);
    const state = this.stateOf(account, owners);
    const now = this.options.clock.now();
    const known = this.current.get(account);
    if (known && known.state === state && (known.retryAt === undefined || now < known.retryAt)) return known;
    const inProgress = this.building.get(account);
    if (inProgress && inProgress.state === state) return inProgress.promise;
    const promise = this.build(account, snapshot, state, owners).finally(() => {
      if (this.building.get(account)?.promise === promise) this.building.delete(account);
    });
    this.building.set(account, { state, promise });
    const entry = await promise;
    const latest = this.current.get(account);
    // A plan of the same state already made (and maybe sent) stays; an older one is replaced.
    if (latest && latest.state === state && latest !== entry && (latest.retryAt === undefined || now < latest.retryAt))
      return latest;
    this.current.set(account, entry);
    this.requeueNewConflicts(latest, entry);
    return entry;
  }

  /**
   * A conflict is reported on every resource in it: those whose conflicts a new plan changed are told, since
   * their own rounds may not come before the next sweep (a resource that was in sync has nothing to wait for).
   */
  private requeueNewConflicts(previous: AccountPlan | undefined, next: AccountPlan): void {
    const changed: string[] = [];
    for (const [key, resource] of next.resources)
      if ((previous?.resources.get(key)?.counts.conflicted ?? 0) !== resource.counts.conflicted) changed.push(key);
    if (changed.length > 0) this.options.requeue?.(changed);
  }

  /**
   * Sends the plan's changes unless that was done already; resolves when every call is answered (at once
   * when there is nothing to send). The resources with phones in it, other than `initiator`, are requeued.
   */
  send(account: Account, plan: AccountPlan, initiator: string): Promise<void> {
    const entry = plan as Entry;
    if (entry.changes.length === 0) return Promise.resolve();
    entry.sending ??= this.sendChanges(account, entry, initiator);
    return entry.sending;
  }

  private stateOf(account: Account, owners: number): string {
    return `i${account.inventory.version}|t${account.tracker.version}|h${account.holdsVersion}|o${owners}`;
  }

  /**
   * A number that changes when the account's resources or their stamps do. Every reconcile asks, so it is
   * told by identity (the owner list and each resource object stay the same while nothing changes) rather
   * than by a string of every resource's stamp, which made each reconcile O(R) in garbage.
   */
  private ownersVersion(account: Account): number {
    const { sources } = this.options;
    const owners = sources.owners(account);
    const known = this.ownerStates.get(account);
    if (known && known.owners === owners && owners.every((key, i) => sources.resource(key) === known.resources[i]))
      return known.version;
    const version = (known?.version ?? 0) + 1;
    this.ownerStates.set(account, { owners, resources: owners.map((key) => sources.resource(key)), version });
    return version;
  }

  private async build(account: Account, snapshot: InventorySnapshot, state: string, owners: number): Promise<Entry> {
    const holds = account.holdsVersion;
    const base = this.current.get(account);
    if (
      base &&
      base.basis.snapshot === snapshot &&
      base.basis.owners === owners &&
      base.basis.holds === holds &&
      !base.basis.lookedUp
    )
      return this.update(account, base, state, owners);
    const planned: Array<[string, PlannedResource]> = [];
    const missing = new Set<string>();
    for (const key of this.options.sources.owners(account)) {
      const resource = this.options.sources.resource(key);
      if (!resource) continue;
      planned.push([key, resource]);
      for (const id of resource.route.spec.phoneIds ?? []) if (!snapshot.phones.has(id)) missing.add(id);
    }
    // Phones named explicitly but missing from an incomplete sweep get a detail call (bounded by the
    // inventory); after a complete sweep they do not exist and cost nothing.
    let phones: ReadonlyMap<string, ObservedPhone> = snapshot.phones;
    const lookedUp = missing.size > 0 && !snapshot.complete;
    if (lookedUp) {
      const found = await Promise.all([...missing].map((id) => account.inventory.lookup(id)));
      const withFound = new Map<string, ObservedPhone>(snapshot.phones);
      for (const phone of found) if (phone) withFound.set(phone.phoneId, phone);
      phones = withFound;
    }
    const desired: DesiredRoute[] = [];
    const outOfScope = new Map<string, readonly string[]>();
    for (const [key, resource] of planned) {
      const selection = selectPhones(resource, phones);
      desired.push(desiredRoute(key, resource.route, selection.phoneIds));
      if (selection.outOfScope.length > 0) outOfScope.set(key, selection.outOfScope);
    }
    const sequence = account.changeSequence;
    const plan = planRoutes({
      resources: desired,
      phones,
      jobs: jobsInFlight(account, desired),
      holds: account.activeHolds(),
    });
    this.options.logger.debug('account planned', { account: account.description, resources: plan.resources.length });
    return this.entry(
      state,
      { snapshot, owners, holds, sequence, lookedUp },
      new Map(plan.resources.map((r) => [r.key, r])),
      outOfScope,
    );
  }

  /**
   * The plan of a new state that differs from `base` only in jobs and known routes of some phones: the
   * resources that select those phones are planned again, with every other resource selecting a phone of
   * theirs (conflicts are decided among all of a phone's claimants); the others keep their part. Finished
   * jobs of a large batch come back a page at a time, and planning the whole account for each page cost
   * more CPU than everything else the operator does.
   */
  private update(account: Account, base: Entry, state: string, owners: number): Entry {
    const sequence = account.changeSequence;
    const changed = account.phonesChangedSince(base.basis.sequence);
    const snapshot = base.basis.snapshot;
    const index = this.claimIndex(account, owners);
    const affected = new Set<string>();
    for (const phoneId of changed)
      eachClaimant(index, phoneId, snapshot.phones.get(phoneId), (key) => affected.add(key));
    const involved = new Set(affected);
    for (const key of affected)
      for (const phone of base.resources.get(key)?.phones ?? [])
        eachClaimant(index, phone.phoneId, snapshot.phones.get(phone.phoneId), (other) => involved.add(other));
    const desired: DesiredRoute[] = [];
    for (const key of involved) {
      const route = this.options.sources.resource(key)?.route;
      const selected = base.resources.get(key)?.phones;
      // The selection only changes with a sweep or a stamp, and neither did.
      if (route && selected)
        desired.push(
          desiredRoute(
            key,
            route,
            selected.map((phone) => phone.phoneId),
          ),
        );
    }
    const resources = new Map(base.resources);
    if (desired.length > 0) {
      const plan = planRoutes({
        resources: desired,
        phones: snapshot.phones,
        jobs: jobsInFlight(account, desired),
        holds: account.activeHolds(),
      });
      for (const resource of plan.resources) resources.set(resource.key, resource);
    }
    this.options.logger.debug('account plan updated', {
      account: account.description,
      phones: changed.length,
      resources: desired.length,
    });
    // The selection (and so what is out of scope) only changes with a sweep or a stamp.
    return this.entry(state, { ...base.basis, sequence }, resources, base.outOfScope);
  }

  private entry(
    state: string,
    basis: PlanBasis,
    resources: Map<string, ResourcePlan>,
    outOfScope: ReadonlyMap<string, readonly string[]>,
  ): Entry {
    const changes: RouteChange[] = [];
    for (const resource of resources.values()) {
      const credentialId = this.options.sources.resource(resource.key)?.credentialId;
      if (credentialId === undefined) continue;
      for (const phoneId of resource.toChange)
        changes.push({ phoneId, trafficType: resource.desired, owner: resource.key, credentialId });
    }
    return {
      state,
      basis,
      resources,
      changes,
      callErrors: new Map(),
      outOfScope,
      retryAt: undefined,
      sending: undefined,
    };
  }

  /**
   * Plans the phones of one page of a sweep in progress and sends their changes in full calls of 100; the
   * rest waits for the plan made after the sweep (or for later pages of the same sweep to fill a call).
   * Nothing is sent early while the account's sends are failing: the plan's backoff decides then.
   */
  async pageRead(account: Account, phones: readonly ObservedPhone[], sweep: number): Promise<void> {
    if ((this.failedSends.get(account) ?? 0) > 0 || phones.length === 0) return;
    let early = this.early.get(account);
    if (early?.sweep !== sweep) this.early.set(account, (early = { sweep, byPhone: new Map() }));
    const desired = this.claimantsOf(account, phones);
    if (desired.length === 0) return;
    const page = new Map(phones.map((phone) => [phone.phoneId, phone]));
    const plan = planRoutes({
      resources: desired,
      phones: page,
      jobs: jobsInFlight(account, desired),
      holds: account.activeHolds(),
    });
    for (const resource of plan.resources) {
      const credentialId = this.options.sources.resource(resource.key)?.credentialId;
      if (credentialId === undefined) continue;
      for (const phoneId of resource.toChange) {
        const change: RouteChange = { phoneId, trafficType: resource.desired, owner: resource.key, credentialId };
        const known = early.byPhone.get(phoneId);
        if (!known) early.byPhone.set(phoneId, [change]);
        else if (!known.some((c) => c.owner === change.owner)) known.push(change);
      }
    }
    const full = takeFullCalls(early.byPhone);
    if (full.length > 0) await this.deliver(account, full, undefined);
  }

  /** Which resources of the account select which phones, made again when the resources or their stamps change. */
  private claimIndex(account: Account, stamp: number): ClaimIndex {
    const { sources } = this.options;
    const known = this.claimIndexes.get(account);
    if (known?.stamp === stamp) return known;
    const byPhone = new Map<string, Array<{ key: string; scope: PhoneScope }>>();
    const selecting: Array<{ key: string; matches: (phone: ObservedPhone) => boolean }> = [];
    for (const key of sources.owners(account)) {
      const resource = sources.resource(key);
      if (!resource) continue;
      const { route, scope } = resource;
      for (const phoneId of new Set(route.spec.phoneIds ?? [])) {
        const claims = byPhone.get(phoneId);
        if (claims) claims.push({ key, scope });
        else byPhone.set(phoneId, [{ key, scope }]);
      }
      const matches = selectorMatcher(route.spec, scope);
      if (matches) selecting.push({ key, matches });
    }
    const index = { stamp, byPhone, selecting };
    this.claimIndexes.set(account, index);
    return index;
  }

  /** The resources of the account that select any of the phones, each over those phones only. */
  private claimantsOf(account: Account, phones: readonly ObservedPhone[]): DesiredRoute[] {
    const index = this.claimIndex(account, this.ownersVersion(account));
    const selected = new Map<string, Set<string>>();
    const claim = (key: string, phoneId: string): void => {
      const ids = selected.get(key);
      if (ids) ids.add(phoneId);
      else selected.set(key, new Set([phoneId]));
    };
    for (const phone of phones) eachClaimant(index, phone.phoneId, phone, (key) => claim(key, phone.phoneId));
    const desired: DesiredRoute[] = [];
    for (const [key, ids] of selected) {
      const route = this.options.sources.resource(key)?.route;
      if (route) desired.push(desiredRoute(key, route, [...ids]));
    }
    return desired;
  }

  private async sendChanges(account: Account, entry: Entry, initiator: string): Promise<void> {
    const failures = await this.deliver(account, entry.changes, initiator);
    for (const [key, error] of failures) entry.callErrors.set(key, error);
    const failedInARow = this.failedSends.get(account) ?? 0;
    if (failures.size > 0)
      entry.retryAt = this.options.clock.now() + Math.min(sendRetryMaxMs, sendRetryBaseMs * 2 ** (failedInARow - 1));
  }

  /**
   * Sends changes, tells their resources (Events, holds for refused phones, a requeue for all but
   * `initiator`), and counts failed sends in a row. Returns the call error per resource.
   */
  private async deliver(
    account: Account,
    changes: readonly RouteChange[],
    initiator: string | undefined,
  ): Promise<Map<string, unknown>> {
    const callErrors = new Map<string, unknown>();
    const results = await account.writer.submit(changes);
    const byOwner = new Map<
      string,
      { trafficType: TrafficType; sent: number; unconfirmed: number; requestIds: Set<string>; refused: string[] }
    >();
    const held = new Set<string>();
    const sentPhones = new Set<string>();
    results.forEach((result, i) => {
      const change = changes[i]!;
      let owner = byOwner.get(change.owner);
      if (!owner)
        byOwner.set(
          change.owner,
          (owner = { trafficType: change.trafficType, sent: 0, unconfirmed: 0, requestIds: new Set(), refused: [] }),
        );
      if (result.unconfirmed) {
        owner.unconfirmed += 1;
        if (result.requestId) owner.requestIds.add(result.requestId);
        account.inventory.markUnconfirmed(result.phoneId, {
          trafficType: result.trafficType,
          ...(result.jobId ? { jobId: result.jobId } : {}),
          ...(result.requestId ? { requestId: result.requestId } : {}),
        });
      } else if (result.jobId && result.requestId) {
        owner.sent += 1;
        owner.requestIds.add(result.requestId);
        sentPhones.add(result.phoneId);
      } else if (result.errorCode && result.errorCode !== 'Superseded') {
        if (!held.has(result.phoneId)) {
          held.add(result.phoneId);
          account.hold({
            phoneId: result.phoneId,
            trafficType: result.trafficType,
            errorCode: result.errorCode,
            errorMessage: result.errorMessage ?? '',
            ...(result.requestId ? { requestId: result.requestId } : {}),
          });
        }
        owner.refused.push(`Phone ${result.phoneId}: ${result.errorCode} ${result.errorMessage ?? ''}`.trim());
      } else if (result.callError !== undefined) {
        callErrors.set(change.owner, result.callError);
      }
    });
    if (sentPhones.size > 0) this.options.onSent?.(sentPhones.size);
    for (const [key, owner] of byOwner) {
      const route = this.options.sources.resource(key)?.route;
      if (!route) continue;
      const ref = routeRef(route);
      if (owner.sent > 0)
        this.options.events.record(
          ref,
          'Normal',
          'ApplyingRoute',
          'ChangeRoute',
          `Changing the route of ${owner.sent} phone(s) to ${owner.trafficType} (CPH request ${[...owner.requestIds].join(', ')})`,
        );
      if (owner.unconfirmed > 0)
        this.options.events.record(
          ref,
          'Warning',
          'ApplyingRoute',
          'ChangeRoute',
          `CPH's answer did not say what became of the change to ${owner.trafficType} of ${owner.unconfirmed} phone(s) (no job or error, or no request ID to follow the job by); they are read again on the next sweep`,
        );
      for (const note of owner.refused) this.options.events.record(ref, 'Warning', 'JobFailed', 'ChangeRoute', note);
    }
    if (callErrors.size > 0) this.failedSends.set(account, (this.failedSends.get(account) ?? 0) + 1);
    else this.failedSends.delete(account);
    this.options.requeue?.([...byOwner.keys()].filter((key) => key !== initiator));
    return callErrors;
  }
}

/** Takes out of `pending` the changes that fill whole calls of 100 phones of one route, oldest first. */
function takeFullCalls(pending: Map<string, RouteChange[]>): RouteChange[] {
  const taken: RouteChange[] = [];
  for (const trafficType of ['direct', 'routing'] as const) {
    const phones = [...pending].filter(([, changes]) => changes[0]?.trafficType === trafficType);
    for (let start = 0; start + MAX_PHONES_PER_CALL <= phones.length; start += MAX_PHONES_PER_CALL)
      for (const [phoneId, changes] of phones.slice(start, start + MAX_PHONES_PER_CALL)) {
        pending.delete(phoneId);
        taken.push(...changes);
      }
  }
  return taken;
}
