/**
 * Deletion as clusters do it (issue 16): the real control plane with kube-controller-manager (garbage
 * collector, namespace controller), the CPH simulator over HTTPS and the operator as a separate process with
 * its default credentials from its environment. A deleted namespace is emptied by the namespace controller;
 * owned routes go by the garbage collector; a CRD deleted with routes present takes them with it. In every
 * case the operator reverts what deletionPolicy Revert asks, releases its finalizer, and keeps running.
 *
 * Left out on purpose: a route whose account Secret lives in the namespace being deleted (accounts are
 * being reworked in parallel).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { CONTROL_PLANE_START_TIMEOUT_MS, type ControlPlane } from '../support/control-plane.js';
import type { RunningSimulator } from '../../src/simulator/index.js';
import type { OperatorProcess } from '../support/operator-process.js';
import { createNamespacedAccount } from '../support/accounts.js';
import { type Routes, installCrd, freshNamespace, condition } from '../support/routes.js';
import { type SimAdmin, phoneDealer, type SimPhone } from '../support/sim-admin.js';
import { startE2eWorld, stopE2eWorld } from '../support/e2e-world.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const projectId = 'deletionproject';
const ak = 'DELETIONACCESSKEY';
const sk = 'deletion-secret-key-value-0123456789';
const group = 'cloudphone.dev';
const version = 'v1alpha1';
const plural = 'cloudphoneroutes';

function statusCode(error: unknown): number | undefined {
  const code: unknown = typeof error === 'object' && error !== null ? Reflect.get(error, 'code') : undefined;
  return typeof code === 'number' ? code : undefined;
}

describe('deletion as clusters do it (kube-controller-manager)', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let cp: ControlPlane;
  let sim: RunningSimulator;
  let admin: SimAdmin;
  let operator: OperatorProcess;
  let routes: Routes;
  let core: CoreV1Api;
  let objects: CustomObjectsApi;
  let phones: SimPhone[];
  /** Phones no other test has used, so tests never disturb each other. */
  const takePhones = phoneDealer(() => phones);
  const routesOf = async (ids: readonly string[]): Promise<string[]> =>
    Promise.all(ids.map(async (id) => (await admin.phone(id)).traffic_type));
  const gone = async (read: () => Promise<unknown>): Promise<boolean> => {
    try {
      await read();
      return false;
    } catch (error) {
      if (statusCode(error) === 404) return true;
      throw error;
    }
  };
  const namespaceGone = (ns: string) => () => gone(() => core.readNamespace({ name: ns }));

  before(async () => {
    ({ cp, sim, admin, operator, routes, phones } = await startE2eWorld({
      name: 'deletion',
      phones: 600,
      seed: 16,
      projectId,
      ak,
      sk,
      jobMs: 600,
      driftInterval: '10s',
    }));
    core = cp.kubeConfig().makeApiClient(CoreV1Api);
    objects = cp.kubeConfig().makeApiClient(CustomObjectsApi);
  });

  after(async () => {
    const logs = await stopE2eWorld({ operator, admin, sim });
    for (const line of logs) expect(line).to.not.include(sk);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed')
      process.stderr.write(`--- operator log (last 60 lines) ---\n${operator.logs().slice(-60).join('\n')}\n`);
    // Every test leaves the operator running: no crash, no restart.
    expect(operator.child.exitCode, 'the operator is still running').to.equal(null);
    expect((await fetch(`${operator.healthUrl}/healthz`)).ok).to.equal(true);
  });

  it('a deleted namespace with Revert and Retain routes: phones reverted, finalizers released, the namespace gone', async () => {
    const ns = await freshNamespace(cp.kubeConfig(), 'del-ns');
    const revertA = takePhones(100);
    const revertB = takePhones(100);
    const retained = takePhones(50);
    await routes.create(ns, 'revert-a', { trafficType: 'routing', phoneIds: revertA, deletionPolicy: 'Revert' });
    await routes.create(ns, 'revert-b', { trafficType: 'routing', phoneIds: revertB, deletionPolicy: 'Revert' });
    await routes.create(ns, 'retain', { trafficType: 'routing', phoneIds: retained });
    for (const name of ['revert-a', 'revert-b', 'retain'])
      await routes.waitForCondition(ns, name, 'Ready', 'True', 'InSync');
    await waitFor(async () => (await admin.counters()).jobs.running === 0, { what: 'no job running' });
    const before = await admin.counters();
    const writesBefore = (await admin.writes()).at(-1)?.seq ?? 0;
    const logLinesBefore = operator.logs().length;
    const started = Date.now();
    await core.deleteNamespace({ name: ns });
    await waitFor(namespaceGone(ns), { timeoutMs: 120_000, intervalMs: 200, what: `namespace ${ns} gone` });
    const seconds = (Date.now() - started) / 1000;
    const after = await admin.counters();
    const writes = await admin.writes(writesBefore);
    const reverted = (await routesOf([...revertA, ...revertB])).filter((t) => t === 'direct').length;
    expect(reverted, 'every phone of the Revert routes back on direct').to.equal(200);
    expect(await routesOf(retained), 'the Retain route leaves its phones alone').to.deep.equal(
      retained.map(() => 'routing'),
    );
    const calls = (after.byOperation.ImportTraffic?.total ?? 0) - (before.byOperation.ImportTraffic?.total ?? 0);
    const phoneWrites = after.routeWrites.total - before.routeWrites.total;
    expect(phoneWrites, 'each reverted phone written once').to.equal(200);
    expect(calls, 'in calls of up to 100 phones').to.be.at.most(4);
    expect(writes.every((w) => w.trafficType === 'direct')).to.equal(true);
    expect(after.costlyRepeats.total - before.costlyRepeats.total).to.equal(0);
    // Events cannot be created in a terminating namespace: such writes are refused and logged, never fatal.
    const refusedEvents = operator
      .logs()
      .slice(logLinesBefore)
      .filter((line) => line.includes('event write failed')).length;
    process.stdout.write(
      `deletion figure: namespace with 2 Revert routes (200 phones) and 1 Retain route (50 phones) gone ${seconds.toFixed(1)} s after the delete; ` +
        `phones reverted ${reverted} of 200, Retain phones untouched 50 of 50; route writes ${phoneWrites} phones in ${calls} phones-traffic calls; costly repeats 0; ` +
        `Event writes refused (namespace terminating) ${refusedEvents}\n`,
    );
  });

  it('a deleted namespace whose CloudPhoneAccount and Secret go with the routes: the revert finishes with the account the route was bound to', async () => {
    const kc = cp.kubeConfig();
    const ns = await freshNamespace(kc, 'del-acct');
    const ids = takePhones(20);
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'cph' }, stringData: { HUAWEICLOUD_SDK_AK: ak, HUAWEICLOUD_SDK_SK: sk } },
    });
    await createNamespacedAccount(kc, ns, 'own', {
      endpoint: sim.url,
      projectId,
      credentials: { secretRef: { name: 'cph' } },
      phoneScope: {},
    });
    await routes.create(ns, 'revert', {
      trafficType: 'routing',
      phoneIds: ids,
      deletionPolicy: 'Revert',
      accountRef: { kind: 'CloudPhoneAccount', name: 'own' },
    });
    await routes.waitForCondition(ns, 'revert', 'Ready', 'True', 'InSync');
    await waitFor(async () => (await admin.counters()).jobs.running === 0, { what: 'no job running' });
    const started = Date.now();
    // The namespace controller deletes the Secret and the account at once with the route; only the route
    // waits, behind its finalizer (revertTimeout is the default 10 m: the namespace must go long before).
    await core.deleteNamespace({ name: ns });
    await waitFor(namespaceGone(ns), { timeoutMs: 120_000, intervalMs: 200, what: `namespace ${ns} gone` });
    const seconds = (Date.now() - started) / 1000;
    expect(await routesOf(ids), 'every phone back on direct').to.deep.equal(ids.map(() => 'direct'));
    process.stdout.write(
      `deletion figure: namespace with a CloudPhoneAccount, its Secret and a Revert route (20 phones) gone ${seconds.toFixed(1)} s after the delete; 20 of 20 phones reverted with the account the route was bound to\n`,
    );
  });

  it('a revert that cannot finish (CPH unreachable) says why, then lets the namespace go at spec.revertTimeout', async () => {
    const ns = await freshNamespace(cp.kubeConfig(), 'del-down');
    const ids = takePhones(5);
    await routes.create(ns, 'stuck', {
      trafficType: 'routing',
      phoneIds: ids,
      deletionPolicy: 'Revert',
      revertTimeout: '15s',
    });
    await routes.waitForCondition(ns, 'stuck', 'Ready', 'True', 'InSync');
    await admin.setFaults({ unreachable: true });
    try {
      const started = Date.now();
      await core.deleteNamespace({ name: ns });
      // While it waits, the status says why and until when.
      const waiting = await waitFor(
        async () => {
          const route = await routes.get(ns, 'stuck');
          const message = condition(route, 'Ready')?.message ?? '';
          return /spec\.revertTimeout 15s/.test(message) ? message : undefined;
        },
        {
          timeoutMs: 15_000,
          intervalMs: 200,
          what: 'the status saying the deletion waits for the revert until its deadline',
        },
      );
      expect(waiting).to.match(/CPH could not be used|deleting/);
      await waitFor(namespaceGone(ns), {
        timeoutMs: 90_000,
        intervalMs: 200,
        what: `namespace ${ns} gone after the revert timeout`,
      });
      const seconds = (Date.now() - started) / 1000;
      expect(seconds, 'not before the revert timeout').to.be.at.least(15);
      expect(await routesOf(ids), 'the phones keep the route they had').to.deep.equal(ids.map(() => 'routing'));
      expect(
        operator
          .logs()
          .some((line) => line.includes('revert abandoned at its deadline') && line.includes(`${ns}/stuck`)),
      ).to.equal(true);
      process.stdout.write(
        `deletion figure: CPH unreachable, revertTimeout 15s: namespace gone ${seconds.toFixed(1)} s after the delete, 0 of 5 phones reverted (given up)\n`,
      );
    } finally {
      await admin.setFaults({ unreachable: false });
    }
  });

  for (const propagationPolicy of ['Background', 'Foreground'] as const) {
    it(`routes owned by a ConfigMap deleted with propagationPolicy ${propagationPolicy} are collected, reverted first`, async () => {
      const ns = await freshNamespace(cp.kubeConfig(), `del-${propagationPolicy.toLowerCase()}`);
      const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
      const ownerReferences = [
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          name: 'owner',
          uid: owner.metadata?.uid ?? '',
          blockOwnerDeletion: true,
        },
      ];
      const reverting = takePhones(10);
      const kept = takePhones(10);
      for (const [name, ids, deletionPolicy] of [
        ['owned-revert', reverting, 'Revert'],
        ['owned-retain', kept, 'Retain'],
      ] as const) {
        await objects.createNamespacedCustomObject({
          group,
          version,
          namespace: ns,
          plural,
          body: {
            apiVersion: `${group}/${version}`,
            kind: 'CloudPhoneRoute',
            metadata: { name, namespace: ns, ownerReferences },
            spec: { trafficType: 'routing', phoneIds: ids, deletionPolicy },
          },
        });
        await routes.waitForCondition(ns, name, 'Ready', 'True', 'InSync');
      }
      await core.deleteNamespacedConfigMap({ namespace: ns, name: 'owner', propagationPolicy });
      if (propagationPolicy === 'Foreground') {
        // The owner waits for its blocking dependents: once it is gone, the revert has happened.
        await waitFor(() => gone(() => core.readNamespacedConfigMap({ namespace: ns, name: 'owner' })), {
          timeoutMs: 90_000,
          what: 'the owner gone after its dependents',
        });
        expect(await routesOf(reverting)).to.deep.equal(reverting.map(() => 'direct'));
      }
      for (const name of ['owned-revert', 'owned-retain'])
        await waitFor(async () => (await routes.get(ns, name)) === undefined, {
          timeoutMs: 90_000,
          what: `${name} collected`,
        });
      expect(await routesOf(reverting)).to.deep.equal(reverting.map(() => 'direct'));
      expect(await routesOf(kept)).to.deep.equal(kept.map(() => 'routing'));
    });
  }

  it('kubectl delete --cascade=foreground of a Revert route returns once it is reverted and gone', async () => {
    const ns = await freshNamespace(cp.kubeConfig(), 'del-kubectl');
    const ids = takePhones(10);
    await routes.create(ns, 'foreground', { trafficType: 'routing', phoneIds: ids, deletionPolicy: 'Revert' });
    await routes.waitForCondition(ns, 'foreground', 'Ready', 'True', 'InSync');
    await run('kubectl', [
      '--kubeconfig',
      cp.kubeconfigPath,
      '-n',
      ns,
      'delete',
      'cpr',
      'foreground',
      '--cascade=foreground',
      '--timeout=90s',
    ]);
    expect(await routes.get(ns, 'foreground')).to.equal(undefined);
    expect(await routesOf(ids)).to.deep.equal(ids.map(() => 'direct'));
  });

  it('kubectl delete crd with routes present: the operator reverts, survives the CRD vanishing, and serves it again when it comes back', async () => {
    const kc = cp.kubeConfig();
    const ns = await freshNamespace(kc, 'del-crd');
    const reverting = takePhones(10);
    await routes.create(ns, 'before-crd-delete', {
      trafficType: 'routing',
      phoneIds: reverting,
      deletionPolicy: 'Revert',
    });
    await routes.create(ns, 'retained', { trafficType: 'routing', phoneIds: takePhones(5) });
    await routes.waitForCondition(ns, 'before-crd-delete', 'Ready', 'True', 'InSync');
    const pid = operator.child.pid;
    const extensions = kc.makeApiClient(ApiextensionsV1Api);
    try {
      // The CRD's deletion deletes its objects first; the Revert route holds it until the phones are back.
      await run('kubectl', [
        '--kubeconfig',
        cp.kubeconfigPath,
        'delete',
        'crd',
        `${plural}.${group}`,
        '--timeout=120s',
      ]);
      expect(await gone(() => extensions.readCustomResourceDefinition({ name: `${plural}.${group}` }))).to.equal(true);
      expect(await routesOf(reverting)).to.deep.equal(reverting.map(() => 'direct'));
    } finally {
      await installCrd(kc);
    }
    // The informer relists once the CRD is back: a new route is acted on by the same process.
    const fresh = takePhones(5);
    await routes.create(ns, 'after-crd-back', { trafficType: 'routing', phoneIds: fresh });
    await routes.waitForCondition(ns, 'after-crd-back', 'Ready', 'True', 'InSync', 120_000);
    expect(await routesOf(fresh)).to.deep.equal(fresh.map(() => 'routing'));
    expect(operator.child.pid).to.equal(pid);
    expect(operator.child.exitCode).to.equal(null);
  });
});
