/**
 * Reconciles one CloudPhoneRoute. Level-based: the key says which resource; the reconciler reads it, acts,
 * and writes its status once at the end. Nothing here knows about watches, queues or leaders, and nothing
 * is remembered here between rounds: written statuses live in the status writer, parsed peers in the route
 * index, job outcomes and adoptions in each account's job tracker, outages on the account.
 *
 * One round, top-down (`reconcile`):
 *   1. read the resource from the informer cache; gone → release what it held;
 *   2. parse the spec (an invalid one is reported, not retried);
 *   3. finalizer: add or remove it (held only while deletionPolicy is Revert), or let a deletion go;
 *   4. bind the account (`bindAccount`): the account object, whether the namespace may use it, its
 *      credentials (checked with a list call before first use), the CPH account of its endpoint and project;
 *   5. plan and send (`planAndSend`): adopt the jobs a previous process left running, take the inventory
 *      snapshot and the account's plan, send its changes (every resource's at once);
 *   6. compute the next status once (`nextStatus`, pure) from what the steps learnt, and write it once.
 * A new value of the reconcile-requested-at annotation makes step 5 wait for a new sweep (shared by the
 * requests that come together) and is reported handled in status.lastHandledReconcileAt; a resource back in
 * sync gets a Normal Event InSync.
 * Before the first round, every resource in the cache is bound and its running jobs adopted (`prime`), so
 * the first plan sees the whole account and re-sends nothing.
 */
import type { Logger } from '../runtime/logger.js';
import type { Clock } from '../runtime/clock.js';
import type { Reconciler, ReconcileResult } from '../runtime/reconcile.js';
import { OperatorError, ParseError, errorMessage } from '../errors.js';
import { parseCloudPhoneRoute, parseDuration, parseStatus, revertTimeoutMs } from '../api/v1alpha1/parse.js';
import { DEFAULT_REVERT_TIMEOUT, FINALIZER } from '../api/v1alpha1/constants.js';
import { ConditionType, Reason, findCondition, formatTime } from '../api/v1alpha1/conditions.js';
import type { CloudPhoneRoute, CloudPhoneRouteStatus, DeletionPolicy, Summary } from '../api/v1alpha1/types.js';
import { isCphError } from '../cph/errors.js';
import { AccountError, type Account, type AccountRegistry } from './accounts.js';
import type { AccountDirectory } from './account-directory.js';
import type { AccountConfig } from './account-config.js';
import { AccountPlans, routeRef, type EventSink } from './account-plans.js';
import { classifyFailure, stalls, type RoundFailure } from './failure.js';
import type { ResourcePlan } from './plan.js';
import type { ObservedPhone } from './ports.js';
import { RouteIndex, readMetadata, type RouteCache, type RouteMetadata } from './route-index.js';
import { nextStatus, statusChanged, type PhoneEvent } from './status.js';

export type { EventSink } from './account-plans.js';
export type { RouteCache } from './route-index.js';
export { classifyFailure } from './failure.js';

/** How long a reconcile after a restart waits for the first poll of the jobs it adopts. */
const adoptionWaitMs = 30_000;
/** The Event reason when a deletion gives up its revert at spec.revertTimeout. */
const REVERT_ABANDONED_REASON = 'RevertAbandoned';
/** How soon a deletion whose revert round failed is looked at again (at most; its deadline if sooner). */
const revertRetryMs = 30_000;
/** A sweep begun this long before a reconcile request answers it, so requests made together share one sweep. */
const reconcileRequestCoalesceMs = 1_000;

/** The writes the reconciler makes to Kubernetes, and the one memory of the statuses it wrote. */
export interface RouteUpdater {
  /** The status of a cached object as it stands, counting our own write the cache has not seen yet. */
  currentStatus(raw: object): unknown;
  /** Merge-patches /status; a no-op is never asked for. */
  patchStatus(namespace: string, name: string, status: CloudPhoneRouteStatus): Promise<void>;
  /** Replaces metadata.finalizers (optimistic on resourceVersion). */
  setFinalizers(
    namespace: string,
    name: string,
    resourceVersion: string | undefined,
    finalizers: string[],
  ): Promise<void>;
  /** The resource is gone: drop what is remembered of its writes. */
  forget(key: string): void;
}

export interface ReconcilerMetrics {
  phonesByState(key: string, summary: Summary | undefined): void;
  driftCorrections(count: number): void;
}

export interface RouteReconcilerOptions {
  cache: RouteCache;
  updater: RouteUpdater;
  accounts: AccountRegistry;
  directory: AccountDirectory;
  events: EventSink;
  clock: Clock;
  logger: Logger;
  metrics?: ReconcilerMetrics;
  /** Drift interval of resources that set none. */
  defaultDriftIntervalMs: number;
  /** How soon a resource whose credentials or account are unusable is looked at again. */
  accountRetryMs?: number;
  /** Reconciles these resources again (their phones were changed by another resource's round). */
  requeue?: (keys: Iterable<string>) => void;
}

/** A round failed in a way that is retried with the queue's backoff; the status already says why. */
export class RoundFailedError extends OperatorError {
  constructor(reason: string, options: { cause?: unknown }) {
    super(`RoundFailed.${reason}`, `round failed: ${reason}`, options);
  }
}

/** A deletion with Revert waits for the phones until `deadline` (deletionTimestamp + spec.revertTimeout). */
interface RevertDeadline {
  deadline: number;
  /** spec.revertTimeout as written. */
  timeout: string;
}

/** The resource a round is about, as read at its start. */
interface Round {
  key: string;
  meta: RouteMetadata;
  route: CloudPhoneRoute;
  previous: CloudPhoneRouteStatus | undefined;
  revert: RevertDeadline | undefined;
  intervalMs: number;
  /** When the round started (ms), for the log. */
  started: number;
}

/** What the steps of a round learnt, for the status and the result. */
interface Learnt {
  account?: Account;
  config?: AccountConfig;
  /** This resource's part of the account plan. */
  plan?: ResourcePlan;
  /** Phones it names outside its account's phoneScope. */
  outOfScope?: readonly string[];
  failure?: RoundFailure;
  /** The error behind `failure`, when one was thrown. */
  error?: unknown;
  /** Look again after this long instead of failing into the queue's backoff. */
  retryAfterMs?: number;
}

/**
 * What the finalizer rules ask of a resource before a round: 'toggle' its finalizer first (it is held only
 * while deletionPolicy is Revert), 'release' it (being deleted with Retain, without our finalizer, or
 * suspended: it goes without a revert), or 'act'.
 */
function finalizerStep(spec: CloudPhoneRoute['spec'], meta: RouteMetadata): 'act' | 'toggle' | 'release' {
  const revert = spec.deletionPolicy === 'Revert';
  const hasFinalizer = meta.finalizers.includes(FINALIZER);
  if (!meta.deletionTimestamp) return revert !== hasFinalizer ? 'toggle' : 'act';
  return !revert || !hasFinalizer || spec.suspend === true ? 'release' : 'act';
}

function revertDeadlineOf(spec: CloudPhoneRoute['spec'], meta: RouteMetadata): RevertDeadline | undefined {
  if (!meta.deletionTimestamp || (spec.deletionPolicy ?? 'Retain') !== 'Revert') return undefined;
  return {
    deadline: Date.parse(meta.deletionTimestamp) + revertTimeoutMs(spec),
    timeout: spec.revertTimeout ?? DEFAULT_REVERT_TIMEOUT,
  };
}

/** A round failure during a deletion with Revert says until when the deletion waits for the revert. */
function withRevertDeadline(failure: RoundFailure, revert: RevertDeadline | undefined): RoundFailure {
  if (!revert) return failure;
  return {
    ...failure,
    message: `${failure.message}; the deletion waits for the revert until ${formatTime(revert.deadline)} (spec.revertTimeout ${revert.timeout}), then lets the resource go without it`,
  };
}

/** `delayMs`, or less so that a deletion is looked at again when its revert deadline passes. */
function untilRevertDeadline(delayMs: number, revert: RevertDeadline | undefined, now: number): number {
  return revert ? Math.max(50, Math.min(delayMs, revert.deadline - now + 50)) : delayMs;
}

/** Job ends as status events. */
function jobEvents(plan: ResourcePlan, account: Account, key: string): PhoneEvent[] {
  return account.tracker
    .newOutcomes(
      key,
      plan.phones.map((phone) => phone.phoneId),
    )
    .map((outcome) => ({
      kind: 'jobEnded' as const,
      phoneId: outcome.phoneId,
      trafficType: outcome.trafficType ?? plan.desired,
      requestId: outcome.requestId,
      jobId: outcome.jobId,
      state: outcome.state,
      ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
      ...(outcome.errorMessage ? { errorMessage: outcome.errorMessage } : {}),
    }));
}

/** The request IDs a status says are still running (to adopt after a restart). */
function runningRequests(status: CloudPhoneRouteStatus | undefined): Set<string> {
  return new Set([
    ...(status?.pendingRequests ?? []),
    ...(status?.phones ?? []).flatMap((p) => (p.jobStatus === 'Running' && p.requestId ? [p.requestId] : [])),
  ]);
}

export class RouteReconciler implements Reconciler {
  private readonly index: RouteIndex;
  private readonly plans: AccountPlans;
  /** Binding every cached resource to its account and adopting its jobs, once per process, before the first plan. */
  private primed: Promise<void> | undefined;

  constructor(private readonly options: RouteReconcilerOptions) {
    this.index = new RouteIndex({ cache: options.cache, bindingOf: (key) => options.accounts.binding(key) });
    this.plans = new AccountPlans({
      sources: { owners: (account) => options.accounts.owners(account), resource: (key) => this.index.get(key) },
      events: options.events,
      clock: options.clock,
      logger: options.logger,
      ...(options.requeue ? { requeue: options.requeue } : {}),
      onSent: (phones) => options.metrics?.driftCorrections(phones),
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const started = this.options.clock.now();
    // 1. Read.
    const raw = this.options.cache.get(key);
    const meta = readMetadata(raw);
    if (!raw || !meta) return this.release(key);
    const previous = this.previousStatus(raw as object);
    // 2. Parse.
    let route: CloudPhoneRoute;
    try {
      route = parseCloudPhoneRoute(raw);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      return this.invalidSpec(key, meta, previous, error);
    }
    // 3. Finalizer.
    const step = finalizerStep(route.spec, meta);
    if (step === 'toggle') return this.toggleFinalizer(meta);
    if (step === 'release') {
      if (meta.finalizers.includes(FINALIZER)) await this.removeFinalizer(meta);
      return this.release(key);
    }
    const intervalMs = this.intervalOf(route.spec);
    const revert = revertDeadlineOf(route.spec, meta);
    this.primed ??= this.prime();
    await this.primed;
    // 4. Account. 5. Plan and send.
    const bound = await this.bindAccount(key, meta.namespace, route.spec, intervalMs, revert);
    const learnt: Learnt = bound.account
      ? { ...bound, ...(await this.planAndSend(key, meta, bound.account, intervalMs, previous, revert)) }
      : bound;
    // 6. Status and result.
    return this.conclude({ key, meta, route, previous, revert, intervalMs, started }, learnt);
  }

  /**
   * Step 6: from what the round learnt, the one status write and the result; a deletion with Revert ends
   * here when its phones are back (or gives up at its deadline).
   */
  private async conclude(round: Round, learnt: Learnt): Promise<ReconcileResult> {
    const { clock } = this.options;
    const { key, meta, route, previous, revert } = round;
    const { account, plan } = learnt;
    const events = plan && account ? jobEvents(plan, account, key) : [];
    this.recordJobFailures(route, events);
    const pendingRequests = plan && account ? account.tracker.pendingRequestIds(key) : undefined;
    const revertDone = revert !== undefined && plan?.settled === true && pendingRequests?.length === 0;
    if (revert && !revertDone && !(clock.now() < revert.deadline)) {
      const why =
        learnt.failure && !plan
          ? errorMessage(learnt.error)
          : (learnt.failure?.message ?? 'the phones were not all back on direct');
      return this.abandonRevert(key, meta, route, why, plan);
    }
    const failure = learnt.failure ? withRevertDeadline(learnt.failure, revert) : undefined;
    if (revertDone && !failure) {
      // The phones are back: the resource goes; a status written now would only move its resourceVersion
      // past the one the finalizer patch is conditioned on.
      await this.removeFinalizer(meta);
      return this.release(key);
    }
    const status = nextStatus({
      generation: meta.generation,
      previous,
      ...(plan ? { plan } : {}),
      events,
      ...(failure ? { failure } : {}),
      suspended: route.spec.suspend === true,
      ...(revert ? { deleting: 'Revert' as DeletionPolicy, revertDeadline: revert } : {}),
      desired: route.spec.trafficType,
      ...(learnt.outOfScope && learnt.config
        ? { outOfScope: { phoneIds: learnt.outOfScope, account: learnt.config.objectKey } }
        : {}),
      ...(pendingRequests ? { pendingRequests } : {}),
      now: clock.now(),
    });
    const writeStarted = clock.now();
    const wrote = await this.writeStatus(meta, previous, status);
    const statusWriteMs = clock.now() - writeStarted;
    if (wrote) this.noteBackInSync(route, previous, status);
    if (failure && !plan) this.warnOnChange(route, previous, failure);
    if (plan) this.options.metrics?.phonesByState(key, status.summary);
    this.options.logger.debug('reconciled', {
      resource: key,
      generation: meta.generation,
      summary: status.summary,
      sent: plan?.toChange.length ?? 0,
      events: events.length,
      statusWritten: wrote,
      roundMs: clock.now() - round.started,
      statusWriteMs,
    });
    return this.result(round, learnt, failure);
  }

  /** Done, again after a while, or an error into the queue's backoff. */
  private result(round: Round, learnt: Learnt, failure: RoundFailure | undefined): ReconcileResult {
    const now = this.options.clock.now();
    if (failure) {
      if (learnt.retryAfterMs !== undefined)
        return { requeueAfterMs: untilRevertDeadline(learnt.retryAfterMs, round.revert, now) };
      throw new RoundFailedError(failure.reason, { cause: learnt.error });
    }
    // Drift checks come from the inventory's sweeps; this requeue is a safety net, and brings failed
    // changes back when their hold ends (and a deletion to its revert deadline).
    const holdEnds = learnt.account?.holds.nextExpiry();
    const untilHold = holdEnds === undefined ? round.intervalMs : Math.max(1_000, holdEnds - now + 50);
    return { requeueAfterMs: untilRevertDeadline(Math.min(round.intervalMs, untilHold), round.revert, now) };
  }

  /** An invalid spec (it passed admission, e.g. an old object): reported, not retried. */
  private async invalidSpec(
    key: string,
    meta: RouteMetadata,
    previous: CloudPhoneRouteStatus | undefined,
    error: ParseError,
  ): Promise<ReconcileResult> {
    const now = this.options.clock.now();
    const failure: RoundFailure = {
      reason: Reason.InvalidSpec,
      message: error.message,
      stalled: stalls(Reason.InvalidSpec, undefined, now),
    };
    await this.writeStatus(meta, previous, nextStatus({ generation: meta.generation, previous, failure, now }));
    return this.release(key);
  }

  /** The finalizer is held only while deletionPolicy is Revert; the update comes back through the watch. */
  private async toggleFinalizer(meta: RouteMetadata): Promise<ReconcileResult> {
    const finalizers = meta.finalizers.includes(FINALIZER)
      ? meta.finalizers.filter((f) => f !== FINALIZER)
      : [...meta.finalizers, FINALIZER];
    await this.options.updater.setFinalizers(meta.namespace, meta.name, meta.resourceVersion, finalizers);
    return {};
  }

  private recordJobFailures(route: CloudPhoneRoute, events: readonly PhoneEvent[]): void {
    for (const event of events)
      if (event.state === 'failed')
        this.options.events.record(
          routeRef(route),
          'Warning',
          'JobFailed',
          'ChangeRoute',
          `Phone ${event.phoneId}: ${event.errorCode ?? 'failed'} ${event.errorMessage ?? ''}`.trim(),
        );
  }

  /**
   * Step 4: binds the resource to the CPH account its account object leads to, once that object's credentials
   * have passed a list call (no change is ever sent with credentials CPH has not accepted). A revert keeps
   * what it needs: when the namespace is being deleted, its account object and Secret may go before the
   * route; the account the route was bound to (its credential already checked) finishes it.
   */
  private async bindAccount(
    key: string,
    namespace: string,
    spec: CloudPhoneRoute['spec'],
    intervalMs: number,
    revert: RevertDeadline | undefined,
  ): Promise<Learnt> {
    const { accounts, directory, logger } = this.options;
    let config: AccountConfig | undefined;
    try {
      config = (await directory.resolve(namespace, spec.accountRef)).config;
      return { account: await this.bind(key, config, intervalMs), config };
    } catch (error) {
      if (!(error instanceof AccountError) && !isCphError(error)) throw error;
      const kept = revert && error instanceof AccountError ? accounts.lastConfig(key) : undefined;
      if (kept) {
        logger.info('reverting with the account the resource was bound to; its account object cannot be used now', {
          resource: key,
          account: kept.objectKey,
          error: errorMessage(error),
        });
        try {
          const account = accounts.resolve(key, kept, intervalMs);
          await account.verify(kept.credential.id);
          return { account, config: kept };
        } catch (verifyError) {
          return this.accountUnusable(key, verifyError, revert);
        }
      }
      return this.accountUnusable(key, error, revert);
    }
  }

  /** The account cannot be used: remembered (a revert may need it), retried when the account may have changed. */
  private accountUnusable(key: string, error: unknown, revert: RevertDeadline | undefined): Learnt {
    this.options.accounts.release(key, true);
    const retry = error instanceof AccountError || revert !== undefined;
    return {
      failure: classifyFailure(error, undefined, this.options.clock.now()),
      error,
      ...(retry ? { retryAfterMs: this.options.accountRetryMs ?? 10_000 } : {}),
    };
  }

  /**
   * Step 5: the account's plan, with its changes sent. After a start, the jobs the status says are running
   * are followed first (bounded wait for their first poll), so the plan sees those phones as pending. A
   * resource with phones in the send waits for the answers, so its status shows them pending.
   */
  private async planAndSend(
    key: string,
    meta: RouteMetadata,
    account: Account,
    intervalMs: number,
    previous: CloudPhoneRouteStatus | undefined,
    revert: RevertDeadline | undefined,
  ): Promise<Learnt> {
    const { clock } = this.options;
    await this.adopt([[key, account, previous]]);
    try {
      const requested = meta.reconcileRequestedAt;
      if (requested !== undefined && requested !== previous?.lastHandledReconcileAt) {
        this.options.logger.info("reconcile requested; reading the account's phones again", {
          resource: key,
          requestedAt: requested,
        });
        await account.inventory.sweepSince(clock.now() - reconcileRequestCoalesceMs);
      }
      await account.inventory.fresh(2 * intervalMs);
      let plan = await this.plans.plan(account);
      const sending = this.plans.send(account, plan, key);
      if ((plan.resources.get(key)?.toChange.length ?? 0) > 0) {
        await sending;
        plan = await this.plans.plan(account);
      }
      const mine = plan.resources.get(key);
      if (!mine) throw new Error(`plan lost resource ${key}`);
      const outOfScope = plan.outOfScope.get(key);
      const learnt: Learnt = { plan: mine, ...(outOfScope ? { outOfScope } : {}) };
      const callError = plan.callErrors.get(key);
      if (callError !== undefined) return { ...learnt, ...this.failed(account, callError, revert) };
      // The periodic sweep failing means CPH cannot be read even when this round had nothing to send: a long
      // outage is reported (Stalled, CphUnavailable) although the plan still runs on the last snapshot.
      const now = clock.now();
      const sweepError = account.inventory.lastError;
      if (sweepError === undefined || classifyFailure(sweepError, undefined, now).reason !== Reason.CphUnavailable) {
        account.cphAnswered();
        return learnt;
      }
      const outage = classifyFailure(sweepError, account.cphUnavailable(now), now);
      if (!outage.stalled) return learnt;
      const since = formatTime(account.cphDownSince ?? clock.now());
      return {
        ...learnt,
        failure: {
          ...outage,
          message: `CPH has not answered the phone inventory since ${since}: ${errorMessage(sweepError)}; retrying with backoff, the last known routes are shown`,
        },
        ...(revert ? { retryAfterMs: revertRetryMs } : {}),
      };
    } catch (error) {
      return this.failed(account, error, revert);
    }
  }

  /** A failure of the CPH calls of a round; CphUnavailable counts towards the account's outage. */
  private failed(account: Account, error: unknown, revert: RevertDeadline | undefined): Learnt {
    const now = this.options.clock.now();
    const unavailable = classifyFailure(error, undefined, now).reason === Reason.CphUnavailable;
    const failure = classifyFailure(error, unavailable ? account.cphUnavailable(now) : undefined, now);
    return { failure, error, ...(revert ? { retryAfterMs: revertRetryMs } : {}) };
  }

  /**
   * One page of a sweep in progress: its phones' changes go out as soon as they fill a call (see
   * AccountPlans.pageRead). Only once every cached resource is bound and its jobs adopted: before that a
   * conflict or a job already running could be missed, and the plan after the sweep sends instead.
   */
  async phonesRead(account: Account, phones: readonly ObservedPhone[], sweep: number): Promise<void> {
    if (!this.primed) return;
    await this.primed;
    await this.plans.pageRead(account, phones, sweep);
  }

  private async bind(key: string, config: AccountConfig, intervalMs: number): Promise<Account> {
    const account = this.options.accounts.register(config.objectKey, config);
    await account.verify(config.credential.id);
    return this.options.accounts.resolve(key, config, intervalMs);
  }

  private intervalOf(spec: CloudPhoneRoute['spec']): number {
    return spec.driftCheckInterval
      ? parseDuration(spec.driftCheckInterval, 'spec.driftCheckInterval')
      : this.options.defaultDriftIntervalMs;
  }

  /**
   * Binds every resource in the cache to its account and adopts the jobs their statuses say are running,
   * so that the first plan of an account sees all its resources (conflicts, coalesced sends) and sends
   * nothing a previous operator already sent. Resources that cannot take part yet (invalid, no account, a
   * finalizer to add or remove first) are left to their own reconcile.
   */
  private async prime(): Promise<void> {
    const adoptions: Array<[string, Account, CloudPhoneRouteStatus | undefined]> = [];
    for (const key of this.options.cache.keys()) {
      const raw = this.options.cache.get(key);
      const meta = readMetadata(raw);
      if (!raw || !meta) continue;
      try {
        const { spec } = parseCloudPhoneRoute(raw);
        if (finalizerStep(spec, meta) !== 'act') continue;
        const { config } = await this.options.directory.resolve(meta.namespace, spec.accountRef);
        const account = await this.bind(key, config, this.intervalOf(spec));
        adoptions.push([key, account, this.previousStatus(raw as object)]);
      } catch (error) {
        // Its own reconcile reports what is wrong.
        this.options.logger.debug('resource not bound before the first plan', {
          resource: key,
          error: errorMessage(error),
        });
      }
    }
    await this.adopt(adoptions);
  }

  /** Follows the jobs the statuses say are still running, once per resource; waits (bounded) for their first poll. */
  private async adopt(resources: ReadonlyArray<[string, Account, CloudPhoneRouteStatus | undefined]>): Promise<void> {
    const polled = resources.flatMap(
      ([key, account, status]) => account.tracker.adoptOnce(runningRequests(status), key) ?? [],
    );
    if (polled.length === 0) return;
    const timeout = new AbortController();
    await Promise.race([
      Promise.all(polled),
      this.options.clock.sleep(adoptionWaitMs, timeout.signal).catch(() => undefined),
    ]);
    timeout.abort();
  }

  private previousStatus(raw: object): CloudPhoneRouteStatus | undefined {
    const status = this.options.updater.currentStatus(raw);
    return status ? parseStatus(status) : undefined;
  }

  /**
   * Patches the status when it differs from the previous one; says whether it wrote. Every status written
   * reports the reconcile request it answers (the round handled it, whatever its outcome, as Flux does).
   */
  private async writeStatus(
    meta: RouteMetadata,
    previous: CloudPhoneRouteStatus | undefined,
    computed: CloudPhoneRouteStatus,
  ): Promise<boolean> {
    const handled = meta.reconcileRequestedAt ?? previous?.lastHandledReconcileAt;
    const next = handled === undefined ? computed : { ...computed, lastHandledReconcileAt: handled };
    if (!statusChanged(previous, next)) return false;
    await this.options.updater.patchStatus(meta.namespace, meta.name, next);
    return true;
  }

  /** A Normal Event when Ready turns True with reason InSync: the phones are all on their route again. */
  private noteBackInSync(
    route: CloudPhoneRoute,
    previous: CloudPhoneRouteStatus | undefined,
    next: CloudPhoneRouteStatus,
  ): void {
    const before = findCondition(previous?.conditions, ConditionType.Ready);
    const after = findCondition(next.conditions, ConditionType.Ready);
    if (after?.status !== 'True' || after.reason !== Reason.InSync) return;
    if (before?.status === 'True' && before.reason === Reason.InSync) return;
    this.options.events.record(routeRef(route), 'Normal', Reason.InSync, 'Reconcile', after.message);
  }

  /** A Warning Event for a failure the previous status did not already report. */
  private warnOnChange(
    route: CloudPhoneRoute,
    previous: CloudPhoneRouteStatus | undefined,
    failure: RoundFailure,
  ): void {
    const ready = findCondition(previous?.conditions, ConditionType.Ready);
    if (ready?.reason === failure.reason && ready.message.startsWith(failure.message)) return;
    this.options.events.record(routeRef(route), 'Warning', failure.reason, 'Reconcile', failure.message);
  }

  /**
   * The revert of a deletion did not finish within spec.revertTimeout: say so (Warning Event and log, with
   * how many phones were not reverted when that is known) and release the finalizer, so the resource, and a
   * namespace being deleted around it, can go. The phones keep the route they have.
   */
  private async abandonRevert(
    key: string,
    meta: RouteMetadata,
    route: CloudPhoneRoute,
    why: string,
    plan: ResourcePlan | undefined,
  ): Promise<ReconcileResult> {
    const left = plan
      ? `; ${plan.counts.total - plan.counts.inSync} of ${plan.counts.total} phones were not set back to direct`
      : '; which phones were set back is not known';
    const message = `Gave up reverting the phones after spec.revertTimeout (${route.spec.revertTimeout ?? DEFAULT_REVERT_TIMEOUT}) and let the resource go: ${why}${left}`;
    this.options.logger.warn('revert abandoned at its deadline', {
      resource: key,
      notReverted: plan ? plan.counts.total - plan.counts.inSync : undefined,
      reason: why,
    });
    this.options.events.record(routeRef(route), 'Warning', REVERT_ABANDONED_REASON, 'Delete', message);
    await this.removeFinalizer(meta);
    return this.release(key);
  }

  private async removeFinalizer(meta: RouteMetadata): Promise<void> {
    await this.options.updater.setFinalizers(
      meta.namespace,
      meta.name,
      meta.resourceVersion,
      meta.finalizers.filter((f) => f !== FINALIZER),
    );
  }

  /** The resource is gone or lets go: whatever was kept for it, wherever it is kept, goes too. */
  private release(key: string): ReconcileResult {
    this.options.accounts.release(key);
    this.index.forget(key);
    this.options.updater.forget(key);
    this.options.metrics?.phonesByState(key, undefined);
    return {};
  }
}
