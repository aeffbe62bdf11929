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
 *   - a per-phone refusal inside a 200 puts the phone on hold once, whatever the number of resources wanting it.
 */
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import { API_VERSION, FINALIZER, KIND } from '../api/v1alpha1/constants.js';
import type { CloudPhoneRoute, CloudPhoneRouteSpec } from '../api/v1alpha1/types.js';
import type { TrafficType } from '../cph/wire.js';
import type { Account } from './accounts.js';
import type { InventorySnapshot } from './inventory.js';
import { planRoutes, type ActualPhone, type DesiredRoute, type InFlightJob, type ResourcePlan } from './plan.js';
import type { ObservedPhone } from './ports.js';
import type { RouteChange } from './route-writer.js';

/** One resource as the planner needs it, from the informer cache. */
export interface PlannedResource {
  route: CloudPhoneRoute;
  /** Changes when the spec, the deletion or the finalizer does (not on status writes). */
  stamp: string;
}

export interface AccountPlanSources {
  /** The resources bound to an account, sorted. */
  owners(account: Account): readonly string[];
  /** A resource by key; undefined when gone or unparseable. */
  resource(key: string): PlannedResource | undefined;
}

/** Where Kubernetes Events about a resource go. */
export interface EventSink {
  record(regarding: { apiVersion: string; kind: string; name: string; namespace?: string; uid?: string }, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void;
}

/** The object reference an Event about a resource names. */
export function routeRef(route: CloudPhoneRoute): { apiVersion: string; kind: string; name: string; namespace: string; uid?: string } {
  return { apiVersion: API_VERSION, kind: KIND, name: route.metadata.name, namespace: route.metadata.namespace, ...(route.metadata.uid ? { uid: route.metadata.uid } : {}) };
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
}

interface Entry extends AccountPlan {
  readonly state: string;
  callErrors: Map<string, unknown>;
  /** When a failed send may be tried again from a new plan. */
  retryAt: number | undefined;
  sending: Promise<void> | undefined;
}

const sendRetryBaseMs = 1_000;
const sendRetryMaxMs = 60_000;

/** The phones a spec selects: its explicit IDs plus the inventory's phones matching its selector. */
export function selectPhones(spec: CloudPhoneRouteSpec, snapshot: InventorySnapshot): string[] {
  const ids = new Set(spec.phoneIds ?? []);
  const selector = spec.selector;
  if (selector && (selector.serverIds?.length || selector.phoneNamePrefix)) {
    const servers = selector.serverIds?.length ? new Set(selector.serverIds) : undefined;
    const prefix = selector.phoneNamePrefix;
    for (const phone of snapshot.phones.values() as Iterable<ObservedPhone>) {
      if (servers && !servers.has(phone.serverId)) continue;
      if (prefix && !phone.phoneName.startsWith(prefix)) continue;
      ids.add(phone.phoneId);
    }
  }
  return [...ids];
}

/** The stamp of a resource's metadata that matters to a plan. */
export function planStamp(metadata: { generation?: number | undefined; resourceVersion?: string | undefined; deletionTimestamp?: string | undefined; finalizers?: readonly string[] | undefined }): string {
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

  constructor(private readonly options: AccountPlansOptions) {}

  /** The account's plan for its current state: the one already made, or a new one (shared by concurrent callers). */
  async plan(account: Account): Promise<AccountPlan> {
    const snapshot = account.inventory.snapshot();
    if (!snapshot) throw new Error(`no phone inventory yet for ${account.description}`);
    const state = this.stateOf(account);
    const now = this.options.clock.now();
    const known = this.current.get(account);
    if (known && known.state === state && (known.retryAt === undefined || now < known.retryAt)) return known;
    const inProgress = this.building.get(account);
    if (inProgress && inProgress.state === state) return inProgress.promise;
    const promise = this.build(account, snapshot, state).finally(() => {
      if (this.building.get(account)?.promise === promise) this.building.delete(account);
    });
    this.building.set(account, { state, promise });
    const entry = await promise;
    const latest = this.current.get(account);
    // A plan of the same state already made (and maybe sent) stays; an older one is replaced.
    if (latest && latest.state === state && latest !== entry && (latest.retryAt === undefined || now < latest.retryAt)) return latest;
    this.current.set(account, entry);
    return entry;
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

  private stateOf(account: Account): string {
    const parts = [`i${account.inventory.version}`, `t${account.tracker.version}`, `h${account.holdsVersion}`];
    for (const key of this.options.sources.owners(account)) parts.push(`${key}=${this.options.sources.resource(key)?.stamp ?? 'gone'}`);
    return parts.join('|');
  }

  private async build(account: Account, snapshot: InventorySnapshot, state: string): Promise<Entry> {
    const desired: DesiredRoute[] = [];
    const missing = new Set<string>();
    for (const key of this.options.sources.owners(account)) {
      const route = this.options.sources.resource(key)?.route;
      if (!route) continue;
      const deleting = route.metadata.deletionTimestamp ? (route.spec.deletionPolicy ?? 'Retain') : undefined;
      desired.push({ key, trafficType: route.spec.trafficType, phoneIds: selectPhones(route.spec, snapshot), suspended: route.spec.suspend === true, ...(deleting ? { deleting } : {}) });
      for (const id of route.spec.phoneIds ?? []) if (!snapshot.phones.has(id)) missing.add(id);
    }
    // Phones named explicitly but missing from an incomplete sweep get a detail call (bounded by the
    // inventory); after a complete sweep they do not exist and cost nothing.
    let phones: ReadonlyMap<string, ActualPhone> = snapshot.phones;
    if (missing.size > 0 && !snapshot.complete) {
      const found = await Promise.all([...missing].map((id) => account.inventory.lookup(id)));
      const withFound = new Map<string, ActualPhone>(snapshot.phones);
      for (const phone of found) if (phone) withFound.set(phone.phoneId, phone);
      phones = withFound;
    }
    const jobs: InFlightJob[] = [];
    const seen = new Set<string>();
    for (const resource of desired)
      for (const phoneId of resource.phoneIds) {
        if (seen.has(phoneId)) continue;
        seen.add(phoneId);
        const job = account.tracker.inFlight(phoneId);
        if (job) jobs.push({ phoneId, jobId: job.jobId, requestId: job.requestId, trafficType: job.trafficType ?? resource.trafficType });
      }
    const plan = planRoutes({ resources: desired, phones, jobs, holds: account.activeHolds() });
    const changes: RouteChange[] = [];
    for (const resource of plan.resources) for (const phoneId of resource.toChange) changes.push({ phoneId, trafficType: resource.desired, owner: resource.key });
    this.options.logger.debug('account planned', { account: account.description, resources: plan.resources.length, changes: changes.length });
    return { state, resources: new Map(plan.resources.map((r) => [r.key, r])), changes, callErrors: new Map(), retryAt: undefined, sending: undefined };
  }

  private async sendChanges(account: Account, entry: Entry, initiator: string): Promise<void> {
    const results = await account.writer.submit(entry.changes);
    const byOwner = new Map<string, { trafficType: TrafficType; sent: number; requestIds: Set<string>; refused: string[] }>();
    const held = new Set<string>();
    const sentPhones = new Set<string>();
    results.forEach((result, i) => {
      const change = entry.changes[i]!;
      let owner = byOwner.get(change.owner);
      if (!owner) byOwner.set(change.owner, (owner = { trafficType: change.trafficType, sent: 0, requestIds: new Set(), refused: [] }));
      if (result.jobId && result.requestId) {
        owner.sent += 1;
        owner.requestIds.add(result.requestId);
        sentPhones.add(result.phoneId);
      } else if (result.errorCode && result.errorCode !== 'Superseded') {
        if (!held.has(result.phoneId)) {
          held.add(result.phoneId);
          account.hold({ phoneId: result.phoneId, trafficType: result.trafficType, errorCode: result.errorCode, errorMessage: result.errorMessage ?? '', ...(result.requestId ? { requestId: result.requestId } : {}) });
        }
        owner.refused.push(`Phone ${result.phoneId}: ${result.errorCode} ${result.errorMessage ?? ''}`.trim());
      } else if (result.callError !== undefined) {
        entry.callErrors.set(change.owner, result.callError);
      }
    });
    if (sentPhones.size > 0) this.options.onSent?.(sentPhones.size);
    for (const [key, owner] of byOwner) {
      const route = this.options.sources.resource(key)?.route;
      if (!route) continue;
      const ref = routeRef(route);
      if (owner.sent > 0) this.options.events.record(ref, 'Normal', 'ApplyingRoute', 'ChangeRoute', `Changing the route of ${owner.sent} phone(s) to ${owner.trafficType} (CPH request ${[...owner.requestIds].join(', ')})`);
      for (const note of owner.refused) this.options.events.record(ref, 'Warning', 'JobFailed', 'ChangeRoute', note);
    }
    if (entry.callErrors.size > 0) {
      const failures = (this.failedSends.get(account) ?? 0) + 1;
      this.failedSends.set(account, failures);
      entry.retryAt = this.options.clock.now() + Math.min(sendRetryMaxMs, sendRetryBaseMs * 2 ** (failures - 1));
    } else {
      this.failedSends.delete(account);
    }
    this.options.requeue?.([...byOwner.keys()].filter((key) => key !== initiator));
  }
}
