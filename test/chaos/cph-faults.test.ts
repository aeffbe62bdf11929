/**
 * CPH misbehaves: 20% of API requests get a fault (500 CPS.0003, 503, 429 with Retry-After, connection
 * reset, no answer until the client times out) and 10% of route jobs fail. Every resource must converge or
 * report its failing phones truthfully, no job result may be lost, and the extra calls the faults cost must
 * stay bounded: measured against the same workload without faults, and printed as figures.
 */
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import { CONTROL_PLANE_START_TIMEOUT_MS } from '../support/control-plane.js';
import type { OperatorProcess } from '../support/operator-process.js';
import { freshNamespace } from '../support/routes.js';
import type { SimCounters } from '../support/sim-admin.js';
import { waitFor } from '../support/wait.js';
import {
  chaosOperator,
  chaosWorld,
  checkTruth,
  dumpOnFailure,
  expectNoSecrets,
  figure,
  sk,
  truthfulSnapshot,
  type ChaosWorld,
} from './chaos-support.js';

const RESOURCES = 4;
const PHONES_EACH = 40;

interface Workload {
  namespace: string;
  resources: Array<{ name: string; phoneIds: string[] }>;
}

const sum = (record: Record<string, number> | undefined): number =>
  Object.values(record ?? {}).reduce((a, b) => a + b, 0);
const callsOf = (c: SimCounters, operation: string): number => c.byOperation[operation]?.total ?? 0;
const nonListCalls = (c: SimCounters): number => c.total - callsOf(c, 'ListCloudPhones');

describe('chaos: CPH faults (20% of requests) and failing jobs (10%)', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let world: ChaosWorld;
  let operator: OperatorProcess | undefined;
  const namespaces: string[] = [];
  const names: Array<[string, string]> = [];

  before(async () => {
    world = await chaosWorld({ seed: 31 });
    for (const prefix of ['baseline', 'faults']) namespaces.push(await freshNamespace(world.kc, prefix));
    operator = await chaosOperator(world, { namespaces });
  });

  after(async () => {
    await operator?.stop();
    await world?.close();
  });

  afterEach(function () {
    dumpOnFailure(this, () => [operator]);
  });

  async function createWorkload(prefix: string): Promise<Workload> {
    const namespace = namespaces.find((ns) => ns.startsWith(`${prefix}-`))!;
    const resources = Array.from({ length: RESOURCES }, (_, i) => ({
      name: `${prefix}-${i}`,
      phoneIds: world.takePhones(PHONES_EACH),
    }));
    for (const r of resources) {
      await world.routes.create(namespace, r.name, {
        trafficType: 'routing',
        phoneIds: r.phoneIds,
        driftCheckInterval: '10s',
      });
      names.push([namespace, r.name]);
    }
    return { namespace, resources };
  }

  /**
   * Waits until every resource has settled: quiet (no job running, nothing pending) with each phone either on
   * its route or reported Failed (held back before its next try). Every quiet snapshot on the way is checked
   * for the truth; a lie is collected, not retried away.
   */
  async function settle(
    workload: Workload,
    timeoutMs: number,
  ): Promise<{ lies: string[]; snapshots: number; failed: number }> {
    const lies: string[] = [];
    let snapshots = 0;
    let failed = 0;
    await waitFor(
      async () => {
        let settled = true;
        failed = 0;
        for (const r of workload.resources) {
          try {
            const truth = await truthfulSnapshot(world, workload.namespace, r.name, r.phoneIds);
            if (!truth) {
              settled = false;
              continue;
            }
            snapshots += 1;
            failed += truth.failed;
            if (truth.onRoute + truth.failed < truth.total) settled = false;
          } catch (error) {
            lies.push((error as Error).message);
            settled = false;
          }
        }
        return settled && lies.length === 0;
      },
      { timeoutMs, intervalMs: 500, what: 'every resource settled (phones on route or reported Failed)' },
    ).catch((error: unknown) => {
      if (lies.length === 0) throw error;
    });
    return { lies, snapshots, failed };
  }

  it('converges the same workload without faults first (the baseline for amplification)', async () => {
    await world.admin.resetCounters();
    const workload = await createWorkload('baseline');
    const { lies, failed } = await settle(workload, 120_000);
    expect(lies).to.deep.equal([]);
    expect(failed, 'the baseline converges').to.equal(0);
    const c = await world.admin.counters();
    baseline = c;
    figure(
      `baseline (no faults): ${RESOURCES * PHONES_EACH} phones changed with ${c.total} CPH calls (${nonListCalls(c)} other than list), ${c.routeWrites.total} route writes`,
    );
  });

  let baseline: SimCounters | undefined;

  it('with 20% faults and 10% failing jobs, converges or reports failing phones truthfully; no result lost; bounded amplification', async () => {
    await waitFor(async () => (await world.admin.counters()).jobs.running === 0, { what: 'baseline jobs ended' });
    await world.admin.resetCounters();
    await world.admin.setFaults({ faultRate: 0.2, jobFailureRate: 0.1 });
    const workload = await createWorkload('faults');
    // Several rounds of work under faults: the resources are created, then flipped between the two routes.
    const ROUNDS = 6;
    let snapshots = 0;
    let lastFailed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      if (round > 0) {
        const trafficType = round % 2 === 1 ? 'direct' : 'routing';
        for (const r of workload.resources) await world.routes.patchSpec(workload.namespace, r.name, { trafficType });
      }
      const settled = await settle(workload, 300_000);
      expect(settled.lies, `round ${round}: every quiet snapshot told the truth`).to.deep.equal([]);
      snapshots += settled.snapshots;
      lastFailed = settled.failed;
    }
    await world.admin.setFaults({ faultRate: 0, jobFailureRate: 0 });

    // With the faults gone, the phones held back after failed jobs are retried and every resource converges.
    const calmStart = Date.now();
    for (const r of workload.resources)
      await world.routes.waitForCondition(workload.namespace, r.name, 'Ready', 'True', 'InSync', 600_000);
    const calmMs = Date.now() - calmStart;

    const c = await world.admin.counters();
    const faults = sum(c.faults as Record<string, number>);
    const phones = RESOURCES * PHONES_EACH * ROUNDS;
    // No job result lost: every job the simulator ran has ended, and each phone's status agrees with the simulator.
    expect(c.jobs.running).to.equal(0);
    expect(c.jobs.created).to.equal(c.jobs.succeeded + c.jobs.failed);
    const simPhones = new Map((await world.admin.phones()).map((p) => [p.phone_id, p]));
    for (const r of workload.resources) {
      const route = await world.routes.get(workload.namespace, r.name);
      expect(checkTruth(route!, simPhones, r.phoneIds).onRoute).to.equal(r.phoneIds.length);
    }
    // Never a change for a phone already on its route, never a resend while its job runs.
    expect(c.costlyRepeats.total, 'costly repeats').to.equal(0);
    expect((c.resendsWhileRunning as { total: number }).total, 'resends while a job runs').to.equal(0);
    // Every write beyond the first per phone and round follows a failed job of that phone.
    expect(c.routeWrites.total).to.be.at.most(phones + c.jobs.failed);
    const base = baseline!;
    const amplification = nonListCalls(c) / Math.max(1, ROUNDS * nonListCalls(base));
    figure(
      `faults: ${c.total} CPH requests, ${faults} faults injected (${JSON.stringify(c.faults)}), ${c.jobs.failed} of ${c.jobs.created} jobs failed; ` +
        `${ROUNDS} rounds x ${RESOURCES * PHONES_EACH} phone changes; ${lastFailed} phones reported Failed truthfully when the last round settled (held back, retried with backoff); all ${RESOURCES * PHONES_EACH} on route ${Math.round(calmMs / 1000)} s after the faults stopped; ${snapshots} quiet snapshots checked, 0 lies; ` +
        `lost results 0; route writes ${c.routeWrites.total} for ${phones} phone changes (bound ${phones + c.jobs.failed}); costly repeats 0; resends while running 0; ` +
        `non-list calls ${nonListCalls(c)} vs ${ROUNDS} x ${nonListCalls(base)} without faults (x${amplification.toFixed(2)})`,
    );
    // Retries are bounded (5 attempts a call, jobs retried after failure): the amplification stays small.
    expect(amplification).to.be.below(6);
    expect(await operator!.metric('process_start_time_seconds')).to.be.greaterThan(0);
    expect(operator!.child.exitCode, 'the operator is still running').to.equal(null);
  });

  it('leaks no secret, signature or token into logs, events or statuses', async () => {
    const scanned = await expectNoSecrets(world.kc, namespaces, operator!.logs(), [sk], world.routes, names);
    figure(
      `secret scan (CPH faults): ${scanned.lines} log lines, ${scanned.events} events, ${scanned.statuses} statuses: 0 secrets`,
    );
    // The scan would see a leak: the operator logs CPH request IDs, so the lines it scanned are real ones.
    expect(scanned.lines).to.be.greaterThan(0);
    expect(
      (await world.kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: namespaces[1]! })).items.length,
    ).to.be.greaterThan(0);
  });
});
