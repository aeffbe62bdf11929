/**
 * What the controller needs from the CPH API, stated in its own terms. The controller depends on this
 * small port rather than on the whole client, so the inventory, the route writer and the job tracker
 * read as domain code and each CPH account plugs in its own client (src/controller/cph-port.ts).
 */
import type { TrafficType } from '../cph/wire.js';

/** A phone as the list sweep saw it. */
export interface ObservedPhone {
  phoneId: string;
  phoneName: string;
  serverId: string;
  /** CPH status code: 2 running; see ../shared/cph-api.md. */
  status: number;
  trafficType: TrafficType;
}

/** The answer of one phones-traffic call (≤100 IDs). */
export interface RouteChangeBatch {
  requestId: string;
  jobs: Array<{ phoneId: string; jobId: string }>;
  /** Per-phone failures carried inside the 200 (e.g. CPS.0005). */
  errors: Array<{ phoneId: string; errorCode: string; errorMessage: string }>;
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

export interface CphPort {
  /**
   * Every phone of the account, read in pages of 100. `complete` is false when the list moved under the
   * sweep (offset paging can then skip phones), so a phone missing from it may still exist. `onPage` is told
   * each page's phones as it arrives, before the sweep ends.
   */
  listAllPhones(signal?: AbortSignal, onPage?: (phones: ObservedPhone[]) => void): Promise<{ phones: ObservedPhone[]; calls: number; complete: boolean }>;
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
