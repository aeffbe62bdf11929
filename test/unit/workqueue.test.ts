import { expect } from 'chai';
import { ItemExponentialFailureRateLimiter, WorkQueue } from '../../src/runtime/workqueue.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';

function newQueue(clock = new FakeClock(), depths: number[] = []): WorkQueue<string> {
  return new WorkQueue<string>({ clock, onDepthChange: (d) => depths.push(d) });
}

/** Resolves to the state of a promise without waiting for it: the value, or 'pending'. */
async function peek<T>(promise: Promise<T>): Promise<T | 'pending'> {
  const pending = Symbol('pending');
  const result = await Promise.race([promise, flushMicrotasks().then(() => pending)]);
  return result === pending ? 'pending' : (result as T);
}

describe('WorkQueue', () => {
  describe('fair', () => {
    it('hands keys out in the order they were added', async () => {
      const q = newQueue();
      for (const key of ['a', 'b', 'c']) q.add(key);
      expect([await q.get(), await q.get(), await q.get()]).to.deep.equal(['a', 'b', 'c']);
    });

    it('serves waiting workers in the order they asked', async () => {
      const q = newQueue();
      const first = q.get();
      const second = q.get();
      q.add('a');
      q.add('b');
      expect(await first).to.equal('a');
      expect(await second).to.equal('b');
    });
  });

  describe('stingy', () => {
    it('keeps a key queued once however often it is added', async () => {
      const q = newQueue();
      q.add('a');
      q.add('b');
      q.add('a');
      q.add('a');
      expect(q.len()).to.equal(2);
      expect(await q.get()).to.equal('a');
      expect(await q.get()).to.equal('b');
      expect(q.len()).to.equal(0);
    });

    it('never hands one key to two workers at once', async () => {
      const q = newQueue();
      q.add('a');
      expect(await q.get()).to.equal('a');
      q.add('a');
      q.add('a');
      const second = q.get();
      expect(await peek(second)).to.equal('pending');
      expect(q.len()).to.equal(0);
      q.done('a');
      expect(await second).to.equal('a');
    });

    it('processes a key re-added while processing once more after done', async () => {
      const q = newQueue();
      q.add('a');
      const key = await q.get();
      q.add('a');
      q.add('b');
      expect(await q.get()).to.equal('b');
      q.done(key as string);
      expect(await q.get()).to.equal('a');
      q.done('a');
      expect(q.len()).to.equal(0);
      expect(await peek(q.get())).to.equal('pending');
    });

    it('does not queue a key again on done when nobody added it meanwhile', async () => {
      const q = newQueue();
      q.add('a');
      q.done((await q.get()) as string);
      expect(q.len()).to.equal(0);
    });
  });

  describe('addAfter', () => {
    it('queues the key once its delay passes', async () => {
      const clock = new FakeClock();
      const q = newQueue(clock);
      q.addAfter('a', 1000);
      expect(q.len()).to.equal(0);
      expect(q.delayedLen()).to.equal(1);
      await clock.advance(999);
      expect(q.len()).to.equal(0);
      await clock.advance(1);
      expect(q.len()).to.equal(1);
      expect(await q.get()).to.equal('a');
    });

    it('keeps the earliest time when a key is delayed twice', async () => {
      const clock = new FakeClock();
      const q = newQueue(clock);
      q.addAfter('a', 5000);
      q.addAfter('a', 1000);
      q.addAfter('a', 3000);
      await clock.advance(1000);
      expect(q.len()).to.equal(1);
      expect(await q.get()).to.equal('a');
      q.done('a');
      await clock.advance(10_000);
      expect(q.len()).to.equal(0);
    });

    it('releases delayed keys in order of their due time', async () => {
      const clock = new FakeClock();
      const q = newQueue(clock);
      q.addAfter('late', 300);
      q.addAfter('early', 100);
      q.addAfter('middle', 200);
      await clock.advance(300);
      expect([await q.get(), await q.get(), await q.get()]).to.deep.equal(['early', 'middle', 'late']);
    });

    it('adds at once for a zero or negative delay', () => {
      const q = newQueue();
      q.addAfter('a', 0);
      q.addAfter('b', -5);
      expect(q.len()).to.equal(2);
    });

    it('dedups a delayed key against the same key already queued', async () => {
      const clock = new FakeClock();
      const q = newQueue(clock);
      q.add('a');
      q.addAfter('a', 10);
      await clock.advance(10);
      expect(q.len()).to.equal(1);
    });
  });

  describe('rate-limited retries', () => {
    it('backs off exponentially per key, from 5 ms to a 1000 s cap, like client-go', () => {
      const limiter = new ItemExponentialFailureRateLimiter<string>();
      const delays = Array.from({ length: 20 }, () => limiter.when('a'));
      expect(delays.slice(0, 5)).to.deep.equal([5, 10, 20, 40, 80]);
      expect(delays[17]).to.equal(5 * 2 ** 17);
      expect(delays[18]).to.equal(1_000_000);
      expect(delays[19]).to.equal(1_000_000);
      expect(limiter.when('b')).to.equal(5);
      expect(limiter.numRequeues('a')).to.equal(20);
    });

    it('stays at the cap after very many failures (no overflow)', () => {
      const limiter = new ItemExponentialFailureRateLimiter<string>(5, 60_000);
      let last = 0;
      for (let i = 0; i < 2000; i++) last = limiter.when('a');
      expect(last).to.equal(60_000);
    });

    it('is configurable and rejects nonsense', () => {
      const limiter = new ItemExponentialFailureRateLimiter<string>(100, 250);
      expect([limiter.when('a'), limiter.when('a'), limiter.when('a')]).to.deep.equal([100, 200, 250]);
      expect(() => new ItemExponentialFailureRateLimiter(0, 10)).to.throw(RangeError);
      expect(() => new ItemExponentialFailureRateLimiter(10, 5)).to.throw(RangeError);
    });

    it('forget resets the backoff of a key', async () => {
      const clock = new FakeClock();
      const q = newQueue(clock);
      q.addRateLimited('a');
      q.addRateLimited('a');
      expect(q.numRequeues('a')).to.equal(2);
      q.forget('a');
      expect(q.numRequeues('a')).to.equal(0);
      q.addRateLimited('a');
      await clock.advance(5);
      expect(q.len()).to.equal(1);
    });

    it('queues a rate-limited key after its backoff', async () => {
      const clock = new FakeClock();
      const q = newQueue(clock);
      q.addRateLimited('a'); // 5 ms
      await clock.advance(5);
      q.done((await q.get()) as string);
      q.addRateLimited('a'); // 10 ms
      await clock.advance(9);
      expect(q.len()).to.equal(0);
      await clock.advance(1);
      expect(q.len()).to.equal(1);
    });
  });

  describe('shutdown', () => {
    it('shutDown drops queued and delayed keys, releases waiting workers and refuses new keys', async () => {
      const clock = new FakeClock();
      const q = newQueue(clock);
      q.add('a');
      q.addAfter('b', 100);
      q.shutDown();
      expect(q.isShuttingDown()).to.equal(true);
      expect(await q.get()).to.equal(undefined);
      q.add('c');
      await clock.advance(1000);
      expect(q.len()).to.equal(0);
      expect(clock.pendingTimers()).to.equal(0);
    });

    it('shutDown releases workers already waiting', async () => {
      const q = newQueue();
      const waiting = q.get();
      q.shutDown();
      expect(await waiting).to.equal(undefined);
    });

    it('shutDownWithDrain hands out queued keys and resolves when all are done', async () => {
      const q = newQueue();
      q.add('a');
      q.add('b');
      const held = (await q.get()) as string;
      const drained = q.shutDownWithDrain();
      q.add('late');
      expect(await q.get()).to.equal('b');
      expect(await peek(drained)).to.equal('pending');
      q.done('b');
      expect(await peek(drained)).to.equal('pending');
      q.done(held);
      await drained;
      expect(await q.get()).to.equal(undefined);
    });

    it('shutDownWithDrain still runs a key re-added before the shutdown, and keeps workers waiting for it', async () => {
      const q = newQueue();
      q.add('a');
      const held = (await q.get()) as string;
      q.add('a');
      const drained = q.shutDownWithDrain();
      const worker = q.get();
      expect(await peek(worker)).to.equal('pending');
      q.done(held);
      expect(await worker).to.equal('a');
      q.done('a');
      await drained;
      expect(await q.get()).to.equal(undefined);
    });

    it('shutDownWithDrain resolves at once on an idle queue', async () => {
      const q = newQueue();
      await q.shutDownWithDrain();
    });
  });

  describe('length for metrics', () => {
    it('reports the depth on every change', async () => {
      const depths: number[] = [];
      const q = newQueue(new FakeClock(), depths);
      q.add('a');
      q.add('b');
      q.add('a');
      await q.get();
      expect(depths).to.deep.equal([1, 2, 1]);
      expect(q.processingLen()).to.equal(1);
    });
  });
});
