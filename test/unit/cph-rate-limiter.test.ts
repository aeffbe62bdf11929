import { expect } from 'chai';
import { RateLimiterRegistry, TokenBucket } from '../../src/cph/rate-limiter.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';

describe('cph token bucket', () => {
  it('lets a burst through at once, then paces at qps', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 10, burst: 5, clock });
    const passed: number[] = [];
    for (let i = 0; i < 15; i++) void bucket.acquire().then(() => passed.push(i));
    await flushMicrotasks();
    expect(passed).to.deep.equal([0, 1, 2, 3, 4]);
    await clock.advance(100);
    expect(passed).to.have.length(6);
    await clock.advance(400);
    expect(passed).to.have.length(10);
    await clock.advance(500);
    expect(passed).to.deep.equal([...Array(15).keys()]);
  });

  it('serves waiters in order', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 2, burst: 1, clock });
    const order: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) void bucket.acquire().then(() => order.push(name));
    await clock.advance(2_000);
    expect(order).to.deep.equal(['a', 'b', 'c', 'd']);
  });

  it('refills to burst at most after a quiet period', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 20, burst: 3, clock });
    await clock.advance(60_000);
    expect(bucket.available()).to.equal(3);
  });

  it('an aborted waiter rejects with the reason and gives its slot back', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 1, burst: 1, clock });
    await bucket.acquire();
    const controller = new AbortController();
    let caught: unknown;
    bucket.acquire(controller.signal).catch((e: unknown) => (caught = e));
    await flushMicrotasks();
    expect(bucket.available()).to.equal(-1);
    controller.abort(new Error('cancelled'));
    await flushMicrotasks();
    expect((caught as Error).message).to.equal('cancelled');
    expect(bucket.available()).to.equal(0);
    let passed = false;
    void bucket.acquire().then(() => (passed = true));
    await clock.advance(999);
    expect(passed).to.equal(false);
    await clock.advance(1);
    expect(passed).to.equal(true);
  });

  it('defaults to 20 qps, refuses nonsense, and a registry shares one bucket per account', () => {
    const clock = new FakeClock();
    expect(new TokenBucket({ clock }).qps).to.equal(20);
    expect(() => new TokenBucket({ clock, qps: 0 })).to.throw(RangeError);
    expect(() => new TokenBucket({ clock, qps: 5, burst: 0 })).to.throw(RangeError);
    const registry = new RateLimiterRegistry({ clock, qps: 5 });
    expect(registry.forAccount('p1')).to.equal(registry.forAccount('p1'));
    expect(registry.forAccount('p1')).to.not.equal(registry.forAccount('p2'));
  });
});
