/**
 * Reconciles one CloudPhoneRoute. Level-based: the key says which resource, the reconciler reads the
 * resource, its account's phone inventory and jobs, plans, sends the changes the plan allows, and writes
 * the status only when it changed. Nothing here knows about watches, queues or leaders.
 *
 * One round:
 *   1. read the resource from the informer cache; gone → release what it held;
 *   2. parse the spec (an invalid one is reported, not retried); handle the finalizer and deletion;
 *   3. resolve the account: the account object (spec.accountRef or --default-account), whether the namespace
 *      may use it, its endpoint (allowlisted), credentials (checked with a list call before first use) and
 *      phone scope; the resource is bound to the CPH account of that endpoint and project;
 *   4. take the inventory snapshot (one sweep serves every resource of the account);
 *   5. take the account's plan (made once per account state, src/controller/account-plans.ts) and have its
 *      changes sent, every resource's at once; when this resource has phones in them, wait for the answers
 *      and take the plan again;
 *   6. turn its part of the plan and the job outcomes into the next status; patch it if it differs.
 * Before the first round, every resource in the cache is bound to its account and the jobs its status
 * says are running are adopted, so the first plan sees the whole account and re-sends nothing. Sends can
 * start before a round, too: while a sweep reads, each page's changes go out as they fill a call
 * (`phonesRead`), and the resources concerned are requeued.
 */
import type { Logger } from '../runtime/logger.js';
import type { Clock } from '../runtime/clock.js';
import type { Reconciler, ReconcileResult } from '../runtime/reconcile.js';
import { OperatorError, ParseError, errorMessage } from '../errors.js';
import { parseCloudPhoneRoute, parseDuration, parseStatus, revertTimeoutMs } from '../api/v1alpha1/parse.js';
import { DEFAULT_REVERT_TIMEOUT, FINALIZER } from '../api/v1alpha1/constants.js';
import { CPH_UNAVAILABLE_STALL_MS, Reason, formatTime, type RoundFailureReason } from '../api/v1alpha1/conditions.js';
import type { CloudPhoneRoute, CloudPhoneRouteStatus, DeletionPolicy, Summary } from '../api/v1alpha1/types.js';
import { isAccountProblem, isAuthError, isCphError, isThrottle } from '../cph/errors.js';
import { AccountError, type Account, type AccountRegistry } from './accounts.js';
import type { AccountDirectory } from './account-directory.js';
import type { AccountConfig } from './account-config.js';
import {
  AccountPlans,
  planStamp,
  routeRef,
  type AccountPlan,
  type EventSink,
  type PlannedResource,
} from './account-plans.js';
import type { ResourcePlan } from './plan.js';
import type { ObservedPhone } from './ports.js';
import { nextStatus, statusChanged, type PhoneEvent, type RoundFailure } from './status.js';

export type { EventSink } from './account-plans.js';

/** How long a reconcile after a restart waits for the first poll of the jobs it adopts. */
const adoptionWaitMs = 30_000;

/** Where resources are read: the informer's cache. */
export interface RouteCache {
  get(key: string): unknown;
  /** Every key (namespace/name) in the cache. */
  keys(): Iterable<string>;
}

/** The writes the reconciler makes to Kubernetes. */
export interface RouteUpdater {
  /** Merge-patches /status; a no-op is never asked for. */
  patchStatus(namespace: string, name: string, status: CloudPhoneRouteStatus): Promise<void>;
  /** Replaces metadata.finalizers (optimistic on resourceVersion). */
  setFinalizers(
    namespace: string,
    name: string,
    resourceVersion: string | undefined,
    finalizers: string[],
  ): Promise<void>;
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

interface Metadata {
  namespace: string;
  name: string;
  uid: string | undefined;
  generation: number;
  resourceVersion: string | undefined;
  deletionTimestamp: string | undefined;
  finalizers: string[];
}

function readMetadata(raw: unknown): Metadata | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const meta = (raw as { metadata?: unknown }).metadata;
  if (!meta || typeof meta !== 'object') return undefined;
  const m = meta as Record<string, unknown>;
  if (typeof m.namespace !== 'string' || typeof m.name !== 'string') return undefined;
  return {
    namespace: m.namespace,
    name: m.name,
    uid: typeof m.uid === 'string' ? m.uid : undefined,
    generation: typeof m.generation === 'number' ? m.generation : 0,
    resourceVersion: typeof m.resourceVersion === 'string' ? m.resourceVersion : undefined,
    deletionTimestamp: typeof m.deletionTimestamp === 'string' ? m.deletionTimestamp : undefined,
    finalizers: Array.isArray(m.finalizers) ? m.finalizers.filter((f): f is string => typeof f === 'string') : [],
  };
}

/** Which round failure an error is, for the status. */
export function classifyFailure(error: unknown): RoundFailure {
  if (error instanceof AccountError) return { reason: error.reason, message: error.message };
  if (isAuthError(error))
    return {
      reason: Reason.CredentialsInvalid,
      message: `CPH refused the credentials (${isCphError(error) ? error.errorCode : 'auth'}): ${errorMessage(error)}. Fix the access key pair and the operator picks it up without a restart.`,
    };
  if (isAccountProblem(error)) {
    const code = isCphError(error) ? error.errorCode : '';
    const reason: RoundFailureReason =
      code === 'CPS.0001' || (isCphError(error) && error.httpStatus === 403)
        ? Reason.PermissionDenied
        : Reason.AccountRestricted;
    return { reason, message: `CPH refused the account (${code}): ${errorMessage(error)}` };
  }
  if (isThrottle(error))
    return {
      reason: Reason.Throttled,
      message: `CPH throttled the operator: ${errorMessage(error)}; retrying after a pause`,
    };
  return {
    reason: Reason.CphUnavailable,
    message: `CPH could not be used: ${errorMessage(error)}; retrying with backoff`,
  };
}

/**
 * What the finalizer rules ask of a resource before a round: 'toggle' its finalizer first (it is held only
 * while deletionPolicy is Revert), 'release' it (being deleted with Retain, without our finalizer, or
 * suspended: it goes without a revert), or 'act'.
 */
function finalizerStep(spec: CloudPhoneRoute['spec'], meta: Metadata): 'act' | 'toggle' | 'release' {
  const revert = spec.deletionPolicy === 'Revert';
  const hasFinalizer = meta.finalizers.includes(FINALIZER);
  if (!meta.deletionTimestamp) return revert !== hasFinalizer ? 'toggle' : 'act';
  return !revert || !hasFinalizer || spec.suspend === true ? 'release' : 'act';
}

/** The Event reason when a deletion gives up its revert at spec.revertTimeout. */
const REVERT_ABANDONED_REASON = 'RevertAbandoned';
/** How soon a deletion whose revert round failed is looked at again (at most; its deadline if sooner). */
const revertRetryMs = 30_000;

interface RevertDeadline {
  /** ms since epoch: deletionTimestamp + spec.revertTimeout. */
  deadline: number;
  /** spec.revertTimeout as written. */
  timeout: string;
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

/** A round failed in a way that is retried with the queue's backoff; the status already says why. */
export class RoundFailedError extends OperatorError {
  constructor(reason: string, options: { cause?: unknown }) {
    super(`RoundFailed.${reason}`, `round failed: ${reason}`, options);
  }
}

export class RouteReconciler implements Reconciler {
  /** Per resource: the job outcome last reported in its status, per phone, so each is reported once. */
  private readonly reported = new Map<string, Map<string, string>>();
  /** Per resource: the status last written, in case the cache has not caught up with our own write. */
  private readonly lastWritten = new Map<string, { generation: number; status: CloudPhoneRouteStatus }>();
  /** Per resource: request IDs adopted from its status after a start. */
  private readonly adopted = new Set<string>();
  /** Per resource: the cache object last read, its plan stamp, and what the planner gets (the same object while the stamp holds). */
  private readonly parsedPeers = new Map<
    string,
    { raw: unknown; stamp: string; planned: PlannedResource | undefined }
  >();
  private readonly plans: AccountPlans;
  /** Binding every cached resource to its account and adopting its jobs, once, before the first plan. */
  private primed: Promise<void> | undefined;
  /** Per CPH account: since when CPH has been unreachable, without a successful round or sweep since. */
  private readonly cphDownSince = new Map<string, number>();

  /** The failure with the start of the outage it belongs to, for CphUnavailable (see CPH_UNAVAILABLE_STALL_MS). */
  private withOutage(accountKey: string, failure: RoundFailure): RoundFailure {
    if (failure.reason !== Reason.CphUnavailable) return failure;
    let since = this.cphDownSince.get(accountKey);
    if (since === undefined) this.cphDownSince.set(accountKey, (since = this.options.clock.now()));
    return { ...failure, since };
  }

  constructor(private readonly options: RouteReconcilerOptions) {
    this.plans = new AccountPlans({
      sources: { owners: (account) => options.accounts.owners(account), resource: (key) => this.peer(key) },
      events: options.events,
      clock: options.clock,
      logger: options.logger,
      ...(options.requeue ? { requeue: options.requeue } : {}),
      onSent: (phones) => options.metrics?.driftCorrections(phones),
    });
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const roundStarted = this.options.clock.now();
    const raw = this.options.cache.get(key);
    const meta = readMetadata(raw);
    if (!raw || !meta) {
      this.forget(key);
      return {};
    }
    let route: CloudPhoneRoute;
    try {
      route = parseCloudPhoneRoute(raw);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      await this.writeStatus(
        key,
        meta,
        this.previousStatus(raw),
        nextStatus({
          generation: meta.generation,
          previous: this.previousStatus(raw),
          failure: { reason: Reason.InvalidSpec, message: error.message },
          now: this.options.clock.now(),
        }),
      );
      this.forget(key);
      return {};
    }
    const spec = route.spec;
    const deleting: DeletionPolicy | undefined = meta.deletionTimestamp ? (spec.deletionPolicy ?? 'Retain') : undefined;
    const hasFinalizer = meta.finalizers.includes(FINALIZER);

    // Finalizer: held only while deletionPolicy is Revert, so a Retain resource never waits on the operator to go.
    const step = finalizerStep(spec, meta);
    if (step === 'toggle') {
      const finalizers = hasFinalizer
        ? meta.finalizers.filter((f) => f !== FINALIZER)
        : [...meta.finalizers, FINALIZER];
      await this.options.updater.setFinalizers(meta.namespace, meta.name, meta.resourceVersion, finalizers);
      return {}; // the update comes back through the watch
    }
    if (step === 'release') {
      if (hasFinalizer) await this.removeFinalizer(meta);
      this.forget(key);
      return {};
    }

    const intervalMs = this.intervalOf(spec);
    const previous = this.previousStatusOf(key, meta.generation, route.status);
    const now = (): number => this.options.clock.now();
    // A deletion with Revert waits for the phones at most spec.revertTimeout after the deletion began.
    const revert =
      deleting === 'Revert'
        ? {
            deadline: Date.parse(meta.deletionTimestamp ?? '') + revertTimeoutMs(spec),
            timeout: spec.revertTimeout ?? DEFAULT_REVERT_TIMEOUT,
          }
        : undefined;
    const revertExpired = (): boolean => revert !== undefined && !(now() < revert.deadline);

    await (this.primed ??= this.prime());
    let account: Account;
    let config: AccountConfig;
    try {
      config = (await this.options.directory.resolve(meta.namespace, spec.accountRef)).config;
      account = await this.bind(key, config, intervalMs);
    } catch (error) {
      if (!(error instanceof AccountError) && !isCphError(error)) throw error;
      // A revert keeps what it needs: when the namespace is being deleted, its account object and Secret may
      // go before the route; the account the route was bound to (its credential already checked) finishes it.
      const kept = revert && error instanceof AccountError ? this.options.accounts.lastConfig(key) : undefined;
      if (kept) {
        config = kept;
        this.options.logger.info(
          'reverting with the account the resource was bound to; its account object cannot be used now',
          { resource: key, account: config.objectKey, error: errorMessage(error) },
        );
        try {
          account = this.options.accounts.resolve(key, kept, intervalMs);
          await account.verify(kept.credential.id);
        } catch (verifyError) {
          return this.accountFailed(key, meta, route, previous, verifyError, {
            deleting,
            revert,
            revertExpired: revertExpired(),
          });
        }
      } else {
        return this.accountFailed(key, meta, route, previous, error, {
          deleting,
          revert,
          revertExpired: revertExpired(),
        });
      }
    }

    // After a start, follow the jobs this resource's status says are still running, and wait for their
    // first poll (bounded) so that the plan sees those phones as pending rather than drifted.
    if (!this.adopted.has(key)) {
      this.adopted.add(key);
      await this.adoptRunningJobs([[key, account, previous]]);
    }

    let plan: AccountPlan;
    try {
      await account.inventory.fresh(2 * intervalMs);
      plan = await this.plans.plan(account);
      // The first round after a sweep sends the whole account's changes; a resource with phones in them
      // waits for the answers, so its status shows them pending.
      const sending = this.plans.send(account, plan, key);
      if ((plan.resources.get(key)?.toChange.length ?? 0) > 0) {
        await sending;
        plan = await this.plans.plan(account);
      }
    } catch (error) {
      if (revertExpired()) return this.abandonRevert(key, meta, route, errorMessage(error), undefined);
      const failure = withRevertDeadline(this.withOutage(account.key, classifyFailure(error)), revert);
      await this.writeStatus(
        key,
        meta,
        previous,
        nextStatus({
          generation: meta.generation,
          previous,
          failure,
          suspended: spec.suspend === true,
          deleting,
          desired: spec.trafficType,
          now: now(),
        }),
      );
      this.warnOnce(route, failure.reason, failure.message);
      // A deletion is not left to the queue's growing backoff: it is looked at again by its deadline.
      if (revert) return { requeueAfterMs: untilRevertDeadline(revertRetryMs, revert, now()) };
      throw new RoundFailedError(failure.reason, { cause: error });
    }
    const mine = plan.resources.get(key);
    if (!mine) throw new Error(`plan lost resource ${key}`);

    const events: PhoneEvent[] = this.jobEvents(key, mine, account);
    let failure: RoundFailure | undefined;
    const callError = plan.callErrors.get(key);
    if (callError !== undefined) failure = this.withOutage(account.key, classifyFailure(callError));
    // The periodic sweep failing means CPH cannot be read even when this round had nothing to send: a long
    // outage is reported (Stalled, CphUnavailable) although the plan still runs on the last snapshot.
    const sweepError = account.inventory.lastError;
    if (!failure && sweepError !== undefined && classifyFailure(sweepError).reason === Reason.CphUnavailable) {
      const outage = this.withOutage(account.key, classifyFailure(sweepError));
      if (outage.since !== undefined && now() - outage.since >= CPH_UNAVAILABLE_STALL_MS)
        failure = {
          ...outage,
          message: `CPH has not answered the phone inventory since ${formatTime(outage.since)}: ${errorMessage(sweepError)}; retrying with backoff, the last known routes are shown`,
        };
    } else if (!failure) {
      this.cphDownSince.delete(account.key);
    }
    for (const event of events)
      if (event.kind === 'jobEnded' && event.state === 'failed')
        this.options.events.record(
          routeRef(route),
          'Warning',
          'JobFailed',
          'ChangeRoute',
          `Phone ${event.phoneId}: ${event.errorCode ?? 'failed'} ${event.errorMessage ?? ''}`.trim(),
        );

    const revertDone = deleting === 'Revert' && mine.settled && !account.tracker.pendingRequestIds(key).length;
    if (revert && !revertDone && revertExpired())
      return this.abandonRevert(key, meta, route, failure?.message ?? 'the phones were not all back on direct', mine);
    if (failure) failure = withRevertDeadline(failure, revert);
    const outOfScope = plan.outOfScope.get(key);
    const status = nextStatus({
      generation: meta.generation,
      previous,
      plan: mine,
      events,
      ...(failure ? { failure } : {}),
      ...(outOfScope ? { outOfScope: { phoneIds: outOfScope, account: config.objectKey } } : {}),
      ...(revert ? { revertDeadline: revert } : {}),
      pendingRequests: account.tracker.pendingRequestIds(key),
      now: now(),
    });
    if (revertDone && !failure) {
      // The phones are back: the resource goes, and a status written now would only move its resourceVersion
      // past the one the finalizer patch is conditioned on.
      await this.removeFinalizer(meta);
      this.forget(key);
      return {};
    }
    const writeStarted = now();
    const wrote = await this.writeStatus(key, meta, previous, status);
    this.options.logger.debug('reconciled', {
      resource: key,
      generation: meta.generation,
      summary: status.summary,
      sent: mine.toChange.length,
      events: events.length,
      statusWritten: wrote,
      roundMs: now() - roundStarted,
      statusWriteMs: now() - writeStarted,
    });
    this.options.metrics?.phonesByState(key, status.summary);
    if (failure && revert) return { requeueAfterMs: untilRevertDeadline(revertRetryMs, revert, now()) };
    if (failure) throw new RoundFailedError(failure.reason, { cause: undefined });
    // Drift checks come from the inventory's sweeps; this requeue is a safety net, and brings failed
    // changes back when their hold ends (and a deletion to its revert deadline).
    const holdEnds = account.nextHoldExpiry();
    const untilHold = holdEnds === undefined ? intervalMs : Math.max(1_000, holdEnds - this.options.clock.now() + 50);
    return { requeueAfterMs: untilRevertDeadline(Math.min(intervalMs, untilHold), revert, now()) };
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

  /**
   * Binds a resource to the CPH account its account object leads to, once that object's credentials have
   * passed a list call (so no change of this resource is ever sent with credentials CPH has not accepted).
   */
  private async bind(key: string, config: AccountConfig, intervalMs: number): Promise<Account> {
    const account = this.options.accounts.register(config.objectKey, config);
    await account.verify(config.credential.id);
    return this.options.accounts.resolve(key, config, intervalMs);
  }

  /** The account cannot be used: the status says why; retried when the account may have changed. */
  private async accountFailed(
    key: string,
    meta: Metadata,
    route: CloudPhoneRoute,
    previous: CloudPhoneRouteStatus | undefined,
    error: unknown,
    deletion: { deleting: DeletionPolicy | undefined; revert: RevertDeadline | undefined; revertExpired: boolean },
  ): Promise<ReconcileResult> {
    const { deleting, revert } = deletion;
    const now = this.options.clock.now();
    // Remembered: a revert on deletion may need the account after its object or Secret is gone.
    this.options.accounts.release(key, true);
    if (deletion.revertExpired) return this.abandonRevert(key, meta, route, errorMessage(error), undefined);
    const spec = route.spec;
    const failure = withRevertDeadline(classifyFailure(error), revert);
    await this.writeStatus(
      key,
      meta,
      previous,
      nextStatus({
        generation: meta.generation,
        previous,
        failure,
        suspended: spec.suspend === true,
        deleting,
        desired: spec.trafficType,
        now,
      }),
    );
    this.warnOnce(route, failure.reason, failure.message);
    if (error instanceof AccountError || revert)
      return { requeueAfterMs: untilRevertDeadline(this.options.accountRetryMs ?? 10_000, revert, now) };
    throw new RoundFailedError(failure.reason, { cause: error });
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
        const route = parseCloudPhoneRoute(raw);
        const spec = route.spec;
        if (finalizerStep(spec, meta) !== 'act') continue;
        const account = await this.bind(
          key,
          (await this.options.directory.resolve(meta.namespace, spec.accountRef)).config,
          this.intervalOf(spec),
        );
        this.adopted.add(key);
        adoptions.push([key, account, this.previousStatusOf(key, meta.generation, route.status)]);
      } catch (error) {
        // Its own reconcile reports what is wrong.
        this.options.logger.debug('resource not bound before the first plan', {
          resource: key,
          error: errorMessage(error),
        });
      }
    }
    await this.adoptRunningJobs(adoptions);
  }

  /** Follows the jobs the statuses say are still running; waits (bounded) for their first poll. */
  private async adoptRunningJobs(
    resources: ReadonlyArray<[string, Account, CloudPhoneRouteStatus | undefined]>,
  ): Promise<void> {
    const polled: Promise<void>[] = [];
    for (const [key, account, status] of resources) {
      const running = new Set([
        ...(status?.pendingRequests ?? []),
        ...(status?.phones ?? [])
          .filter((p) => p.jobStatus === 'Running' && p.requestId)
          .map((p) => p.requestId as string),
      ]);
      if (running.size > 0) polled.push(account.tracker.adopt(running, key));
    }
    if (polled.length === 0) return;
    const timeout = new AbortController();
    await Promise.race([
      Promise.all(polled),
      this.options.clock.sleep(adoptionWaitMs, timeout.signal).catch(() => undefined),
    ]);
    timeout.abort();
  }

  /** Job ends not yet reported in this resource's status. */
  private jobEvents(key: string, plan: ResourcePlan, account: Account): PhoneEvent[] {
    let reported = this.reported.get(key);
    if (!reported) this.reported.set(key, (reported = new Map()));
    const events: PhoneEvent[] = [];
    for (const phone of plan.phones) {
      const outcome = account.tracker.outcome(phone.phoneId);
      if (!outcome || reported.get(phone.phoneId) === outcome.jobId) continue;
      reported.set(phone.phoneId, outcome.jobId);
      events.push({
        kind: 'jobEnded',
        phoneId: phone.phoneId,
        trafficType: outcome.trafficType ?? plan.desired,
        requestId: outcome.requestId,
        jobId: outcome.jobId,
        state: outcome.state,
        ...(outcome.errorCode ? { errorCode: outcome.errorCode } : {}),
        ...(outcome.errorMessage ? { errorMessage: outcome.errorMessage } : {}),
      });
    }
    return events;
  }

  /**
   * A resource of the cache as the account plan needs it, parsed once per plan stamp (not per status write).
   * The same object comes back while the stamp holds, so a planner can tell "nothing changed" by identity:
   * it asks for every resource of the account on every reconcile.
   */
  private peer(key: string): PlannedResource | undefined {
    const raw = this.options.cache.get(key);
    const cached = this.parsedPeers.get(key);
    if (cached && cached.raw === raw) return cached.planned;
    const meta = readMetadata(raw);
    if (!raw || !meta) return undefined;
    const binding = this.options.accounts.binding(key);
    if (!binding) return undefined;
    const stamp = `${planStamp(meta)}|${binding.config.stamp}`;
    if (cached?.stamp === stamp) {
      cached.raw = raw;
      return cached.planned;
    }
    let planned: PlannedResource | undefined;
    try {
      // Plans read spec and metadata only; the status stays in the informer's copy alone.
      const { status: _status, ...route } = parseCloudPhoneRoute(raw);
      planned = { route, stamp, credentialId: binding.credentialId, scope: binding.config.scope };
    } catch {
      planned = undefined;
    }
    this.parsedPeers.set(key, { raw, stamp, planned });
    return planned;
  }

  private previousStatus(raw: unknown): CloudPhoneRouteStatus | undefined {
    const status = (raw as { status?: unknown }).status;
    return status ? parseStatus(status) : undefined;
  }

  /** The cache's status, unless our own newer write has not reached the cache yet. */
  private previousStatusOf(
    key: string,
    generation: number,
    cached: CloudPhoneRouteStatus | undefined,
  ): CloudPhoneRouteStatus | undefined {
    const written = this.lastWritten.get(key);
    if (written && written.generation === generation && (!cached || statusChanged(cached, written.status)))
      return written.status;
    // The cache has caught up (or moved on): our copy is no longer needed.
    if (written) this.lastWritten.delete(key);
    return cached;
  }

  /** Patches the status when it differs from the previous one; says whether it wrote. */
  private async writeStatus(
    key: string,
    meta: Metadata,
    previous: CloudPhoneRouteStatus | undefined,
    next: CloudPhoneRouteStatus,
  ): Promise<boolean> {
    if (!statusChanged(previous, next)) return false;
    await this.options.updater.patchStatus(meta.namespace, meta.name, next);
    this.lastWritten.set(key, { generation: meta.generation, status: next });
    return true;
  }

  /**
   * The revert of a deletion did not finish within spec.revertTimeout: say so (Warning Event and log, with
   * how many phones were not reverted when that is known) and release the finalizer, so the resource, and a
   * namespace being deleted around it, can go. The phones keep the route they have.
   */
  private async abandonRevert(
    key: string,
    meta: Metadata,
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
    this.forget(key);
    return {};
  }

  private async removeFinalizer(meta: Metadata): Promise<void> {
    await this.options.updater.setFinalizers(
      meta.namespace,
      meta.name,
      meta.resourceVersion,
      meta.finalizers.filter((f) => f !== FINALIZER),
    );
  }

  private readonly warned = new Map<string, string>();
  private warnOnce(route: CloudPhoneRoute, reason: string, message: string): void {
    const key = `${route.metadata.namespace}/${route.metadata.name}`;
    if (this.warned.get(key) === `${reason}:${message}`) return;
    this.warned.set(key, `${reason}:${message}`);
    this.options.events.record(routeRef(route), 'Warning', reason, 'Reconcile', message);
  }

  private forget(key: string): void {
    this.options.accounts.release(key);
    this.reported.delete(key);
    this.lastWritten.delete(key);
    this.adopted.delete(key);
    this.parsedPeers.delete(key);
    this.warned.delete(key);
    this.options.metrics?.phonesByState(key, undefined);
  }
}
