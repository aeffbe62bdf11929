/**
 * Which account object a route uses, and whether its namespace may: the route's spec.accountRef, else the
 * operator's --default-account (a ClusterCloudPhoneAccount). A CloudPhoneAccount is found only in the route's
 * own namespace; a ClusterCloudPhoneAccount admits a namespace by name or label selector. Objects come from
 * the informer caches; the Secret an account names is read (GET) each time a config is made, so a rotated
 * key takes effect on the next reconcile.
 */
import { Reason } from '../api/v1alpha1/conditions.js';
import { parseAccountObject } from '../api/v1alpha1/account-parse.js';
import { namespaceAdmitted } from '../api/v1alpha1/account-rules.js';
import {
  CLUSTER_ACCOUNT_KIND,
  NAMESPACED_ACCOUNT_KIND,
  accountObjectKey,
  type AccountRef,
  type CloudPhoneAccountObject,
} from '../api/v1alpha1/account-types.js';
import { ParseError } from '../errors.js';
import {
  AccountError,
  accountConfig,
  secretLocation,
  type AccountConfig,
  type AccountEnvironment,
} from './account-config.js';
import type { SecretReader } from './accounts.js';

/** Reads objects of one kind from an informer cache, by `name` (cluster-scoped) or `namespace/name`. */
export interface ObjectCache {
  get(key: string): unknown;
}

export interface AccountDirectoryOptions {
  clusterAccounts: ObjectCache;
  namespacedAccounts: ObjectCache;
  /** Namespaces by name, for their labels. */
  namespaces: ObjectCache;
  /** --default-account: the ClusterCloudPhoneAccount of routes without spec.accountRef. */
  defaultAccount: string | undefined;
  env: AccountEnvironment;
  secrets: SecretReader;
}

/** The account object a route resolved to, with its config. */
export interface ResolvedAccount {
  object: CloudPhoneAccountObject;
  config: AccountConfig;
}

function labelsOf(raw: unknown): Record<string, string> {
  const labels = (raw as { metadata?: { labels?: unknown } } | undefined)?.metadata?.labels;
  const result: Record<string, string> = {};
  if (labels && typeof labels === 'object')
    for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') result[k] = v;
  return result;
}

export class AccountDirectory {
  constructor(private readonly options: AccountDirectoryOptions) {}

  /** The reference a route uses: its own, or the default account's. */
  effectiveRef(accountRef: AccountRef | undefined): AccountRef | undefined {
    if (accountRef) return accountRef;
    return this.options.defaultAccount ? { kind: CLUSTER_ACCOUNT_KIND, name: this.options.defaultAccount } : undefined;
  }

  /** The key of the account object a route in `namespace` with `accountRef` uses, if any. */
  objectKeyFor(namespace: string, accountRef: AccountRef | undefined): string | undefined {
    const ref = this.effectiveRef(accountRef);
    return ref
      ? accountObjectKey(ref.kind, ref.name, ref.kind === NAMESPACED_ACCOUNT_KIND ? namespace : undefined)
      : undefined;
  }

  /** The account a route uses, or an AccountError (AccountNotFound, AccountNotAllowed, the object's own problem). */
  async resolve(namespace: string, accountRef: AccountRef | undefined): Promise<ResolvedAccount> {
    const ref = this.effectiveRef(accountRef);
    if (!ref)
      throw new AccountError(
        Reason.AccountNotFound,
        'spec.accountRef is not set and the operator has no --default-account: name a ClusterCloudPhoneAccount or a CloudPhoneAccount of this namespace',
      );
    const field = accountRef ? 'spec.accountRef' : "the operator's --default-account";
    const object = this.object(ref, namespace);
    if (!object) {
      const where =
        ref.kind === NAMESPACED_ACCOUNT_KIND ? `${ref.kind} ${namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
      throw new AccountError(Reason.AccountNotFound, `${field}: ${where} does not exist`);
    }
    if (
      object.kind === CLUSTER_ACCOUNT_KIND &&
      !namespaceAdmitted(object.spec, { name: namespace, labels: labelsOf(this.options.namespaces.get(namespace)) })
    )
      throw new AccountError(
        Reason.AccountNotAllowed,
        `${field}: ${CLUSTER_ACCOUNT_KIND} ${ref.name} does not admit namespace ${namespace} (its spec.namespaces and spec.namespaceSelector)`,
      );
    return { object, config: await this.configOf(object) };
  }

  /** The config of an account object, reading its Secret. */
  async configOf(object: CloudPhoneAccountObject): Promise<AccountConfig> {
    const where = secretLocation(object, this.options.env);
    const data = where ? await this.options.secrets.read(where.namespace, where.name) : undefined;
    return accountConfig(object, data, this.options.env);
  }

  /** The account object by kind and name (in `namespace` for a CloudPhoneAccount); undefined when absent. */
  object(ref: AccountRef, namespace: string): CloudPhoneAccountObject | undefined {
    const raw =
      ref.kind === CLUSTER_ACCOUNT_KIND
        ? this.options.clusterAccounts.get(ref.name)
        : this.options.namespacedAccounts.get(`${namespace}/${ref.name}`);
    if (raw === undefined) return undefined;
    try {
      return parseAccountObject(raw, ref.kind);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      throw new AccountError(Reason.InvalidSpec, `${ref.kind} ${ref.name}: ${error.message}`);
    }
  }
}
