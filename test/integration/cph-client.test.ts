/**
 * The CPH client against the simulator over real HTTP, signed with AK/SK: the round trip the operator makes
 * (list, detail, change routes, follow jobs), each error path, retries and their bounds, and the rules that
 * protect the account (no 401 loop, no credentials in logs or errors).
 */
import { expect } from 'chai';
import { AkSkAuth } from '../../src/cph/auth.js';
import { CphError, isAuthError, isNotFound, isThrottle } from '../../src/cph/errors.js';
import type { CphClient, CphClientOptions } from '../../src/cph/client.js';
import type { Job } from '../../src/cph/types.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { waitFor } from '../support/wait.js';
import { FakeClock } from '../support/fake-clock.js';
import { TokenBucket } from '../../src/cph/rate-limiter.js';
import {
  admin,
  ak,
  client,
  counters,
  projectId,
  RecordingClock,
  requestIdOf,
  resetCounters,
  setFaults,
  simPhoneIds,
  simulator,
  sk,
  type ClientHarness,
} from './cph-client-helpers.js';

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

/**
 * A client whose calls wait at a rate limiter on a fake clock with one token: the first page of a sweep goes
 * out at once, every later call waits until the test advances `gate`. `bucket.available()` is minus the
 * number of calls waiting there, so between advances the test sees (and steers) what is in flight.
 */
function gatedClient(
  sim: RunningSimulator,
  overrides: Partial<CphClientOptions> = {},
): ClientHarness & { gate: FakeClock; bucket: TokenBucket } {
  const gate = new FakeClock(Date.now());
  const bucket = new TokenBucket({ qps: 1, burst: 1, clock: gate });
  return { ...client(sim, { rateLimiter: bucket, ...overrides }), gate, bucket };
}

/** Advances the gate a second at a time until `work` settles; returns the fewest tokens seen (minus the most calls waiting). */
async function openGate(gate: FakeClock, bucket: TokenBucket, work: Promise<unknown>): Promise<number> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  let fewest = bucket.available();
  await waitFor(
    async () => {
      fewest = Math.min(fewest, bucket.available());
      if (settled) return true;
      await gate.advance(1_000);
      return false;
    },
    { timeoutMs: 30_000, intervalMs: 5, what: 'the sweep to end' },
  );
  return fewest;
}

async function listCalls(sim: RunningSimulator, ...status: string[]): Promise<number> {
  const seen = await counters(sim);
  return status.length === 0
    ? seen.num('byOperation', 'ListCloudPhones', 'total')
    : seen.num('byOperation', 'ListCloudPhones', 'byStatus', ...status);
}

/** Waits until the sweep's first page was answered and `waiting` later pages wait at the gate. */
async function firstPageAnswered(sim: RunningSimulator, bucket: TokenBucket, waiting: number): Promise<void> {
  await waitFor(async () => (await listCalls(sim)) === 1 && bucket.available() === -waiting, {
    timeoutMs: 10_000,
    intervalMs: 10,
    what: `the first page and ${waiting} waiting pages`,
  });
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
      expect(err).to.include({
        httpStatus: 404,
        errorCode: 'CPS.0005',
        operation: 'ShowCloudPhoneDetail',
        retryable: false,
        attempts: 1,
      });
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
      const requestIds = result.batches.flatMap((b) => (b.state === 'sent' ? [requestIdOf(b)] : []));
      expect(requestIds).to.have.length(2);
      const jobs = await jobsUntilDone(cph, requestIds);
      expect(jobs).to.have.length(101);
      expect(jobs.every((j) => j.status === 'succeeded' && j.errorCode === undefined)).to.equal(true);
      const firstJob = result.jobs[0];
      if (!firstJob) throw new Error('no job');
      const shown = await cph.getJob(firstJob.jobId);
      expect(shown).to.include({
        jobId: firstJob.jobId,
        phoneId: firstJob.phoneId,
        status: 'succeeded',
        errorCode: undefined,
        requestId: undefined,
      });
      expect(shown.callRequestId).to.be.a('string');
      // CPH's job entries do not name their request: after a poll of several, jobs are matched by job ID.
      expect(jobs.every((j) => j.requestId === undefined)).to.equal(true);
      const byJobId = new Map(result.jobs.map((j) => [j.jobId, j.phoneId]));
      expect(jobs.every((j) => byJobId.get(j.jobId) === j.phoneId)).to.equal(true);
      const after = await simPhoneIds(sim, 101);
      expect(after.every((p) => p.trafficType === 'routing')).to.equal(true);
      cph.close();
    });

    it("returns an unknown phone as a per-phone CPS.0005 error inside the 200, beside the others' jobs", async () => {
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
        requestIds.push(requestIdOf(answer));
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
      const list = await cph.listJobs({ requestId: requestIdOf(answer), limit: 7 });
      expect(list.jobs).to.have.length(30);
      expect(new Set(list.jobs.map((j) => j.jobId)).size).to.equal(30);
      expect((await counters(sim)).num('byOperation', 'ListJobs', 'total')).to.equal(5);
      cph.close();
    });

    it('ListJobs with expectedJobs stops at the page that completes it: one call for a request of 100 jobs, two without', async () => {
      const { client: cph } = client(sim);
      const phones = (await simPhoneIds(sim, 100)).map((p) => p.phoneId);
      const answer = await cph.setTrafficTypeBatch('routing', phones);
      expect(answer.jobs).to.have.length(100);
      await resetCounters(sim);
      const known = await cph.listJobs({ requestId: requestIdOf(answer), expectedJobs: answer.jobs.length });
      expect(known.jobs).to.have.length(100);
      expect((await counters(sim)).num('byOperation', 'ListJobs', 'total')).to.equal(1);
      const asList = await cph.listJobs({ requestIds: [requestIdOf(answer)], expectedJobs: 100 });
      expect(asList.jobs).to.have.length(100);
      expect((await counters(sim)).num('byOperation', 'ListJobs', 'total')).to.equal(2);
      await resetCounters(sim);
      const unknown = await cph.listJobs({ requestId: requestIdOf(answer) });
      expect(unknown.jobs).to.have.length(100);
      expect((await counters(sim)).num('byOperation', 'ListJobs', 'total')).to.equal(2);
      cph.close();
    });

    it('ListJobs ignores expectedJobs over more than 20 request IDs (the total does not say how the calls split it)', async () => {
      const { client: cph } = client(sim);
      const phones = (await simPhoneIds(sim, 21)).map((p) => p.phoneId);
      const requestIds: string[] = [];
      for (const phoneId of phones) requestIds.push(requestIdOf(await cph.setTrafficTypeBatch('routing', [phoneId])));
      await resetCounters(sim);
      // By pages of 10: the first 20 requests take pages of 10, 10 and 0, the 21st one page. Were expectedJobs
      // applied, 10 would stop each group after its first page.
      const list = await cph.listJobs({ requestIds, limit: 10, expectedJobs: 10 });
      expect(list.jobs).to.have.length(21);
      expect((await counters(sim)).num('byOperation', 'ListJobs', 'total')).to.equal(4);
      cph.close();
    });
  });

  describe('phone list sweep: pages after the first in parallel', () => {
    it('sweeps 950 phones at 50 ms latency in 10 pages, stable, merged in the list order', async () => {
      const big = await simulator({ phones: 950, latencyMs: 50 });
      try {
        const { client: cph } = client(big);
        const sweep = await cph.listAllPhones();
        expect(sweep).to.include({ count: 950, pages: 10, stable: true });
        expect(sweep.phones.map((p) => p.phoneId)).to.deep.equal((await simPhoneIds(big)).map((p) => p.phoneId));
        expect(new Set(sweep.requestIds).size).to.equal(10);
        expect(await listCalls(big)).to.equal(10);
        cph.close();
      } finally {
        await big.close();
      }
    });

    it('has four list calls of one sweep open at the simulator at once, never more than four, and still returns every phone', async () => {
      const big = await simulator({ phones: 950 });
      try {
        const { client: cph, gate, bucket } = gatedClient(big, { timeoutMs: 1_000 });
        const sweep = cph.listAllPhones();
        await firstPageAnswered(big, bucket, 4);
        // The next four list calls are held, unanswered, by the simulator; each times out after 1 s and is retried.
        await admin(big, 'POST', '/_sim/faults/script', {
          faults: [{ kind: 'timeout', operation: 'ListCloudPhones', count: 4 }],
        });
        await gate.advance(4_000);
        await waitFor(async () => (await listCalls(big, 'timeout')) === 4, {
          timeoutMs: 10_000,
          intervalMs: 10,
          what: 'four held list calls',
        });
        expect(big.server.hung.size).to.equal(4);
        expect(await listCalls(big, '200')).to.equal(1);
        const fewest = await openGate(gate, bucket, sweep);
        expect(fewest).to.equal(-4);
        const result = await sweep;
        expect(result).to.include({ count: 950, pages: 10, stable: true });
        expect(result.phones.map((p) => p.phoneId)).to.deep.equal((await simPhoneIds(big)).map((p) => p.phoneId));
        expect(await listCalls(big, '200')).to.equal(10);
        cph.close();
      } finally {
        await big.close();
      }
    });

    it('concurrency 1 reads one page at a time and returns the same sweep', async () => {
      const big = await simulator({ phones: 950 });
      try {
        const { client: cph, gate, bucket } = gatedClient(big);
        const sweep = cph.listAllPhones({}, { concurrency: 1 });
        await firstPageAnswered(big, bucket, 1);
        const fewest = await openGate(gate, bucket, sweep);
        expect(fewest).to.equal(-1);
        const result = await sweep;
        expect(result).to.include({ count: 950, pages: 10, stable: true });
        expect(result.phones.map((p) => p.phoneId)).to.deep.equal((await simPhoneIds(big)).map((p) => p.phoneId));
        expect(result.requestIds).to.have.length(10);
        cph.close();
      } finally {
        await big.close();
      }
    });

    it('a failing page fails the sweep with its error, aborts the page in flight and sends no other', async () => {
      const big = await simulator({ phones: 950 });
      try {
        const {
          client: cph,
          gate,
          bucket,
          calls,
        } = gatedClient(big, { retryPolicy: { maxAttempts: 1 }, timeoutMs: 30_000 });
        const failed = rejection(cph.listAllPhones());
        await firstPageAnswered(big, bucket, 4);
        await admin(big, 'POST', '/_sim/faults/script', {
          faults: [
            { kind: 'timeout', operation: 'ListCloudPhones', count: 1 },
            { kind: '500', operation: 'ListCloudPhones', count: 1 },
          ],
        });
        await gate.advance(1_000);
        await waitFor(async () => (await listCalls(big, 'timeout')) === 1, {
          timeoutMs: 10_000,
          intervalMs: 10,
          what: 'the held page',
        });
        await gate.advance(1_000);
        const err = await failed;
        expect(err).to.include({ operation: 'ListCloudPhones', httpStatus: 500, errorCode: 'CPS.0003' });
        // The held page was cancelled by the client (not left to its 30 s timeout), and the simulator saw it go.
        expect(calls.filter((c) => c.outcome === 'aborted').map((c) => c.errorCode)).to.deep.equal(['Aborted']);
        await waitFor(() => big.server.hung.size === 0, {
          timeoutMs: 10_000,
          intervalMs: 10,
          what: 'the held connection to close',
        });
        // The two pages waiting at the rate limiter gave their slots back and were never sent.
        expect(bucket.available()).to.equal(0);
        await gate.advance(10_000);
        expect(await listCalls(big)).to.equal(3);
        cph.close();
      } finally {
        await big.close();
      }
    });

    it("a caller's abort ends a parallel sweep as Aborted", async () => {
      const big = await simulator({ phones: 950 });
      try {
        const { client: cph, bucket } = gatedClient(big);
        const controller = new AbortController();
        const aborted = rejection(cph.listAllPhones({}, { signal: controller.signal }));
        await firstPageAnswered(big, bucket, 4);
        controller.abort(new Error('shutting down'));
        expect((await aborted).errorCode).to.equal('Aborted');
        expect(bucket.available()).to.equal(0);
        expect(await listCalls(big)).to.equal(1);
        cph.close();
      } finally {
        await big.close();
      }
    });

    it('marks the sweep unstable when phones join the list mid-sweep, without chasing pages past the first count', async () => {
      const big = await simulator({ phones: 900 });
      try {
        const [newest] = await simPhoneIds(big, 1);
        if (!newest) throw new Error('no phone');
        await admin(big, 'POST', `/_sim/phones/${newest.phoneId}/status`, { status: 8 });
        const { client: cph, gate, bucket } = gatedClient(big);
        const sweep = cph.listAllPhones({ status: 2 });
        await firstPageAnswered(big, bucket, 4);
        // The newest phone runs again: every later page counts 900 and starts one phone later.
        await admin(big, 'POST', `/_sim/phones/${newest.phoneId}/status`, { status: 2 });
        await openGate(gate, bucket, sweep);
        const result = await sweep;
        expect(result).to.include({ count: 900, pages: 9, stable: false });
        expect(await listCalls(big)).to.equal(9);
        cph.close();
      } finally {
        await big.close();
      }
    });

    it('keeps its page bound: maxPages below the pages the count implies stops there, unstable', async () => {
      const { client: cph } = client(sim);
      await resetCounters(sim);
      const sweep = await cph.listAllPhones({}, { maxPages: 2 });
      expect(sweep).to.include({ count: 250, pages: 2, stable: false });
      expect(sweep.phones).to.have.length(200);
      expect(await listCalls(sim)).to.equal(2);
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
        cph.setTrafficTypeBatch(
          'routing',
          Array.from({ length: 101 }, (_, i) => `p${i}`),
        ),
        cph.setTrafficType('tunnel' as 'routing', ['a']),
        cph.listJobs({ requestIds: [] }),
        cph.listJobs({ requestId: 'a', requestIds: ['b'] } as unknown as { requestId: string }),
      ]) {
        const err = await rejection(call);
        expect(err.errorCode).to.equal('InvalidArgument');
      }
      expect((await counters(sim)).num('total')).to.equal(0);
      expect(await cph.setTrafficType('routing', [])).to.deep.equal({
        batches: [],
        jobs: [],
        errors: [],
        unconfirmed: [],
        complete: true,
      });
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
      const { client: cph, logs } = client(sim, {
        auth: new AkSkAuth({ ak, sk: 'not-the-secret-key-at-all' }, new RecordingClock()),
      });
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
      await rejection(
        cph.setTrafficType('routing', ['a']).then((r) => {
          const b = r.batches[0];
          if (b?.state !== 'sent') throw b?.error;
        }),
      );
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

  describe('argument checks name the field', () => {
    it('refuses a sweep concurrency outside 1..16 and an expectedJobs that is not a whole number >= 0, sending nothing', async () => {
      const { client: cph } = client(sim);
      await resetCounters(sim);
      for (const concurrency of [0, 17, 1.5]) {
        const err = await rejection(cph.listAllPhones({}, { concurrency }));
        expect(err.errorCode).to.equal('InvalidArgument');
        expect(err.message).to.contain('concurrency');
      }
      for (const expectedJobs of [-1, 2.5, Number.NaN]) {
        const err = await rejection(cph.listJobs({ requestId: 'a'.repeat(32), expectedJobs }));
        expect(err.errorCode).to.equal('InvalidArgument');
        expect(err.message).to.contain('expectedJobs');
      }
      expect((await counters(sim)).num('total')).to.equal(0);
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
      const { client: cph } = client(sim, {
        clock,
        auth: new AkSkAuth({ ak, sk }, clock),
        retryPolicy: { maxAttempts: 2, maxElapsedMs: 10_000 },
      });
      await setFaults(sim, { faultRate: 1, faultKinds: ['429'], retryAfterSeconds: 1 });
      const err = await rejection(cph.listPhones());
      expect(isThrottle(err)).to.equal(true);
      expect(err).to.include({ httpStatus: 429, errorCode: 'APIGW.0308', retryAfterMs: 1000, attempts: 2 });
      expect(clock.sleeps).to.include(1000);
      cph.close();
      const bounded = new RecordingClock();
      const { client: impatient } = client(sim, {
        clock: bounded,
        auth: new AkSkAuth({ ak, sk }, bounded),
        retryPolicy: { maxAttempts: 5, maxElapsedMs: 2_000 },
      });
      await setFaults(sim, { retryAfterSeconds: 3 });
      await resetCounters(sim);
      const quick = await rejection(impatient.listPhones());
      expect(quick).to.include({ errorCode: 'APIGW.0308', attempts: 1 });
      expect(bounded.sleeps).to.not.include(3000);
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'total')).to.equal(1);
      impatient.close();
    });

    it("rides out the gateway's rate limit: bursts over it are throttled, retried, and all succeed", async () => {
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
      const retry = await cph.setTrafficType(
        'routing',
        result.batches.flatMap((b) => (b.state === 'sent' ? [] : b.phoneIds)),
      );
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
      const all = Promise.all([
        a.listPhones({ limit: 1 }),
        b.listPhones({ limit: 1 }),
        a.listPhones({ limit: 1 }),
        b.listPhones({ limit: 1 }),
      ]);
      await waitFor(async () => (await counters(sim)).num('byOperation', 'ListCloudPhones', 'total') === 2, {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'the burst of two',
      });
      expect(bucket.available()).to.equal(-2);
      await clock.advance(1_000);
      await waitFor(async () => (await counters(sim)).num('byOperation', 'ListCloudPhones', 'total') === 3, {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'the third call',
      });
      await clock.advance(1_000);
      expect(await all).to.have.length(4);
      expect((await counters(sim)).num('byOperation', 'ListCloudPhones', 'total')).to.equal(4);
      a.close();
      b.close();
    });

    it("a caller's AbortSignal ends a hung call at once (Aborted, not retried)", async () => {
      const { client: cph } = client(sim, { timeoutMs: 30_000 });
      await setFaults(sim, { faultRate: 1, faultKinds: ['timeout'] });
      await resetCounters(sim);
      const controller = new AbortController();
      const pending = rejection(cph.listPhones({}, { signal: controller.signal }));
      await waitFor(async () => (await counters(sim)).num('byOperation', 'ListCloudPhones', 'total') === 1, {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'the request to arrive',
      });
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
      const line = logs.lines
        .map((l): unknown => JSON.parse(l))
        .find((l) => typeof l === 'object' && l !== null && Reflect.get(l, 'operation') === 'ListCloudPhones');
      expect(line).to.include({
        operation: 'ListCloudPhones',
        requestId: page.requestId,
        httpStatus: 200,
        outcome: 'success',
      });
      expect(calls[0]).to.include({
        operation: 'ListCloudPhones',
        outcome: 'success',
        httpStatus: 200,
        attempt: 1,
        requestId: page.requestId,
      });
      expect(calls[0]?.durationMs).to.be.a('number');
      expect(logs.text()).to.not.contain(sk);
      expect(logs.text()).to.not.contain('Signature=');
      expect(JSON.stringify(cph)).to.not.contain(sk);
      expect(JSON.parse(JSON.stringify(cph))).to.deep.equal({ endpoint: sim.url, projectId, auth: { kind: 'aksk' } });
      cph.close();
    });
  });
});
