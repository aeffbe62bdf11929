/**
 * The operator end to end: the real control plane, the CPH simulator over HTTPS, and the operator as a
 * separate process with its real flags. Each test works in a namespace of its own.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CoreV1Api, CoordinationV1Api, CustomObjectsApi, EventsV1Api } from '@kubernetes/client-node';
import { CONTROL_PLANE_START_TIMEOUT_MS, type ControlPlane } from '../support/control-plane.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { startOperator, type OperatorProcess } from '../support/operator-process.js';
import { type Routes, freshNamespace, condition } from '../support/routes.js';
import { type SimAdmin, phoneDealer, type SimCounters, type SimPhone } from '../support/sim-admin.js';
import { checkExposition, samples } from '../support/metrics-lint.js';
import { createNamespacedAccount } from '../support/accounts.js';
import { startE2eWorld, stopE2eWorld } from '../support/e2e-world.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const projectId = 'e2eproject';
const ak = 'E2EACCESSKEY';
const sk = 'e2e-secret-key-value-0123456789';

describe('operator end to end', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let cp: ControlPlane;
  let sim: RunningSimulator;
  let admin: SimAdmin;
  let operator: OperatorProcess;
  let routes: Routes;
  let caFile: string;
  let phones: SimPhone[];
  /** Phones no other test has used, so tests never disturb each other. */
  const takePhones = phoneDealer(() => phones);

  before(async () => {
    ({ cp, sim, admin, operator, routes, phones, caFile } = await startE2eWorld({
      name: 'e2e',
      phones: 400,
      seed: 11,
      projectId,
      ak,
      sk,
      jobMs: 600,
      driftInterval: '10s',
    }));
  });

  after(async () => {
    const logs = await stopE2eWorld({ operator, admin, sim });
    // No secret may reach a log line, whatever happened in the tests.
    for (const line of logs) {
      expect(line).to.not.include(sk);
      expect(line).to.not.include('Signature=');
    }
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator.logs().slice(-60).join('\n')}\n`);
  });

  it('converges a new resource: Ready, job IDs in status, every phone on its route', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    const ids = takePhones(5);
    await routes.create(ns, 'five', { trafficType: 'routing', phoneIds: ids });
    const ready = await routes.waitForCondition(ns, 'five', 'Ready', 'True', 'InSync');
    expect(ready.status?.summary).to.include({ total: 5, inSync: 5 });
    const entries = ready.status?.phones ?? [];
    expect(entries.map((e) => e.phoneId).sort()).to.deep.equal([...ids].sort());
    for (const entry of entries) {
      expect(entry.jobId, 'job ID in status').to.be.a('string').and.not.empty;
      expect(entry.requestId, 'request ID in status').to.be.a('string').and.not.empty;
      expect(entry.jobStatus).to.equal('Succeeded');
    }
    for (const id of ids) expect((await admin.phone(id)).traffic_type).to.equal('routing');
  });

  it('works with kubectl wait --for=condition=Ready', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    await routes.create(ns, 'waited', { trafficType: 'routing', phoneIds: takePhones(2) });
    const { stdout } = await run('kubectl', [
      '--kubeconfig',
      cp.kubeconfigPath,
      '-n',
      ns,
      'wait',
      '--for=condition=Ready',
      'cpr/waited',
      '--timeout=60s',
    ]);
    expect(stdout).to.include('condition met');
  });

  it('corrects an out-of-band change within the drift interval', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    const ids = takePhones(3);
    await routes.create(ns, 'drift', { trafficType: 'routing', phoneIds: ids, driftCheckInterval: '10s' });
    await routes.waitForCondition(ns, 'drift', 'Ready', 'True', 'InSync');
    const victim = ids[1] as string;
    await admin.drift(victim, 'direct');
    await waitFor(async () => (await admin.phone(victim)).traffic_type === 'routing', {
      timeoutMs: 10_000 + 15_000,
      what: 'the drifted phone back on routing',
    });
  });

  it('shows per-phone errors (unknown phone, failed job) without blocking the other phones', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    const ids = takePhones(3);
    const unknown = 'ffffffffffffffffffffffffffffffff';
    await admin.setFaults({ failJobsForPhones: [ids[0]] });
    try {
      await routes.create(ns, 'errors', { trafficType: 'routing', phoneIds: [...ids, unknown] });
      const route = await waitFor(
        async () => {
          const r = await routes.get(ns, 'errors');
          const s = r?.status?.summary;
          return s && s.inSync === 2 && s.notFound === 1 && s.failed === 1 ? r : undefined;
        },
        { timeoutMs: 60_000, what: '2 in sync, 1 not found, 1 failed' },
      );
      const entries = route.status?.phones ?? [];
      const missing = entries.find((e) => e.phoneId === unknown);
      expect(missing?.errorCode).to.equal('CPS.0005');
      const failed = entries.find((e) => e.phoneId === ids[0]);
      expect(failed?.jobStatus).to.equal('Failed');
      expect(failed?.errorCode).to.be.a('string').and.not.empty;
      expect(condition(route, 'Ready')?.status).to.equal('False');
      for (const id of ids.slice(1)) expect((await admin.phone(id)).traffic_type).to.equal('routing');
    } finally {
      await admin.setFaults({ failJobsForPhones: [] });
    }
    // The failed change is held back, then tried again (30 s backoff) and succeeds now that jobs pass.
    await waitFor(async () => (await admin.phone(ids[0] as string)).traffic_type === 'routing', {
      timeoutMs: 75_000,
      what: 'the failed phone retried after its backoff',
    });
    await waitFor(async () => (await routes.get(ns, 'errors'))?.status?.summary?.inSync === 3, {
      what: 'the retried phone in sync in status',
    });
  });

  it('a fleet where 1 % of phones are odd: a sweep still corrects every other phone, and reports the odd ones (issue 16)', async () => {
    const kc = cp.kubeConfig();
    const ns = await freshNamespace(kc);
    const ids = takePhones(100);
    await routes.create(ns, 'odd', { trafficType: 'routing', phoneIds: ids, driftCheckInterval: '10s' });
    await routes.waitForCondition(ns, 'odd', 'Ready', 'True', 'InSync');
    // 4 odd phones in a fleet of 400: one listed without phone_id, one with a route CPH names oddly, one
    // without status, one without server_id; they and 10 ordinary phones drift behind the operator's back.
    const [noId, oddRoute, noStatus, noServer] = ids as [string, string, string, string];
    const ordinary = ids.slice(10, 20);
    const skippedBefore = await operator.metric('cph_route_operator_cph_phone_entries_skipped_total', {
      reason: 'noPhoneId',
    });
    for (const id of [noId, oddRoute, noStatus, noServer, ...ordinary]) await admin.drift(id, 'direct');
    await admin.setQuirks({
      phones: {
        [noId]: { omit: ['phone_id'] },
        [oddRoute]: { trafficType: 'tunnel' },
        [noStatus]: { omit: ['status'] },
        [noServer]: { omit: ['server_id'] },
      },
    });
    try {
      const corrected = [oddRoute, noServer, ...ordinary];
      await waitFor(
        async () =>
          (await Promise.all(corrected.map(async (id) => (await admin.phone(id)).traffic_type))).every(
            (t) => t === 'routing',
          ),
        {
          timeoutMs: 60_000,
          what: 'the drifted ordinary phones, the one of odd route and the one without server_id back on routing',
        },
      );
      const route = await waitFor(
        async () => {
          const r = await routes.get(ns, 'odd');
          const s = r?.status?.summary;
          return s && s.notFound === 1 && s.waiting === 1 ? r : undefined;
        },
        { timeoutMs: 30_000, what: 'the skipped phone not found and the phone without status waiting' },
      );
      const entry = (id: string): Record<string, unknown> | undefined =>
        route.status?.phones?.find((e) => e.phoneId === id);
      expect(entry(noId)).to.include({ state: 'NotFound' });
      expect(entry(noStatus)).to.include({ state: 'Waiting' });
      expect(String(entry(noStatus)?.errorMessage)).to.match(/no status/);
      expect((await admin.phone(noId)).traffic_type, 'a phone the list cannot name is not changed').to.equal('direct');
      expect((await admin.phone(noStatus)).traffic_type, 'a phone not known to run is not changed').to.equal('direct');
      expect(
        await operator.metric('cph_route_operator_cph_phone_entries_skipped_total', { reason: 'noPhoneId' }),
      ).to.be.greaterThan(skippedBefore);
      const events = kc.makeApiClient(EventsV1Api);
      await waitFor(
        async () =>
          (await events.listNamespacedEvent({ namespace: ns })).items.some(
            (e) => e.reason === 'PhoneEntriesSkipped' && e.regarding?.name === 'odd',
          ),
        {
          what: 'a PhoneEntriesSkipped Event on the resource',
        },
      );
    } finally {
      await admin.setQuirks({ phones: {} });
    }
  });

  it('reports a conflict between two resources on both and changes neither', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    const [shared, onlyA, onlyB] = takePhones(3) as [string, string, string];
    const before = (await admin.counters()).routeWrites.byPhone[shared] ?? 0;
    await routes.create(ns, 'want-routing', { trafficType: 'routing', phoneIds: [shared, onlyA] });
    await routes.create(ns, 'want-direct', { trafficType: 'direct', phoneIds: [shared, onlyB] });
    for (const name of ['want-routing', 'want-direct']) {
      const route = await waitFor(
        async () => {
          const r = await routes.get(ns, name);
          return r?.status?.summary?.conflicted === 1 ? r : undefined;
        },
        { timeoutMs: 60_000, what: `${name} reporting the conflict` },
      );
      expect(JSON.stringify(route.status?.conditions)).to.include('Conflict');
    }
    // The shared phone may have been changed once before the second resource existed; never after both exist.
    const settled = (await admin.counters()).routeWrites.byPhone[shared] ?? 0;
    expect(settled - before).to.be.at.most(1);
    await routes.waitForCondition(ns, 'want-routing', 'Ready', 'False');
    const again = (await admin.counters()).routeWrites.byPhone[shared] ?? 0;
    expect(again).to.equal(settled);
    await waitFor(async () => (await admin.phone(onlyA)).traffic_type === 'routing', {
      what: 'the unshared phone of want-routing on routing',
    });
    expect((await admin.counters()).routeWrites.byPhone[shared] ?? 0).to.equal(settled);
  });

  it('follows a spec change made while jobs run', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    const ids = takePhones(4);
    await admin.setFaults({ jobMs: 3000 });
    try {
      await routes.create(ns, 'flip', { trafficType: 'routing', phoneIds: ids });
      await waitFor(async () => ((await routes.get(ns, 'flip'))?.status?.summary?.pending ?? 0) > 0, {
        what: 'jobs pending',
      });
      await routes.patchSpec(ns, 'flip', { trafficType: 'direct' });
    } finally {
      await admin.setFaults({ jobMs: 600 });
    }
    const ready = await routes.waitForCondition(ns, 'flip', 'Ready', 'True', 'InSync');
    expect(ready.status?.summary).to.include({ total: 4, inSync: 4 });
    for (const id of ids) expect((await admin.phone(id)).traffic_type).to.equal('direct');
  });

  it('suspends: reports drift but changes nothing until resumed', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    const ids = takePhones(2);
    await routes.create(ns, 'pause', { trafficType: 'routing', phoneIds: ids, driftCheckInterval: '10s' });
    await routes.waitForCondition(ns, 'pause', 'Ready', 'True', 'InSync');
    await routes.patchSpec(ns, 'pause', { suspend: true });
    await waitFor(
      async () => JSON.stringify((await routes.get(ns, 'pause'))?.status?.conditions ?? []).includes('Suspended'),
      { what: 'Suspended reason' },
    );
    const writesBefore = (await admin.counters()).routeWrites.byPhone[ids[0] as string] ?? 0;
    await admin.drift(ids[0] as string, 'direct');
    await waitFor(async () => ((await routes.get(ns, 'pause'))?.status?.summary?.drifted ?? 0) === 1, {
      timeoutMs: 30_000,
      what: 'drift reported while suspended',
    });
    expect((await admin.counters()).routeWrites.byPhone[ids[0] as string] ?? 0).to.equal(writesBefore);
    expect((await admin.phone(ids[0] as string)).traffic_type).to.equal('direct');
    await routes.patchSpec(ns, 'pause', { suspend: false });
    await routes.waitForCondition(ns, 'pause', 'Ready', 'True', 'InSync');
    expect((await admin.phone(ids[0] as string)).traffic_type).to.equal('routing');
  });

  it('deletes with deletionPolicy Revert: phones go back to direct, then the resource goes', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    const ids = takePhones(3);
    await routes.create(ns, 'revert', { trafficType: 'routing', phoneIds: ids, deletionPolicy: 'Revert' });
    await routes.waitForCondition(ns, 'revert', 'Ready', 'True', 'InSync');
    expect((await routes.get(ns, 'revert'))?.metadata.finalizers).to.include('cloudphone.dev/route-finalizer');
    await routes.delete(ns, 'revert');
    await waitFor(async () => (await routes.get(ns, 'revert')) === undefined, {
      timeoutMs: 60_000,
      what: 'the resource gone',
    });
    for (const id of ids) expect((await admin.phone(id)).traffic_type).to.equal('direct');
  });

  it('reports bad credentials as Stalled CredentialsInvalid, and a fixed Secret heals it', async () => {
    const kc = cp.kubeConfig();
    const ns = await freshNamespace(kc);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'cph' },
        stringData: { HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: 'wrong-secret-key' },
      },
    });
    await createNamespacedAccount(kc, ns, 'own', {
      endpoint: sim.url,
      projectId,
      credentials: { secretRef: { name: 'cph' } },
      phoneScope: {},
    });
    await routes.create(ns, 'creds', {
      trafficType: 'routing',
      phoneIds: takePhones(2),
      accountRef: { kind: 'CloudPhoneAccount', name: 'own' },
    });
    const stalled = await routes.waitForCondition(ns, 'creds', 'Stalled', 'True', 'CredentialsInvalid');
    expect(condition(stalled, 'Stalled')?.message).to.not.include('wrong-secret-key');
    await core.replaceNamespacedSecret({
      namespace: ns,
      name: 'cph',
      body: { metadata: { name: 'cph' }, stringData: { HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: sk } },
    });
    await routes.waitForCondition(ns, 'creds', 'Ready', 'True', 'InSync', 90_000);
    // The account object heals too (Secrets are not watched: at its next look, within a sweep or its retry).
    const api = kc.makeApiClient(CustomObjectsApi);
    await waitFor(
      async () => {
        const account = (await api.getNamespacedCustomObject({
          group: 'cloudphone.dev',
          version: 'v1alpha1',
          namespace: ns,
          plural: 'cloudphoneaccounts',
          name: 'own',
        })) as {
          status?: { conditions?: Array<{ type: string; status: string; reason: string }>; phonesInScope?: number };
        };
        return (
          account.status?.conditions?.some(
            (c) => c.type === 'Ready' && c.status === 'True' && c.reason === 'CredentialsVerified',
          ) && account.status.phonesInScope === 400
        );
      },
      { timeoutMs: 90_000, what: 'the CloudPhoneAccount Ready with 400 phones in scope' },
    );
  });

  it('makes no Kubernetes write and only list calls in steady state', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    await routes.create(ns, 'steady', { trafficType: 'routing', phoneIds: takePhones(3), driftCheckInterval: '10s' });
    await routes.waitForCondition(ns, 'steady', 'Ready', 'True', 'InSync');
    // Let every earlier test's work settle: no job running, no resource still changing.
    await waitFor(async () => (await admin.counters()).jobs.running === 0, { what: 'no job running' });
    const writesByKind = async (): Promise<Record<string, number>> =>
      Object.fromEntries(
        samples(
          checkExposition(await (await fetch(operator.metricsUrl)).text()),
          'cph_route_operator_kube_writes_total',
        ).map((s) => [s.labels.kind ?? '', s.value]),
      );
    const writeCalls = (c: SimCounters): number => c.byOperation.ImportTraffic?.total ?? 0;
    // A window of two sweeps at the 10 s interval: the Kubernetes writes made meanwhile, by kind.
    const window = async (): Promise<{ writes: Record<string, number>; routeCalls: number }> => {
      const writes0 = await writesByKind();
      const counters0 = await admin.counters();
      const sweeps0 = await operator.metric('cph_route_operator_cph_requests_total', { api: 'ListCloudPhones' });
      await waitFor(
        async () =>
          (await operator.metric('cph_route_operator_cph_requests_total', { api: 'ListCloudPhones' })) >=
          sweeps0 + 2 * Math.ceil(400 / 100),
        { timeoutMs: 40_000, what: 'two inventory sweeps' },
      );
      const writes: Record<string, number> = {};
      for (const [kind, count] of Object.entries(await writesByKind()))
        if (count !== (writes0[kind] ?? 0)) writes[kind] = count - (writes0[kind] ?? 0);
      return { writes, routeCalls: writeCalls(await admin.counters()) - writeCalls(counters0) };
    };
    // Earlier tests' Events (InSync, ApplyingRoute) may still have a series count to write, at most 30 s
    // after their last repeat: steady state is the first window without such a leftover, within three.
    let steady = await window();
    for (let extra = 0; extra < 2 && Object.keys(steady.writes).length > 0; extra++) steady = await window();
    expect(steady.writes, 'Kubernetes writes in two steady sweeps, by kind').to.deep.equal({});
    expect(steady.routeCalls).to.equal(0);
  });

  it('with two replicas and leader election, exactly one acts', async () => {
    // The shared operator stops first, so only the two replicas can act on the new resource.
    await operator.stop();
    const kc = cp.kubeConfig();
    const ns = await freshNamespace(kc, 'lease');
    const extra = [
      '--leader-elect',
      '--leader-election-namespace',
      ns,
      '--job-poll-interval',
      '300ms',
      '--namespaces',
      ns,
    ];
    const common = {
      kubeconfigPath: cp.kubeconfigPath,
      cphEndpoint: sim.url,
      projectId,
      caFile,
      env: { HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: sk },
    };
    const a = await startOperator({ ...common, name: 'replica-a', extraArgs: extra });
    const b = await startOperator({ ...common, name: 'replica-b', extraArgs: extra });
    try {
      await waitFor(
        async () =>
          (await a.metric('leader_election_master_status')) + (await b.metric('leader_election_master_status')) === 1,
        { what: 'one leader' },
      );
      const [leader, standby] = (await a.metric('leader_election_master_status')) === 1 ? [a, b] : [b, a];
      const ids = takePhones(3);
      await routes.create(ns, 'elected', { trafficType: 'routing', phoneIds: ids, driftCheckInterval: '10s' });
      await routes.waitForCondition(ns, 'elected', 'Ready', 'True', 'InSync');
      expect(await leader.metric('controller_runtime_reconcile_total')).to.be.greaterThan(0);
      expect(await standby.metric('controller_runtime_reconcile_total')).to.equal(0);
      expect(await standby.metric('cph_route_operator_cph_requests_total')).to.equal(0);
      const lease = await kc
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: ns, name: 'cph-route-operator-leader' });
      expect(lease.spec?.holderIdentity).to.be.a('string').and.not.empty;
      // The leader goes away; the standby takes over within the lease duration and acts.
      await leader.stop('SIGKILL');
      await waitFor(async () => (await standby.metric('leader_election_master_status')) === 1, {
        timeoutMs: 30_000,
        what: 'the standby leading',
      });
      // Drift made after the takeover is corrected by the new leader's next sweep (10 s interval).
      await admin.drift(ids[0] as string, 'direct');
      await waitFor(async () => (await admin.phone(ids[0] as string)).traffic_type === 'routing', {
        timeoutMs: 45_000,
        what: 'the new leader correcting drift',
      });
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
