/**
 * The observability pieces that need no cluster: per-resource condition series, the work queue's metrics,
 * the reconcile context in log lines (zap key names), and coalesced on-demand inventory sweeps.
 */
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { OperatorMetrics } from '../../src/runtime/metrics.js';
import { ResourceConditionMetrics } from '../../src/runtime/condition-metrics.js';
import type { EventSource } from '../../src/runtime/controller.js';
import { Controller } from '../../src/runtime/controller.js';
import type { KubeObject } from '../../src/runtime/informer.js';
import { WorkQueue } from '../../src/runtime/workqueue.js';
import { createLogger, silentLogger } from '../../src/runtime/logger.js';
import { newReconcileContext, outsideReconcile, runInReconcile } from '../../src/runtime/reconcile-context.js';
import { PhoneInventory } from '../../src/controller/inventory.js';
import type { CphPort, ObservedPhone } from '../../src/controller/ports.js';
import { reconcileRequestedAt } from '../../src/api/v1alpha1/reconcile-request.js';
import { parseStatus } from '../../src/api/v1alpha1/parse.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';
import { checkExposition, samples } from '../support/metrics-lint.js';

/** An event source the test drives by hand, as an informer would. */
class ManualSource implements EventSource<KubeObject> {
  private readonly handlers: Array<Parameters<EventSource<KubeObject>['addEventHandler']>[0]> = [];
  addEventHandler(handler: Parameters<EventSource<KubeObject>['addEventHandler']>[0]): void {
    this.handlers.push(handler);
  }
  add(obj: KubeObject): void {
    for (const h of this.handlers) h.onAdd?.(obj);
  }
  update(before: KubeObject, after: KubeObject): void {
    for (const h of this.handlers) h.onUpdate?.(before, after);
  }
  delete(obj: KubeObject): void {
    for (const h of this.handlers) h.onDelete?.(obj);
  }
}

function route(name: string, conditions: unknown[]): KubeObject {
  return { metadata: { namespace: 'team-a', name }, status: { conditions } } as KubeObject;
}

async function conditionLines(metrics: OperatorMetrics): Promise<string[]> {
  return (await metrics.text()).split('\n').filter((line) => line.startsWith('cph_route_operator_resource_condition{'));
}

describe('the exposition', () => {
  it('parses and follows Prometheus naming conventions, Node process metrics included', async () => {
    const metrics = new OperatorMetrics();
    metrics.controllerCreated('cloudphoneroute', 2);
    metrics.workQueue('cloudphoneroute', () => ({ seconds: 0, longestSeconds: 0 }));
    metrics.reconcileFinished('cloudphoneroute', 'success', 0.01);
    metrics.resourceCondition.set(
      {
        kind: 'CloudPhoneRoute',
        namespace: 'a',
        name: 'r',
        type: 'Ready',
        status: 'False',
        reason: 'Odd "quoted" \\ reason',
      },
      1,
    );
    const exposition = checkExposition(await metrics.text());
    const { families, problems } = exposition;
    expect(problems).to.deep.equal([]);
    expect(samples(exposition, 'controller_runtime_reconcile_time_seconds')).to.deep.equal([
      { labels: { controller: 'cloudphoneroute' }, value: 1 },
    ]);
    expect(samples(exposition, 'cph_route_operator_resource_condition')[0]?.labels.reason).to.equal(
      'Odd "quoted" \\ reason',
    );
    expect(families.map((f) => f.name)).to.include.members(['process_cpu_seconds_total', 'nodejs_active_handles']);
  });

  it('is checked for real: a misnamed metric is a problem', () => {
    const text = '# HELP lag_ms x\n# TYPE lag_ms gauge\nlag_ms 1\n# HELP calls x\n# TYPE calls counter\ncalls 2\n';
    expect(checkExposition(text).problems).to.deep.equal([
      'lag_ms: use base units (seconds, bytes), not ms',
      'calls: counter metrics should have "_total" suffix',
    ]);
  });
});

describe('cph_route_operator_resource_condition', () => {
  it('has one series per current condition, replaced when it changes and removed with the object', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const source = new ManualSource();
    new ResourceConditionMetrics(metrics.resourceCondition).watch('CloudPhoneRoute', source);
    const stalled = route('r1', [
      { type: 'Ready', status: 'False', reason: 'CredentialsInvalid' },
      { type: 'Stalled', status: 'True', reason: 'CredentialsInvalid' },
    ]);
    source.add(stalled);
    source.add({
      metadata: { name: 'cluster-wide' },
      status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Verified' }] },
    } as KubeObject);
    expect(await conditionLines(metrics)).to.have.members([
      'cph_route_operator_resource_condition{kind="CloudPhoneRoute",namespace="team-a",name="r1",type="Ready",status="False",reason="CredentialsInvalid"} 1',
      'cph_route_operator_resource_condition{kind="CloudPhoneRoute",namespace="team-a",name="r1",type="Stalled",status="True",reason="CredentialsInvalid"} 1',
      'cph_route_operator_resource_condition{kind="CloudPhoneRoute",namespace="",name="cluster-wide",type="Ready",status="True",reason="Verified"} 1',
    ]);
    const fixed = route('r1', [{ type: 'Ready', status: 'True', reason: 'InSync' }]);
    source.update(stalled, fixed);
    const lines = await conditionLines(metrics);
    expect(lines.filter((l) => l.includes('name="r1"'))).to.deep.equal([
      'cph_route_operator_resource_condition{kind="CloudPhoneRoute",namespace="team-a",name="r1",type="Ready",status="True",reason="InSync"} 1',
    ]);
    source.delete(fixed);
    expect((await conditionLines(metrics)).filter((l) => l.includes('name="r1"'))).to.deep.equal([]);
  });

  it('stays bounded: malformed conditions are left out, at most 8 per object, one per type', async () => {
    const metrics = new OperatorMetrics({ processMetrics: false });
    const source = new ManualSource();
    new ResourceConditionMetrics(metrics.resourceCondition).watch('CloudPhoneRoute', source);
    const many = Array.from({ length: 20 }, (_, i) => ({ type: `T${i}`, status: 'True', reason: 'x'.repeat(500) }));
    source.add(
      route('noisy', [
        { type: 'Ready', status: 'Maybe', reason: 'Odd' },
        { type: 'T0', status: 'False', reason: 'Dup' },
        'not an object',
        ...many,
      ]),
    );
    const lines = await conditionLines(metrics);
    expect(lines).to.have.length(8);
    expect(lines.some((l) => l.includes('status="Maybe"'))).to.equal(false);
    for (const line of lines) expect(/reason="(x*)"/.exec(line)?.[1]?.length ?? 0).to.be.at.most(128);
  });
});

describe('work queue metrics', () => {
  it('reports adds, time queued, time worked, retries and the work in progress', async () => {
    const clock = new FakeClock();
    const seen = { added: 0, queued: [] as number[], worked: [] as number[], retried: 0 };
    const queue = new WorkQueue<string>({
      clock,
      metrics: {
        added: () => seen.added++,
        queued: (s) => seen.queued.push(s),
        worked: (s) => seen.worked.push(s),
        retried: () => seen.retried++,
      },
    });
    queue.add('a');
    queue.add('a'); // already queued: not an add
    await clock.advance(250);
    const key = await queue.get();
    expect(key).to.equal('a');
    expect(seen).to.deep.include({ added: 1, queued: [0.25] });
    await clock.advance(1_500);
    expect(queue.unfinishedWork()).to.deep.equal({ seconds: 1.5, longestSeconds: 1.5 });
    queue.done('a');
    expect(seen.worked).to.deep.equal([1.5]);
    expect(queue.unfinishedWork()).to.deep.equal({ seconds: 0, longestSeconds: 0 });
    queue.addRateLimited('a');
    expect(seen.retried).to.equal(1);
    queue.shutDown();
  });

  it('feeds the controller-runtime series of a controller', async () => {
    const clock = new FakeClock();
    const metrics = new OperatorMetrics({ processMetrics: false });
    let fail = true;
    const controller = new Controller({
      name: 'cloudphoneroute',
      clock,
      logger: silentLogger(),
      metrics,
      maxConcurrentReconciles: 3,
      reconciler: {
        reconcile: async () => {
          if (fail) {
            fail = false;
            throw new Error('first try fails');
          }
          return {};
        },
      },
    });
    void controller.start();
    controller.enqueue('ns/a');
    await flushMicrotasks();
    await clock.advance(1_000);
    await flushMicrotasks();
    const text = await metrics.text();
    const labels = '{name="cloudphoneroute",controller="cloudphoneroute"}';
    expect(text).to.include(`workqueue_adds_total${labels} 2`);
    expect(text).to.include(`workqueue_retries_total${labels} 1`);
    expect(text).to.include('controller_runtime_max_concurrent_reconciles{controller="cloudphoneroute"} 3');
    expect(text).to.include('controller_runtime_active_workers{controller="cloudphoneroute"} 0');
    expect(text).to.include('controller_runtime_reconcile_total{controller="cloudphoneroute",result="error"} 1');
    expect(text).to.include('controller_runtime_reconcile_total{controller="cloudphoneroute",result="success"} 1');
    await controller.stop(1_000);
  });
});

describe('log lines', () => {
  function capture(): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const logger = createLogger({ format: 'json', stream, level: 'debug' });
    return {
      logger,
      lines: () =>
        chunks
          .join('')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Record<string, unknown>),
    };
  }

  it('name their keys as controller-runtime zap does: ts, level, logger, msg', async () => {
    const { logger, lines } = capture();
    logger.info('controller started', { resources: 3 });
    await flushMicrotasks();
    const [line] = lines();
    expect(Object.keys(line ?? {}).slice(0, 4)).to.deep.equal(['level', 'ts', 'logger', 'msg']);
    expect(line).to.deep.include({
      level: 'info',
      logger: 'cph-route-operator',
      msg: 'controller started',
      resources: 3,
    });
    expect(Date.parse(String(line?.ts))).to.be.greaterThan(0);
    expect(line).to.not.have.property('message');
  });

  it('carry controller, namespace, name and reconcileID during a reconcile, also after awaits, and not outside', async () => {
    const { logger, lines } = capture();
    const first = newReconcileContext('cloudphoneroute', 'team-a/r1');
    const second = newReconcileContext('cloudphoneroute', 'team-a/r1');
    expect(first.reconcileID).to.match(/^[0-9a-f-]{36}$/);
    expect(second.reconcileID).to.not.equal(first.reconcileID);
    let detached: Promise<void> | undefined;
    await runInReconcile(first, async () => {
      logger.info('in the reconcile');
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.warn('after an await', { resource: 'team-a/r1' });
      detached = outsideReconcile(async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        logger.info('a loop the reconcile started');
      });
    });
    await detached;
    logger.info('outside');
    await flushMicrotasks();
    const byMsg = new Map(lines().map((line) => [line.msg, line]));
    for (const msg of ['in the reconcile', 'after an await'])
      expect(byMsg.get(msg)).to.deep.include({
        controller: 'cloudphoneroute',
        namespace: 'team-a',
        name: 'r1',
        reconcileID: first.reconcileID,
      });
    for (const msg of ['a loop the reconcile started', 'outside'])
      expect(byMsg.get(msg)).to.not.have.property('reconcileID');
  });

  it('gives a cluster-scoped object namespace ""', () => {
    expect(newReconcileContext('cloudphoneaccount', 'prod')).to.deep.include({ namespace: '', name: 'prod' });
  });
});

describe('reconcile on demand', () => {
  it('reads the annotation, bounded, and parses status.lastHandledReconcileAt', () => {
    expect(
      reconcileRequestedAt({ annotations: { 'cloudphone.dev/reconcile-requested-at': '2026-12-02T10:00:00Z' } }),
    ).to.equal('2026-12-02T10:00:00Z');
    expect(reconcileRequestedAt({ annotations: { 'cloudphone.dev/reconcile-requested-at': '' } })).to.equal(undefined);
    expect(reconcileRequestedAt({})).to.equal(undefined);
    expect(
      reconcileRequestedAt({ annotations: { 'cloudphone.dev/reconcile-requested-at': 'x'.repeat(999) } }),
    ).to.have.length(256);
    expect(parseStatus({ lastHandledReconcileAt: 'now' }).lastHandledReconcileAt).to.equal('now');
    expect(parseStatus({ lastHandledReconcileAt: 7 })).to.not.have.property('lastHandledReconcileAt');
  });

  /** A CPH port whose list calls the test ends by hand, counting them. */
  function scriptedPort(): { port: CphPort; lists: Array<() => void> } {
    const lists: Array<() => void> = [];
    const phone: ObservedPhone = { phoneId: 'p1', trafficType: 'direct' } as ObservedPhone;
    const port = {
      listAllPhones: () =>
        new Promise((resolve) => lists.push(() => resolve({ phones: [phone], skipped: [], calls: 1, complete: true }))),
    } as unknown as CphPort;
    return { port, lists };
  }

  it('coalesces sweeps asked for together: one sweep begun late enough answers them all', async () => {
    const clock = new FakeClock();
    const { port, lists } = scriptedPort();
    const inventory = new PhoneInventory({ cph: port, clock, logger: silentLogger(), intervalMs: 300_000 });
    const t0 = clock.now();
    const early = inventory.sweep(); // begun before the requests
    await clock.advance(10);
    const requests = [inventory.sweepSince(t0 + 5), inventory.sweepSince(t0 + 5), inventory.sweepSince(t0 + 5)];
    expect(lists).to.have.length(1);
    lists[0]?.();
    await early;
    await flushMicrotasks();
    // The early sweep cannot answer them: exactly one more sweep starts, and all three share it.
    expect(lists).to.have.length(2);
    lists[1]?.();
    const snapshots = await Promise.all(requests);
    expect(new Set(snapshots).size).to.equal(1);
    expect(snapshots[0]?.takenAt).to.be.at.least(t0 + 5);
    // A request the current snapshot already answers costs no call.
    await inventory.sweepSince(t0 + 5);
    expect(lists).to.have.length(2);
  });
});
