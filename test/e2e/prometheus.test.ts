/**
 * The shipped monitoring against the real thing: a real Prometheus server (built from its Go module) scrapes the
 * operator running against the CPH simulator on the local control plane and evaluates the alerts of
 * deploy/monitoring/prometheusrule.yaml, and CloudPhoneResourceStalled fires for a route whose account has wrong
 * credentials and resolves once the Secret is fixed. The expressions are the shipped ones, unchanged; only the
 * timing is shortened in the test's copy of the rules: every `for:` of 10m becomes 5s (STALLED_FOR below) and
 * the group is evaluated every second, scraped every second. promtool checks the live scrape's names too.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import type { RunningSimulator } from '../../src/simulator/index.js';
import { renderDashboardPng } from '../monitoring/dashboard-png.js';
import { createNamespacedAccount } from '../support/accounts.js';
import { CONTROL_PLANE_START_TIMEOUT_MS, type ControlPlane } from '../support/control-plane.js';
import { ensurePrometheus, ensurePromtool } from '../tools/prometheus.js';
import { operatorMetricNames } from '../support/metric-names.js';
import type { OperatorProcess } from '../support/operator-process.js';
import { startPrometheus, type PrometheusServer, type RuleGroup } from '../support/prometheus-server.js';
import { freshNamespace, type Routes } from '../support/routes.js';
import { type SimAdmin, phoneDealer, type SimPhone } from '../support/sim-admin.js';
import { startE2eWorld, stopE2eWorld } from '../support/e2e-world.js';
import { waitFor } from '../support/wait.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const projectId = 'promproject';
const ak = 'PROMACCESSKEY';
const sk = 'prom-secret-key-value-0123456789';
const JOB = 'cph-route-operator';
/** The `for:` of CloudPhoneResourceStalled in the test's copy of the rules (10m shipped). */
const STALLED_FOR = '5s';

/** spec.groups of the shipped PrometheusRule, with the Stalled alert's `for:` shortened and 1 s evaluation. */
function testRuleGroups(): RuleGroup[] {
  const rule = parseYaml(readFileSync(path.join(repoRoot, 'deploy/monitoring/prometheusrule.yaml'), 'utf8')) as {
    spec: { groups: RuleGroup[] };
  };
  return rule.spec.groups.map((group) => ({
    ...group,
    interval: '1s',
    rules: group.rules.map((r) => (r.alert === 'CloudPhoneResourceStalled' ? { ...r, for: STALLED_FOR } : r)),
  }));
}

describe('monitoring end to end: a real Prometheus scrapes the operator and evaluates the shipped alerts', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let cp: ControlPlane;
  let sim: RunningSimulator;
  let admin: SimAdmin;
  let operator: OperatorProcess;
  let prometheus: PrometheusServer;
  let routes: Routes;
  let phones: SimPhone[];
  let startedAt = 0;
  const takePhones = phoneDealer(() => phones);

  before(async function () {
    this.timeout(30 * 60_000); // the first run builds Prometheus from its Go module
    await Promise.all([ensurePrometheus(), ensurePromtool()]);
    ({ cp, sim, admin, operator, routes, phones } = await startE2eWorld({
      name: 'prom',
      phones: 50,
      seed: 15,
      projectId,
      ak,
      sk,
      jobMs: 300,
      driftInterval: '10s',
    }));
    startedAt = Math.floor(Date.now() / 1000);
    prometheus = await startPrometheus({
      targets: [new URL(operator.metricsUrl).host],
      jobName: JOB,
      groups: testRuleGroups(),
    });
  });

  after(async () => {
    await prometheus?.stop();
    await stopE2eWorld({ operator, admin, sim });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      process.stderr.write(`--- operator log (last 40 lines) ---\n${operator?.logs().slice(-40).join('\n')}\n`);
      process.stderr.write(`--- prometheus log ---\n${prometheus?.logs().slice(-4000)}\n`);
    }
  });

  it('loads every shipped rule and scrapes the operator (target up)', async () => {
    const rules = await fetch(`${prometheus.url}/api/v1/rules`).then(
      (r) => r.json() as Promise<{ data: { groups: { rules: { name: string; health: string }[] }[] } }>,
    );
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name)).to.have.members(testRuleGroups().flatMap((g) => g.rules.map((r) => r.alert)));
    await waitFor(async () => (await prometheus.query(`up{job="${JOB}"} == 1`)).length === 1, {
      timeoutMs: 30_000,
      what: 'the operator target up in Prometheus',
    });
    for (const rule of loaded) expect(rule.health, rule.name).to.not.equal('err');
  });

  it('sees the agreed metric names in the scrape once a route is reconciled', async () => {
    const ns = await freshNamespace(cp.kubeConfig());
    await routes.create(ns, 'ok', { trafficType: 'routing', phoneIds: takePhones(2) });
    await routes.waitForCondition(ns, 'ok', 'Ready', 'True', 'InSync');
    const expected = [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_time_seconds_bucket',
      'workqueue_depth',
      'workqueue_adds_total',
      'leader_election_master_status',
      'rest_client_requests_total',
      'cph_route_operator_cph_requests_total',
      'cph_route_operator_jobs_total',
      'cph_route_operator_phones',
      'cph_route_operator_resource_condition',
    ];
    for (const name of expected)
      expect(
        operatorMetricNames.some((m) => name.startsWith(m)),
        name,
      ).to.equal(true);
    const names = await waitFor(
      async () => {
        const response = await fetch(`${prometheus.url}/api/v1/label/__name__/values`);
        const present = new Set(((await response.json()) as { data: string[] }).data);
        return expected.every((name) => present.has(name)) ? present : undefined;
      },
      { timeoutMs: 30_000, what: `every one of ${expected.join(', ')} scraped` },
    );
    expect([...names]).to.include.members(expected);
    const leader = await prometheus.query('leader_election_master_status{name="cph-route-operator-leader"}');
    expect(leader.map((s) => s.value[1])).to.deep.equal(['1']);
  });

  it('promtool check metrics finds nothing to say about a live scrape of the operator', async () => {
    const promtool = await ensurePromtool();
    const text = await fetch(operator.metricsUrl).then((r) => r.text());
    const result = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`).to.equal('');
    expect(result.status).to.equal(0);
  });

  it('CloudPhoneResourceStalled fires for a route with wrong credentials and resolves once the Secret is fixed', async () => {
    const kc = cp.kubeConfig();
    const ns = await freshNamespace(kc);
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'cph' }, stringData: { HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: 'wrong-secret' } },
    });
    await createNamespacedAccount(kc, ns, 'own', {
      endpoint: sim.url,
      projectId,
      credentials: { secretRef: { name: 'cph' } },
      phoneScope: {},
    });
    await routes.create(ns, 'stuck', {
      trafficType: 'routing',
      phoneIds: takePhones(2),
      accountRef: { kind: 'CloudPhoneAccount', name: 'own' },
    });
    await routes.waitForCondition(ns, 'stuck', 'Stalled', 'True', 'CredentialsInvalid');

    const routeAlert = async () =>
      (await prometheus.alerts()).find(
        (a) =>
          a.labels.alertname === 'CloudPhoneResourceStalled' &&
          a.labels.kind === 'CloudPhoneRoute' &&
          a.labels.namespace === ns &&
          a.labels.name === 'stuck',
      );
    const firing = await waitFor(async () => ((await routeAlert())?.state === 'firing' ? routeAlert() : undefined), {
      timeoutMs: 60_000,
      what: 'CloudPhoneResourceStalled firing for the route',
    });
    expect(firing?.labels.severity).to.equal('warning');
    expect(firing?.annotations.summary).to.equal(`CloudPhoneRoute ${ns}/stuck has been Stalled for 10 minutes`);
    expect(firing?.annotations.runbook_url).to.match(/docs\/operations\.md#cloudphoneresourcestalled$/);
    // The account the route uses is Stalled too, and alerts on its own.
    await waitFor(
      async () =>
        (await prometheus.alerts()).some(
          (a) => a.labels.kind === 'CloudPhoneAccount' && a.labels.namespace === ns && a.state === 'firing',
        ),
      { timeoutMs: 60_000, what: 'CloudPhoneResourceStalled firing for the account' },
    );

    await core.replaceNamespacedSecret({
      namespace: ns,
      name: 'cph',
      body: { metadata: { name: 'cph' }, stringData: { HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: sk } },
    });
    await routes.waitForCondition(ns, 'stuck', 'Ready', 'True', 'InSync', 90_000);
    await waitFor(async () => (await routeAlert()) === undefined, {
      timeoutMs: 60_000,
      what: 'CloudPhoneResourceStalled resolved for the route',
    });
    const series = await prometheus.query(
      `cph_route_operator_resource_condition{kind="CloudPhoneRoute", namespace="${ns}", name="stuck", type="Stalled", status="True"}`,
    );
    expect(series).to.deep.equal([]);
  });

  it('draws the dashboard from the data of this run (the picture in docs/operations.md)', async () => {
    // DASHBOARD_PNG=docs/dashboard.png refreshes the docs' picture; otherwise a temporary file.
    const scratch = process.env.DASHBOARD_PNG ? undefined : await mkdtemp(path.join(tmpdir(), 'dashboard-png-'));
    const out = scratch ? path.join(scratch, 'dashboard.png') : path.resolve(process.env.DASHBOARD_PNG ?? '');
    await renderDashboardPng({
      prometheusUrl: prometheus.url,
      start: startedAt,
      end: Math.ceil(Date.now() / 1000),
      stepSeconds: 2,
      outPath: out,
    });
    const png = readFileSync(out);
    expect(png.subarray(0, 8).toString('hex')).to.equal('89504e470d0a1a0a');
    expect(statSync(out).size).to.be.greaterThan(10_000);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });
});
