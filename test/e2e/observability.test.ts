/**
 * What an SRE sees of the operator, end to end: the real control plane, the CPH simulator and the operator as
 * a process. Reconcile on demand through the annotation, the /metrics exposition (parsed and checked against
 * Prometheus conventions, controller-runtime's names, the per-resource condition series), the reconcile fields
 * of the log lines, and the InSync Event.
 * Every route here has a drift interval of 30 minutes, so a phone re-read within seconds can only come from
 * a reconcile request.
 */
import { expect } from 'chai';
import { EventsV1Api } from '@kubernetes/client-node';
import { CONTROL_PLANE_START_TIMEOUT_MS, type ControlPlane } from '../support/control-plane.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import type { OperatorProcess } from '../support/operator-process.js';
import { type Routes, freshNamespace } from '../support/routes.js';
import { type SimAdmin, phoneDealer, type SimCounters, type SimPhone } from '../support/sim-admin.js';
import { checkExposition, samples } from '../support/metrics-lint.js';
import { startE2eWorld, stopE2eWorld } from '../support/e2e-world.js';
import { waitFor } from '../support/wait.js';

const projectId = 'obsproject';
const ak = 'OBSACCESSKEY';
const sk = 'obs-secret-key-value-0123456789';
const annotation = 'cloudphone.dev/reconcile-requested-at';
const driftCheckInterval = '30m';

describe('observability end to end', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let cp: ControlPlane;
  let sim: RunningSimulator;
  let admin: SimAdmin;
  let operator: OperatorProcess;
  let routes: Routes;
  let phones: SimPhone[];
  const takePhones = phoneDealer(() => phones);
  const listCalls = (c: SimCounters): number => c.byOperation.ListCloudPhones?.total ?? 0;

  before(async () => {
    ({ cp, sim, admin, operator, routes, phones } = await startE2eWorld({
      name: 'obs',
      phones: 250,
      seed: 15,
      projectId,
      ak,
      sk,
      jobMs: 300,
      driftInterval: driftCheckInterval,
    }));
  });

  after(async () => {
    await stopE2eWorld({ operator, admin, sim });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator.logs().slice(-60).join('\n')}\n`);
  });

  it('re-reads the phones within seconds of a reconcile request and reports it in lastHandledReconcileAt', async () => {
    const ns = await freshNamespace(cp.kubeConfig(), 'obs');
    const ids = takePhones(3);
    await routes.create(ns, 'on-demand', { trafficType: 'routing', phoneIds: ids, driftCheckInterval });
    await routes.waitForCondition(ns, 'on-demand', 'Ready', 'True', 'InSync');
    // Changed behind the operator's back: without a request, the next sweep is 30 minutes away.
    const victim = ids[0] as string;
    await admin.drift(victim, 'direct');
    const before = listCalls(await admin.counters());
    const requestedAt = new Date().toISOString();
    await routes.annotate(ns, 'on-demand', { [annotation]: requestedAt });
    const handled = await waitFor(
      async () => {
        const route = await routes.get(ns, 'on-demand');
        return route?.status?.lastHandledReconcileAt === requestedAt ? route : undefined;
      },
      { timeoutMs: 15_000, what: 'status.lastHandledReconcileAt set to the requested value' },
    );
    expect(handled.status?.lastHandledReconcileAt).to.equal(requestedAt);
    expect(listCalls(await admin.counters()), 'list calls after the request').to.be.greaterThan(before);
    await waitFor(async () => (await admin.phone(victim)).traffic_type === 'routing', {
      timeoutMs: 15_000,
      what: 'the drifted phone found by the requested sweep and set back to routing',
    });
    // The same value again is no new request: nothing more is read.
    await routes.waitForCondition(ns, 'on-demand', 'Ready', 'True', 'InSync');
    const settled = listCalls(await admin.counters());
    await routes.annotate(ns, 'on-demand', { 'unrelated.example/touch': 'x' });
    await routes.annotate(ns, 'on-demand', { [annotation]: requestedAt });
    const marker = await routes.create(ns, 'marker', {
      trafficType: 'routing',
      phoneIds: takePhones(1),
      driftCheckInterval,
    });
    await routes.waitForCondition(ns, marker.metadata.name, 'Ready', 'True', 'InSync');
    expect(listCalls(await admin.counters()), 'list calls after an unchanged request').to.equal(settled);
  });

  it('coalesces requests made together into one sweep of the account', async () => {
    const ns = await freshNamespace(cp.kubeConfig(), 'obs');
    const names = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
    for (const name of names)
      await routes.create(ns, name, { trafficType: 'routing', phoneIds: takePhones(1), driftCheckInterval });
    for (const name of names) await routes.waitForCondition(ns, name, 'Ready', 'True', 'InSync');
    // One request alone: how many list calls one sweep of this account takes.
    let before = listCalls(await admin.counters());
    await routes.annotate(ns, 'c1', { [annotation]: 'single' });
    await waitFor(async () => (await routes.get(ns, 'c1'))?.status?.lastHandledReconcileAt === 'single', {
      timeoutMs: 15_000,
      what: 'the single request handled',
    });
    const oneSweep = listCalls(await admin.counters()) - before;
    expect(oneSweep).to.be.greaterThan(0);
    // Six requests at once.
    before = listCalls(await admin.counters());
    await Promise.all(names.map((name) => routes.annotate(ns, name, { [annotation]: 'together' })));
    for (const name of names)
      await waitFor(async () => (await routes.get(ns, name))?.status?.lastHandledReconcileAt === 'together', {
        timeoutMs: 15_000,
        what: `${name}'s request handled`,
      });
    const calls = listCalls(await admin.counters()) - before;
    // One sweep, or two when the first request's sweep had begun before the others were seen: never one each.
    expect(calls, `list calls for six requests (one sweep is ${oneSweep})`).to.be.at.most(2 * oneSweep);
  });

  it('serves /metrics that parse and follow Prometheus conventions, under controller-runtime names', async () => {
    const ns = await freshNamespace(cp.kubeConfig(), 'obs');
    await routes.create(ns, 'scraped', { trafficType: 'routing', phoneIds: takePhones(2), driftCheckInterval });
    await routes.waitForCondition(ns, 'scraped', 'Ready', 'True', 'InSync');
    const scrape = async () => checkExposition(await (await fetch(operator.metricsUrl)).text());
    const exposition = await waitFor(
      async () => {
        const e = await scrape();
        return samples(e, 'cph_route_operator_resource_condition').some((s) => s.labels.name === 'scraped')
          ? e
          : undefined;
      },
      { what: "the route's condition series" },
    );
    expect(exposition.problems).to.deep.equal([]);
    for (const name of exposition.families.map((f) => f.name))
      expect(name).to.match(
        /^(controller_runtime_|workqueue_|leader_election_|rest_client_|cph_route_operator_|process_|nodejs_)/,
      );

    for (const controller of ['cloudphoneroute', 'cloudphoneaccount']) {
      const reconciles = samples(exposition, 'controller_runtime_reconcile_total').filter(
        (s) => s.labels.controller === controller,
      );
      expect(reconciles.map((s) => s.labels.result).sort()).to.deep.equal([
        'error',
        'requeue',
        'requeue_after',
        'success',
      ]);
      expect(
        reconciles.reduce((sum, s) => sum + s.value, 0),
        `${controller} reconciles`,
      ).to.be.greaterThan(0);
      for (const family of [
        'controller_runtime_reconcile_errors_total',
        'controller_runtime_reconcile_time_seconds',
        'controller_runtime_active_workers',
        'controller_runtime_max_concurrent_reconciles',
      ])
        expect(
          samples(exposition, family).some((s) => s.labels.controller === controller),
          `${family}{${controller}}`,
        ).to.equal(true);
      for (const family of [
        'workqueue_depth',
        'workqueue_adds_total',
        'workqueue_queue_duration_seconds',
        'workqueue_work_duration_seconds',
        'workqueue_unfinished_work_seconds',
        'workqueue_longest_running_processor_seconds',
        'workqueue_retries_total',
      ])
        expect(
          samples(exposition, family).some((s) => s.labels.name === controller && s.labels.controller === controller),
          `${family}{name=${controller}}`,
        ).to.equal(true);
    }
    expect(samples(exposition, 'leader_election_master_status')).to.deep.equal([
      { labels: { name: 'cph-route-operator-leader' }, value: 1 },
    ]);
    const rest = samples(exposition, 'rest_client_requests_total');
    expect(rest.some((s) => s.labels.code === '200' && s.labels.method === 'GET' && s.value > 0)).to.equal(true);
    expect(rest.some((s) => s.labels.method === 'PATCH')).to.equal(true);
    expect(new Set(rest.map((s) => s.labels.host)).size).to.equal(1);
    expect(
      samples(exposition, 'cph_route_operator_cph_requests_total').some(
        (s) => s.labels.api === 'ListCloudPhones' && s.labels.outcome === 'success',
      ),
    ).to.equal(true);
    expect(
      samples(exposition, 'cph_route_operator_inventory_sweeps_total').find((s) => s.labels.outcome === 'success')
        ?.value,
    ).to.be.greaterThan(0);
    expect(
      samples(exposition, 'cph_route_operator_jobs_total').find((s) => s.labels.outcome === 'success')?.value,
    ).to.be.greaterThan(0);
    expect(
      samples(exposition, 'cph_route_operator_phones').find((s) => s.labels.state === 'InSync')?.value,
    ).to.be.greaterThan(0);
    expect(
      samples(exposition, 'cph_route_operator_kube_writes_total').some(
        (s) => s.labels.kind === 'cloudphoneroutes/status',
      ),
    ).to.equal(true);
    const accountReady = samples(exposition, 'cph_route_operator_resource_condition').filter(
      (s) => s.labels.kind === 'ClusterCloudPhoneAccount' && s.labels.type === 'Ready',
    );
    expect(accountReady.length, "the default account's readiness").to.be.greaterThan(0);
    expect(
      samples(exposition, 'cph_route_operator_resource_condition').filter((s) => s.labels.name === 'scraped'),
    ).to.deep.include({
      labels: {
        kind: 'CloudPhoneRoute',
        namespace: ns,
        name: 'scraped',
        type: 'Ready',
        status: 'True',
        reason: 'InSync',
      },
      value: 1,
    });

    // The series go with the resource.
    await routes.delete(ns, 'scraped');
    await waitFor(
      async () =>
        !samples(await scrape(), 'cph_route_operator_resource_condition').some((s) => s.labels.namespace === ns),
      { what: "the deleted route's condition series gone" },
    );
  });

  it("writes JSON lines with zap's keys, and every reconcile line carries controller, namespace, name and reconcileID", async () => {
    const ns = await freshNamespace(cp.kubeConfig(), 'obs');
    await routes.create(ns, 'logged', { trafficType: 'routing', phoneIds: takePhones(1), driftCheckInterval });
    await routes.waitForCondition(ns, 'logged', 'Ready', 'True', 'InSync');
    // Node's own warnings (not the operator's log) may share stderr; every line of the logger is JSON.
    const lines = operator
      .logs()
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).to.be.greaterThan(0);
    for (const line of lines) {
      expect(line, JSON.stringify(line)).to.include.keys('ts', 'level', 'msg', 'logger');
      expect(line).to.not.have.property('message');
    }
    const reconciled = lines.filter(
      (line) => line.msg === 'reconciled' && line.namespace === ns && line.name === 'logged',
    );
    expect(reconciled.length, "debug lines of the route's reconciles").to.be.greaterThan(0);
    for (const line of reconciled) {
      expect(line.controller).to.equal('cloudphoneroute');
      expect(line.reconcileID).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    if (reconciled.length > 1) expect(new Set(reconciled.map((l) => l.reconcileID)).size).to.equal(reconciled.length);
    // Lines outside any reconcile name none.
    const started = lines.find((line) => line.msg === 'cph-route-operator started');
    expect(started).to.not.have.property('reconcileID');
  });

  it('records a Normal InSync Event when a route comes back in sync', async () => {
    const ns = await freshNamespace(cp.kubeConfig(), 'obs');
    const ids = takePhones(2);
    await routes.create(ns, 'evented', { trafficType: 'routing', phoneIds: ids, driftCheckInterval });
    await routes.waitForCondition(ns, 'evented', 'Ready', 'True', 'InSync');
    const events = cp.kubeConfig().makeApiClient(EventsV1Api);
    const inSync = async () =>
      (await events.listNamespacedEvent({ namespace: ns })).items.filter(
        (e) => e.reason === 'InSync' && e.type === 'Normal' && e.regarding?.name === 'evented',
      );
    await waitFor(async () => ((await inSync()).length > 0 ? true : undefined), { what: 'an InSync Event' });
    // Out of sync (a drifted phone found on request), then back: the same Event again, which the recorder
    // counts in the first one's series (written at most every 30 s).
    await admin.drift(ids[0] as string, 'direct');
    await routes.annotate(ns, 'evented', { [annotation]: 'again' });
    await waitFor(
      async () => {
        const found = await inSync();
        return found.length >= 2 || (found[0]?.series?.count ?? 1) >= 2 ? true : undefined;
      },
      { timeoutMs: 60_000, what: 'a second InSync Event after the drift was corrected' },
    );
  });
});
