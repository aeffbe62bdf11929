/**
 * An in-memory CPH project behind the controller's CredentialPort: phones with a route and a status, and
 * route-change jobs that run until the test ends them. It is the port's contract acted out in process (no
 * HTTP, no signing), so unit tests can drive the reconciler without a simulator; the CphClient itself is
 * tested against the simulator over real HTTP. What it models:
 *   - phones-traffic: a job per known phone under one request ID, CPS.0005 inside the answer for unknown
 *     ones; a phone's route changes only when its job succeeds;
 *   - ListJobs by request ID; ListCloudPhones in pages of 100 (`onPage` told each page);
 *   - credentials: a port signs with one credential ID; a refused ID gets APIGW.0301 (HTTP 401) on every
 *     call; an outage fails every call with a connection error, as an unreachable endpoint does.
 */
import { MAX_PHONES_PER_CALL } from '../../src/api/v1alpha1/constants.js';
import { CphError, clientErrorCodes } from '../../src/cph/errors.js';
import type { TrafficType } from '../../src/cph/wire.js';
import type { CredentialPort, JobState, ObservedJob, ObservedPhone } from '../../src/controller/ports.js';

export interface InMemoryPhone {
  phoneId: string;
  phoneName: string;
  serverId: string;
  /** CPH status code; 2 is running. */
  status: number;
  trafficType: TrafficType;
}

interface Job {
  jobId: string;
  requestId: string;
  phoneId: string;
  trafficType: TrafficType;
  state: JobState;
  errorCode: string;
  errorMessage: string;
}

export class InMemoryCph {
  readonly phones = new Map<string, InMemoryPhone>();
  private readonly jobs: Job[] = [];
  /** Credential IDs CPH refuses (a wrong or revoked key). */
  readonly refused = new Set<string>();
  /** Every call fails as if CPH could not be reached. */
  down = false;
  /** Calls made, by operation, for cost assertions. */
  readonly calls = { list: 0, get: 0, traffic: 0, jobs: 0, access: 0 };
  /** Per credential ID, the phones-traffic calls it signed. */
  readonly trafficBy = new Map<string, number>();
  private sequence = 0;

  addPhones(count: number, trafficType: TrafficType, prefix = 'phone'): string[] {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const phoneId = `${prefix}${String(this.phones.size).padStart(4, '0')}`;
      this.phones.set(phoneId, { phoneId, phoneName: `${prefix}-${i}`, serverId: 'server-1', status: 2, trafficType });
      ids.push(phoneId);
    }
    return ids;
  }

  routeOf(phoneId: string): TrafficType | undefined {
    return this.phones.get(phoneId)?.trafficType;
  }

  /** Request IDs whose jobs still run. */
  runningRequests(): string[] {
    return [...new Set(this.jobs.filter((j) => j.state === 'running').map((j) => j.requestId))];
  }

  /** Ends every running job: succeeded (the phone takes the route) unless `fail` names the phone. */
  finishJobs(fail: (phoneId: string) => boolean = () => false): number {
    let ended = 0;
    for (const job of this.jobs) {
      if (job.state !== 'running') continue;
      ended += 1;
      if (fail(job.phoneId)) {
        job.state = 'failed';
        job.errorCode = 'CPS.0003';
        job.errorMessage = 'internal error, retry later';
        continue;
      }
      job.state = 'succeeded';
      const phone = this.phones.get(job.phoneId);
      if (phone) phone.trafficType = job.trafficType;
    }
    return ended;
  }

  portFor(credentialId: string): CredentialPort {
    const guard = (operation: string): void => {
      if (this.down)
        throw new CphError({
          operation,
          errorCode: clientErrorCodes.ConnectionFailed,
          errorMessage: 'connect ECONNREFUSED (in-memory CPH is down)',
        });
      if (this.refused.has(credentialId))
        throw new CphError({
          operation,
          httpStatus: 401,
          errorCode: 'APIGW.0301',
          errorMessage: 'Incorrect IAM authentication information: verify aksk signature fail',
        });
    };
    const observed = (phone: InMemoryPhone): ObservedPhone => ({ ...phone });
    return {
      checkAccess: async () => {
        this.calls.access += 1;
        guard('ListCloudPhones');
      },
      close: () => undefined,
      listAllPhones: async (_signal, onPage) => {
        const all = [...this.phones.values()].map(observed);
        let calls = 0;
        for (let start = 0; start === 0 || start < all.length; start += MAX_PHONES_PER_CALL) {
          this.calls.list += 1;
          calls += 1;
          guard('ListCloudPhones');
          onPage?.(all.slice(start, start + MAX_PHONES_PER_CALL));
        }
        return { phones: all, skipped: [], calls, complete: true };
      },
      getPhone: async (phoneId) => {
        this.calls.get += 1;
        guard('ShowCloudPhoneDetail');
        const phone = this.phones.get(phoneId);
        return phone ? observed(phone) : undefined;
      },
      setTrafficType: async (trafficType, phoneIds) => {
        this.calls.traffic += 1;
        this.trafficBy.set(credentialId, (this.trafficBy.get(credentialId) ?? 0) + 1);
        guard('ImportTraffic');
        if (phoneIds.length < 1 || phoneIds.length > MAX_PHONES_PER_CALL)
          throw new Error(`phones-traffic with ${phoneIds.length} IDs`);
        const requestId = `req-${++this.sequence}`;
        const jobs: Array<{ phoneId: string; jobId: string }> = [];
        const errors: Array<{ phoneId: string; errorCode: string; errorMessage: string }> = [];
        for (const phoneId of phoneIds) {
          if (!this.phones.has(phoneId)) {
            errors.push({ phoneId, errorCode: 'CPS.0005', errorMessage: 'phone not found' });
            continue;
          }
          const jobId = `job-${++this.sequence}`;
          this.jobs.push({ jobId, requestId, phoneId, trafficType, state: 'running', errorCode: '', errorMessage: '' });
          jobs.push({ phoneId, jobId });
        }
        return { requestId, jobs, errors, unconfirmed: [] };
      },
      listJobs: async (requestIds): Promise<ObservedJob[]> => {
        this.calls.jobs += 1;
        guard('ListJobs');
        const wanted = new Set(requestIds);
        return this.jobs
          .filter((job) => wanted.has(job.requestId))
          .map(({ jobId, phoneId, requestId, state, errorCode, errorMessage }) => ({
            jobId,
            phoneId,
            requestId,
            state,
            errorCode,
            errorMessage,
          }));
      },
    };
  }
}
