/**
 * The one list of condition types and reasons of a CloudPhoneRoute; nothing else invents them. The model
 * is Flux's and kstatus's: Ready says whether every selected phone is on the wanted route; Reconciling and
 * Stalled are "abnormal-true" conditions, present only while True: Reconciling while the operator is
 * making progress, Stalled while it cannot progress without a person. Reasons are CamelCase words a script
 * can match; messages are sentences a person can act on.
 */
import type { Condition, ConditionStatus } from './types.js';

export const ConditionType = {
  /** Every selected phone is on the wanted route (kubectl wait --for=condition=Ready). */
  Ready: 'Ready',
  /** The operator is working towards the spec: jobs running, changes being sent, retries scheduled. */
  Reconciling: 'Reconciling',
  /** The operator cannot make progress until a person acts (credentials, conflict, unknown phones, spec). */
  Stalled: 'Stalled',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];
/** The order conditions appear in status.conditions. */
export const conditionTypes: readonly ConditionType[] = ['Ready', 'Reconciling', 'Stalled'];

export const Reason = {
  /** Ready=True: every selected phone is on the wanted route. */
  InSync: 'InSync',
  /** Ready=True: the selector matches no phone and no phone is named; there is nothing to do. */
  NoPhonesSelected: 'NoPhonesSelected',
  /** Route changes for drifted phones are being sent in this round. */
  ApplyingRoute: 'ApplyingRoute',
  /** Route-change jobs are running; CPH is polled until they end. */
  JobsPending: 'JobsPending',
  /** Some route changes failed (job failed, or CPH refused the phone); retried with backoff. */
  JobFailed: 'JobFailed',
  /** Some phones named in spec.phoneIds do not exist in the CPH project. */
  PhonesNotFound: 'PhonesNotFound',
  /** Some phones are wanted on a different route by another CloudPhoneRoute; neither changes them. */
  Conflict: 'Conflict',
  /** Some drifted phones are not running (stopped, frozen, restarting...); changed once they run. */
  PhonesNotRunning: 'PhonesNotRunning',
  /** CPH refused the credentials (APIGW.0301, bad AK/SK, missing Secret or key). */
  CredentialsInvalid: 'CredentialsInvalid',
  /** The credentials lack an IAM permission (CPS.0001, 403). */
  PermissionDenied: 'PermissionDenied',
  /** The account cannot be used: in arrears, frozen or not verified (CPS.0006/0007/0008). */
  AccountRestricted: 'AccountRestricted',
  /** CPH could not be reached or answered with a server error; retried with backoff. */
  CphUnavailable: 'CphUnavailable',
  /** CPH throttled the operator (429, APIGW.0308); retried after a pause. */
  Throttled: 'Throttled',
  /** The account the route names (or the operator's default account) does not exist, or none is set. */
  AccountNotFound: 'AccountNotFound',
  /** The route's namespace may not use the ClusterCloudPhoneAccount it names. */
  AccountNotAllowed: 'AccountNotAllowed',
  /** Some selected phones are outside the account's phoneScope: reported, never changed. */
  PhonesOutOfScope: 'PhonesOutOfScope',
  /** The account's endpoint is not on the operator's --allowed-endpoint-hosts: it is never called. */
  EndpointNotAllowed: 'EndpointNotAllowed',
  /** Account Ready=True: a list call with its credentials succeeded. */
  CredentialsVerified: 'CredentialsVerified',
  /** Account: its credentials are being checked with a list call. */
  Verifying: 'Verifying',
  /** spec.suspend is true: the operator reports but changes nothing. */
  Suspended: 'Suspended',
  /** The resource is being deleted (deletionPolicy Revert: phones go back to direct first). */
  Deleting: 'Deleting',
  /** The spec cannot be acted on (it passed admission but the operator refused it, e.g. an old object). */
  InvalidSpec: 'InvalidSpec',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];
export const reasons: readonly Reason[] = Object.values(Reason);

/** Problems of a whole round (not of single phones), as the controller classifies its errors. */
export type RoundFailureReason =
  | typeof Reason.CredentialsInvalid
  | typeof Reason.PermissionDenied
  | typeof Reason.AccountRestricted
  | typeof Reason.CphUnavailable
  | typeof Reason.Throttled
  | typeof Reason.InvalidSpec
  | typeof Reason.AccountNotFound
  | typeof Reason.AccountNotAllowed
  | typeof Reason.EndpointNotAllowed;

/** Round failures that need a person (Stalled=True); the others are retried (Reconciling=True). */
export const stallingReasons: ReadonlySet<Reason> = new Set<Reason>([
  Reason.CredentialsInvalid,
  Reason.PermissionDenied,
  Reason.AccountRestricted,
  Reason.InvalidSpec,
  Reason.Conflict,
  Reason.PhonesNotFound,
  Reason.AccountNotFound,
  Reason.AccountNotAllowed,
  Reason.EndpointNotAllowed,
  Reason.PhonesOutOfScope,
]);

/**
 * How long CPH may stay unreachable (CphUnavailable rounds, failed inventory sweeps) before a resource says
 * Stalled=True with reason CphUnavailable: a short outage is retried quietly (Reconciling), a long one needs
 * a person to look at the network or at CPH. The operator keeps retrying with backoff either way and
 * recovers by itself, without a restart.
 */
export const CPH_UNAVAILABLE_STALL_MS = 60_000;

/** RFC 3339 in UTC with seconds precision, as metav1.Time serialises (2026-11-28T06:53:00Z). */
export function formatTime(at: number | Date): string {
  const ms = typeof at === 'number' ? at : at.getTime();
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

export interface ConditionUpdate {
  type: ConditionType;
  status: ConditionStatus;
  reason: Reason;
  message: string;
  observedGeneration?: number;
}

/**
 * A new list with `update` set. lastTransitionTime stays what it was unless the status changes (the
 * metav1 convention; apimachinery's meta.SetStatusCondition does the same), so setting a condition to what
 * it already is yields a deep-equal list. The list is ordered Ready, Reconciling, Stalled, then any
 * foreign types in their previous order.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: number | Date,
): Condition[] {
  const previous = findCondition(conditions, update.type);
  const next: Condition = {
    type: update.type,
    status: update.status,
    ...(update.observedGeneration === undefined ? {} : { observedGeneration: update.observedGeneration }),
    lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : formatTime(now),
    reason: update.reason,
    message: update.message,
  };
  const rest = (conditions ?? []).filter((c) => c.type !== update.type);
  return orderConditions([...rest, next]);
}

/** A new list without the condition of `type`. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return orderConditions((conditions ?? []).filter((c) => c.type !== type));
}

function orderConditions(conditions: Condition[]): Condition[] {
  const rank = (type: string): number => {
    const i = (conditionTypes as readonly string[]).indexOf(type);
    return i === -1 ? conditionTypes.length : i;
  };
  // Array.prototype.sort is stable, so foreign types keep their relative order.
  return conditions.sort((a, b) => rank(a.type) - rank(b.type));
}
