/**
 * The CPH client against the simulator over real HTTP, signed with AK/SK: the round trip the operator makes
 * (list, detail, change routes, follow jobs), each error path, retries and their bounds, and the rules that
 * protect the account (no 401 loop, no credentials in logs or errors).
 */
import { expect } from 'chai';
import { AkSkAuth } from '../../src/cph/auth.js';
import { CphError, isAuthError, isNotFound, isThrottle } from '../../src/cph/errors.js';
import type { CphClient } from '../../src/cph/client.js';
import type { Job } from '../../src/cph/types.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { waitFor } from '../support/wait.js';
import { FakeClock } from '../support/fake-clock.js';
import { TokenBucket } from '../../src/cph/rate-limiter.js';
import { ak, client, counters, projectId, RecordingClock, resetCounters, setFaults, simPhoneIds, simulator, sk } from './cph-client-helpers.js';

async function rejection(promise: Promise<unknown>): Promise<CphError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(CphError);
    if (err instanceof CphError) return err;
  }
  throw new Error('expected the call to fail with a CphError');
}

async function jobsUntilDone(cph: CphClient, requestIds: string[]): Promise<Job[]> {
  return waitFor(
    async () => {
      const list = await cph.listJobs({ requestIds });
      return list.jobs.length > 0 && list.jobs.every((job) => job.status !== 'running') ? list.jobs : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 50, what: 'every job to end' },
  );
}

describe('CphClient against the simulator (HTTP, AK/SK)', function () {
  this.timeout(60_000);
  let sim: RunningSimulator;

  beforeEach(async () => {
    sim = await simulator();
  });

  afterEach(async () => {
    await sim.close();
  });

  describe('round trip', () => {
    it('lists a page, and sweeps every phone in pages of 100 (ceil(N/100) calls)', async () => {
      const { client: cph, calls } = client(sim);
      const page = await cph.listPhones({ offset: 0, limit: 10 });
      expect(page.phones).to.have.length(10);
      expect(page.count).to.equal(250);
      expect(page.requestId).to.be.a('string').and.not.equal('');
      await resetCounters(sim);
      const sweep = await cph.listAllPhones();
      expect(sweep.phones).to.have.length(250);
      expect(new Set(sweep.phones.map((p) => p.phoneId)).size).to.equal(250);
      expect(sweep).to.include({ count: 250, pages: 3, stable: true });
      expect(sweep.requestIds).to.have.length(3);
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'total')).to.equal(3);
      expect(calls.filter((c) => c.operation === 'ListCloudPhones' && c.outcome === 'success')).to.have.length(4);
      cph.close();
    });

    it('filters by server and status', async () => {
      const { client: cph } = client(sim);
      const first = (await cph.listPhones({ limit: 1 })).phones[0];
      if (!first) throw new Error('no phone');
      const byServer = await cph.listAllPhones({ serverId: first.serverId });
      expect(byServer.phones.length).to.be.greaterThan(0);
      expect(byServer.phones.every((p) => p.serverId === first.serverId)).to.equal(true);
      const running = await cph.listPhones({ status: 2, limit: 100 });
      expect(running.phones.every((p) => p.status === 2)).to.equal(true);
      cph.close();
    });

    it('reads a phone detail, and reports a missing phone as CPS.0005 (isNotFound) with its request ID', async () => {
      const { client: cph } = client(sim);
      const [known] = await simPhoneIds(sim, 1);
      if (!known) throw new Error('no phone');
      const detail = await cph.getPhone(known.phoneId);
      expect(detail.phoneId).to.equal(known.phoneId);
      expect(detail.trafficType).to.equal(known.trafficType);
      expect(detail.requestId).to.be.a('string');
      const err = await rejection(cph.getPhone('0'.repeat(32)));
      expect(isNotFound(err)).to.equal(true);
      expect(err).to.include({ httpStatus: 404, errorCode: 'CPS.0005', operation: 'ShowCloudPhoneDetail', retryable: false, attempts: 1 });
      expect(err.requestId).to.be.a('string').and.not.equal('');
      cph.close();
    });

    it('changes routes for 101 phones in two calls, follows the jobs to the end, and the routes change', async () => {
      const { client: cph } = client(sim);
      const phones = (await simPhoneIds(sim, 101)).map((p) => p.phoneId);
      await resetCounters(sim);
      const result = await cph.setTrafficType('routing', phones);
      expect(result.complete).to.equal(true);
      expect(result.batches.map((b) => [b.state, b.phoneIds.length])).to.deep.equal([
        ['sent', 100],
        ['sent', 1],
      ]);
      expect(result.jobs).to.have.length(101);
      expect(result.errors).to.deep.equal([]);
      expect((await counters(sim)).num('byOperation', 'ImportTraffic', 'total')).to.equal(2);
      const requestIds = result.batches.flatMap((b) => (b.state === 'sent' ? [b.requestId] : []));
      expect(requestIds).to.have.length(2);
      const jobs = await jobsUntilDone(cph, requestIds);
      expect(jobs).to.have.length(101);
      expect(jobs.every((j) => j.status === 'succeeded' && j.errorCode === undefined)).to.equal(true);
      const firstJob = result.jobs[0];
      if (!firstJob) throw new Error('no job');
      const shown = await cph.getJob(firstJob.jobId);
      expect(shown).to.include({ jobId: firstJob.jobId, phoneId: firstJob.phoneId, status: 'succeeded', errorCode: undefined, requestId: undefined });
      expect(shown.callRequestId).to.be.a('string');
      // CPH's job entries do not name their request: after a poll of several, jobs are matched by job ID.
      expect(jobs.every((j) => j.requestId === undefined)).to.equal(true);
      const byJobId = new Map(result.jobs.map((j) => [j.jobId, j.phoneId]));
      expect(jobs.every((j) => byJobId.get(j.jobId) === j.phoneId)).to.equal(true);
      const after = await simPhoneIds(sim, 101);
      expect(after.every((p) => p.trafficType === 'routing')).to.equal(true);
      cph.close();
    });

    it('returns an unknown phone as a per-phone CPS.0005 error inside the 200, beside the others\' jobs', async () => {
      const { client: cph } = client(sim);
      const [known] = await simPhoneIds(sim, 1);
      if (!known) throw new Error('no phone');
      const missing = 'f'.repeat(32);
      const result = await cph.setTrafficType('routing', [known.phoneId, missing]);
      expect(result.complete).to.equal(true);
      expect(result.jobs.map((j) => j.phoneId)).to.deep.equal([known.phoneId]);
      expect(result.errors).to.have.length(1);
      expect(result.errors[0]).to.include({ phoneId: missing, errorCode: 'CPS.0005' });
      cph.close();
    });

    it('splits ListJobs over more than 20 request IDs into calls of at most 20', async () => {
      const { client: cph } = client(sim);
      const phones = (await simPhoneIds(sim, 25)).map((p) => p.phoneId);
      const requestIds: string[] = [];
      for (const phoneId of phones) {
        const answer = await cph.setTrafficTypeBatch('routing', [phoneId]);
        requestIds.push(answer.requestId);
      }
      await resetCounters(sim);
      const list = await cph.listJobs({ requestIds });
      expect(list.jobs).to.have.length(25);
      expect((await counters(sim)).num('byOperation', 'ListJobs', 'total')).to.equal(2);
      const single = await cph.listJobs({ requestId: requestIds[0] ?? '' });
      expect(single.jobs.map((j) => j.phoneId)).to.deep.equal([phones[0]]);
      // Asked about one request, the jobs are attributed to it.
      expect(single.jobs.map((j) => j.requestId)).to.deep.equal([requestIds[0]]);
      cph.close();
    });

    it('pages ListJobs by limit', async () => {
      const { client: cph } = client(sim);
      const phones = (await simPhoneIds(sim, 30)).map((p) => p.phoneId);
      const answer = await cph.setTrafficTypeBatch('routing', phones);
      await resetCounters(sim);
      const list = await cph.listJobs({ requestId: answer.requestId, limit: 7 });
      expect(list.jobs).to.have.length(30);
      expect(new Set(list.jobs.map((j) => j.jobId)).size).to.equal(30);
      expect((await counters(sim)).num('byOperation', 'ListJobs', 'total')).to.equal(5);
      cph.close();
    });
  });

  describe('error paths', () => {
    it('refuses bad arguments before sending anything', async () => {
      const { client: cph } = client(sim);
      await resetCounters(sim);
      for (const call of [
        cph.listPhones({ limit: 101 }),
        cph.listPhones({ offset: -1 }),
        cph.getPhone(''),
        cph.getPhone('../jobs'),
        cph.setTrafficTypeBatch('routing', []),
        cph.setTrafficTypeBatch('routing', Array.from({ length: 101 }, (_, i) => `p${i}`)),
        cph.setTrafficType('tunnel' as 'routing', ['a']),
        cph.listJobs({ requestIds: [] }),
        cph.listJobs({ requestId: 'a', requestIds: ['b'] } as unknown as { requestId: string }),
      ]) {
        const err = await rejection(call);
        expect(err.errorCode).to.equal('InvalidArgument');
      }
      expect((await counters(sim)).num('total')).to.equal(0);
      expect(await cph.setTrafficType('routing', [])).to.deep.equal({ batches: [], jobs: [], errors: [], complete: true });
      cph.close();
    });

    it('returns 400s with their CPS codes, unretried', async () => {
      const { client: cph } = client(sim);
      await resetCounters(sim);
      const status = await rejection(cph.listPhones({ status: 5 }));
      expect(status).to.include({ httpStatus: 400, errorCode: 'CPS.0010', retryable: false, attempts: 1 });
      const badId = await rejection(cph.getJob('bad.id'));
      expect(badId).to.include({ httpStatus: 400, errorCode: 'CPS.0004' });
      expect((await counters(sim)).num('total')).to.equal(2);
      cph.close();
    });

    it('a wrong project is CPS.0001 (403), not retried', async () => {
      const { client: cph } = client(sim, { projectId: 'ffffffffffffffffffffffffffffffff' });
      const err = await rejection(cph.listPhones());
      expect(err).to.include({ httpStatus: 403, errorCode: 'CPS.0001', retryable: false, attempts: 1 });
      cph.close();
    });

    it('a bad signature fails at once with 401 APIGW.0301, and the client stops before the gateway would lock the AK', async () => {
      const { client: cph, logs } = client(sim, { auth: new AkSkAuth({ ak, sk: 'not-the-secret-key-at-all' }, new RecordingClock()) });
      await resetCounters(sim);
      const first = await rejection(cph.listPhones());
      expect(isAuthError(first)).to.equal(true);
      expect(first).to.include({ httpStatus: 401, errorCode: 'APIGW.0301', retryable: false, attempts: 1 });
      await rejection(cph.listPhones());
      await rejection(cph.listPhones());
      // The third refusal in a row suspends the client: the next calls are not sent at all.
      const held = await rejection(cph.listPhones());
      expect(held.errorCode).to.equal('AuthSuspended');
      expect(isAuthError(held)).to.equal(true);
      await rejection(cph.setTrafficType('routing', ['a']).then((r) => { const b = r.batches[0]; if (b?.state !== 'sent') throw b?.error; }));
      const seen = await counters(sim);
      expect(seen.num('byOperation', 'ListCloudPhones', 'total')).to.equal(3);
      expect(seen.num('byOperation', 'ImportTraffic', 'total')).to.equal(0);
      expect(seen.at('lockedAccessKeys')).to.deep.equal([]);
      for (const text of [first.message, held.message, logs.text()]) {
        expect(text).to.not.contain('not-the-secret-key-at-all');
        expect(text).to.not.contain('Signature=');
        expect(text).to.not.contain('SDK-HMAC-SHA256 Access');
      }
      cph.close();
    });

    it('a client clock 20 minutes off is refused with 401 (signature timestamp out of range), once', async () => {
      const skewed = new RecordingClock(20 * 60_000);
      const { client: cph } = client(sim, { clock: skewed, auth: new AkSkAuth({ ak, sk }, skewed) });
      await resetCounters(sim);
      const err = await rejection(cph.listPhones());
      expect(err.httpStatus).to.equal(401);
      expect(['APIGW.0303', 'APIGW.0301']).to.include(err.errorCode);
      expect(isAuthError(err)).to.equal(true);
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'total')).to.equal(1);
      cph.close();
    });
  });

  describe('retries and their bounds', () => {
    it('retries 5xx up to maxAttempts, then fails with the last error', async () => {
      const { client: cph, calls } = client(sim);
      await setFaults(sim, { faultRate: 1, faultKinds: ['503'] });
      await resetCounters(sim);
      const err = await rejection(cph.listPhones());
      expect(err).to.include({ httpStatus: 503, retryable: true, attempts: 3 });
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'total')).to.equal(3);
      expect(calls.map((c) => [c.attempt, c.outcome])).to.deep.equal([
        [1, 'serverError'],
        [2, 'serverError'],
        [3, 'serverError'],
      ]);
      cph.close();
    });

    it('recovers when a fault passes: a 500 then success', async () => {
      const { client: cph } = client(sim, { retryPolicy: { maxAttempts: 20, baseDelayMs: 5, maxDelayMs: 20 } });
      await setFaults(sim, { faultRate: 0.5, faultKinds: ['500'] });
      await resetCounters(sim);
      for (let i = 0; i < 10; i++) await cph.listPhones({ limit: 1 });
      const seen = await counters(sim);
      expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '200')).to.equal(10);
      expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '500')).to.be.greaterThan(0);
      cph.close();
    });

    it('retries connection resets (ConnectionReset)', async () => {
      const { client: cph } = client(sim);
      await setFaults(sim, { faultRate: 1, faultKinds: ['reset'] });
      await resetCounters(sim);
      const err = await rejection(cph.listPhones());
      expect(err).to.include({ errorCode: 'ConnectionReset', retryable: true, attempts: 3, outcomeUnknown: true });
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'byStatus', 'reset')).to.equal(3);
      cph.close();
    });

    it('times out a hung request, retries reads, but does not repeat a route change whose outcome is unknown', async () => {
      const { client: cph } = client(sim, { timeoutMs: 300 });
      await setFaults(sim, { faultRate: 1, faultKinds: ['timeout'] });
      await resetCounters(sim);
      const read = await rejection(cph.listPhones());
      expect(read).to.include({ errorCode: 'Timeout', attempts: 3, outcomeUnknown: true });
      const write = await rejection(cph.setTrafficTypeBatch('routing', ['a'.repeat(32)]));
      expect(write).to.include({ errorCode: 'Timeout', attempts: 1, outcomeUnknown: true });
      const seen = await counters(sim);
      expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', 'timeout')).to.equal(3);
      expect(seen.num('byOperation', 'ImportTraffic', 'byStatus', 'timeout')).to.equal(1);
      cph.close();
    });

    it('repeats a route change after a 503 (the change did not happen)', async () => {
      const { client: cph } = client(sim);
      await setFaults(sim, { faultRate: 1, faultKinds: ['503'] });
      await resetCounters(sim);
      const err = await rejection(cph.setTrafficTypeBatch('routing', ['a'.repeat(32)]));
      expect(err).to.include({ httpStatus: 503, attempts: 3, outcomeUnknown: false });
      cph.close();
    });

    it('honours Retry-After on 429 APIGW.0308, and the total-time bound stops a wait that would overrun', async () => {
      const clock = new RecordingClock();
      const { client: cph } = client(sim, { clock, auth: new AkSkAuth({ ak, sk }, clock), retryPolicy: { maxAttempts: 2, maxElapsedMs: 10_000 } });
      await setFaults(sim, { faultRate: 1, faultKinds: ['429'], retryAfterSeconds: 1 });
      const err = await rejection(cph.listPhones());
      expect(isThrottle(err)).to.equal(true);
      expect(err).to.include({ httpStatus: 429, errorCode: 'APIGW.0308', retryAfterMs: 1000, attempts: 2 });
      expect(clock.sleeps).to.include(1000);
      cph.close();
      const bounded = new RecordingClock();
      const { client: impatient } = client(sim, { clock: bounded, auth: new AkSkAuth({ ak, sk }, bounded), retryPolicy: { maxAttempts: 5, maxElapsedMs: 2_000 } });
      await setFaults(sim, { retryAfterSeconds: 3 });
      await resetCounters(sim);
      const quick = await rejection(impatient.listPhones());
      expect(quick).to.include({ errorCode: 'APIGW.0308', attempts: 1 });
      expect(bounded.sleeps).to.not.include(3000);
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'total')).to.equal(1);
      impatient.close();
    });

    it('rides out the gateway\'s rate limit: bursts over it are throttled, retried, and all succeed', async () => {
      const { client: cph } = client(sim, { retryPolicy: { maxAttempts: 5, maxElapsedMs: 30_000 } });
      await setFaults(sim, { rateLimit: 5 });
      await resetCounters(sim);
      const pages = await Promise.all(Array.from({ length: 12 }, (_, i) => cph.listPhones({ offset: i, limit: 1 })));
      expect(pages).to.have.length(12);
      const seen = await counters(sim);
      expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '200')).to.equal(12);
      expect(seen.num('byOperation', 'ListCloudPhones', 'byStatus', '429')).to.be.greaterThan(0);
      cph.close();
    });

    it('a failed batch does not lose the others: later batches are marked notSent after a server failure', async () => {
      const { client: cph } = client(sim, { retryPolicy: { maxAttempts: 1 } });
      const phones = (await simPhoneIds(sim, 201)).map((p) => p.phoneId);
      await setFaults(sim, { faultRate: 1, faultKinds: ['500'] });
      const result = await cph.setTrafficType('routing', phones);
      expect(result.complete).to.equal(false);
      expect(result.batches.map((b) => b.state)).to.deep.equal(['failed', 'notSent', 'notSent']);
      await setFaults(sim, { faultRate: 0 });
      const retry = await cph.setTrafficType('routing', result.batches.flatMap((b) => (b.state === 'sent' ? [] : b.phoneIds)));
      expect(retry.complete).to.equal(true);
      expect(retry.jobs).to.have.length(201);
      cph.close();
    });
  });

  describe('rate limit and cancellation', () => {
    it('one token bucket paces every client of the account: calls beyond the burst wait for the clock', async () => {
      const clock = new FakeClock(Date.now());
      const bucket = new TokenBucket({ qps: 1, burst: 2, clock });
      const a = client(sim, { clock, auth: new AkSkAuth({ ak, sk }, clock), rateLimiter: bucket }).client;
      const b = client(sim, { clock, auth: new AkSkAuth({ ak, sk }, clock), rateLimiter: bucket }).client;
      await resetCounters(sim);
      const all = Promise.all([a.listPhones({ limit: 1 }), b.listPhones({ limit: 1 }), a.listPhones({ limit: 1 }), b.listPhones({ limit: 1 })]);
      await waitFor(async () => (await counters(sim)).num('byOperation', 'ListCloudPhones', 'total') === 2, { timeoutMs: 10_000, intervalMs: 20, what: 'the burst of two' });
      expect(bucket.available()).to.equal(-2);
      await clock.advance(1_000);
      await waitFor(async () => (await counters(sim)).num('byOperation', 'ListCloudPhones', 'total') === 3, { timeoutMs: 10_000, intervalMs: 20, what: 'the third call' });
      await clock.advance(1_000);
      expect(await all).to.have.length(4);
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'total')).to.equal(4);
      a.close();
      b.close();
    });

    it('a caller\'s AbortSignal ends a hung call at once (Aborted, not retried)', async () => {
      const { client: cph } = client(sim, { timeoutMs: 30_000 });
      await setFaults(sim, { faultRate: 1, faultKinds: ['timeout'] });
      await resetCounters(sim);
      const controller = new AbortController();
      const pending = rejection(cph.listPhones({}, { signal: controller.signal }));
      await waitFor(async () => (await counters(sim)).num('byOperation', 'ListCloudPhones', 'total') === 1, { timeoutMs: 10_000, intervalMs: 20, what: 'the request to arrive' });
      controller.abort(new Error('shutting down'));
      const err = await pending;
      expect(err).to.include({ errorCode: 'Aborted', retryable: false, attempts: 1 });
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'total')).to.equal(1);
      const early = await rejection(cph.listPhones({}, { signal: controller.signal }));
      expect(early.errorCode).to.equal('Aborted');
      cph.close();
    });
  });

  describe('logs and metrics', () => {
    it('logs each call at debug with operation and request ID, and never a credential', async () => {
      const { client: cph, logs, calls } = client(sim);
      const page = await cph.listPhones({ limit: 1 });
      const line = logs.lines.map((l): unknown => JSON.parse(l)).find((l) => typeof l === 'object' && l !== null && Reflect.get(l, 'operation') === 'ListCloudPhones');
      expect(line).to.include({ operation: 'ListCloudPhones', requestId: page.requestId, httpStatus: 200, outcome: 'success' });
      expect(calls[0]).to.include({ operation: 'ListCloudPhones', outcome: 'success', httpStatus: 200, attempt: 1, requestId: page.requestId });
      expect(calls[0]?.durationMs).to.be.a('number');
      expect(logs.text()).to.not.contain(sk);
      expect(logs.text()).to.not.contain('Signature=');
      expect(JSON.stringify(cph)).to.not.contain(sk);
      expect(JSON.parse(JSON.stringify(cph))).to.deep.equal({ endpoint: sim.url, projectId, auth: { kind: 'aksk' } });
      cph.close();
    });
  });
});
