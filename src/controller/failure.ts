/**
 * What a failed round means for the status: its condition reason, a message a person can act on, and whether
 * it stalls the resource (needs a person) or is retried quietly. Pure. The one stall rule: a reason of
 * `stallingReasons` stalls at once; CphUnavailable stalls once CPH has not answered for
 * CPH_UNAVAILABLE_STALL_MS (`downSince`: when the account's outage began, undefined when CPH answers).
 */
import {
  CPH_UNAVAILABLE_STALL_MS,
  Reason,
  stallingReasons,
  type RoundFailureReason,
} from '../api/v1alpha1/conditions.js';
import { errorMessage } from '../errors.js';
import { isAccountProblem, isAuthError, isCphError, isThrottle } from '../cph/errors.js';
import { AccountError } from './account-config.js';

/** A failure of the round as a whole, classified. */
export interface RoundFailure {
  reason: RoundFailureReason;
  /** What happened and what to do, e.g. "CPH refused the credentials (APIGW.0301): ...". */
  message: string;
  /** Stalled=True (a person must act, or the outage has lasted) rather than Reconciling=True. */
  stalled: boolean;
}

/** Whether a failure with `reason` stalls, CPH having been down since `downSince` (ms) as of `now`. */
export function stalls(reason: RoundFailureReason, downSince: number | undefined, now: number): boolean {
  if (reason === Reason.CphUnavailable) return downSince !== undefined && now - downSince >= CPH_UNAVAILABLE_STALL_MS;
  return stallingReasons.has(reason);
}

function describe(error: unknown): { reason: RoundFailureReason; message: string } {
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

/** Which round failure an error is. */
export function classifyFailure(error: unknown, downSince: number | undefined, now: number): RoundFailure {
  const { reason, message } = describe(error);
  return { reason, message, stalled: stalls(reason, downSince, now) };
}
