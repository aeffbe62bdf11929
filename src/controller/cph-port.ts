/**
 * The CphPort of one account credential over the real CphClient: the thin translation between the client's
 * full types and the few fields the controller reasons about, and the factory the composition root hands
 * the account registry (tests hand it an in-memory one instead).
 */
import type { Clock } from '../runtime/clock.js';
import type { Logger } from '../runtime/logger.js';
import { AkSkAuth, IamTokenAuth, type CphAuth } from '../cph/auth.js';
import { CphClient, type CphCallRecord } from '../cph/client.js';
import { isNotFound } from '../cph/errors.js';
import { RateLimiterRegistry } from '../cph/rate-limiter.js';
import type { Phone } from '../cph/types.js';
import type { TrafficType } from '../cph/wire.js';
import type { AccountConfig, CredentialSpec } from './account-config.js';
import type { CredentialPort, ObservedJob, ObservedPhone, RouteChangeBatch } from './ports.js';

/** How every account's clients are made. */
export interface CphClientSettings {
  /** Extra CA bundle (PEM) for CPH and IAM. */
  caPem: string | undefined;
  qps: number;
  burst: number;
  /** Calls of any one API per second. */
  apiQps: number;
  timeoutMs: number;
  userAgent: string;
}

/** Makes the port of an account config's credential. */
export type CredentialPortFactory = (config: AccountConfig) => CredentialPort;

/**
 * Ports over real CphClients: one rate budget per CPH account (normalized endpoint and project), whatever
 * the credentials; every call told to `onCall` (metrics).
 */
export function cphClientPorts(
  settings: CphClientSettings,
  deps: { clock: Clock; logger: Logger; onCall: (call: CphCallRecord) => void },
): CredentialPortFactory {
  const { clock, logger, onCall } = deps;
  const rateLimiters = new RateLimiterRegistry({
    qps: settings.qps,
    burst: settings.burst,
    apiQps: settings.apiQps,
    clock,
  });
  const auth = (credential: CredentialSpec, projectId: string): CphAuth => {
    if (credential.kind === 'aksk') return new AkSkAuth({ ak: credential.ak, sk: credential.sk }, clock);
    return new IamTokenAuth({
      iamEndpoint: credential.iamEndpoint,
      credentials: { user: credential.user, password: credential.password, domain: credential.domain },
      project: { id: projectId },
      clock,
      logger,
      caPem: settings.caPem,
      userAgent: settings.userAgent,
      onCall: (call) =>
        onCall({
          ...call,
          outcome: call.outcome as CphCallRecord['outcome'],
          attempt: 1,
          errorCode: undefined,
          requestId: undefined,
        }),
    });
  };
  return (config) =>
    cphPortOf(
      new CphClient({
        endpoint: config.endpoint,
        projectId: config.projectId,
        auth: auth(config.credential, config.projectId),
        caPem: settings.caPem,
        timeoutMs: settings.timeoutMs,
        rateLimiter: rateLimiters.forAccount(config.cphKey),
        apiWindow: rateLimiters.apiWindowForAccount(config.cphKey),
        logger,
        clock,
        userAgent: settings.userAgent,
        onCall,
      }),
    );
}

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

export function cphPortOf(client: CphClient): CredentialPort {
  return {
    async checkAccess(signal) {
      await client.listPhones({ offset: 0, limit: 1 }, { signal });
    },
    close: () => client.close(),
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
