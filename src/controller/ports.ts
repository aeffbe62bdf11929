/**
 * What the controller needs from the CPH API, stated in its own terms. The controller depends on this
 * small port rather than on the whole client, so the inventory, the route writer and the job tracker
 * read as domain code and each CPH account plugs in its own client (src/controller/cph-port.ts).
 */
import type { SkippedPhone } from '../cph/types.js';
import type { TrafficType } from '../cph/wire.js';

/**
 * A phone as the list sweep saw it. CPH may leave any field but the ID out: a phone without `serverId` never
 * matches a server selector, one without `phoneName` never matches a name prefix, one without `status` is
 * not known to run (so it is not changed), and one whose route is absent or not a known value is not on any
 * wanted route (so it is changed).
 */
export interface ObservedPhone {
  phoneId: string;
  phoneName: string | undefined;
  serverId: string | undefined;
  /** CPH status code: 2 running; see ../shared/cph-api.md. */
  status: number | undefined;
  /** undefined when CPH reported no route, or one that is neither direct nor routing. */
  trafficType: TrafficType | undefined;
  /** The route as CPH sent it, when it is neither direct nor routing. */
  unknownTrafficType?: string | undefined;
  /** A change was sent and CPH's answer did not say what became of it: the phone is read again on the next sweep. */
  unconfirmed?: UnconfirmedChange | undefined;
}

/**
 * A route change whose outcome is not known: CPH's answer did not tell (no job, or a job without a request ID
 * to follow it by), or a job adopted after a restart ended without saying which route it set (`trafficType`
 * unknown, `adopted`).
 */
export interface UnconfirmedChange {
  trafficType: TrafficType | undefined;
  /** The job was adopted from a status after a restart. */
  adopted?: true;
  jobId?: string | undefined;
  requestId?: string | undefined;
}

/** The answer of one phones-traffic call (≤100 IDs). */
export interface RouteChangeBatch {
  /** undefined when CPH's answer carried no request ID (body or X-Request-Id header): its jobs cannot be followed. */
  requestId: string | undefined;
  jobs: Array<{ phoneId: string; jobId: string }>;
  /** Per-phone failures carried inside the 200 (e.g. CPS.0005). */
  errors: Array<{ phoneId: string; errorCode: string; errorMessage: string }>;
  /** Phones sent whose outcome the answer did not tell (no entry, or an entry with neither job nor error). */
  unconfirmed: string[];
}

export type JobState = 'running' | 'succeeded' | 'failed';

export interface ObservedJob {
  jobId: string;
  phoneId: string;
  requestId: string;
  state: JobState;
  errorCode: string;
  errorMessage: string;
}

/** The port of one credential of an account: the calls of CphPort, signed with that credential. */
export interface CredentialPort extends CphPort {
  /** One list call of one phone: resolves when CPH accepts the credential, throws what it said otherwise. */
  checkAccess(signal?: AbortSignal): Promise<void>;
  /** Releases what the port holds (connections); it is not used afterwards. */
  close(): void;
}

export interface CphPort {
  /**
   * Every phone of the account, read in pages of 100. `complete` is false when the list moved under the
   * sweep (offset paging can then skip phones), so a phone missing from it may still exist. `skipped` are the
   * list entries that could not be used as phones (no usable phone_id). `onPage` is told
   * each page's phones as it arrives, before the sweep ends.
   */
  listAllPhones(
    signal?: AbortSignal,
    onPage?: (phones: ObservedPhone[]) => void,
  ): Promise<{ phones: ObservedPhone[]; skipped: SkippedPhone[]; calls: number; complete: boolean }>;
  /** One phone; undefined when CPH says it does not exist (CPS.0005). */
  getPhone(phoneId: string, signal?: AbortSignal): Promise<ObservedPhone | undefined>;
  /** One call of at most 100 IDs. Throws a CphError when the call as a whole failed. */
  setTrafficType(trafficType: TrafficType, phoneIds: string[], signal?: AbortSignal): Promise<RouteChangeBatch>;
  /**
   * The jobs of up to 20 requests. `expectedJobs`, when the caller knows how many jobs the requests hold,
   * lets the read stop without asking for a page past the last one.
   */
  listJobs(requestIds: string[], signal?: AbortSignal, expectedJobs?: number): Promise<ObservedJob[]>;
}
