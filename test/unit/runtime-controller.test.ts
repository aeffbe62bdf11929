import { expect } from 'chai';
import {
  Controller,
  type ControllerMetrics,
  type EventSource,
  type ReconcileOutcome,
} from '../../src/runtime/controller.js';
import { TerminalError, objectKey, splitKey, type ReconcileResult } from '../../src/runtime/reconcile.js';
import { silentLogger } from '../../src/runtime/logger.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';

/** A reconciler whose calls the test completes by hand. */
class ScriptedReconciler {
  calls: string[] = [];
  running = new Map<
    string,
    { resolve: (r: ReconcileResult) => void; reject: (e: unknown) => void; signal: AbortSignal }
  >();
  maxConcurrent = 0;
  reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    this.calls.push(key);
    if (this.running.has(key)) throw new Error(`two workers on ${key}`);
    return new Promise<ReconcileResult>((resolve, reject) => {
      this.running.set(key, { resolve, reject, signal });
      this.maxConcurrent = Math.max(this.maxConcurrent, this.running.size);
    }).finally(() => this.running.delete(key));
  }
  finish(key: string, result: ReconcileResult | Error = {}): void {
    const call = this.running.get(key);
    if (!call) throw new Error(`${key} is not running`);
    if (result instanceof Error) call.reject(result);
    else call.resolve(result);
  }
}

class RecordingMetrics implements ControllerMetrics {
  outcomes: ReconcileOutcome[] = [];
  depths: number[] = [];
  durations: number[] = [];
  reconcileFinished(_c: string, outcome: ReconcileOutcome, seconds: number): void {
    this.outcomes.push(outcome);
    this.durations.push(seconds);
  }
  queueDepth(_c: string, depth: number): void {
    this.depths.push(depth);
  }
}

function setup(workers = 1) {
  const clock = new FakeClock();
  const reconciler = new ScriptedReconciler();
  const metrics = new RecordingMetrics();
  const controller = new Controller({
    name: 'test',
    reconciler,
    clock,
    logger: silentLogger(),
    maxConcurrentReconciles: workers,
    metrics,
  });
  void controller.start();
  return { clock, reconciler, metrics, controller };
}

describe('Controller', () => {
  it('reconciles enqueued keys and forgets them on success', async () => {
    const { reconciler, metrics, controller } = setup();
    controller.enqueue('ns/a');
    await flushMicrotasks();
    expect(reconciler.calls).to.deep.equal(['ns/a']);
    reconciler.finish('ns/a');
    await flushMicrotasks();
    expect(metrics.outcomes).to.deep.equal(['success']);
    expect(controller.queue.numRequeues('ns/a')).to.equal(0);
    await controller.stop(1000);
  });

  it('runs at most maxConcurrentReconciles at once and never two on one key', async () => {
    const { reconciler, controller } = setup(2);
    for (const key of ['a', 'b', 'c', 'a', 'b']) controller.enqueue(key);
    await flushMicrotasks();
    expect(reconciler.running.size).to.equal(2);
    controller.enqueue('a');
    reconciler.finish('a');
    await flushMicrotasks();
    reconciler.finish('b');
    await flushMicrotasks();
    reconciler.finish('c');
    await flushMicrotasks();
    reconciler.finish('a');
    await flushMicrotasks();
    reconciler.finish('b');
    await flushMicrotasks();
    // a and b were added again while held: each runs once more, after its first run.
    expect(reconciler.calls).to.deep.equal(['a', 'b', 'c', 'a', 'b']);
    expect(reconciler.maxConcurrent).to.equal(2);
    await controller.stop(1000);
  });

  it('requeues after requeueAfterMs', async () => {
    const { clock, reconciler, metrics, controller } = setup();
    controller.enqueue('a');
    await flushMicrotasks();
    reconciler.finish('a', { requeueAfterMs: 60_000 });
    await flushMicrotasks();
    expect(metrics.outcomes).to.deep.equal(['requeue_after']);
    await clock.advance(59_999);
    expect(reconciler.calls).to.have.length(1);
    await clock.advance(1);
    expect(reconciler.calls).to.have.length(2);
    reconciler.finish('a');
    await controller.stop(1000);
  });

  it('retries errors with exponential backoff, and forgets the backoff after a success', async () => {
    const { clock, reconciler, metrics, controller } = setup();
    controller.enqueue('a');
    await flushMicrotasks();
    reconciler.finish('a', new Error('boom'));
    await flushMicrotasks();
    await clock.advance(4);
    expect(reconciler.calls).to.have.length(1);
    await clock.advance(1); // 5 ms
    expect(reconciler.calls).to.have.length(2);
    reconciler.finish('a', new Error('boom'));
    await flushMicrotasks();
    await clock.advance(9);
    expect(reconciler.calls).to.have.length(2);
    await clock.advance(1); // 10 ms
    expect(reconciler.calls).to.have.length(3);
    expect(controller.queue.numRequeues('a')).to.equal(2);
    reconciler.finish('a');
    await flushMicrotasks();
    expect(controller.queue.numRequeues('a')).to.equal(0);
    expect(metrics.outcomes).to.deep.equal(['error', 'error', 'success']);
    await controller.stop(1000);
  });

  it('records a TerminalError and does not retry it', async () => {
    const { clock, reconciler, metrics, controller } = setup();
    controller.enqueue('a');
    await flushMicrotasks();
    reconciler.finish('a', new TerminalError('InvalidSpec', 'spec.trafficType is missing'));
    await flushMicrotasks();
    await clock.advance(3_600_000);
    expect(reconciler.calls).to.have.length(1);
    expect(metrics.outcomes).to.deep.equal(['terminal']);
    await controller.stop(1000);
  });

  it('survives a reconciler that throws synchronously', async () => {
    const clock = new FakeClock();
    const metrics = new RecordingMetrics();
    let calls = 0;
    const controller = new Controller({
      name: 't',
      clock,
      logger: silentLogger(),
      metrics,
      reconciler: {
        reconcile: () => {
          calls++;
          if (calls === 1) throw new Error('sync throw');
          return Promise.resolve({});
        },
      },
    });
    void controller.start();
    controller.enqueue('a');
    await flushMicrotasks();
    await clock.advance(5);
    expect(calls).to.equal(2);
    expect(metrics.outcomes).to.deep.equal(['error', 'success']);
    await controller.stop(10);
  });

  it('reports reconcile durations and queue depth', async () => {
    const { clock, reconciler, metrics, controller } = setup();
    controller.enqueue('a');
    controller.enqueue('b');
    await flushMicrotasks();
    await clock.advance(1500);
    reconciler.finish('a');
    await flushMicrotasks();
    expect(metrics.durations[0]).to.equal(1.5);
    expect(metrics.depths).to.include(1);
    reconciler.finish('b');
    await controller.stop(1000);
  });

  it('enqueues keys from an event source, filtering updates', async () => {
    type Obj = { metadata: { namespace: string; name: string; generation: number } };
    let handler: Parameters<EventSource<Obj>['addEventHandler']>[0] = {};
    const source: EventSource<Obj> = { addEventHandler: (h) => (handler = h) };
    const { reconciler, controller } = setup();
    controller.watch(source, undefined, (o, n) => o.metadata.generation !== n.metadata.generation);
    const obj = (generation: number): Obj => ({ metadata: { namespace: 'ns', name: 'x', generation } });
    handler.onUpdate?.(obj(1), obj(1));
    await flushMicrotasks();
    expect(reconciler.calls).to.deep.equal([]);
    handler.onAdd?.(obj(1));
    await flushMicrotasks();
    expect(reconciler.calls).to.deep.equal(['ns/x']);
    reconciler.finish('ns/x');
    handler.onDelete?.(obj(1));
    await flushMicrotasks();
    expect(reconciler.calls).to.deep.equal(['ns/x', 'ns/x']);
    reconciler.finish('ns/x');
    await controller.stop(1000);
  });

  describe('stop', () => {
    it('lets in-flight reconciles finish and takes no new work', async () => {
      const { reconciler, controller } = setup();
      controller.enqueue('a');
      controller.enqueue('b');
      await flushMicrotasks();
      let stopped = false;
      const stopping = controller.stop(30_000).then(() => (stopped = true));
      await flushMicrotasks();
      expect(stopped).to.equal(false);
      expect(reconciler.running.get('a')?.signal.aborted).to.equal(false);
      reconciler.finish('a');
      await stopping;
      expect(reconciler.calls).to.deep.equal(['a']);
      controller.enqueue('c');
      await flushMicrotasks();
      expect(reconciler.calls).to.deep.equal(['a']);
    });

    it('aborts the signal of reconciles still running at the deadline', async () => {
      const { clock, reconciler, controller } = setup();
      controller.enqueue('a');
      await flushMicrotasks();
      const signal = reconciler.running.get('a')?.signal as AbortSignal;
      signal.addEventListener('abort', () => reconciler.finish('a', new Error('aborted')));
      const stopping = controller.stop(10_000);
      await clock.advance(9_999);
      expect(signal.aborted).to.equal(false);
      await clock.advance(1);
      await stopping;
      expect(signal.aborted).to.equal(true);
    });
  });
});

describe('object keys', () => {
  it('builds and splits namespace/name keys', () => {
    expect(objectKey({ namespace: 'ns', name: 'a' })).to.equal('ns/a');
    expect(objectKey({ name: 'node-1' })).to.equal('node-1');
    expect(splitKey('ns/a')).to.deep.equal({ namespace: 'ns', name: 'a' });
    expect(splitKey('node-1')).to.deep.equal({ namespace: undefined, name: 'node-1' });
  });
});
