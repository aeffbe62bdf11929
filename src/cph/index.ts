/**
 * The CPH client's public face: what the controller and the command import. Everything else in src/cph is
 * an implementation detail of these.
 */
export { CphClient, cphOperations, maxRequestIdsPerJobList, phonePageSize } from './client.js';
export type {
  CallOptions,
  CphCallRecord,
  CphClientOptions,
  SweepOptions,
  TrafficBatch,
  TrafficResult,
} from './client.js';
export { AkSkAuth, IamTokenAuth, iamOperation } from './auth.js';
export type { AuthHeaders, AuthRequest, CphAuth, IamPasswordCredentials, IamTokenAuthOptions } from './auth.js';
export {
  cphEndpointForRegion,
  credentialEnv,
  credentialsFromEnv,
  iamEndpointForRegion,
  MissingCredentialsError,
} from './credentials.js';
export type { CredentialsResult, EnvCredentials } from './credentials.js';
export {
  CphError,
  callOutcome,
  clientErrorCodes,
  isAccountProblem,
  isAccountWideRefusal,
  isAuthError,
  isCphError,
  isNotFound,
  isRetryable,
  isThrottle,
  isTimeout,
  isTransient,
} from './errors.js';
export type { CallOutcome, CphErrorFields } from './errors.js';
export { defaultQps, RateLimiterRegistry, TokenBucket } from './rate-limiter.js';
export type { RateLimiter, RateLimiterOptions } from './rate-limiter.js';
export { defaultRetryPolicy } from './retry.js';
export type { RetryPolicy } from './retry.js';
export type * from './types.js';
