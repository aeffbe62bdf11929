/**
 * What a simulator can be asked to be: size, credentials, timing, faults, and one switch for each reading of
 * the CPH documentation that the public material leaves open (docs/cph-simulator.md lists them with their
 * defaults). Defaults act out the documented behaviour where there is one and the harsher reading otherwise.
 */
import type { TrafficType } from '../cph/wire.js';
import type { Logger } from '../runtime/logger.js';
import type { Clock } from '../runtime/clock.js';

/**
 * 500 CPS.0003, 503, 429 APIGW.0308, connection reset, never answered: the request has no effect.
 * `lost`: the request takes effect, then the connection is reset before the answer (a reply lost in
 * transit); not in the default mix.
 */
export type FaultKind = '500' | '503' | '429' | 'reset' | 'timeout' | 'lost';
/** The default mix of --fault-rate. */
export const allFaultKinds: readonly FaultKind[] = ['500', '503', '429', 'reset', 'timeout'];
export const knownFaultKinds: readonly FaultKind[] = [...allFaultKinds, 'lost'];

/**
 * How error bodies look: CPH's `{request_id, error_code, error_msg}`, `{error: {code, message}}` (nested), or
 * a top-level `{code, message}` (top); the Go SDK reads all three, the last two with the request ID only in
 * the X-Request-Id header.
 */
export type ErrorBodyReading = 'cph' | 'nested' | 'top';

/** How job error fields look when there is no error. */
export type JobErrorFieldsReading = 'documented' | 'null' | 'empty';

export interface Readings {
  /** documented: ShowJob gives null, ListJobs gives "" (both examples); null / empty: everywhere. */
  jobErrorFields: JobErrorFieldsReading;
  /** HTTP status of CPS.0005 (phone or job not found): 404 (current table) or 400 (older table). */
  notFoundStatus: 404 | 400;
  /** Largest `limit` the phone list accepts: 200 (API reference) or 100 (Go SDK model). */
  maxListLimit: number;
  /** A route job restarts the phone: status 4 while it runs. */
  restartOnRouteChange: boolean;
  /** Phones not in status 2 get a per-phone error (CPS.0012) instead of a job. */
  refuseNotRunning: boolean;
  /** Asking for the route a phone already has creates a real job (counted as a costly repeat); false: a job that has already succeeded. */
  repeatCreatesJob: boolean;
  /** Shape of error bodies. */
  errorBody: ErrorBodyReading;
  /** Error code for more than 100 phone IDs (HTTP 400). */
  tooManyIdsErrorCode: string;
  /** Error code for an X-Sdk-Date more than 15 minutes off (HTTP 401). */
  skewErrorCode: string;
}

export const defaultReadings: Readings = {
  jobErrorFields: 'documented',
  notFoundStatus: 404,
  maxListLimit: 200,
  restartOnRouteChange: false,
  refuseNotRunning: false,
  repeatCreatesJob: true,
  errorBody: 'cph',
  tooManyIdsErrorCode: 'APIGW.0201',
  skewErrorCode: 'APIGW.0303',
};

/** Wire fields of a phone that a quirk can leave out. */
export type OmittablePhoneField = 'phone_id' | 'phone_name' | 'server_id' | 'status' | 'traffic_type';
export const omittablePhoneFields: readonly OmittablePhoneField[] = [
  'phone_id',
  'phone_name',
  'server_id',
  'status',
  'traffic_type',
];

/** How one phone is rendered oddly in ListCloudPhones and ShowCloudPhoneDetail. */
export interface PhoneQuirk {
  /** Fields left out of the phone's rendering. */
  omit?: OmittablePhoneField[];
  /** Rendered as `traffic_type` instead of the phone's route (any JSON value, e.g. "tunnel"); the route itself is unchanged. */
  trafficType?: unknown;
}

/**
 * Answers that every SDK model allows but the documented examples never show, set through POST /_sim/quirks
 * (none by default): odd phones in the list, phones-traffic answers without a request ID or without a job
 * for some phones, and a refusal of every call of the account. The client must read each of them.
 */
export interface Quirks {
  /** By phone ID. */
  phones: Record<string, PhoneQuirk>;
  /** Where a phones-traffic answer carries its request ID: body and header (default), header only, or nowhere. */
  trafficRequestId: 'body' | 'header' | 'none';
  /** Phones whose phones-traffic entry carries neither job_id nor error_code (their job is still created and runs). */
  noJobFor: string[];
  /** Every API call of `operation` (every operation when absent) is refused with this status and code, after auth. */
  refuse: { httpStatus: number; errorCode: string; errorMsg: string; operation?: string } | undefined;
}

export function noQuirks(): Quirks {
  return { phones: {}, trafficRequestId: 'body', noJobFor: [], refuse: undefined };
}

/** Settings that can change at run time through POST /_sim/faults. */
export interface RuntimeSettings {
  latencyMs: number;
  jobMs: number;
  jobFailureRate: number;
  faultRate: number;
  faultKinds: FaultKind[];
  /** Requests per second per API (operation); 0 disables the limit. */
  rateLimit: number;
  /** Retry-After (seconds) sent with an injected 429. */
  retryAfterSeconds: number;
  /** Every API connection is reset at once, as if the endpoint were down. */
  unreachable: boolean;
  /** Jobs for these phones always fail (admin only), for tests of one failing phone among others. */
  failJobsForPhones: string[];
}

export interface SimulatorOptions extends Partial<Readings> {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  tls?: boolean;
  /** With tls: write the CA certificate (PEM) here. */
  caOut?: string;
  /** Default 1000. */
  phones?: number;
  /** Default 1. */
  seed?: number;
  projectId: string;
  /**
   * The accepted access key and secret. Without them no signature can pass (only IAM tokens work).
   */
  ak?: string;
  sk?: string;
  /** More accepted key pairs (e.g. one per operator replica in chaos tests). */
  credentials?: Array<{ ak: string; sk: string }>;
  /** IAM password login; without iamUser every login is refused. */
  iamUser?: string;
  iamPassword?: string;
  iamDomain?: string;
  /** Default 86400 (24 h). */
  tokenTtlSeconds?: number;
  /** Delay before every API answer (real time). Default 0. */
  latencyMs?: number;
  /** How long a route job runs, by the simulator's clock. Default 2000. */
  jobMs?: number;
  /** Share of route jobs that fail, drawn from the seed. Default 0. */
  jobFailureRate?: number;
  /** Share of API requests that get a fault, drawn from the seed. Default 0. */
  faultRate?: number;
  /** Fault mix, equally likely. Default all: 500 CPS.0003, 503, 429 APIGW.0308, connection reset, timeout. */
  faultKinds?: FaultKind[];
  /**
   * Faults given in order before any seeded draw, e.g. `[{ kind: '503', operation: 'ImportTraffic', count: 2 }]`
   * (operation names as in /_sim/counters; any operation when absent; count default 1).
   */
  faultScript?: Array<{ kind: FaultKind; operation?: string; count?: number }>;
  /** Requests per second per API; 0 = unlimited. Default 200 (the gateway's documented limit). */
  rateLimit?: number;
  /** Retry-After seconds on an injected 429. Default 1. */
  retryAfterSeconds?: number;
  /** Phones per server. Default 8. */
  phonesPerServer?: number;
  /** Pool names for phone names `pool-<pool>-<n>`; server k is in pools[k % n]. Default a,b,c,d. */
  pools?: string[];
  /** IDs for the newest phones, in list order (e.g. the published example ID). */
  fixedPhoneIds?: string[];
  /** Route every phone starts with. Default direct. */
  initialTrafficType?: TrafficType;
  /** Entries kept in the /_sim/writes log. Default 100000. */
  maxWriteLog?: number;
  /** Jobs kept; past it the oldest finished requests are forgotten (ShowJob/ListJobs then find nothing). Default 1000000. */
  maxJobs?: number;
  clock?: Clock;
  logger?: Logger;
}
