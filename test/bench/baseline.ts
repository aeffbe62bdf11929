/**
 * The baseline the operator is measured against: the straightforward loop one would write with Huawei's
 * SDK, per resource. For each resource: ShowCloudPhoneDetail for each of its phones, ImportTraffic for the
 * drifted ones in batches of at most 100, then ShowJob for each job until it ends (a pause between polls of
 * a job still running). It uses the project's CphClient, whose calls are the SDK's (same operations, same
 * signing), with the same rate limit as the operator gets, and handles `concurrency` resources at once
 * (the operator reconciles 4 at once by default).
 */
import type { CphClient } from '../../src/cph/client.js';
import type { TrafficType } from '../../src/cph/wire.js';

export interface BaselineResource {
  name: string;
  trafficType: TrafficType;
  phoneIds: readonly string[];
}

export interface BaselineResult {
  /** Seconds from start until every job was seen ending. */
  seconds: number;
  drifted: number;
  jobs: number;
  failedJobs: number;
  /** [seconds since start, phones confirmed in line (in line when read, or job seen succeeded)]. */
  confirmed: Array<[number, number]>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function runBaseline(
  client: CphClient,
  resources: readonly BaselineResource[],
  options: { concurrency: number; jobPollMs: number },
): Promise<BaselineResult> {
  const start = performance.now();
  const elapsed = (): number => (performance.now() - start) / 1000;
  let confirmedCount = 0;
  const confirmed: Array<[number, number]> = [[0, 0]];
  const confirm = (n: number): void => {
    confirmedCount += n;
    confirmed.push([elapsed(), confirmedCount]);
  };
  let drifted = 0;
  let jobs = 0;
  let failedJobs = 0;

  const reconcileOne = async (resource: BaselineResource): Promise<void> => {
    const toChange: string[] = [];
    for (const phoneId of resource.phoneIds) {
      const phone = await client.getPhone(phoneId);
      if (phone.trafficType === resource.trafficType) confirm(1);
      else toChange.push(phoneId);
    }
    drifted += toChange.length;
    const jobIds: string[] = [];
    for (let i = 0; i < toChange.length; i += 100) {
      const answer = await client.setTrafficTypeBatch(resource.trafficType, toChange.slice(i, i + 100));
      for (const job of answer.jobs) jobIds.push(job.jobId);
      failedJobs += answer.errors.length;
    }
    jobs += jobIds.length;
    for (const jobId of jobIds) {
      for (;;) {
        const job = await client.getJob(jobId);
        if (job.status === 'running' || job.status === 'unknown') {
          await sleep(options.jobPollMs);
          continue;
        }
        if (job.status === 'succeeded') confirm(1);
        else failedJobs += 1;
        break;
      }
    }
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < resources.length) {
      const resource = resources[next++] as BaselineResource;
      await reconcileOne(resource);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, resources.length) }, () => worker()));
  return { seconds: elapsed(), drifted, jobs, failedJobs, confirmed };
}
