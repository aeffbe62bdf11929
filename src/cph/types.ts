/**
 * The CPH API's data as the rest of the operator sees it: camelCase, optional where the wire may leave a
 * field out, and with the API's codes turned into names where the meaning is documented
 * (../shared/cph-api.md). Produced only by src/cph/parse.ts from untrusted JSON; never built by hand from
 * network data.
 */
import type { TrafficType } from './wire.js';

export type { TrafficType } from './wire.js';

/**
 * A cloud phone from ListCloudPhones or ShowCloudPhoneDetail. Every field of the SDK's Phone model is
 * optional and the API adds values over time, so only `phone_id` is required; any other field that is
 * absent or of a type the model does not allow reads as undefined.
 */
export interface Phone {
  phoneId: string;
  phoneName: string | undefined;
  serverId: string | undefined;
  /** Numeric phone status: 1 creating, 2 running, 3 resetting, 4 restarting, 6 frozen, 7 stopping, 8 stopped, negatives are failures. */
  status: number | undefined;
  /** The route; undefined when the API left it out or sent another value (the caller must treat it as unknown, not as `direct`). */
  trafficType: TrafficType | undefined;
  /** `traffic_type` as sent, when it is present but neither `direct` nor `routing` (at most 64 characters). */
  unknownTrafficType: string | undefined;
  /** 0 ordinary, 1 trial. */
  type: number | undefined;
  phoneModelName: string | undefined;
  imageId: string | undefined;
  imageVersion: string | undefined;
  /** The wire carries "true"/"false" as a string. */
  vncEnable: boolean | undefined;
  imei: string | undefined;
  volumeMode: number | undefined;
  availabilityZone: string | undefined;
  metadata: { orderId: string | undefined; productId: string | undefined } | undefined;
  hasEncrypt: boolean | undefined;
  createTime: string | undefined;
  updateTime: string | undefined;
}

/** ShowCloudPhoneDetail: a phone plus the request ID of the call. */
export interface PhoneDetail extends Phone {
  requestId: string | undefined;
  /** ShowCloudPhoneDetail's `property`, a JSON string, passed through untouched. */
  property: string | undefined;
}

export interface PhoneListQuery {
  offset?: number;
  /** 1..100 (the safe page size; the API reference allows 200, the Go SDK 100). */
  limit?: number;
  /** Fuzzy match on the name. */
  phoneName?: string;
  serverId?: string;
  status?: number;
  /** 0 ordinary, 1 trial. */
  type?: number;
}

export type PhoneFilter = Omit<PhoneListQuery, 'offset' | 'limit'>;

/** A ListCloudPhones entry that cannot be used as a phone, and why (the field at fault). */
export interface SkippedPhone {
  /** e.g. `phones[3].phone_id`. */
  field: string;
  reason: SkippedPhoneReason;
}

/** `notAnObject`: the entry is not a JSON object; `noPhoneId`: `phone_id` is absent, empty or not a string. */
export type SkippedPhoneReason = 'notAnObject' | 'noPhoneId';

export interface PhoneList {
  phones: Phone[];
  /** Entries that could not be used as phones; the page's other phones are read all the same. */
  skipped: SkippedPhone[];
  /** The total number of phones matching the filter, as the API reported it. */
  count: number;
  requestId: string | undefined;
}

/** A whole paged sweep of ListCloudPhones. */
export interface PhoneSweep {
  phones: Phone[];
  /** Entries of every page that could not be used as phones (see PhoneList.skipped). */
  skipped: SkippedPhone[];
  /** `count` from the last page (in offset order). */
  count: number;
  /** Number of list calls made. */
  pages: number;
  /**
   * False when the total changed between pages, a page repeated phones already seen, a page came back short
   * before the end, or the sweep stopped at its page bound: offset paging over a list that moves can skip phones, so the caller must not conclude
   * that a phone missing from this sweep is gone.
   */
  stable: boolean;
  requestIds: string[];
}

/** A phone the phones-traffic call accepted: its job. */
export interface PhoneJobAccepted {
  phoneId: string;
  jobId: string;
}

/** A phone the phones-traffic call refused, reported inside the 200 (e.g. CPS.0005, phone not found). */
export interface PhoneJobRefused {
  phoneId: string;
  /** The CPS code CPH gave. */
  errorCode: string;
  errorMessage: string;
}

/**
 * A phone sent in a phones-traffic call whose outcome the answer does not tell: its entry has neither a job
 * nor an error, or the answer has no entry for it. The route may or may not change; read it again.
 */
export interface PhoneJobUnconfirmed {
  phoneId: string;
  /** `noJobOrError`: an entry without job_id and error_code; `notAnswered`: no entry for the phone. */
  reason: 'noJobOrError' | 'notAnswered';
}

/** The parsed answer of one phones-traffic call. */
export interface PhoneJobResult {
  /** The body's `request_id`, else the `X-Request-Id` header; undefined when the answer carried neither. */
  requestId: string | undefined;
  jobs: PhoneJobAccepted[];
  errors: PhoneJobRefused[];
  unconfirmed: PhoneJobUnconfirmed[];
}

export type JobState = 'running' | 'succeeded' | 'failed' | 'unknown';

/** A CPH job (ShowJob, ListJobs). */
export interface Job {
  jobId: string;
  phoneId: string | undefined;
  serverId: string | undefined;
  /** Named from the numeric code: 1 running, 2 succeeded, -1 failed; any other code is `unknown`. */
  status: JobState;
  /** The numeric code as the API sent it. */
  statusCode: number;
  beginTime: string | undefined;
  endTime: string | undefined;
  /** undefined when the API sent null or "" (ShowJob and ListJobs differ). */
  errorCode: string | undefined;
  errorMessage: string | undefined;
  executeMessage: string | undefined;
  /**
   * The request (phones-traffic call) that created the job, when certain: a job entry's own `request_id`
   * if CPH sends one (the Go SDK's Job model has none), or the one request ID a ListJobs call asked for.
   * undefined after a ListJobs by several request IDs: match such jobs by `jobId`, which phones-traffic
   * returned for each phone.
   */
  requestId: string | undefined;
  /** The request ID of the ListJobs or ShowJob call that returned this job (for logs). */
  callRequestId: string | undefined;
}

/** ListJobs by one or many request IDs; exactly one of the two. */
export type JobQuery = ({ requestId: string; requestIds?: never } | { requestIds: string[]; requestId?: never }) & {
  offset?: number;
  /** 1..100, default 100. */
  limit?: number;
  /**
   * How many jobs the asked requests hold in all, when the caller knows (whole number >= 0): paging stops
   * once that many were collected, sparing the final empty page. Ignored when the query has more than 20
   * request IDs (more than one call's worth), since the total does not say how the jobs split between calls.
   */
  expectedJobs?: number;
};

export interface JobList {
  jobs: Job[];
  /** Request IDs of the ListJobs calls made. */
  requestIds: string[];
}
