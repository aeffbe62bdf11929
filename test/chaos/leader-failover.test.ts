/**
 * Leader failover with two replicas: each has its own access key, so the simulator's write log says which
 * replica sent each route change. The leader is killed (SIGKILL) in the middle of a convergence; the other
 * replica must take over within the election's takeover bound (src/runtime/leader-election.ts), finish the
 * work, and the write log must show that the two never wrote at once: every write of the old leader comes
 * before every write of the new one, and the simulator saw no write while the other identity's job ran
 * (overlappingWrites = 0).
 */
import { CoordinationV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { takeoverBoundMs } from '../../src/runtime/leader-election.js';
import { CONTROL_PLANE_START_TIMEOUT_MS } from '../support/control-plane.js';
import type { OperatorProcess } from '../support/operator-process.js';
import { freshNamespace } from '../support/routes.js';
import { waitFor } from '../support/wait.js';
import { ak, chaosOperator, chaosWorld, dumpOnFailure, figure, sk, type ChaosWorld } from './chaos-support.js';

const replicaA = { ak: 'CHAOSREPLICAA0000001', sk: 'replica-a-secret-key-0123456789' };
const replicaB = { ak: 'CHAOSREPLICAB0000002', sk: 'replica-b-secret-key-0123456789' };
const LEASE_S = 15;
const RETRY_S = 2;
const LEASE_NAME = 'failover-lock';
/**
 * The bound leaves out the Lease requests' latency (the read in which the standby sees the last renewal, a
 * renewal still in flight when the leader was killed) and timer lateness: milliseconds on loopback, allowed
 * 1 s on a loaded machine. The standby's own take-over read and write are not counted: the takeover time is
 * the acquireTime it stamps before them.
 */
const REQUEST_ALLOWANCE_MS = 1_000;

describe('chaos: leader failover with two replicas', function () {
  this.timeout(CONTROL_PLANE_START_TIMEOUT_MS);
  let world: ChaosWorld;
  let a: OperatorProcess | undefined;
  let b: OperatorProcess | undefined;

  before(async () => {
    world = await chaosWorld({ seed: 61, jobMs: 800, credentials: [{ ak, sk }, replicaA, replicaB] });
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await world?.close();
  });

  afterEach(function () {
    dumpOnFailure(this, () => [a, b]);
  });

  it('the standby takes over within the takeover bound; the write log shows one writer at a time', async () => {
    const namespace = await freshNamespace(world.kc, 'failover');
    const args = [
      '--leader-elect',
      '--leader-election-namespace',
      namespace,
      '--leader-election-id',
      LEASE_NAME,
      '--namespaces',
      namespace,
      '--leader-election-lease-duration',
      `${LEASE_S}s`,
      '--leader-election-renew-deadline',
      '10s',
      '--leader-election-retry-period',
      `${RETRY_S}s`,
    ];
    a = await chaosOperator(world, { name: 'replica-a', credentials: replicaA, extraArgs: args });
    b = await chaosOperator(world, { name: 'replica-b', credentials: replicaB, extraArgs: args });
    await waitFor(async () => (await a!.metric('leader')) + (await b!.metric('leader')) === 1, {
      timeoutMs: 60_000,
      what: 'one leader',
    });
    const [leader, standby, leaderAk, standbyAk] =
      (await a.metric('leader')) === 1 ? [a, b, replicaA.ak, replicaB.ak] : [b, a, replicaB.ak, replicaA.ak];
    await world.admin.resetCounters();

    const resources = Array.from({ length: 3 }, (_, i) => ({ name: `failover-${i}`, phoneIds: world.takePhones(40) }));
    for (const r of resources)
      await world.routes.create(namespace, r.name, { trafficType: 'routing', phoneIds: r.phoneIds });
    // Kill the leader once it has started writing.
    await waitFor(async () => (await world.admin.writes()).length > 0, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: 'the leader writing',
    });
    const leases = world.kc.makeApiClient(CoordinationV1Api);
    const oldHolder = (await leases.readNamespacedLease({ namespace, name: LEASE_NAME })).spec?.holderIdentity;
    expect(oldHolder, 'the leader holds the Lease').to.be.a('string').and.not.empty;
    const boundMs = takeoverBoundMs({ leaseDurationMs: LEASE_S * 1000, retryPeriodMs: RETRY_S * 1000 });
    const killedAt = Date.now(); // taken before the kill, so the measured takeover can only be longer
    await leader.stop('SIGKILL');
    // A generous deadline, so that a slow takeover fails on the bound below with its measured time.
    await waitFor(async () => (await standby.metric('leader')) === 1, {
      timeoutMs: boundMs + 60_000,
      intervalMs: 100,
      what: 'the standby leading',
    });
    const leaderSeenMs = Date.now() - killedAt;
    const lease = await leases.readNamespacedLease({ namespace, name: LEASE_NAME });
    expect(lease.spec?.holderIdentity, 'the standby holds the Lease')
      .to.be.a('string')
      .and.not.empty.and.not.equal(oldHolder);
    // client-node types MicroTime as a Date but hands over the wire's string: read either.
    const acquiredAt = Date.parse(String(lease.spec?.acquireTime ?? ''));
    expect(acquiredAt, 'the Lease says when the standby took it').to.be.a('number').and.not.NaN;
    const takeoverMs = acquiredAt - killedAt;
    expect(
      takeoverMs,
      `standby took over ${takeoverMs} ms after the kill; bound ${boundMs} ms + ${REQUEST_ALLOWANCE_MS} ms for requests`,
    ).to.be.at.most(boundMs + REQUEST_ALLOWANCE_MS);
    for (const r of resources)
      await world.routes.waitForCondition(namespace, r.name, 'Ready', 'True', 'InSync', 120_000);
    // The new leader also writes: flip one resource.
    await world.routes.patchSpec(namespace, resources[0]!.name, { trafficType: 'direct' });
    await world.routes.waitForCondition(namespace, resources[0]!.name, 'Ready', 'True', 'InSync', 120_000);

    const writes = await world.admin.writes();
    const identities = writes.map((w) => w.identity);
    const lastOld = identities.lastIndexOf(`ak:${leaderAk}`);
    const firstNew = identities.indexOf(`ak:${standbyAk}`);
    expect(firstNew, 'the new leader wrote').to.be.greaterThan(-1);
    expect(lastOld, 'every write of the old leader comes before the first of the new').to.be.lessThan(firstNew);
    expect(new Set(identities)).to.have.lengthOf(2);
    const c = await world.admin.counters();
    expect(c.overlappingWrites.total, 'writes while the other identity had a job running').to.equal(0);
    expect(c.costlyRepeats.total).to.equal(0);
    figure(
      `leader failover: leader killed after its first write; standby took the Lease ${(takeoverMs / 1000).toFixed(2)} s later, its metric said leading after ${(leaderSeenMs / 1000).toFixed(2)} s ` +
        `(lease ${LEASE_S} s, retry ${RETRY_S} s: bound ${(boundMs / 1000).toFixed(1)} s + ${REQUEST_ALLOWANCE_MS / 1000} s for requests); ` +
        `${writes.length} route writes: ${lastOld + 1} by the old leader, then ${writes.length - lastOld - 1} by the new; overlapping writes 0; costly repeats 0`,
    );
  });
});
