/**
 * CPH unreachable for minutes (every API connection reset): the resource says Stalled=True with reason
 * CphUnavailable once the outage passes CPH_UNAVAILABLE_STALL_MS, the operator backs off (its call rate
 * falls, as the simulator's counts show), and once CPH answers again the resource converges without a
 * restart of the operator.
 */
import { expect } from 'chai';
import { CONTROL_PLANE_START_TIMEOUT_MS } from '../support/control-plane.js';
import type { OperatorProcess } from '../support/operator-process.js';
import { condition, freshNamespace } from '../support/routes.js';
import { waitFor } from '../support/wait.js';
import { CPH_UNAVAILABLE_STALL_MS } from '../../src/api/v1alpha1/conditions.js';
import { chaosOperator, chaosWorld, dumpOnFailure, figure, type ChaosWorld } from './chaos-support.js';

describe('chaos: CPH unreachable for minutes', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let world: ChaosWorld;
  let operator: OperatorProcess | undefined;
  let namespace: string;

  before(async () => {
    world = await chaosWorld({ seed: 53 });
    namespace = await freshNamespace(world.kc, 'unreachable');
    operator = await chaosOperator(world, { namespaces: [namespace] });
  });

  after(async () => {
    await world?.admin.setFaults({ unreachable: false }).catch(() => undefined);
    await operator?.stop();
    await world?.close();
  });

  afterEach(function () {
    dumpOnFailure(this, () => [operator]);
  });

  it('reports Stalled CphUnavailable, backs off, and recovers without a restart', async () => {
    const steady = world.takePhones(5);
    const wanted = world.takePhones(5);
    await world.routes.create(namespace, 'steady', {
      trafficType: 'routing',
      phoneIds: steady,
      driftCheckInterval: '20s',
    });
    await world.routes.waitForCondition(namespace, 'steady', 'Ready', 'True', 'InSync');

    await world.admin.resetCounters();
    await world.admin.setFaults({ unreachable: true });
    const outageStart = Date.now();
    // Work arrives during the outage: a new resource whose phones need a change.
    await world.routes.create(namespace, 'wanted', {
      trafficType: 'routing',
      phoneIds: wanted,
      driftCheckInterval: '20s',
    });
    // Call counts per 20 s window show the backoff.
    const windows: number[] = [];
    let last = 0;
    let windowStart = Date.now();
    const stalled = await waitFor(
      async () => {
        const total = (await world.admin.counters()).total;
        if (Date.now() - windowStart >= 20_000) {
          windows.push(total - last);
          last = total;
          windowStart = Date.now();
        }
        const [a, b] = [await world.routes.get(namespace, 'steady'), await world.routes.get(namespace, 'wanted')];
        const both = [a, b].every(
          (r) => condition(r, 'Stalled')?.status === 'True' && condition(r, 'Stalled')?.reason === 'CphUnavailable',
        );
        return both ? [a!, b!] : undefined;
      },
      {
        timeoutMs: CPH_UNAVAILABLE_STALL_MS + 120_000,
        intervalMs: 500,
        what: 'both resources Stalled with CphUnavailable',
      },
    );
    const stalledAfterMs = Date.now() - outageStart;
    for (const route of stalled) {
      expect(condition(route, 'Ready')?.status).to.equal('False');
      expect(condition(route, 'Stalled')?.message).to.match(/CPH/);
    }
    // Keep the outage going a while longer to see the rate settle (bounded by a count of windows).
    await waitFor(
      async () => {
        const total = (await world.admin.counters()).total;
        if (Date.now() - windowStart >= 20_000) {
          windows.push(total - last);
          last = total;
          windowStart = Date.now();
        }
        return windows.length >= 6;
      },
      { timeoutMs: 200_000, intervalMs: 500, what: 'six 20 s windows of the outage' },
    );
    const outage = await world.admin.counters();
    const outageMs = Date.now() - outageStart;
    expect(operator!.child.exitCode, 'the operator is still running').to.equal(null);
    // Backoff: the calls of the late windows are fewer than those of the first.
    const firstWindow = windows[0]!;
    const lateWindows = windows.slice(-3);
    expect(Math.max(...lateWindows)).to.be.at.most(firstWindow);

    await world.admin.setFaults({ unreachable: false });
    const recoverStart = Date.now();
    await world.routes.waitForCondition(namespace, 'wanted', 'Ready', 'True', 'InSync', 300_000);
    await world.routes.waitForCondition(namespace, 'steady', 'Ready', 'True', 'InSync', 300_000);
    const recoveredMs = Date.now() - recoverStart;
    for (const id of wanted) expect((await world.admin.phone(id)).traffic_type).to.equal('routing');
    const final = await world.routes.get(namespace, 'wanted');
    expect(condition(final, 'Stalled')).to.equal(undefined);
    figure(
      `CPH unreachable for ${Math.round(outageMs / 1000)} s: ${outage.total} CPH requests reached the endpoint (all reset), per 20 s window ${windows.join(', ')}; ` +
        `Stalled CphUnavailable after ${Math.round(stalledAfterMs / 1000)} s (threshold ${CPH_UNAVAILABLE_STALL_MS / 1000} s); recovered to Ready InSync ${Math.round(recoveredMs / 1000)} s after CPH came back, same operator process; lost 0`,
    );
  });
});
