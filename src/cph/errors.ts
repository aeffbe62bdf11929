/**
 * Every failure of a CPH (or IAM) call is a CphError: what the server said (HTTP status, CPS./APIGW. code,
 * message, request ID) or what the client saw (Timeout, ConnectionReset, ...), which operation it was, and
 * whether trying again can help. The message is built only from those fields, never from request headers,
 * so credentials, tokens and signatures cannot reach it.
 */
import { OperatorError } from '../errors.js';

/** Codes the client itself assigns when there is no server code to report. */
export const clientErrorCodes = {
  /** The per-request timeout fired (the request may have been processed). */
  Timeout: 'Timeout',
  /** The connection broke after it was made (ECONNRESET, socket hang up): the request may have been processed. */
  ConnectionReset: 'ConnectionReset',
  /** No connection could be made (refused, DNS): the request surely never arrived. */
  ConnectionFailed: 'ConnectionFailed',
  /** The TLS handshake failed, e.g. the server's certificate is not trusted. Never retried. */
  TlsError: 'TlsError',
  /** A 2xx body that is not the documented shape, or not JSON. */
  InvalidResponse: 'InvalidResponse',
  /** An HTTP error without a recognisable CPH error body (e.g. an HTML page from a proxy). */
  HttpError: 'HttpError',
  /** The caller's AbortSignal fired. */
  Aborted: 'Aborted',
  /** The caller passed something the API would refuse (checked before sending). */
  InvalidArgument: 'InvalidArgument',
  /**
   * Calls are held back after repeated authentication failures (see CphClient's authFailureLimit), so that
   * a wrong SK cannot lock the AK: nothing was sent.
   */
  AuthSuspended: 'AuthSuspended',
} as const;

export interface CphErrorFields {
  operation: string;
  errorCode: string;
  errorMessage: string;
  httpStatus?: number | undefined;
  requestId?: string | undefined;
  retryable?: boolean | undefined;
  /** Milliseconds from a Retry-After header, when the server sent one. */
  retryAfterMs?: number | undefined;
  /**
   * True when the request may have reached CPH and been acted on although no answer came back (timeout,
   * reset). For a phones-traffic call this means the route may or may not have changed.
   */
  outcomeUnknown?: boolean | undefined;
  /** How many attempts were made before this error was final (set by the retry loop). */
  attempts?: number | undefined;
  cause?: unknown;
}

/** Whether a failure with this status and code is worth trying again, for an idempotent request. */
export function isRetryableFailure(httpStatus: number | undefined, errorCode: string): boolean {
  if (errorCode === 'APIGW.0308' || httpStatus === 429) return true;
  if (errorCode === 'APIGW.0301' || errorCode === 'APIGW.0303' || errorCode === clientErrorCodes.AuthSuspended)
    return false;
  if (httpStatus === 401 || httpStatus === 403) return false;
  if (httpStatus !== undefined && httpStatus >= 500) return true;
  if (httpStatus !== undefined && httpStatus >= 400) return false;
  return (
    errorCode === clientErrorCodes.Timeout ||
    errorCode === clientErrorCodes.ConnectionReset ||
    errorCode === clientErrorCodes.ConnectionFailed
  );
}

export class CphError extends OperatorError {
  readonly operation: string;
  readonly httpStatus: number | undefined;
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly requestId: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly outcomeUnknown: boolean;
  attempts: number;

  constructor(fields: CphErrorFields) {
    const status = fields.httpStatus === undefined ? '' : `HTTP ${fields.httpStatus} `;
    const request = fields.requestId === undefined ? '' : ` (request ${fields.requestId})`;
    super(fields.errorCode, `${fields.operation}: ${status}${fields.errorCode}: ${fields.errorMessage}${request}`, {
      cause: fields.cause,
    });
    this.operation = fields.operation;
    this.httpStatus = fields.httpStatus;
    this.errorCode = fields.errorCode;
    this.errorMessage = fields.errorMessage;
    this.requestId = fields.requestId;
    this.retryable = fields.retryable ?? isRetryableFailure(fields.httpStatus, fields.errorCode);
    this.retryAfterMs = fields.retryAfterMs;
    this.outcomeUnknown = fields.outcomeUnknown ?? false;
    this.attempts = fields.attempts ?? 1;
  }
}

export function isCphError(err: unknown): err is CphError {
  return err instanceof CphError;
}

/** 401, APIGW.0301 (bad token or signature) or APIGW.0303 (signature timestamp out of range). */
export function isAuthError(err: unknown): boolean {
  return (
    isCphError(err) &&
    (err.httpStatus === 401 ||
      err.errorCode === 'APIGW.0301' ||
      err.errorCode === 'APIGW.0303' ||
      err.errorCode === clientErrorCodes.AuthSuspended)
  );
}

/** 429 or APIGW.0308: the gateway's rate limit. */
export function isThrottle(err: unknown): boolean {
  return isCphError(err) && (err.httpStatus === 429 || err.errorCode === 'APIGW.0308');
}

/** CPS.0005 (phone not found; 404, or 400 in an older table) or a plain 404. */
export function isNotFound(err: unknown): boolean {
  return (
    isCphError(err) && (err.errorCode === 'CPS.0005' || (err.httpStatus === 404 && !err.errorCode.startsWith('APIGW.')))
  );
}

/** No permission, account in arrears, frozen, or missing real-name verification: needs a person, not a retry. */
export function isAccountProblem(err: unknown): boolean {
  return (
    isCphError(err) &&
    (['CPS.0001', 'CPS.0006', 'CPS.0007', 'CPS.0008'].includes(err.errorCode) || err.httpStatus === 403)
  );
}

/**
 * A refusal that concerns the whole account, not the phones of one call: bad credentials (401, APIGW.0301,
 * APIGW.0303, calls held back), no permission, arrears, frozen or unverified (CPS.0001/0006/0007/0008, 403).
 * Sending the account's other calls would be refused the same way, whatever HTTP status the refusal came
 * with (CPS.0001 is documented with 400 in one table).
 */
export function isAccountWideRefusal(err: unknown): boolean {
  return isAuthError(err) || isAccountProblem(err);
}

export function isTimeout(err: unknown): boolean {
  return isCphError(err) && err.errorCode === clientErrorCodes.Timeout;
}

export function isRetryable(err: unknown): boolean {
  return isCphError(err) && err.retryable;
}

/** Server or network trouble that should pass (as opposed to a request the API will always refuse). */
export function isTransient(err: unknown): boolean {
  return isRetryable(err);
}

/** The low-cardinality outcome label for metrics. */
export type CallOutcome =
  | 'success'
  | 'clientError'
  | 'authError'
  | 'throttled'
  | 'serverError'
  | 'timeout'
  | 'networkError'
  | 'invalidResponse'
  | 'aborted';

export function callOutcome(err: unknown): CallOutcome {
  if (!isCphError(err)) return 'clientError';
  if (isThrottle(err)) return 'throttled';
  if (isAuthError(err)) return 'authError';
  switch (err.errorCode) {
    case clientErrorCodes.Timeout:
      return 'timeout';
    case clientErrorCodes.ConnectionReset:
    case clientErrorCodes.ConnectionFailed:
    case clientErrorCodes.TlsError:
      return 'networkError';
    case clientErrorCodes.InvalidResponse:
      return 'invalidResponse';
    case clientErrorCodes.Aborted:
      return 'aborted';
  }
  if (err.httpStatus !== undefined && err.httpStatus >= 500) return 'serverError';
  return 'clientError';
}
