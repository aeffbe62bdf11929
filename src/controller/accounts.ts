/**
 * CPH accounts and what each one shares among the resources that use it: one client (one keep-alive
 * agent, one rate limiter), one phone inventory, one route writer and one job tracker. A resource's account
 * is its spec's projectId / region / endpoint / credentialsSecretRef over the operator's defaults.
 * Guarantees:
 *   - every resource that resolves to the same endpoint, project and credentials shares one Account;
 *   - credentials rotated in a Secret give a new Account on the next reconcile (the key includes a
 *     fingerprint of the secret key, never the key itself); the old one stops once no resource uses it;
 *   - the rate limiter is shared per endpoint and project, so a rotation never doubles the request rate;
 *   - the inventory sweeps at the shortest drift interval of the account's resources.
 */
import { createHash } from 'node:crypto';
import { OperatorError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import { AkSkAuth, IamTokenAuth, type CphAuth } from '../cph/auth.js';
import { CphClient, type CphCallRecord } from '../cph/client.js';
import { cphEndpointForRegion, type EnvCredentials, type MissingCredentialsError } from '../cph/credentials.js';
import { RateLimiterRegistry } from '../cph/rate-limiter.js';
import type { TrafficType } from '../cph/wire.js';
import { DEFAULT_ACCESS_KEY_KEY, DEFAULT_SECRET_KEY_KEY } from '../api/v1alpha1/constants.js';
import type { CloudPhoneRouteSpec } from '../api/v1alpha1/types.js';
import { cphPortOf } from './cph-port.js';
import { PhoneInventory, type InventorySnapshot } from './inventory.js';
import type { ObservedPhone } from './ports.js';
import { JobTracker, type JobOutcome } from './job-tracker.js';
import { RouteWriter } from './route-writer.js';
import type { RetryHold } from './plan.js';

export type AccountErrorCode = 'CredentialsMissing' | 'SecretNotFound' | 'SecretKeyMissing' | 'SecretKeyInvalid' | 'ProjectMissing' | 'EndpointMissing';

/** The account of a resource cannot be put together. The message names the field or key at fault. */
export class AccountError extends OperatorError {
  constructor(
    readonly accountCode: AccountErrorCode,
    message: string,
  ) {
    super(accountCode, message);
  }
}

/** Reads a Secret's decoded data; undefined when the Secret does not exist. */
export interface SecretReader {
  read(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}

export interface AccountDefaults {
  cphEndpoint: string | undefined;
  iamEndpoint: string | undefined;
  region: string | undefined;
  projectId: string | undefined;
  /** Extra CA bundle (PEM) for CPH and IAM. */
  caPem: string | undefined;
  credentials: EnvCredentials | MissingCredentialsError;
  qps: number;
  burst: number;
  /** Calls of any one API per second. */
  apiQps: number;
  timeoutMs: number;
  jobPollIntervalMs: number;
  userAgent: string;
}

export interface AccountHooks {
  onSwept(account: Account, snapshot: InventorySnapshot): void;
  onSweepFailed(account: Account, error: unknown): void;
  /** Told each page of a sweep as it arrives; the sweep ends once what it returns has settled. */
  onPhonesRead?(account: Account, phones: readonly ObservedPhone[], sweep: number): Promise<void>;
  onJobsEnded(account: Account, owners: ReadonlySet<string>, outcomes: readonly JobOutcome[]): void;
  onCphCall(call: CphCallRecord): void;
  onRouteCall(account: Account, trafficType: TrafficType, phoneIds: readonly string[], requestId: string | undefined): void;
}

/** A failed change held back before it is tried again. */
interface Hold extends RetryHold {
  until: number;
  attempts: number;
}

const holdBaseMs = 30_000;
const holdMaxMs = 15 * 60_000;

export class Account {
  readonly client: CphClient;
  readonly inventory: PhoneInventory;
  readonly tracker: JobTracker;
  readonly writer: RouteWriter;
  private readonly holds = new Map<string, Hold>();
  /** Bumped when a hold is set or dropped (expiry is seen through activeHolds()). */
  private holdChanges = 0;
  /**
   * Per phone, when (in `changeSequence` terms) its job in flight or its known route last changed since the
   * last sweep: a plan can be brought up to date by redoing only the resources of these phones.
   */
  private readonly phoneChanges = new Map<string, number>();
  private changes = 0;

  constructor(
    readonly key: string,
    /** Endpoint and project, safe to show in logs and status. */
    readonly description: string,
    client: CphClient,
    intervalMs: number,
    private readonly clock: Clock,
    logger: Logger,
    hooks: AccountHooks,
    jobPollIntervalMs: number,
  ) {
    this.client = client;
    const cph = cphPortOf(client);
    const pageHook = hooks.onPhonesRead;
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
      onPhoneChanged: (phoneId) => this.notePhoneChanged(phoneId),
      ...(pageHook ? { onPhonesRead: (phones: readonly ObservedPhone[], sweep: number) => pageHook.call(hooks, this, phones, sweep) } : {}),
    });
    this.tracker = new JobTracker({
      cph,
      clock,
      logger,
      pollIntervalMs: jobPollIntervalMs,
      onJobsEnded: (owners, outcomes) => {
        for (const outcome of outcomes) {
          if (outcome.state === 'failed' && outcome.trafficType)
            this.hold({ phoneId: outcome.phoneId, trafficType: outcome.trafficType, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage, jobId: outcome.jobId, requestId: outcome.requestId });
          else if (this.holds.delete(outcome.phoneId)) this.holdChanges += 1;
        }
        hooks.onJobsEnded(this, owners, outcomes);
      },
      onRouteConfirmed: (phoneId, trafficType) => {
        this.inventory.recordRoute(phoneId, trafficType);
        this.notePhoneChanged(phoneId);
      },
      onPhoneChanged: (phoneId) => this.notePhoneChanged(phoneId),
    });
    this.writer = new RouteWriter({
      cph,
      tracker: this.tracker,
      clock,
      logger,
      onCallSent: (trafficType, phoneIds, requestId) => hooks.onRouteCall(this, trafficType, phoneIds, requestId),
    });
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

  /** Holds a failed change back, with a backoff that doubles on each failure in a row. */
  hold(failure: RetryHold): void {
    const previous = this.holds.get(failure.phoneId);
    const attempts = previous && previous.trafficType === failure.trafficType ? previous.attempts + 1 : 1;
    const delay = Math.min(holdMaxMs, holdBaseMs * 2 ** (attempts - 1));
    this.holds.set(failure.phoneId, { ...failure, attempts, until: this.clock.now() + delay });
    this.holdChanges += 1;
  }

  /** Changes when the set of holds does (a hold set, dropped, or expired). */
  get holdsVersion(): string {
    let active = 0;
    const now = this.clock.now();
    for (const hold of this.holds.values()) if (hold.until > now) active += 1;
    return `${this.holdChanges}.${active}`;
  }

  /** The holds still in force; expired ones are dropped so their phones are tried again. */
  activeHolds(): RetryHold[] {
    const now = this.clock.now();
    const active: RetryHold[] = [];
    for (const [phoneId, hold] of this.holds) {
      if (hold.until <= now) continue;
      const { until: _until, attempts: _attempts, ...rest } = hold;
      active.push({ ...rest, phoneId });
    }
    return active;
  }

  /** The earliest time a hold ends, to requeue then. */
  nextHoldExpiry(): number | undefined {
    let next: number | undefined;
    for (const hold of this.holds.values()) if (hold.until > this.clock.now() && (next === undefined || hold.until < next)) next = hold.until;
    return next;
  }

  clearHold(phoneId: string): void {
    if (this.holds.delete(phoneId)) this.holdChanges += 1;
  }

  start(): void {
    this.inventory.start();
    this.tracker.start();
  }

  async stop(): Promise<void> {
    this.writer.stop();
    await Promise.all([this.inventory.stop(), this.tracker.stop()]);
    this.client.close();
  }
}

export interface AccountRegistryOptions {
  defaults: AccountDefaults;
  secrets: SecretReader;
  clock: Clock;
  logger: Logger;
  hooks: AccountHooks;
}

function fingerprint(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 16);
}

export class AccountRegistry {
  private readonly accounts = new Map<string, Account>();
  /** resource key -> account key and drift interval. */
  private readonly bindings = new Map<string, { accountKey: string; intervalMs: number }>();
  /** account key -> its resources, sorted; rebuilt only when a binding changes (read by every reconcile). */
  private readonly ownersCache = new Map<string, string[]>();
  private readonly rateLimiters: RateLimiterRegistry;

  constructor(private readonly options: AccountRegistryOptions) {
    this.rateLimiters = new RateLimiterRegistry({ qps: options.defaults.qps, burst: options.defaults.burst, apiQps: options.defaults.apiQps, clock: options.clock });
  }

  /**
   * The account a resource uses, created on first use, and the resource bound to it (with its drift
   * interval). Throws AccountError when the spec and the defaults do not make a usable account. `secrets`
   * replaces the registry's reader, e.g. one that reads each Secret once while many resources are bound.
   */
  async resolve(resourceKey: string, namespace: string, spec: CloudPhoneRouteSpec, intervalMs: number, secrets: SecretReader = this.options.secrets): Promise<Account> {
    const defaults = this.options.defaults;
    const region = spec.region ?? defaults.region;
    const envCredentials = defaults.credentials instanceof Error ? undefined : defaults.credentials;
    const endpoint = (spec.endpoint ?? (spec.region ? cphEndpointForRegion(spec.region) : undefined) ?? defaults.cphEndpoint ?? envCredentials?.cphEndpoint ?? (region ? cphEndpointForRegion(region) : undefined))?.replace(/\/+$/, '');
    if (!endpoint) throw new AccountError('EndpointMissing', 'no CPH endpoint: set spec.region or spec.endpoint, or start the operator with --region or --cph-endpoint');
    const projectId = spec.projectId ?? defaults.projectId ?? envCredentials?.projectId;
    if (!projectId) throw new AccountError('ProjectMissing', 'no CPH project: set spec.projectId, or start the operator with --project-id or HUAWEICLOUD_SDK_PROJECT_ID');

    let auth: () => CphAuth;
    let credentialId: string;
    const ref = spec.credentialsSecretRef;
    if (ref) {
      const data = await secrets.read(namespace, ref.name);
      if (!data) throw new AccountError('SecretNotFound', `spec.credentialsSecretRef: Secret ${namespace}/${ref.name} does not exist`);
      const akKey = ref.accessKeyKey ?? DEFAULT_ACCESS_KEY_KEY;
      const skKey = ref.secretKeyKey ?? DEFAULT_SECRET_KEY_KEY;
      const ak = data[akKey]?.trim();
      const sk = data[skKey]?.trim();
      if (!ak) throw new AccountError('SecretKeyMissing', `spec.credentialsSecretRef: Secret ${namespace}/${ref.name} has no non-empty key ${akKey} (the access key ID)`);
      if (!sk) throw new AccountError('SecretKeyMissing', `spec.credentialsSecretRef: Secret ${namespace}/${ref.name} has no non-empty key ${skKey} (the secret key)`);
      // The AK travels in the Authorization header: a value that cannot be a header (control or non-ASCII
      // characters, spaces) would fail as a network error; say what is wrong instead, never the value.
      if (!/^[\x21-\x7e]+$/.test(ak)) throw new AccountError('SecretKeyInvalid', `spec.credentialsSecretRef: Secret ${namespace}/${ref.name} key ${akKey} is not an access key ID (it holds spaces, control or non-ASCII characters)`);
      if (!/^[\x20-\x7e]+$/.test(sk)) throw new AccountError('SecretKeyInvalid', `spec.credentialsSecretRef: Secret ${namespace}/${ref.name} key ${skKey} is not a secret key (it holds control or non-ASCII characters)`);
      credentialId = `secret:${namespace}/${ref.name}:${fingerprint(ak, sk)}`;
      auth = () => new AkSkAuth({ ak, sk }, this.options.clock);
    } else if (envCredentials?.kind === 'aksk') {
      credentialId = `env-aksk:${fingerprint(envCredentials.ak, envCredentials.sk)}`;
      auth = () => new AkSkAuth({ ak: envCredentials.ak, sk: envCredentials.sk }, this.options.clock);
    } else if (envCredentials?.kind === 'password') {
      const iamEndpoint = defaults.iamEndpoint ?? envCredentials.iamEndpoint;
      credentialId = `env-iam:${fingerprint(iamEndpoint, envCredentials.domain, envCredentials.user, envCredentials.password)}`;
      auth = () =>
        new IamTokenAuth({
          iamEndpoint,
          credentials: { user: envCredentials.user, password: envCredentials.password, domain: envCredentials.domain },
          project: { id: projectId },
          clock: this.options.clock,
          logger: this.options.logger,
          caPem: defaults.caPem,
          userAgent: defaults.userAgent,
          onCall: (call) => this.options.hooks.onCphCall({ ...call, outcome: call.outcome as CphCallRecord['outcome'], attempt: 1, errorCode: undefined, requestId: undefined }),
        });
    } else {
      const why = defaults.credentials instanceof Error ? defaults.credentials.message : 'no credentials';
      throw new AccountError('CredentialsMissing', `no CPH credentials: set spec.credentialsSecretRef, or give the operator default credentials (${why})`);
    }

    const key = `${endpoint}|${projectId}|${credentialId}`;
    let account = this.accounts.get(key);
    if (!account) {
      const client = new CphClient({
        endpoint,
        projectId,
        auth: auth(),
        caPem: defaults.caPem,
        timeoutMs: defaults.timeoutMs,
        rateLimiter: this.rateLimiters.forAccount(`${endpoint}|${projectId}`),
        apiWindow: this.rateLimiters.apiWindowForAccount(`${endpoint}|${projectId}`),
        logger: this.options.logger,
        clock: this.options.clock,
        userAgent: defaults.userAgent,
        onCall: (call) => this.options.hooks.onCphCall(call),
      });
      account = new Account(key, `${endpoint} project ${projectId}`, client, intervalMs, this.options.clock, this.options.logger, this.options.hooks, defaults.jobPollIntervalMs);
      this.accounts.set(key, account);
      account.start();
      this.options.logger.info('CPH account in use', { account: account.description });
    }
    this.bind(resourceKey, key, intervalMs);
    return account;
  }

  private bind(resourceKey: string, accountKey: string, intervalMs: number): void {
    const previous = this.bindings.get(resourceKey);
    if (previous && previous.accountKey === accountKey && previous.intervalMs === intervalMs) return;
    this.bindings.set(resourceKey, { accountKey, intervalMs });
    this.ownersCache.delete(accountKey);
    if (previous) this.ownersCache.delete(previous.accountKey);
    this.retune(accountKey);
    if (previous && previous.accountKey !== accountKey) this.retireIfUnused(previous.accountKey);
  }

  /** A reader that reads each Secret once: for binding many resources in one pass. */
  secretsReadOnce(): SecretReader {
    const reads = new Map<string, Promise<Record<string, string> | undefined>>();
    return {
      read: (namespace, name) => {
        const key = `${namespace}/${name}`;
        let read = reads.get(key);
        if (!read) reads.set(key, (read = this.options.secrets.read(namespace, name)));
        return read;
      },
    };
  }

  /** The resource no longer uses any account (deleted, or its account cannot be resolved). */
  release(resourceKey: string): void {
    const previous = this.bindings.get(resourceKey);
    if (!previous) return;
    this.bindings.delete(resourceKey);
    this.ownersCache.delete(previous.accountKey);
    this.accounts.get(previous.accountKey)?.tracker.forgetOwner(resourceKey);
    this.retune(previous.accountKey);
    this.retireIfUnused(previous.accountKey);
  }

  /** The resources bound to an account, sorted. The array is shared: do not change it. */
  owners(account: Account): readonly string[] {
    let keys = this.ownersCache.get(account.key);
    if (!keys) {
      keys = [];
      for (const [resourceKey, binding] of this.bindings) if (binding.accountKey === account.key) keys.push(resourceKey);
      keys.sort();
      this.ownersCache.set(account.key, keys);
    }
    return keys;
  }

  accountOf(resourceKey: string): Account | undefined {
    const binding = this.bindings.get(resourceKey);
    return binding ? this.accounts.get(binding.accountKey) : undefined;
  }

  all(): Account[] {
    return [...this.accounts.values()];
  }

  private retune(accountKey: string): void {
    const account = this.accounts.get(accountKey);
    if (!account) return;
    const intervals = [...this.bindings.values()].filter((b) => b.accountKey === accountKey).map((b) => b.intervalMs);
    if (intervals.length > 0) account.inventory.setIntervalMs(Math.min(...intervals));
  }

  private retireIfUnused(accountKey: string): void {
    const account = this.accounts.get(accountKey);
    if (!account) return;
    if ([...this.bindings.values()].some((b) => b.accountKey === accountKey)) return;
    // Jobs still running are followed to their end before the account goes.
    if (account.tracker.busy) return;
    this.accounts.delete(accountKey);
    void account.stop();
    this.options.logger.info('CPH account no longer used', { account: account.description });
  }

  async stopAll(): Promise<void> {
    const accounts = [...this.accounts.values()];
    this.accounts.clear();
    await Promise.all(accounts.map((account) => account.stop()));
  }
}
