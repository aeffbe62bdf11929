/**
 * Reconciles one account object (queue key `name` for a ClusterCloudPhoneAccount, `namespace/name` for a
 * CloudPhoneAccount, as objectKey makes them): makes
 * its config (endpoint on the allowlist, Secret and keys present), registers it with the CPH account of its
 * endpoint and project, checks its credentials with one list call, and reports in its status whether routes
 * can use it (Ready, with the reason when not) and how many phones of the project its scope holds. The count
 * follows the account's inventory sweeps; it is written only when it changes, so a steady account costs no
 * writes. Routes that use the account are requeued when its spec changes (wired by the operator).
 */
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import type { Reconciler, ReconcileResult } from '../runtime/reconcile.js';
import { ParseError } from '../errors.js';
import {
  ConditionType,
  Reason,
  formatTime,
  removeCondition,
  setCondition,
  stallingReasons,
  type Reason as ReasonType,
} from '../api/v1alpha1/conditions.js';
import { parseAccountObject } from '../api/v1alpha1/account-parse.js';
import { phoneInScope } from '../api/v1alpha1/account-rules.js';
import {
  CLUSTER_ACCOUNT_KIND,
  NAMESPACED_ACCOUNT_KIND,
  accountObjectKey,
  type CloudPhoneAccountObject,
  type CloudPhoneAccountStatus,
} from '../api/v1alpha1/account-types.js';
import { AccountError } from './account-config.js';
import type { AccountDirectory, ObjectCache } from './account-directory.js';
import type { Account, AccountRegistry } from './accounts.js';
import { classifyFailure } from './failure.js';
import { canonicalEqual } from '../runtime/status-writer.js';

/** Writes an account object's status (only asked when it changed). */
export interface AccountStatusUpdater {
  patchStatus(object: CloudPhoneAccountObject, raw: unknown, status: CloudPhoneAccountStatus): Promise<void>;
}

export interface AccountObjectReconcilerOptions {
  clusterAccounts: ObjectCache;
  namespacedAccounts: ObjectCache;
  directory: AccountDirectory;
  accounts: AccountRegistry;
  updater: AccountStatusUpdater;
  clock: Clock;
  logger: Logger;
  /** How soon an account whose Secret is missing or unusable is looked at again (Secrets are not watched). */
  retryMs?: number;
}

/** The queue key of an account object key (`Kind/name` or `Kind/namespace/name`): the inverse of the below. */
export function queueKeyOfObjectKey(objectKey: string): string {
  return objectKey.slice(objectKey.indexOf('/') + 1);
}

function objectKeyOfQueueKey(key: string): string {
  const slash = key.indexOf('/');
  return slash < 0
    ? accountObjectKey(CLUSTER_ACCOUNT_KIND, key)
    : accountObjectKey(NAMESPACED_ACCOUNT_KIND, key.slice(slash + 1), key.slice(0, slash));
}

interface Outcome {
  ready: boolean;
  reason: ReasonType;
  message: string;
  phonesInScope?: number;
}

export class AccountObjectReconciler implements Reconciler {
  constructor(private readonly options: AccountObjectReconcilerOptions) {}

  // Long on purpose: read, verify, status and result of an account object in one pass; each part is a few lines.
  async reconcile(key: string): Promise<ReconcileResult> {
    const { accounts, clock } = this.options;
    const raw = key.includes('/') ? this.options.namespacedAccounts.get(key) : this.options.clusterAccounts.get(key);
    const objectKey = objectKeyOfQueueKey(key);
    if (raw === undefined) {
      accounts.unregister(objectKey);
      return {};
    }
    let object: CloudPhoneAccountObject;
    try {
      object = parseAccountObject(raw, key.includes('/') ? NAMESPACED_ACCOUNT_KIND : CLUSTER_ACCOUNT_KIND);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      accounts.unregister(objectKey);
      this.options.logger.warn('account object cannot be parsed', { account: objectKey, error: error.message });
      return {};
    }
    let outcome: Outcome;
    let account: Account | undefined;
    let requeueAfterMs: number | undefined;
    try {
      const config = await this.options.directory.configOf(object);
      account = accounts.register(objectKey, config);
      await account.verify(config.credential.id);
      const snapshot = account.inventory.snapshot();
      let inScope: number | undefined;
      if (snapshot) {
        inScope = 0;
        for (const phone of snapshot.phones.values()) if (phoneInScope(config.scope, phone)) inScope += 1;
      }
      outcome = {
        ready: true,
        reason: Reason.CredentialsVerified,
        message: `CPH accepted the credentials: a list call in project ${config.projectId} at ${config.endpoint} succeeded`,
        ...(inScope === undefined ? {} : { phonesInScope: inScope }),
      };
    } catch (error) {
      if (error instanceof AccountError) {
        accounts.unregister(objectKey);
        outcome = { ready: false, reason: error.reason, message: error.message };
        requeueAfterMs = this.options.retryMs ?? 30_000;
      } else {
        const failure = classifyFailure(error, undefined, clock.now());
        outcome = { ready: false, reason: failure.reason, message: failure.message };
        requeueAfterMs = failure.stalled ? (this.options.retryMs ?? 30_000) : 10_000;
      }
    }
    const previous = object.status;
    const next = this.nextStatus(object, previous, outcome, clock.now());
    if (!canonicalEqual(previous ?? {}, next)) {
      await this.options.updater.patchStatus(object, raw, next);
      this.options.logger.debug('account status written', {
        account: objectKey,
        reason: outcome.reason,
        phonesInScope: outcome.phonesInScope,
      });
    }
    if (!outcome.ready)
      this.options.logger.info('account not usable', {
        account: objectKey,
        reason: outcome.reason,
        error: outcome.message,
      });
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  private nextStatus(
    object: CloudPhoneAccountObject,
    previous: CloudPhoneAccountStatus | undefined,
    outcome: Outcome,
    now: number,
  ): CloudPhoneAccountStatus {
    const generation = object.metadata.generation ?? 0;
    let conditions = setCondition(
      previous?.conditions,
      {
        type: ConditionType.Ready,
        status: outcome.ready ? 'True' : 'False',
        reason: outcome.reason,
        message: outcome.message,
        observedGeneration: generation,
      },
      now,
    );
    const stalled = !outcome.ready && stallingReasons.has(outcome.reason);
    conditions = stalled
      ? setCondition(
          conditions,
          {
            type: ConditionType.Stalled,
            status: 'True',
            reason: outcome.reason,
            message: outcome.message,
            observedGeneration: generation,
          },
          now,
        )
      : removeCondition(conditions, ConditionType.Stalled);
    conditions =
      !outcome.ready && !stalled
        ? setCondition(
            conditions,
            {
              type: ConditionType.Reconciling,
              status: 'True',
              reason: outcome.reason,
              message: `retrying: ${outcome.message}`,
              observedGeneration: generation,
            },
            now,
          )
        : removeCondition(conditions, ConditionType.Reconciling);
    const status: CloudPhoneAccountStatus = { observedGeneration: generation, conditions };
    const count = outcome.phonesInScope ?? previous?.phonesInScope;
    if (count !== undefined) {
      status.phonesInScope = count;
      const changed = previous?.phonesInScope !== count || previous.phonesObservedAt === undefined;
      status.phonesObservedAt = changed ? formatTime(now) : previous.phonesObservedAt;
    }
    return status;
  }
}
