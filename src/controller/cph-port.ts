/**
 * The CphPort of one account over the real CphClient: the thin translation between the client's full
 * types and the few fields the controller reasons about.
 */
import type { CphClient } from '../cph/client.js';
import { isNotFound } from '../cph/errors.js';
import type { Phone } from '../cph/types.js';
import type { CphPort, ObservedJob, ObservedPhone, RouteChangeBatch } from './ports.js';
import type { TrafficType } from '../cph/wire.js';

function observed(phone: Phone): ObservedPhone {
  return {
    phoneId: phone.phoneId,
    phoneName: phone.phoneName,
    serverId: phone.serverId,
    status: phone.status,
    trafficType: phone.trafficType,
    ...(phone.unknownTrafficType === undefined ? {} : { unknownTrafficType: phone.unknownTrafficType }),
  };
}

export function cphPortOf(client: CphClient): CphPort {
  return {
    async listAllPhones(signal, onPage) {
      const sweep = await client.listAllPhones(
        {},
        { signal, ...(onPage ? { onPage: (page: readonly Phone[]) => onPage(page.map(observed)) } : {}) },
      );
      return { phones: sweep.phones.map(observed), skipped: sweep.skipped, calls: sweep.pages, complete: sweep.stable };
    },
    async getPhone(phoneId, signal) {
      try {
        return observed(await client.getPhone(phoneId, { signal }));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    async setTrafficType(trafficType: TrafficType, phoneIds, signal): Promise<RouteChangeBatch> {
      const answer = await client.setTrafficTypeBatch(trafficType, phoneIds, { signal });
      return {
        requestId: answer.requestId,
        jobs: answer.jobs,
        errors: answer.errors,
        unconfirmed: answer.unconfirmed.map((u) => u.phoneId),
      };
    },
    async listJobs(requestIds, signal, expectedJobs): Promise<ObservedJob[]> {
      const list = await client.listJobs(
        { requestIds, ...(expectedJobs === undefined ? {} : { expectedJobs }) },
        { signal },
      );
      const jobs: ObservedJob[] = [];
      for (const job of list.jobs) {
        if (job.phoneId === undefined) continue;
        jobs.push({
          jobId: job.jobId,
          phoneId: job.phoneId,
          // Jobs listed without their request ID belong to the only request asked for, if there was one;
          // otherwise the tracker matches them through the phone's job in flight.
          requestId: job.requestId ?? (requestIds.length === 1 ? (requestIds[0] ?? '') : ''),
          // A status code CPH did not document is followed like a running job rather than guessed at.
          state: job.status === 'unknown' ? 'running' : job.status,
          errorCode: job.errorCode ?? '',
          errorMessage: job.errorMessage ?? '',
        });
      }
      return jobs;
    },
  };
}
