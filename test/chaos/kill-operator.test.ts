/**
 * kill -9 of the operator at random points of a convergence, 20 times. Each time a spec change starts work
 * (route changes, jobs of 1.5 s), the operator is killed once the simulator has seen a drawn number of CPH
 * calls (0 = before any call), and a new operator process starts. After every restart the resources must
 * converge, their status must agree with the simulator, and no route change may be sent for a phone
 * already on its route or while a job setting that route still runs (the simulator counts both:
 * costlyRepeats, resendsWhileRunning).
 */
import { expect } from 'chai';
import { CONTROL_PLANE_START_TIMEOUT_MS } from '../support/control-plane.js';
import type { OperatorProcess } from '../support/operator-process.js';
import { condition, freshNamespace } from '../support/routes.js';
import { waitFor } from '../support/wait.js';
import {
  chaosOperator,
  chaosWorld,
  checkTruth,
  dumpOnFailure,
  expectNoSecrets,
  figure,
  prng,
  sk,
  type ChaosWorld,
} from './chaos-support.js';

const KILLS = 20;
const RESOURCES = 3;
const PHONES_EACH = 30;

describe('chaos: kill -9 of the operator during convergence', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let world: ChaosWorld;
  let operator: OperatorProcess | undefined;
  const allLogs: string[] = [];

  before(async () => {
    world = await chaosWorld({ seed: 41, jobMs: 1500 });
  });

  after(async () => {
    await operator?.stop();
    await world?.close();
  });

  afterEach(function () {
    dumpOnFailure(this, () => [operator]);
  });

  it(`converges after each of ${KILLS} kills, status consistent, no change resent for a phone on (or moving to) its route`, async () => {
    const namespace = await freshNamespace(world.kc, 'kill');
    const resources = Array.from({ length: RESOURCES }, (_, i) => ({
      name: `kill-${i}`,
      phoneIds: world.takePhones(PHONES_EACH),
    }));
    const rand = prng(0x9e11);
    await world.admin.resetCounters();
    operator = await chaosOperator(world, { name: 'operator-0', namespaces: [namespace] });
    for (const r of resources)
      await world.routes.create(namespace, r.name, { trafficType: 'routing', phoneIds: r.phoneIds });
    const killPoints: number[] = [];
    let quietKills = 0;
    let routeChanges = 0;
    for (let kill = 1; kill <= KILLS; kill++) {
      if (kill > 1) {
        // New work for this round: flip every resource to the other route.
        const trafficType = kill % 2 === 0 ? 'direct' : 'routing';
        for (const r of resources) await world.routes.patchSpec(namespace, r.name, { trafficType });
        routeChanges += RESOURCES * PHONES_EACH;
      } else {
        routeChanges += RESOURCES * PHONES_EACH;
      }
      // The kill point: after a drawn number of CPH calls since the change (0: at once).
      const calls0 = (await world.admin.counters()).total;
      const after = Math.floor(rand() * 6);
      killPoints.push(after);
      // (or, if the round needs fewer calls than drawn, once it has converged: a kill in the quiet after.)
      let quiet = false;
      await waitFor(
        async () => {
          if ((await world.admin.counters()).total >= calls0 + after) return true;
          for (const r of resources) {
            const route = await world.routes.get(namespace, r.name);
            if (
              route?.status?.observedGeneration !== route?.metadata.generation ||
              condition(route, 'Ready')?.reason !== 'InSync'
            )
              return false;
          }
          quiet = true;
          return true;
        },
        { timeoutMs: 120_000, intervalMs: 20, what: `${after} CPH calls before kill ${kill}` },
      );
      if (quiet) quietKills += 1;
      await operator.stop('SIGKILL');
      allLogs.push(...operator.logs());
      operator = await chaosOperator(world, { name: `operator-${kill}`, namespaces: [namespace] });
      // Converged, and the status tells the truth about every phone.
      for (const r of resources) {
        await world.routes.waitForCondition(namespace, r.name, 'Ready', 'True', 'InSync', 120_000);
      }
      await waitFor(async () => (await world.admin.counters()).jobs.running === 0, {
        timeoutMs: 30_000,
        what: 'no job running',
      });
      // A restarted operator may first report the phones of jobs it adopted as pending until a sweep reads
      // them again (a status written after the Ready seen above): the truth is checked on the status that
      // says Ready once no job runs, read in the same call that saw it.
      const simPhones = new Map((await world.admin.phones()).map((p) => [p.phone_id, p]));
      for (const r of resources) {
        const settled = await world.routes.waitForCondition(namespace, r.name, 'Ready', 'True', 'InSync', 120_000);
        checkTruth(settled, simPhones, r.phoneIds);
      }
      const c = await world.admin.counters();
      expect(c.costlyRepeats.total, `after kill ${kill}: route changes for phones already on their route`).to.equal(0);
      expect(
        (c.resendsWhileRunning as { total: number }).total,
        `after kill ${kill}: resends while a job ran`,
      ).to.equal(0);
    }
    const c = await world.admin.counters();
    allLogs.push(...operator.logs());
    figure(
      `kill -9: ${KILLS} kills (drawn kill points after ${killPoints.join(',')} CPH calls; ${quietKills} came after the round had converged), ${KILLS} restarts converged with truthful status; ` +
        `${routeChanges} phone route changes wanted, ${c.routeWrites.total} sent, ${c.jobs.succeeded} jobs succeeded, ${c.jobs.failed} failed; costly repeats 0; resends while running 0; lost 0`,
    );
    expect(c.routeWrites.total).to.equal(routeChanges);
    await expectNoSecrets(
      world.kc,
      [namespace],
      allLogs,
      [sk],
      world.routes,
      resources.map((r) => [namespace, r.name] as [string, string]),
    );
  });
});
