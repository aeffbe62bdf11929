import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { canonicalEqual, mergePatchDiff } from '../../src/runtime/status-writer.js';
import {
  KubeApiError,
  PatchStrategy,
  isConflict,
  isGone,
  isNotFound,
  mergePatchOptions,
  resourceOfPath,
  resourcePath,
  statusError,
} from '../../src/runtime/kube-client.js';
import { LeaderElector, microTime, nextAttemptDelayMs, takeoverBoundMs } from '../../src/runtime/leader-election.js';
import { OperatorMetrics } from '../../src/runtime/metrics.js';
import {
  HealthChecks,
  parseBindAddress,
  startMetricsServer,
  startProbeServer,
} from '../../src/runtime/health-server.js';
import { GracefulShutdown, type SignalSource } from '../../src/runtime/shutdown.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('status writer: change detection', () => {
  it('canonicalEqual ignores key order and undefined-valued keys, not array order', () => {
    expect(canonicalEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).to.equal(true);
    expect(canonicalEqual({ a: 1, x: undefined }, { a: 1 })).to.equal(true);
    expect(canonicalEqual({ a: [1, 2] }, { a: [2, 1] })).to.equal(false);
    expect(canonicalEqual({ a: 1 }, { a: '1' })).to.equal(false);
    expect(canonicalEqual({ a: null }, { a: undefined })).to.equal(false);
    expect(canonicalEqual([], {})).to.equal(false);
  });

  it('mergePatchDiff returns undefined for equal values', () => {
    expect(mergePatchDiff({ a: 1, b: [1] }, { b: [1], a: 1 })).to.equal(undefined);
  });

  it('mergePatchDiff sends changed and new keys, null for removed ones, arrays whole', () => {
    const prev = { observedGeneration: 1, summary: { total: 3, failed: 1 }, phones: [{ id: 'a' }], stale: 'x' };
    const next = { observedGeneration: 2, summary: { total: 3, failed: 0 }, phones: [{ id: 'a' }, { id: 'b' }] };
    expect(mergePatchDiff(prev, next)).to.deep.equal({
      stale: null,
      observedGeneration: 2,
      summary: { failed: 0 },
      phones: [{ id: 'a' }, { id: 'b' }],
    });
  });

  it('mergePatchDiff from nothing is the whole value', () => {
    expect(mergePatchDiff({}, { a: { b: 1 } })).to.deep.equal({ a: { b: 1 } });
    expect(mergePatchDiff(undefined, { a: 1 })).to.deep.equal({ a: 1 });
  });
});

describe('kube client helpers', () => {
  it('builds API paths for core and grouped, namespaced and cluster kinds', () => {
    const cpr = { group: 'cloudphone.dev', version: 'v1alpha1', plural: 'cloudphoneroutes', namespaced: true };
    expect(resourcePath(cpr)).to.equal('/apis/cloudphone.dev/v1alpha1/cloudphoneroutes');
    expect(resourcePath(cpr, { namespace: 'a', name: 'r', subresource: 'status' })).to.equal(
      '/apis/cloudphone.dev/v1alpha1/namespaces/a/cloudphoneroutes/r/status',
    );
    const secrets = { group: '', version: 'v1', plural: 'secrets', namespaced: true };
    expect(resourcePath(secrets, { namespace: 'ns', name: 'creds' })).to.equal('/api/v1/namespaces/ns/secrets/creds');
    const ns = { group: '', version: 'v1', plural: 'namespaces', namespaced: false };
    expect(resourcePath(ns, { namespace: 'ignored', name: 'x' })).to.equal('/api/v1/namespaces/x');
  });

  it('labels paths by resource for metrics', () => {
    expect(resourceOfPath('/apis/cloudphone.dev/v1alpha1/namespaces/a/cloudphoneroutes/r/status')).to.equal(
      'cloudphoneroutes/status',
    );
    expect(resourceOfPath('/apis/coordination.k8s.io/v1/namespaces/a/leases/l')).to.equal('leases');
    expect(resourceOfPath('/apis/events.k8s.io/v1/namespaces/a/events')).to.equal('events');
    expect(resourceOfPath('/api/v1/namespaces/ns')).to.equal('namespaces');
    expect(resourceOfPath('/api/v1/namespaces')).to.equal('namespaces');
  });

  it('turns a Status body into a typed error', () => {
    const err = statusError(410, { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
    expect(err).to.be.instanceOf(KubeApiError);
    expect(err.statusCode).to.equal(410);
    expect(err.code).to.equal('Expired');
    expect(isGone(err)).to.equal(true);
    expect(isNotFound(statusError(404, { reason: 'NotFound', message: 'x' }))).to.equal(true);
    expect(isConflict(statusError(409, 'text body'))).to.equal(true);
    // A watch ERROR event carries its own code.
    expect(statusError(500, { code: 410, reason: 'Gone', message: 'm' }).statusCode).to.equal(410);
  });

  it('mergePatchOptions sets the merge-patch content type for the generated clients', () => {
    const options = mergePatchOptions();
    expect(options.middlewareMergeStrategy).to.equal('append');
    expect(options.middleware).to.have.length(1);
    expect(PatchStrategy.MergePatch).to.equal('application/merge-patch+json');
  });
});

describe('leader election options', () => {
  it('formats MicroTime with six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678))).to.equal('2026-01-02T03:04:05.678000Z');
  });

  it('refuses timings that allow two leaders', () => {
    const base = {
      client: {} as never,
      namespace: 'ns',
      name: 'l',
      identity: 'me',
      clock: new FakeClock(),
      logger: silentLogger(),
      callbacks: { onStartedLeading: () => undefined, onStoppedLeading: () => undefined },
    };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 })).to.throw(
      /leaseDuration/,
    );
    expect(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 })).to.throw(
      /renewDeadline/,
    );
    expect(() => new LeaderElector({ ...base, identity: '' })).to.throw(/identity/);
    expect(new LeaderElector(base).isLeader()).to.equal(false);
  });

  it('waits a jittered retry period, cut short to the moment the observed lease expires', () => {
    const base = { retryPeriodMs: 2_000, now: 100_000 };
    expect(nextAttemptDelayMs({ ...base, random: 0, expiresAt: undefined })).to.equal(2_000);
    expect(nextAttemptDelayMs({ ...base, random: 1, expiresAt: undefined })).to.equal(4_400);
    // Expiry far off: the jittered wait.
    expect(nextAttemptDelayMs({ ...base, random: 0.5, expiresAt: 115_000 })).to.equal(3_200);
    // Expiry within the wait: wake just after it, whatever the jitter.
    expect(nextAttemptDelayMs({ ...base, random: 1, expiresAt: 101_000 })).to.be.within(1_000, 1_050);
    expect(nextAttemptDelayMs({ ...base, random: 0, expiresAt: 100_001 })).to.be.within(1, 50);
    // Already expired (we lost a race for it): the jittered wait, never a busy loop.
    expect(nextAttemptDelayMs({ ...base, random: 0, expiresAt: 99_000 })).to.equal(2_000);
    expect(nextAttemptDelayMs({ ...base, random: 0, expiresAt: 100_000 })).to.equal(2_000);
  });

  it('states the takeover bound as lease duration plus one jittered retry period', () => {
    expect(takeoverBoundMs({ leaseDurationMs: 15_000, retryPeriodMs: 2_000 })).to.equal(19_400);
  });
});

describe('metrics and probe servers', () => {
  it('serves the operator metrics under controller-runtime names and the cph_route_operator_ prefix', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    metrics.controllerCreated('cloudphoneroute', 4);
    metrics.activeWorkers('cloudphoneroute', 1);
    metrics.reconcileFinished('cloudphoneroute', 'success', 0.2);
    metrics.reconcileFinished('cloudphoneroute', 'error', 0.1);
    metrics.reconcileFinished('cloudphoneroute', 'terminal', 0.1);
    metrics.reconcileFinished('cloudphoneroute', 'requeue_after', 0.1);
    const queue = metrics.workQueue('cloudphoneroute', () => ({ seconds: 2.5, longestSeconds: 2 }));
    queue.added();
    queue.queued(0.001);
    queue.worked(0.5);
    queue.retried();
    metrics.queueDepth('cloudphoneroute', 3);
    metrics.cphCall('ListCloudPhones', 'success');
    metrics.cphCall('ImportTraffic', 'throttled');
    metrics.cphCall('ListJobs', 'timeout');
    metrics.jobEnded('success');
    metrics.sweepEnded('success', 1.5);
    metrics.setPhones({ inSync: 7, failed: 1, conflicted: 2 });
    metrics.driftCorrected(2);
    metrics.setLeader('cph-route-operator-leader', true);
    metrics.kubeWrite('cloudphoneroutes/status');
    metrics.restClientRequest('200', 'GET', '127.0.0.1:6443');
    metrics.resourceCondition.set(
      { kind: 'CloudPhoneRoute', namespace: 'a', name: 'r', type: 'Ready', status: 'True', reason: 'InSync' },
      1,
    );
    const server = await startMetricsServer('127.0.0.1:0', metrics);
    try {
      const { status, body } = await get(`http://${server?.address}/metrics`);
      expect(status).to.equal(200);
      for (const line of [
        'controller_runtime_reconcile_total{controller="cloudphoneroute",result="success"} 1',
        'controller_runtime_reconcile_total{controller="cloudphoneroute",result="error"} 2',
        'controller_runtime_reconcile_total{controller="cloudphoneroute",result="requeue"} 0',
        'controller_runtime_reconcile_total{controller="cloudphoneroute",result="requeue_after"} 1',
        'controller_runtime_reconcile_errors_total{controller="cloudphoneroute"} 2',
        'controller_runtime_terminal_reconcile_errors_total{controller="cloudphoneroute"} 1',
        'controller_runtime_reconcile_time_seconds_count{controller="cloudphoneroute"} 4',
        'controller_runtime_active_workers{controller="cloudphoneroute"} 1',
        'controller_runtime_max_concurrent_reconciles{controller="cloudphoneroute"} 4',
        'workqueue_depth{name="cloudphoneroute",controller="cloudphoneroute"} 3',
        'workqueue_adds_total{name="cloudphoneroute",controller="cloudphoneroute"} 1',
        'workqueue_retries_total{name="cloudphoneroute",controller="cloudphoneroute"} 1',
        'workqueue_queue_duration_seconds_count{name="cloudphoneroute",controller="cloudphoneroute"} 1',
        'workqueue_work_duration_seconds_sum{name="cloudphoneroute",controller="cloudphoneroute"} 0.5',
        'workqueue_unfinished_work_seconds{name="cloudphoneroute",controller="cloudphoneroute"} 2.5',
        'workqueue_longest_running_processor_seconds{name="cloudphoneroute",controller="cloudphoneroute"} 2',
        'leader_election_master_status{name="cph-route-operator-leader"} 1',
        'rest_client_requests_total{code="200",method="GET",host="127.0.0.1:6443"} 1',
        'cph_route_operator_cph_requests_total{api="ListCloudPhones",outcome="success"} 1',
        'cph_route_operator_cph_requests_total{api="ImportTraffic",outcome="throttled"} 1',
        'cph_route_operator_cph_requests_total{api="ListJobs",outcome="network_error"} 1',
        'cph_route_operator_cph_throttled_total{api="ImportTraffic"} 1',
        'cph_route_operator_jobs_total{outcome="success"} 1',
        'cph_route_operator_jobs_total{outcome="timeout"} 0',
        'cph_route_operator_inventory_sweeps_total{outcome="success"} 1',
        'cph_route_operator_inventory_sweep_duration_seconds_count 1',
        'cph_route_operator_phones{state="InSync"} 7',
        'cph_route_operator_phones{state="Conflict"} 2',
        'cph_route_operator_phones{state="Drifted"} 0',
        'cph_route_operator_drift_corrections_total 2',
        'cph_route_operator_kube_writes_total{kind="cloudphoneroutes/status"} 1',
        'cph_route_operator_resource_condition{kind="CloudPhoneRoute",namespace="a",name="r",type="Ready",status="True",reason="InSync"} 1',
      ]) {
        expect(body).to.include(line);
      }
      // Prometheus conventions: counters end in _total, no metric without the prefix or a known family.
      for (const match of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        const [, name = '', type] = match;
        if (type === 'counter') expect(name, name).to.match(/_total$/);
        expect(name, name).to.match(
          /^(controller_runtime_|workqueue_|leader_election_|rest_client_|cph_route_operator_)/,
        );
      }
      expect((await get(`http://${server?.address}/healthz`)).status).to.equal(404);
    } finally {
      await server?.close();
    }
  });

  it('reports each check on /healthz and /readyz, failing on false or a throw', async () => {
    const checks = new HealthChecks();
    let synced = false;
    checks.addHealthCheck('ping', () => true);
    checks.addReadyCheck('informers-synced', () => synced);
    checks.addReadyCheck('throws', () => {
      if (!synced) throw new Error('not yet');
      return true;
    });
    const server = await startProbeServer('127.0.0.1:0', checks);
    try {
      expect((await get(`http://${server?.address}/healthz`)).status).to.equal(200);
      const notReady = await get(`http://${server?.address}/readyz`);
      expect(notReady.status).to.equal(500);
      expect(notReady.body).to.include('[-]informers-synced failed');
      expect(notReady.body).to.include('[-]throws failed: not yet');
      synced = true;
      const ready = await get(`http://${server?.address}/readyz`);
      expect(ready.status).to.equal(200);
      expect(ready.body).to.include('[+]informers-synced ok');
    } finally {
      await server?.close();
    }
  });

  it('parses bind addresses, "0" disabling the server', async () => {
    expect(parseBindAddress(':8080')).to.deep.equal({ host: undefined, port: 8080 });
    expect(parseBindAddress('127.0.0.1:9')).to.deep.equal({ host: '127.0.0.1', port: 9 });
    expect(parseBindAddress('[::1]:9')).to.deep.equal({ host: '::1', port: 9 });
    expect(parseBindAddress('0')).to.equal(undefined);
    expect(() => parseBindAddress(':99999')).to.throw(RangeError);
    expect(await startProbeServer('0', new HealthChecks())).to.equal(undefined);
  });
});

describe('GracefulShutdown', () => {
  function setup(deadlineMs = 10_000) {
    const clock = new FakeClock();
    const source = new EventEmitter();
    const exits: number[] = [];
    const shutdown = new GracefulShutdown({
      clock,
      logger: silentLogger(),
      deadlineMs,
      source: source as unknown as SignalSource,
      exit: (code) => exits.push(code),
    });
    shutdown.install();
    return { clock, source, exits, shutdown };
  }

  it('on SIGTERM aborts the signal, runs the steps in order, then exits 0', async () => {
    const { source, exits, shutdown } = setup();
    const order: string[] = [];
    shutdown.addStep('controllers', async () => {
      order.push(`controllers(aborted=${shutdown.signal.aborted})`);
    });
    shutdown.addStep('lease', () => {
      order.push('lease');
    });
    source.emit('SIGTERM');
    await flushMicrotasks();
    expect(order).to.deep.equal(['controllers(aborted=true)', 'lease']);
    expect(exits).to.deep.equal([0]);
  });

  it('keeps going after a failing step and exits 1', async () => {
    const { exits, shutdown } = setup();
    const order: string[] = [];
    shutdown.addStep('bad', () => {
      throw new Error('boom');
    });
    shutdown.addStep('servers', () => {
      order.push('servers');
    });
    expect(await shutdown.shutdown('test')).to.equal(1);
    expect(order).to.deep.equal(['servers']);
    expect(exits).to.deep.equal([1]);
  });

  it('bounds steps by the deadline and aborts the overrunning one', async () => {
    const { clock, exits, shutdown } = setup(5_000);
    let stepSignal: AbortSignal | undefined;
    shutdown.addStep('slow', (signal) => {
      stepSignal = signal;
      return new Promise<void>(() => undefined);
    });
    const ran: string[] = [];
    shutdown.addStep('after', () => {
      ran.push('after');
    });
    const done = shutdown.shutdown('test');
    await clock.advance(5_000);
    expect(await done).to.equal(1);
    expect(stepSignal?.aborted).to.equal(true);
    expect(ran).to.deep.equal(['after']);
    expect(exits).to.deep.equal([1]);
  });

  it('exits at once with 130 on a second signal', async () => {
    const { source, exits, shutdown } = setup();
    shutdown.addStep('hang', () => new Promise<void>(() => undefined));
    source.emit('SIGINT');
    source.emit('SIGTERM');
    await flushMicrotasks();
    expect(exits).to.deep.equal([130]);
  });
});
