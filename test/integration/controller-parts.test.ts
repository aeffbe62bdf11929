/**
 * The controller's CPH-facing parts (inventory, route writer, job tracker) against the simulator over
 * real HTTP: the frugality promises of ../shared/design.md, counted by the simulator.
 */
import { expect } from 'chai';
import { AkSkAuth } from '../../src/cph/auth.js';
import { CphClient } from '../../src/cph/client.js';
import { systemClock } from '../../src/runtime/clock.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/index.js';
import { cphPortOf } from '../../src/controller/cph-port.js';
import { PhoneInventory } from '../../src/controller/inventory.js';
import { JobTracker, type JobOutcome } from '../../src/controller/job-tracker.js';
import { RouteWriter } from '../../src/controller/route-writer.js';
import { Account } from '../../src/controller/accounts.js';
import { AccountPlans, planStamp, type PlannedResource } from '../../src/controller/account-plans.js';
import type { ObservedPhone } from '../../src/controller/ports.js';
import type { CloudPhoneRoute } from '../../src/api/v1alpha1/types.js';
import type { TrafficType } from '../../src/cph/wire.js';
import { SimAdmin } from '../support/sim-admin.js';
import { waitFor } from '../support/wait.js';
import { requestIdOf } from './cph-client-helpers.js';

const projectId = 'parts';
const ak = 'PARTSAK';
const sk = 'parts-sk';
const credentialId = 'parts-credential';

describe('controller parts against the simulator', function () {
  this.timeout(60_000);
  let sim: RunningSimulator;
  let admin: SimAdmin;
  let client: CphClient;

  beforeEach(async () => {
    sim = await startSimulator({ projectId, ak, sk, phones: 750, seed: 3, jobMs: 300, rateLimit: 0 });
    admin = new SimAdmin(sim.url);
    client = new CphClient({
      endpoint: sim.url,
      projectId,
      auth: new AkSkAuth({ ak, sk }, systemClock),
      logger: silentLogger(),
    });
  });

  afterEach(async () => {
    client.close();
    admin.close();
    await sim.close();
  });

  const calls = async (operation: string): Promise<number> =>
    (await admin.counters()).byOperation[operation]?.total ?? 0;

  it('inventory: concurrent callers share one sweep of ceil(N/100) list calls', async () => {
    const inventory = new PhoneInventory({
      cph: cphPortOf(client),
      clock: systemClock,
      logger: silentLogger(),
      intervalMs: 60_000,
    });
    const snapshots = await Promise.all(Array.from({ length: 25 }, () => inventory.fresh(60_000)));
    expect(new Set(snapshots).size).to.equal(1);
    expect(snapshots[0]?.phones.size).to.equal(750);
    expect(await calls('ListCloudPhones')).to.equal(8);
    await inventory.fresh(60_000);
    expect(await calls('ListCloudPhones'), 'a fresh snapshot is reused').to.equal(8);
    // A complete sweep is the truth: phones it did not see do not exist, and cost no detail call.
    expect(snapshots[0]?.complete).to.equal(true);
    const unknown = await Promise.all(
      Array.from({ length: 500 }, (_, i) => inventory.lookup(`ffff${String(i).padStart(28, '0')}`)),
    );
    expect(unknown.every((phone) => phone === undefined)).to.equal(true);
    expect(await calls('ShowCloudPhoneDetail')).to.equal(0);
  });

  it('route writer + job tracker: 250 phones of 10 owners in 3 calls, jobs followed to the end with few polls', async () => {
    const ended: JobOutcome[] = [];
    const owners = new Set<string>();
    const inventory = new PhoneInventory({
      cph: cphPortOf(client),
      clock: systemClock,
      logger: silentLogger(),
      intervalMs: 60_000,
    });
    const tracker = new JobTracker({
      cph: cphPortOf(client),
      clock: systemClock,
      logger: silentLogger(),
      pollIntervalMs: 200,
      initialJobEstimateMs: 300,
      onJobsEnded: (who, outcomes) => {
        for (const o of who) owners.add(o);
        ended.push(...outcomes);
      },
      onRouteConfirmed: (phoneId, trafficType) => inventory.recordRoute(phoneId, trafficType),
    });
    tracker.start();
    const writer = new RouteWriter({
      portFor: () => cphPortOf(client),
      tracker,
      clock: systemClock,
      logger: silentLogger(),
      lingerMs: 30,
    });
    const phones = (await admin.phones()).slice(0, 250).map((p) => p.phone_id);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, r) =>
        writer.submit(
          phones
            .slice(r * 25, r * 25 + 25)
            .map((phoneId) => ({ phoneId, trafficType: 'routing' as const, owner: `ns/r${r}`, credentialId })),
        ),
      ),
    );
    expect(results.flat().every((r) => r.jobId && r.requestId)).to.equal(true);
    expect(await calls('ImportTraffic')).to.equal(3);
    // A second submit of a phone with a job in flight sends nothing.
    const again = await writer.submit([
      { phoneId: phones[0] as string, trafficType: 'routing', owner: 'ns/other', credentialId },
    ]);
    expect(again[0]?.jobId).to.equal(results[0]?.[0]?.jobId);
    expect(await calls('ImportTraffic')).to.equal(3);
    await waitFor(() => ended.length === 250, { timeoutMs: 20_000, what: 'every job ended' });
    expect(ended.every((o) => o.state === 'succeeded')).to.equal(true);
    expect(owners.size).to.equal(11);
    // 3 requests share ListJobs calls (up to 20 a call): a handful of polls, not one per phone or per request per tick.
    expect(await calls('ListJobs')).to.be.at.most(8);
    for (const id of phones.slice(0, 5)) expect((await admin.phone(id)).traffic_type).to.equal('routing');
    await tracker.stop();
  });

  it('job tracker: while jobs run, a round costs one probe call; when they end, each full request is read in one call', async function () {
    this.timeout(30_000);
    await admin.setFaults({ jobMs: 1_500 });
    const ended: JobOutcome[] = [];
    const tracker = new JobTracker({
      cph: cphPortOf(client),
      clock: systemClock,
      logger: silentLogger(),
      pollIntervalMs: 2_000,
      initialJobEstimateMs: 200,
      onJobsEnded: (_who, outcomes) => ended.push(...outcomes),
      onRouteConfirmed: () => undefined,
    });
    tracker.start();
    const phones = (await admin.phones()).slice(0, 500).map((p) => p.phone_id);
    for (let r = 0; r < 5; r++) {
      const answer = await client.setTrafficTypeBatch('routing', phones.slice(r * 100, r * 100 + 100));
      tracker.track(requestIdOf(answer), 'routing', answer.jobs, [`ns/r${r}`]);
    }
    await waitFor(() => ended.length === 500, { timeoutMs: 20_000, what: 'every job ended' });
    await tracker.stop();
    // Polling every due request each round would cost 5 calls a round (10 with the empty page after each
    // full one) for the ~1.3 s the jobs run past the first estimate. Probing costs one call per gap (a tenth
    // of the probe's age, at least 250 ms): at most ~7 probes, then one call per request of 100 jobs.
    const listJobs = await calls('ListJobs');
    expect(listJobs).to.be.at.least(5);
    expect(listJobs).to.be.at.most(5 + 8);
    expect(tracker.pollCalls).to.equal(listJobs);
  });

  it('job tracker: a probe waiting for a free call slot is still polled (first polls do not wait on it forever)', async function () {
    this.timeout(30_000);
    const phones = (await admin.phones()).slice(0, 6).map((p) => p.phone_id);
    await admin.setFaults({ jobMs: 20_000 });
    const slow = await client.setTrafficTypeBatch('routing', phones.slice(0, 3));
    await admin.setFaults({ jobMs: 300 });
    const fast = await client.setTrafficTypeBatch('routing', phones.slice(3));
    const ended: JobOutcome[] = [];
    const tracker = new JobTracker({
      cph: cphPortOf(client),
      clock: systemClock,
      logger: silentLogger(),
      initialJobEstimateMs: 0,
      maxConcurrentPolls: 1,
      onJobsEnded: (_who, outcomes) => ended.push(...outcomes),
      onRouteConfirmed: () => undefined,
    });
    // Both due at once, one slot: the adopted request takes it, the new one becomes the probe and waits.
    tracker.track(requestIdOf(fast), 'routing', fast.jobs, ['ns/fast']);
    void tracker.adopt([requestIdOf(slow)], 'ns/slow');
    tracker.start();
    try {
      // The fast jobs are read long before the slow ones (20 s) end.
      await waitFor(() => ended.length === 3, {
        timeoutMs: 8_000,
        what: 'the fast request read while the slow one runs',
      });
      expect(ended.map((o) => o.requestId)).to.deep.equal([fast.requestId, fast.requestId, fast.requestId]);
    } finally {
      await tracker.stop();
    }
  });

  it('job tracker: adopts requests from a status after a restart and reports their outcome', async () => {
    const phones = (await admin.phones()).slice(0, 3).map((p) => p.phone_id);
    const first = await client.setTrafficTypeBatch('routing', phones);
    const ended: JobOutcome[] = [];
    const tracker = new JobTracker({
      cph: cphPortOf(client),
      clock: systemClock,
      logger: silentLogger(),
      pollIntervalMs: 100,
      onJobsEnded: (_who, outcomes) => ended.push(...outcomes),
      onRouteConfirmed: () => undefined,
    });
    tracker.start();
    await tracker.adopt([requestIdOf(first)], 'ns/adopter');
    // Once adopt resolves, the request has been polled: its jobs are known, running or ended.
    expect(phones.every((id) => tracker.inFlight(id) !== undefined || tracker.outcome(id) !== undefined)).to.equal(
      true,
    );
    await waitFor(() => ended.length === 3, { timeoutMs: 10_000, what: 'adopted jobs ended' });
    expect(ended.map((o) => o.jobId).sort()).to.deep.equal(first.jobs.map((j) => j.jobId).sort());
    await tracker.stop();
  });

  it('inventory: each page is handed over as it arrives, and the sweep ends once what it started has settled', async () => {
    const pages: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const inventory = new PhoneInventory({
      cph: cphPortOf(client),
      clock: systemClock,
      logger: silentLogger(),
      intervalMs: 60_000,
      onPhonesRead: async (phones) => {
        pages.push(phones.map((phone) => phone.phoneId));
        await gate;
      },
    });
    const sweeping = inventory.sweep();
    await waitFor(() => pages.flat().length === 750, { timeoutMs: 10_000, what: 'every page handed over' });
    expect(pages.length).to.equal(8);
    expect(new Set(pages.flat()).size).to.equal(750);
    expect(await calls('ListCloudPhones')).to.equal(8);
    // Every page is read, but the snapshot waits for the work the pages started.
    expect(inventory.snapshot()).to.equal(undefined);
    release();
    const snapshot = await sweeping;
    expect(snapshot.phones.size).to.equal(750);
  });

  describe('account plans', () => {
    /** An account over the simulator whose job tracker runs (its sweeps are started by the test); pages go to `plans` when given. */
    const followingAccount = async (plans?: AccountPlans): Promise<Account> => {
      const account: Account = new Account({
        key: 'parts',
        description: 'parts account',
        intervalMs: 60_000,
        clock: systemClock,
        logger: silentLogger(),
        jobPollIntervalMs: 100,
        hooks: {
          onSwept: () => undefined,
          onSweepFailed: () => undefined,
          ...(plans
            ? {
                onPhonesRead: (acct: Account, phones: readonly ObservedPhone[], sweep: number) =>
                  plans.pageRead(acct, phones, sweep),
              }
            : {}),
          onJobsEnded: () => undefined,
          onCphCall: () => undefined,
          onRouteCall: () => undefined,
        },
      });
      account.addCredential(
        credentialId,
        new CphClient({
          endpoint: sim.url,
          projectId,
          auth: new AkSkAuth({ ak, sk }, systemClock),
          logger: silentLogger(),
        }),
      );
      await account.verify(credentialId);
      account.tracker.start();
      return account;
    };
    const planned = (r: CloudPhoneRoute): PlannedResource => ({
      route: r,
      stamp: planStamp(r.metadata),
      credentialId,
      scope: {},
    });

    const route = (name: string, trafficType: TrafficType, phoneIds: string[]): CloudPhoneRoute => ({
      apiVersion: 'cloudphone.dev/v1alpha1',
      kind: 'CloudPhoneRoute',
      metadata: { name, namespace: 'ns', generation: 1 },
      spec: { trafficType, phoneIds },
    });

    it('sends full calls while the sweep reads, the rest after it, nothing twice, nothing conflicted; job ends update the plan exactly', async () => {
      const direct = (await admin.phones())
        .filter((phone) => phone.traffic_type === 'direct')
        .map((phone) => phone.phone_id);
      expect(direct.length).to.be.at.least(390);
      // a: 250 phones to routing; b: 130 others to routing; c: 10 of a's phones to direct (a conflict).
      const resources = new Map<string, PlannedResource>();
      for (const r of [
        route('a', 'routing', direct.slice(0, 250)),
        route('b', 'routing', direct.slice(250, 380)),
        route('c', 'direct', direct.slice(0, 10)),
      ])
        resources.set(`ns/${r.metadata.name}`, planned(r));
      const sources = { owners: () => [...resources.keys()], resource: (key: string) => resources.get(key) };
      const requeued = new Set<string>();
      const events: string[] = [];
      const options = {
        sources,
        events: { record: (_ref: unknown, _type: string, reason: string) => void events.push(reason) },
        clock: systemClock,
        logger: silentLogger(),
        requeue: (keys: Iterable<string>) => {
          for (const key of keys) requeued.add(key);
        },
      };
      const plans = new AccountPlans(options);
      const account = await followingAccount(plans);
      try {
        await account.inventory.sweep();
        // 370 phones to change (a's 10 conflicted ones excluded): 3 full calls went out during the sweep.
        expect(await calls('ImportTraffic')).to.equal(3);
        expect([...requeued].sort()).to.deep.equal(['ns/a', 'ns/b']);
        let plan = await plans.plan(account);
        expect(plan.changes.length, 'the 70 that did not fill a call').to.equal(70);
        await plans.send(account, plan, 'ns/a');
        expect(await calls('ImportTraffic'), 'ceil(370/100) calls in all').to.equal(4);
        plan = await plans.plan(account);
        expect(plan.changes).to.deep.equal([]);
        expect(plan.resources.get('ns/a')?.counts).to.include({ total: 250, pending: 240, conflicted: 10 });
        expect(plan.resources.get('ns/b')?.counts).to.include({ total: 130, pending: 130 });
        expect(plan.resources.get('ns/c')?.counts).to.include({ total: 10, conflicted: 10 });
        await waitFor(() => !account.tracker.busy, { timeoutMs: 20_000, what: 'every job followed to its end' });
        // The plan after the job ends is an update of the last one (only the resources of changed phones
        // are planned again); it must equal a plan made from scratch.
        plan = await plans.plan(account);
        const fromScratch = await new AccountPlans(options).plan(account);
        expect([...plan.resources.entries()]).to.deep.equal([...fromScratch.resources.entries()]);
        expect(plan.resources.get('ns/a')?.counts).to.include({ total: 250, inSync: 240, conflicted: 10 });
        expect(plan.resources.get('ns/b')?.counts).to.include({ total: 130, inSync: 130 });
        const counters = await admin.counters();
        expect(counters.routeWrites.phones).to.equal(370);
        expect(counters.costlyRepeats.total).to.equal(0);
        expect(Object.keys(counters.routeWrites.byPhone)).to.not.include.members(direct.slice(0, 10));
        expect(events.filter((reason) => reason === 'ApplyingRoute').length).to.be.at.least(4);
      } finally {
        await account.stop();
      }
    });

    it('after a spec change mid-flight, jobs that end on the old route leave the phones drifted in the updated plan, and they are sent again', async () => {
      const direct = (await admin.phones())
        .filter((phone) => phone.traffic_type === 'direct')
        .map((phone) => phone.phone_id);
      const resources = new Map<string, PlannedResource>();
      const a = route('a', 'routing', direct.slice(0, 5));
      resources.set('ns/a', planned(a));
      const sources = { owners: () => [...resources.keys()], resource: (key: string) => resources.get(key) };
      const plans = new AccountPlans({
        sources,
        events: { record: () => undefined },
        clock: systemClock,
        logger: silentLogger(),
      });
      const account = await followingAccount();
      try {
        await account.inventory.sweep();
        const first = await plans.plan(account);
        await plans.send(account, first, 'ns/a');
        // The spec turns back to direct while the routing jobs run.
        const changed = {
          ...a,
          metadata: { ...a.metadata, generation: 2 },
          spec: { ...a.spec, trafficType: 'direct' as const },
        };
        resources.set('ns/a', planned(changed));
        const during = await plans.plan(account);
        expect(during.resources.get('ns/a')?.counts).to.include({ total: 5, pending: 5 });
        await waitFor(() => !account.tracker.busy, { timeoutMs: 20_000, what: 'the routing jobs ended' });
        const after = await plans.plan(account);
        // The jobs set routing; the resource now wants direct: the phones drift and are sent again.
        expect(after.resources.get('ns/a')?.counts).to.include({ total: 5, drifted: 5 });
        expect(after.changes.map((c) => c.trafficType)).to.deep.equal([
          'direct',
          'direct',
          'direct',
          'direct',
          'direct',
        ]);
      } finally {
        await account.stop();
      }
    });
  });
});
