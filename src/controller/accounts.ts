/**
 * CPH accounts inside the operator and what each shares among the routes that use it. One (normalized
 * endpoint, project) is one Account, whatever account objects and credentials lead to it: one phone
 * inventory, one plan and conflict check, one route writer, one job tracker, one rate budget.
 * Guarantees:
 *   - credentials are per account object: a route's changes are sent only with the credentials of its own
 *     account object, and only once a list call with them succeeded (verified); reads (the inventory sweep,
 *     job polls) are made with one verified credential of the project, the same every time while it stays;
 *   - credentials rotated in a Secret are a new credential on the next reconcile (told apart by a fingerprint,
 *     never the key itself); the old one's client closes once no route or account object uses it;
 *   - a failed verification is tried again with a backoff (10 s doubling to 5 min), so a wrong key never
 *     drives the gateway's lock-out of five signature failures in a row;
 *   - the inventory sweeps at the shortest drift interval of the account's resources.
 */
import { OperatorError, errorMessage } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import { backoff } from '../runtime/backoff.js';
import type { Logger } from '../runtime/logger.js';
import { isAuthError } from '../cph/errors.js';
import type { TrafficType } from '../cph/wire.js';
import type { AccountConfig } from './account-config.js';
import type { CredentialPortFactory } from './cph-port.js';
import { PhoneInventory, type InventorySnapshot } from './inventory.js';
import type { CphPort, CredentialPort, ObservedPhone } from './ports.js';
import { JobTracker, type JobOutcome } from './job-tracker.js';
import { RouteWriter } from './route-writer.js';
import { outsideReconcile } from '../runtime/reconcile-context.js';
import { Holds } from './holds.js';

export { AccountError } from './account-config.js';

/** Reads a Secret's decoded data; undefined when the Secret does not exist. */
export interface SecretReader {
  read(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}

export interface AccountHooks {
  onSwept(account: Account, snapshot: InventorySnapshot): void;
  onSweepFailed(account: Account, error: unknown): void;
  /** Every sweep's end, periodic or asked for (for metrics). */
  onSweepEnded?(account: Account, outcome: 'success' | 'failed', durationMs: number): void;
  /** Told each page of a sweep as it arrives; the sweep ends once what it returns has settled. */
  onPhonesRead?(account: Account, phones: readonly ObservedPhone[], sweep: number): Promise<void>;
  onJobsEnded(account: Account, owners: ReadonlySet<string>, outcomes: readonly JobOutcome[]): void;
  onRouteCall(
    account: Account,
    trafficType: TrafficType,
    phoneIds: readonly string[],
    requestId: string | undefined,
  ): void;
}

const verifyRetryBaseMs = 10_000;
const verifyRetryMaxMs = 5 * 60_000;

/** No credential of the account has been verified yet: nothing can be read. */
export class NoVerifiedCredentialsError extends OperatorError {
  constructor(account: string) {
    super('NoVerifiedCredentials', `no verified credentials for ${account} yet`);
  }
}

/** One credential of an account: its port, and whether a list call with it succeeded. */
class AccountCredential {
  verified = false;
  private failure: { error: unknown; retryAt: number; attempts: number } | undefined;
  private verifying: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly port: CredentialPort,
    private readonly clock: Clock,
  ) {}

  /** Resolves once a list call with the credential succeeded; throws its failure while it is not retried. */
  verify(): Promise<void> {
    if (this.verified) return Promise.resolve();
    if (this.failure && this.clock.now() < this.failure.retryAt) return Promise.reject(this.failure.error);
    this.verifying ??= this.port
      .checkAccess()
      .then(() => {
        this.verified = true;
        this.failure = undefined;
      })
      .catch((error: unknown) => {
        const attempts = (this.failure?.attempts ?? 0) + 1;
        this.failure = {
          error,
          attempts,
          retryAt: this.clock.now() + backoff(verifyRetryBaseMs, verifyRetryMaxMs, attempts),
        };
        throw error;
      })
      .finally(() => (this.verifying = undefined));
    return this.verifying;
  }

  /** A call with it was refused for its credentials: it must be verified again. */
  refused(error: unknown): void {
    if (!isAuthError(error)) return;
    this.verified = false;
    this.failure = {
      error,
      attempts: (this.failure?.attempts ?? 0) + 1,
      retryAt: this.clock.now() + verifyRetryBaseMs,
    };
  }
}

export interface AccountOptions {
  /** The normalized endpoint and project. */
  key: string;
  /** Endpoint and project, safe to show in logs and status. */
  description: string;
  intervalMs: number;
  clock: Clock;
  logger: Logger;
  hooks: AccountHooks;
  jobPollIntervalMs: number;
}

export class Account {
  readonly inventory: PhoneInventory;
  readonly tracker: JobTracker;
  readonly writer: RouteWriter;
  /** Changes that failed, held back before they are tried again. */
  readonly holds: Holds;
  /**
   * Per phone, when (in `changeSequence` terms) its job in flight or its known route last changed since the
   * last sweep: a plan can be brought up to date by redoing only the resources of these phones.
   */
  private readonly phoneChanges = new Map<string, number>();
  private changes = 0;

  readonly key: string;
  readonly description: string;
  private readonly clock: Clock;
  private downSince: number | undefined;
  private readonly credentials = new Map<string, AccountCredential>();

  constructor(options: AccountOptions) {
    const { clock, logger, hooks } = options;
    this.key = options.key;
    this.description = options.description;
    this.clock = clock;
    this.holds = new Holds(clock);
    // Reads go through whichever verified credential comes first; writes through the route's own.
    const cph: CphPort = {
      listAllPhones: (signal, onPage) => this.readWith((port) => port.listAllPhones(signal, onPage)),
      getPhone: (phoneId, signal) => this.readWith((port) => port.getPhone(phoneId, signal)),
      setTrafficType: () =>
        Promise.reject(
          new OperatorError(
            'ReadPortWrite',
            "route changes go out through the route writer, with the route's own credentials",
          ),
        ),
      listJobs: (requestIds, signal, expectedJobs) =>
        this.readWith((port) => port.listJobs(requestIds, signal, expectedJobs)),
    };
    const pageHook = hooks.onPhonesRead;
    const intervalMs = options.intervalMs;
    this.inventory = new PhoneInventory({
      cph,
      clock,
      logger,
      intervalMs,
      onSwept: (snapshot) => {
        // A new snapshot means whole new plans: what changed before it no longer needs telling apart.
        this.phoneChanges.clear();
        hooks.onSwept(this, snapshot);
      },
      onSweepFailed: (error) => hooks.onSweepFailed(this, error),
      onSweepEnded: (outcome, durationMs) => hooks.onSweepEnded?.(this, outcome, durationMs),
      onPhoneChanged: (phoneId) => this.notePhoneChanged(phoneId),
      ...(pageHook
        ? {
            onPhonesRead: (phones: readonly ObservedPhone[], sweep: number) =>
              pageHook.call(hooks, this, phones, sweep),
          }
        : {}),
    });
    this.tracker = new JobTracker({
      cph,
      clock,
      logger,
      pollIntervalMs: options.jobPollIntervalMs,
      onJobsEnded: (owners, outcomes) => {
        let unknownRoutes = false;
        for (const outcome of outcomes) {
          if (outcome.state === 'failed' && outcome.trafficType)
            this.holds.hold({
              phoneId: outcome.phoneId,
              trafficType: outcome.trafficType,
              errorCode: outcome.errorCode,
              errorMessage: outcome.errorMessage,
              jobId: outcome.jobId,
              requestId: outcome.requestId,
            });
          else this.holds.drop(outcome.phoneId);
          // A job adopted after a restart does not say which route it set: the phone is read again before
          // anything is sent for it (taking it as drifted would send the same change twice).
          if (outcome.state === 'succeeded' && outcome.trafficType === undefined) {
            unknownRoutes = true;
            this.inventory.markUnconfirmed(outcome.phoneId, {
              trafficType: undefined,
              adopted: true,
              jobId: outcome.jobId,
              requestId: outcome.requestId,
            });
          }
        }
        // Read those phones again soon rather than at the next interval.
        if (unknownRoutes) this.inventory.sweepSoon();
        hooks.onJobsEnded(this, owners, outcomes);
      },
      onRouteConfirmed: (phoneId, trafficType) => {
        this.inventory.recordRoute(phoneId, trafficType);
        this.notePhoneChanged(phoneId);
      },
      onPhoneChanged: (phoneId) => this.notePhoneChanged(phoneId),
    });
    this.writer = new RouteWriter({
      portFor: (credentialId) => this.credential(credentialId).port,
      tracker: this.tracker,
      clock,
      logger,
      onCallSent: (trafficType, phoneIds, requestId) => hooks.onRouteCall(this, trafficType, phoneIds, requestId),
    });
  }

  /** Adds a credential (its port is closed with the account or when it is dropped). */
  addCredential(id: string, port: CredentialPort): void {
    if (this.credentials.has(id)) {
      port.close();
      return;
    }
    this.credentials.set(id, new AccountCredential(id, port, this.clock));
  }

  hasCredential(id: string): boolean {
    return this.credentials.has(id);
  }

  /** Drops a credential no route or account object uses any more. */
  dropCredential(id: string): void {
    const credential = this.credentials.get(id);
    if (!credential) return;
    this.credentials.delete(id);
    credential.port.close();
  }

  get credentialCount(): number {
    return this.credentials.size;
  }

  /** Resolves once a list call with the credential succeeded (cached; failures retried with backoff). */
  verify(credentialId: string): Promise<void> {
    return this.credential(credentialId).verify();
  }

  private credential(id: string): AccountCredential {
    const credential = this.credentials.get(id);
    if (!credential)
      throw new OperatorError(
        'CredentialUnknown',
        `credential ${id.split(':')[0] ?? ''} is not registered with ${this.description}`,
      );
    return credential;
  }

  /** The credential reads use: the first verified one, in the order they were added. */
  private reader(): AccountCredential {
    for (const credential of this.credentials.values()) if (credential.verified) return credential;
    throw new NoVerifiedCredentialsError(this.description);
  }

  private async readWith<T>(call: (port: CphPort) => Promise<T>): Promise<T> {
    const credential = this.reader();
    try {
      return await call(credential.port);
    } catch (error) {
      credential.refused(error);
      throw error;
    }
  }

  /** Since when (ms) CPH has not answered this account: undefined while it answers. */
  get cphDownSince(): number | undefined {
    return this.downSince;
  }

  /** CPH could not be reached: the outage starts now unless it started before. Returns its start. */
  cphUnavailable(now: number): number {
    this.downSince ??= now;
    return this.downSince;
  }

  /** CPH answered: any outage is over. */
  cphAnswered(): void {
    this.downSince = undefined;
  }

  private notePhoneChanged(phoneId: string): void {
    this.phoneChanges.set(phoneId, ++this.changes);
  }

  /** Grows with every change of a phone's job in flight or known route. */
  get changeSequence(): number {
    return this.changes;
  }

  /** The phones whose job or known route changed after `sequence`, within the current snapshot. */
  phonesChangedSince(sequence: number): string[] {
    const phones: string[] = [];
    for (const [phoneId, at] of this.phoneChanges) if (at > sequence) phones.push(phoneId);
    return phones;
  }

  /** Follows jobs; the inventory sweeps only once a route uses the account (`startSweeps`). */
  start(): void {
    // Loops outlive the reconcile that starts them: their log lines must not carry its reconcileID.
    outsideReconcile(() => this.tracker.start());
  }

  /** Starts the periodic inventory sweeps (idempotent): an account object alone costs no list calls. */
  startSweeps(): void {
    outsideReconcile(() => this.inventory.start());
  }

  async stop(): Promise<void> {
    this.writer.stop();
    await Promise.all([this.inventory.stop(), this.tracker.stop()]);
    for (const credential of this.credentials.values()) credential.port.close();
    this.credentials.clear();
  }
}

export interface AccountRegistryOptions {
  /** Makes the port of a credential the first time an account config names it. */
  portFor: CredentialPortFactory;
  jobPollIntervalMs: number;
  clock: Clock;
  logger: Logger;
  hooks: AccountHooks;
}

/** What a resource is bound to: its account, the credential its changes go out with, and its account object's stamp. */
export interface AccountBinding {
  accountKey: string;
  credentialId: string;
  intervalMs: number;
  config: AccountConfig;
}

export class AccountRegistry {
  private readonly accounts = new Map<string, Account>();
  /** resource key -> its binding. */
  private readonly bindings = new Map<string, AccountBinding>();
  /**
   * resource key -> the account config it was bound to before its account became unusable, kept until the
   * resource goes: a revert on deletion may still need it once the account object and Secret are gone.
   */
  private readonly remembered = new Map<string, AccountConfig>();
  /** account object key -> the account and credential it was checked against (for its status). */
  private readonly objects = new Map<string, { accountKey: string; credentialId: string }>();
  /** account key -> its resources, sorted; rebuilt only when a binding changes (read by every reconcile). */
  private readonly ownersCache = new Map<string, string[]>();

  constructor(private readonly options: AccountRegistryOptions) {}

  /**
   * The Account of a resource's account configuration, created on first use with the config's credential
   * registered, and the resource bound to it (with its drift interval and credential).
   */
  resolve(resourceKey: string, config: AccountConfig, intervalMs: number): Account {
    const account = this.accountFor(config);
    this.bind(resourceKey, { accountKey: account.key, credentialId: config.credential.id, intervalMs, config });
    return account;
  }

  /** The Account an account object's config leads to, kept while the object exists (for its status). */
  register(objectKey: string, config: AccountConfig): Account {
    const account = this.accountFor(config);
    const previous = this.objects.get(objectKey);
    this.objects.set(objectKey, { accountKey: account.key, credentialId: config.credential.id });
    if (previous && previous.accountKey !== account.key)
      this.retireIfUnused(previous.accountKey, previous.credentialId);
    else if (previous && previous.credentialId !== config.credential.id)
      this.dropCredentialIfUnused(account, previous.credentialId);
    return account;
  }

  /** The account object is gone, or no longer usable. */
  unregister(objectKey: string): void {
    const previous = this.objects.get(objectKey);
    if (!previous) return;
    this.objects.delete(objectKey);
    this.retireIfUnused(previous.accountKey, previous.credentialId);
  }

  /** The Account of a CPH account key, if in use. */
  get(accountKey: string): Account | undefined {
    return this.accounts.get(accountKey);
  }

  binding(resourceKey: string): AccountBinding | undefined {
    return this.bindings.get(resourceKey);
  }

  /** The account config a resource is bound to, or was before its account became unusable. */
  lastConfig(resourceKey: string): AccountConfig | undefined {
    return this.bindings.get(resourceKey)?.config ?? this.remembered.get(resourceKey);
  }

  private accountFor(config: AccountConfig): Account {
    let account = this.accounts.get(config.cphKey);
    if (!account) {
      account = new Account({
        key: config.cphKey,
        description: `${config.endpoint} project ${config.projectId}`,
        intervalMs: 5 * 60_000,
        clock: this.options.clock,
        logger: this.options.logger,
        hooks: this.options.hooks,
        jobPollIntervalMs: this.options.jobPollIntervalMs,
      });
      this.accounts.set(config.cphKey, account);
      account.start();
      this.options.logger.info('CPH account in use', { account: account.description });
    }
    if (!account.hasCredential(config.credential.id))
      account.addCredential(config.credential.id, this.options.portFor(config));
    return account;
  }

  private bind(resourceKey: string, binding: AccountBinding): void {
    const previous = this.bindings.get(resourceKey);
    // Each reconcile resolves its account object anew: the same stamp is the same binding, and keeping it keeps
    // the owner list (and so the account's plan) as it was.
    if (previous && previous.config.stamp === binding.config.stamp && previous.intervalMs === binding.intervalMs)
      return;
    this.bindings.set(resourceKey, binding);
    this.remembered.delete(resourceKey);
    this.accounts.get(binding.accountKey)?.startSweeps();
    this.ownersCache.delete(binding.accountKey);
    if (previous) this.ownersCache.delete(previous.accountKey);
    this.retune(binding.accountKey);
    if (previous && (previous.accountKey !== binding.accountKey || previous.credentialId !== binding.credentialId)) {
      if (previous.accountKey !== binding.accountKey)
        this.accounts.get(previous.accountKey)?.tracker.forgetOwner(resourceKey);
      this.retune(previous.accountKey);
      this.retireIfUnused(previous.accountKey, previous.credentialId);
    }
  }

  /** The resource no longer uses any account (deleted, or its account cannot be resolved). */
  release(resourceKey: string, remember = false): void {
    const previous = this.bindings.get(resourceKey);
    if (!remember) this.remembered.delete(resourceKey);
    if (!previous) return;
    if (remember) this.remembered.set(resourceKey, previous.config);
    this.bindings.delete(resourceKey);
    this.ownersCache.delete(previous.accountKey);
    this.accounts.get(previous.accountKey)?.tracker.forgetOwner(resourceKey);
    this.retune(previous.accountKey);
    this.retireIfUnused(previous.accountKey, previous.credentialId);
  }

  /** The resources bound to an account, sorted. The array is shared: do not change it. */
  owners(account: Account): readonly string[] {
    let keys = this.ownersCache.get(account.key);
    if (!keys) {
      keys = [];
      for (const [resourceKey, binding] of this.bindings)
        if (binding.accountKey === account.key) keys.push(resourceKey);
      keys.sort();
      this.ownersCache.set(account.key, keys);
    }
    return keys;
  }

  /** The account objects checked against an account (to refresh their status after a sweep). */
  objectsOf(account: Account): string[] {
    const keys: string[] = [];
    for (const [objectKey, entry] of this.objects) if (entry.accountKey === account.key) keys.push(objectKey);
    return keys;
  }

  private retune(accountKey: string): void {
    const account = this.accounts.get(accountKey);
    if (!account) return;
    let shortest: number | undefined;
    for (const b of this.bindings.values())
      if (b.accountKey === accountKey && (shortest === undefined || b.intervalMs < shortest)) shortest = b.intervalMs;
    if (shortest !== undefined) account.inventory.setIntervalMs(shortest);
  }

  /** Whether a route (or, with `objectsToo`, an account object) uses the account, or one credential of it. */
  private inUse(accountKey: string, credentialId: string | undefined, objectsToo: boolean): boolean {
    const matches = (entry: { accountKey: string; credentialId: string }): boolean =>
      entry.accountKey === accountKey && (credentialId === undefined || entry.credentialId === credentialId);
    for (const b of this.bindings.values()) if (matches(b)) return true;
    if (objectsToo) for (const o of this.objects.values()) if (matches(o)) return true;
    return false;
  }

  private dropCredentialIfUnused(account: Account, credentialId: string): void {
    if (!this.inUse(account.key, credentialId, true) && account.credentialCount > 1)
      account.dropCredential(credentialId);
  }

  /**
   * Drops a credential nothing uses, and the whole account once no route uses it (an account object alone
   * does not keep it: its next reconcile makes it again, with one verification call).
   */
  private retireIfUnused(accountKey: string, credentialId: string): void {
    const account = this.accounts.get(accountKey);
    if (!account) return;
    this.dropCredentialIfUnused(account, credentialId);
    if (this.inUse(accountKey, undefined, false)) return;
    // Jobs still running are followed to their end before the account goes.
    if (account.tracker.busy) return;
    this.accounts.delete(accountKey);
    void account.stop().catch((error: unknown) =>
      this.options.logger.warn('stopping an account failed', {
        account: account.description,
        error: errorMessage(error),
      }),
    );
    this.options.logger.info('CPH account no longer used', { account: account.description });
  }

  async stopAll(): Promise<void> {
    const accounts = [...this.accounts.values()];
    this.accounts.clear();
    await Promise.all(accounts.map((account) => account.stop()));
  }
}
