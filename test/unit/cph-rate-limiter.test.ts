import { expect } from 'chai';
import { ApiWindowLimiter, RateLimiterRegistry, TokenBucket } from '../../src/cph/rate-limiter.js';
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
    // The per-API cap follows qps unless apiQps is given (the gateway counts per API, the bucket all APIs).
    expect(registry.apiWindowForAccount('p1').limit).to.equal(5);
    expect(new RateLimiterRegistry({ clock, qps: 150, apiQps: 50 }).apiWindowForAccount('p1').limit).to.equal(50);
  });
});

describe('cph per-API window', () => {
  it('starts at most `limit` calls of one API in any window, each API on its own, in order', async () => {
    const clock = new FakeClock();
    const window = new ApiWindowLimiter({ limit: 3, clock });
    const started: Array<[string, number]> = [];
    const t0 = clock.now();
    for (let i = 0; i < 7; i++)
      void window.acquire('ListCloudPhones').then(() => started.push([`list${i}`, clock.now() - t0]));
    for (let i = 0; i < 2; i++)
      void window.acquire('ImportTraffic').then(() => started.push([`write${i}`, clock.now() - t0]));
    await clock.advance(2_500);
    const lists = started.filter(([name]) => name.startsWith('list'));
    expect(lists.map(([name]) => name)).to.deep.equal(['list0', 'list1', 'list2', 'list3', 'list4', 'list5', 'list6']);
    expect(lists.map(([, at]) => at)).to.deep.equal([0, 0, 0, 1_000, 1_000, 1_000, 2_000]);
    // Any window of one second holds at most 3 starts of one API.
    for (const [, at] of lists)
      expect(lists.filter(([, other]) => other >= at && other < at + 1_000).length).to.be.at.most(3);
    expect(started.filter(([name]) => name.startsWith('write')).map(([, at]) => at)).to.deep.equal([0, 0]);
  });

  it('an aborted waiter rejects and gives its slot back', async () => {
    const clock = new FakeClock();
    const window = new ApiWindowLimiter({ limit: 1, clock });
    await window.acquire('ListJobs');
    const controller = new AbortController();
    let caught: unknown;
    window.acquire('ListJobs', controller.signal).catch((e: unknown) => (caught = e));
    controller.abort(new Error('cancelled'));
    await flushMicrotasks();
    expect((caught as Error).message).to.equal('cancelled');
    let passed = false;
    void window.acquire('ListJobs').then(() => (passed = true));
    await clock.advance(999);
    expect(passed).to.equal(false);
    await clock.advance(1);
    expect(passed).to.equal(true);
    expect(() => new ApiWindowLimiter({ limit: 0, clock })).to.throw(RangeError);
  });
});
