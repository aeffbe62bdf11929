/**
 * Liberal in what it reads (issue 16): the CPH client and the controller parts against the simulator over
 * real HTTP, with the simulator's quirks (POST /_sim/quirks) and readings producing every answer the SDK
 * models allow but the documented examples never show. Each case failed before the client read per phone.
 */
import { expect } from 'chai';
import { systemClock } from '../../src/runtime/clock.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { CphError } from '../../src/cph/errors.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { cphPortOf } from '../../src/controller/cph-port.js';
import { JobTracker } from '../../src/controller/job-tracker.js';
import { RouteWriter } from '../../src/controller/route-writer.js';
import { Account } from '../../src/controller/accounts.js';
import { AccountPlans, planStamp, type PlannedResource } from '../../src/controller/account-plans.js';
import type { CloudPhoneRoute } from '../../src/api/v1alpha1/types.js';
import { waitFor } from '../support/wait.js';
import {
  admin,
  client,
  counters,
  resetCounters,
  simPhoneIds,
  simulator,
  type ClientHarness,
} from './cph-client-helpers.js';

describe('CPH answers read per phone (issue 16)', function () {
  this.timeout(60_000);
  let sim: RunningSimulator;
  let h: ClientHarness;
  let ids: string[];

  beforeEach(async () => {
    sim = await simulator({ phones: 250 });
    h = client(sim);
    ids = (await simPhoneIds(sim)).map((p) => p.phoneId);
  });

  afterEach(async () => {
    h.client.close();
    await sim.close();
  });

  const quirks = (body: Record<string, unknown>): Promise<unknown> => admin(sim, 'POST', '/_sim/quirks', body);
  const importCalls = async (): Promise<number> => (await counters(sim)).num('byOperation', 'ImportTraffic', 'total');

  describe('ListCloudPhones', () => {
    it('skips and counts an entry without phone_id; the sweep reads every other phone', async () => {
      const [broken, alsoBroken] = [ids[3] as string, ids[170] as string];
      await quirks({ phones: { [broken]: { omit: ['phone_id'] }, [alsoBroken]: { omit: ['phone_id'] } } });
      const sweep = await h.client.listAllPhones();
      expect(sweep.phones).to.have.length(248);
      expect(sweep.stable, 'a skipped entry still fills its place on the page').to.equal(true);
      expect(sweep.skipped.map((s) => s.reason)).to.deep.equal(['noPhoneId', 'noPhoneId']);
      expect(sweep.skipped[0]?.field).to.equal('(offset 0) phones[3].phone_id');
      expect(sweep.phones.map((p) => p.phoneId)).to.not.include.members([broken, alsoBroken]);
    });

    it('reads a phone with an unknown traffic_type, or without server_id, phone_name or status', async () => {
      const [odd, noServer, noName, noStatus, noRoute] = ids as [string, string, string, string, string];
      await quirks({
        phones: {
          [odd]: { trafficType: 'tunnel' },
          [noServer]: { omit: ['server_id'] },
          [noName]: { omit: ['phone_name'] },
          [noStatus]: { omit: ['status'] },
          [noRoute]: { omit: ['traffic_type'] },
        },
      });
      const sweep = await h.client.listAllPhones();
      expect(sweep.phones).to.have.length(250);
      const byId = new Map(sweep.phones.map((p) => [p.phoneId, p]));
      expect(byId.get(odd)).to.include({ trafficType: undefined, unknownTrafficType: 'tunnel' });
      expect(byId.get(noServer)?.serverId).to.equal(undefined);
      expect(byId.get(noName)?.phoneName).to.equal(undefined);
      expect(byId.get(noStatus)?.status).to.equal(undefined);
      expect(byId.get(noRoute)).to.include({ trafficType: undefined, unknownTrafficType: undefined });
      const detail = await h.client.getPhone(odd);
      expect(detail.unknownTrafficType).to.equal('tunnel');
    });
  });

  describe('phones-traffic', () => {
    it('a 200 without request_id in the body keeps its jobs and takes the X-Request-Id header', async () => {
      await quirks({ trafficRequestId: 'header' });
      const answer = await h.client.setTrafficTypeBatch('routing', ids.slice(0, 3));
      expect(answer.jobs).to.have.length(3);
      expect(answer.requestId).to.match(/^[0-9a-f]{32}$/);
      const jobs = await h.client.listJobs({ requestId: answer.requestId ?? '' });
      expect(jobs.jobs.map((j) => j.jobId).sort()).to.deep.equal(answer.jobs.map((j) => j.jobId).sort());
    });

    it('a 200 with no request ID at all still keeps its job IDs', async () => {
      await quirks({ trafficRequestId: 'none' });
      const answer = await h.client.setTrafficTypeBatch('routing', ids.slice(0, 3));
      expect(answer.requestId).to.equal(undefined);
      expect(answer.jobs.map((j) => j.phoneId)).to.deep.equal(ids.slice(0, 3));
      expect(answer.jobs.every((j) => /^[0-9a-f]{32}$/.test(j.jobId))).to.equal(true);
    });

    it('an entry with neither job nor error is an unknown outcome, not a failure of the batch', async () => {
      await quirks({ noJobFor: [ids[1]] });
      const answer = await h.client.setTrafficTypeBatch('routing', ids.slice(0, 3));
      expect(answer.jobs.map((j) => j.phoneId)).to.deep.equal([ids[0], ids[2]]);
      expect(answer.errors).to.deep.equal([]);
      expect(answer.unconfirmed).to.deep.equal([{ phoneId: ids[1], reason: 'noJobOrError' }]);
    });

    it('the route writer reports a job it cannot follow (no request ID) and an entry with neither job nor error as unconfirmed', async () => {
      await quirks({ trafficRequestId: 'none', noJobFor: [ids[1]] });
      const tracker = new JobTracker({
        cph: cphPortOf(h.client),
        clock: systemClock,
        logger: silentLogger(),
        onJobsEnded: () => undefined,
        onRouteConfirmed: () => undefined,
      });
      const writer = new RouteWriter({
        portFor: () => cphPortOf(h.client),
        tracker,
        clock: systemClock,
        logger: silentLogger(),
        lingerMs: 5,
      });
      const results = await writer.submit(
        ids
          .slice(0, 2)
          .map((phoneId) => ({ phoneId, trafficType: 'routing' as const, owner: 'ns/a', credentialId: 'odd' })),
      );
      expect(results[0]).to.include({ unconfirmed: true });
      expect(results[0]?.jobId).to.match(/^[0-9a-f]{32}$/);
      expect(results[1]).to.deep.equal({ phoneId: ids[1], trafficType: 'routing', unconfirmed: true });
      expect(tracker.busy, 'nothing to follow without a request ID').to.equal(false);
    });
  });

  describe('errors', () => {
    it('reads a top-level {code, message} body, and the request ID from X-Request-Id', async () => {
      await admin(sim, 'POST', '/_sim/readings', { errorBody: 'top', notFoundStatus: 400 });
      const error = await h.client.getPhone('ffffffffffffffffffffffffffffffff').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).to.be.instanceOf(CphError);
      expect(error).to.include({ errorCode: 'CPS.0005', httpStatus: 400 });
      expect((error as CphError).requestId).to.match(/^[0-9a-f]{32}$/);
    });

    it('CPS.0001 answered with HTTP 400 refuses the account: the remaining batches are not sent', async () => {
      await quirks({
        refuse: { httpStatus: 400, errorCode: 'CPS.0001', errorMsg: 'no permission', operation: 'ImportTraffic' },
      });
      const result = await h.client.setTrafficType('routing', ids);
      expect(result.batches.map((b) => b.state)).to.deep.equal(['failed', 'notSent', 'notSent']);
      expect(await importCalls()).to.equal(1);
    });

    it('the route writer sends one call to an account that refuses, and fails the rest unsent', async () => {
      await quirks({
        refuse: { httpStatus: 400, errorCode: 'CPS.0001', errorMsg: 'no permission', operation: 'ImportTraffic' },
      });
      const tracker = new JobTracker({
        cph: cphPortOf(h.client),
        clock: systemClock,
        logger: silentLogger(),
        onJobsEnded: () => undefined,
        onRouteConfirmed: () => undefined,
      });
      const writer = new RouteWriter({
        portFor: () => cphPortOf(h.client),
        tracker,
        clock: systemClock,
        logger: silentLogger(),
        lingerMs: 5,
      });
      const results = await writer.submit(
        ids.map((phoneId) => ({ phoneId, trafficType: 'routing' as const, owner: 'ns/a', credentialId: 'odd' })),
      );
      expect(results.every((r) => r.callError instanceof CphError && r.callError.errorCode === 'CPS.0001')).to.equal(
        true,
      );
      expect(await importCalls()).to.equal(1);
      // Once the account answers again, calls go out in parallel as before.
      await quirks({ refuse: null });
      await resetCounters(sim);
      const again = await writer.submit(
        ids.map((phoneId) => ({ phoneId, trafficType: 'routing' as const, owner: 'ns/a', credentialId: 'odd' })),
      );
      expect(again.every((r) => r.jobId !== undefined)).to.equal(true);
      expect(await importCalls()).to.equal(3);
    });
  });
});

describe('a sweep over a fleet where 1 % of phones are odd (issue 16)', function () {
  this.timeout(120_000);

  it('corrects every other phone, skips and counts what cannot be used, and changes a phone of unknown route', async () => {
    const sim = await simulator({ phones: 1000, jobMs: 200 });
    const h = client(sim);
    const phones = await simPhoneIds(sim);
    const ids = phones.map((p) => p.phoneId);
    // 10 odd phones of 1000, spread over the pages: 2 of each kind.
    const odd = {
      noId: [ids[5], ids[505]],
      unknownRoute: [ids[105], ids[605]],
      noStatus: [ids[205], ids[705]],
      noServer: [ids[305], ids[805]],
      noName: [ids[405], ids[905]],
    };
    const quirk: Record<string, unknown> = {};
    for (const id of odd.noId) quirk[id as string] = { omit: ['phone_id'] };
    for (const id of odd.unknownRoute) quirk[id as string] = { trafficType: 'ROUTING-V2' };
    for (const id of odd.noStatus) quirk[id as string] = { omit: ['status'] };
    for (const id of odd.noServer) quirk[id as string] = { omit: ['server_id'] };
    for (const id of odd.noName) quirk[id as string] = { omit: ['phone_name'] };
    await admin(sim, 'POST', '/_sim/quirks', { phones: quirk });

    const route: CloudPhoneRoute = {
      apiVersion: 'cloudphone.dev/v1alpha1',
      kind: 'CloudPhoneRoute',
      metadata: { name: 'all', namespace: 'ns', generation: 1 },
      spec: { trafficType: 'routing', phoneIds: ids },
    };
    const resources = new Map<string, PlannedResource>([
      ['ns/all', { route, stamp: planStamp(route.metadata), credentialId: 'odd', scope: {} }],
    ]);
    const plans = new AccountPlans({
      sources: { owners: () => ['ns/all'], resource: (key) => resources.get(key) },
      events: { record: () => undefined },
      clock: systemClock,
      logger: silentLogger(),
    });
    const account = new Account({
      key: 'odd',
      description: 'odd account',
      intervalMs: 60_000,
      clock: systemClock,
      logger: silentLogger(),
      jobPollIntervalMs: 100,
      hooks: {
        onSwept: () => undefined,
        onSweepFailed: () => undefined,
        onJobsEnded: () => undefined,
        onRouteCall: () => undefined,
      },
    });
    account.addCredential('odd', cphPortOf(h.client));
    await account.verify('odd');
    account.tracker.start();
    try {
      const snapshot = await account.inventory.sweep();
      expect(snapshot.skipped).to.have.length(2);
      expect(snapshot.phones.size).to.equal(998);
      const plan = await plans.plan(account);
      await plans.send(account, plan, 'ns/all');
      await waitFor(() => !account.tracker.busy, { timeoutMs: 30_000, what: 'every job followed to its end' });
      const after = (await plans.plan(account)).resources.get('ns/all');
      // The 2 skipped phones are not in a complete sweep: not found. The 2 without status are not known to run.
      expect(after?.counts).to.include({ total: 1000, inSync: 996, notFound: 2, waiting: 2 });
      const routes = new Map((await simPhoneIds(sim)).map((p) => [p.phoneId, p.trafficType]));
      const untouched = new Set([...odd.noId, ...odd.noStatus]);
      for (const id of ids) expect(routes.get(id), id).to.equal(untouched.has(id) ? 'direct' : 'routing');
      // Every phone that was changed was changed once.
      expect((await counters(sim)).num('routeWrites', 'total')).to.equal(996);
    } finally {
      await account.stop();
      h.client.close();
      await sim.close();
    }
  });
});
