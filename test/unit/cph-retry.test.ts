import { expect } from 'chai';
import { CphError } from '../../src/cph/errors.js';
import {
  backoffDelayMs,
  defaultRetryPolicy,
  parseRetryAfter,
  retryDelayMs,
  withRetry,
  type RetryPolicy,
} from '../../src/cph/retry.js';
import { FakeClock, flushMicrotasks } from '../support/fake-clock.js';

const policy: RetryPolicy = {
  ...defaultRetryPolicy,
  maxAttempts: 5,
  maxElapsedMs: 60_000,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
};
const err = (
  httpStatus: number | undefined,
  errorCode: string,
  extra: Partial<ConstructorParameters<typeof CphError>[0]> = {},
): CphError => new CphError({ operation: 'ListJobs', httpStatus, errorCode, errorMessage: 'x', ...extra });

describe('cph retry', () => {
  it('full jitter: uniform below base * 2^(attempt-1), capped at maxDelay', () => {
    expect(backoffDelayMs(1, policy, () => 0.999)).to.equal(499);
    expect(backoffDelayMs(2, policy, () => 0.999)).to.equal(999);
    expect(backoffDelayMs(3, policy, () => 0.5)).to.equal(1000);
    expect(backoffDelayMs(10, policy, () => 0.999)).to.equal(7992);
    expect(backoffDelayMs(4, policy, () => 0)).to.equal(0);
  });

  it('throttling without Retry-After waits 2 to 5 seconds, never milliseconds', () => {
    expect(retryDelayMs(err(429, 'APIGW.0308'), 1, policy, () => 0)).to.equal(2000);
    expect(retryDelayMs(err(429, 'APIGW.0308'), 1, policy, () => 0.999)).to.be.within(4990, 5000);
  });

  it('throttling honours Retry-After, and gives up when it is longer than allowed', () => {
    expect(retryDelayMs(err(429, 'APIGW.0308', { retryAfterMs: 7000 }), 1, policy, () => 0)).to.equal(7000);
    expect(retryDelayMs(err(429, 'APIGW.0308', { retryAfterMs: 120_000 }), 1, policy, () => 0)).to.equal(undefined);
  });

  it('retries 5xx, timeouts and resets; never 4xx other than 429; stops at maxAttempts', () => {
    expect(retryDelayMs(err(500, 'CPS.0003'), 1, policy, () => 0.5)).to.equal(250);
    expect(retryDelayMs(err(undefined, 'Timeout'), 2, policy, () => 0.5)).to.equal(500);
    expect(retryDelayMs(err(undefined, 'ConnectionReset'), 1, policy, () => 0.5)).to.equal(250);
    expect(retryDelayMs(err(401, 'APIGW.0301'), 1, policy)).to.equal(undefined);
    expect(retryDelayMs(err(400, 'CPS.0002'), 1, policy)).to.equal(undefined);
    expect(retryDelayMs(err(404, 'CPS.0005'), 1, policy)).to.equal(undefined);
    expect(retryDelayMs(err(500, 'CPS.0003'), 5, policy)).to.equal(undefined);
    expect(retryDelayMs(new Error('not a CphError'), 1, policy)).to.equal(undefined);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3', 0)).to.equal(3000);
    expect(parseRetryAfter('1.5', 0)).to.equal(1500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', Date.UTC(2026, 0, 1))).to.equal(10_000);
    expect(parseRetryAfter('soon', 0)).to.equal(undefined);
    expect(parseRetryAfter(null, 0)).to.equal(undefined);
  });

  it('withRetry: sleeps the computed delays on the clock and stops after maxAttempts', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const sleeps: number[] = [];
    const run = withRetry(
      async () => {
        calls += 1;
        throw err(503, 'APIGW.0503');
      },
      { policy, clock, random: () => 0.5, onRetry: ({ delayMs }) => sleeps.push(delayMs) },
    );
    let caught: unknown;
    run.catch((e: unknown) => (caught = e));
    for (let i = 0; i < 10 && caught === undefined; i++) await clock.advance(10_000);
    expect(calls).to.equal(5);
    expect(sleeps).to.deep.equal([250, 500, 1000, 2000]);
    expect(caught).to.be.instanceOf(CphError);
    expect((caught as CphError).attempts).to.equal(5);
  });

  it('withRetry: the total-time bound ends retries before maxAttempts', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const tight: RetryPolicy = { ...policy, maxAttempts: 100, maxElapsedMs: 10_000 };
    let caught: unknown;
    withRetry(
      async () => {
        calls += 1;
        throw err(429, 'APIGW.0308');
      },
      { policy: tight, clock, random: () => 1 },
    ).catch((e: unknown) => (caught = e));
    for (let i = 0; i < 20 && caught === undefined; i++) await clock.advance(5_000);
    // 5 s waits: attempts at 0, 5 and 10 s; a third wait would end at 15 s, past the 10 s bound.
    expect(calls).to.equal(3);
    expect((caught as CphError).errorCode).to.equal('APIGW.0308');
  });

  it('withRetry: a non-retryable error is thrown at once, and mayRetry can veto', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const refuse = withRetry(
      async () => {
        calls += 1;
        throw err(401, 'APIGW.0301');
      },
      { policy, clock },
    );
    await refuse.then(
      () => expect.fail('resolved'),
      (e: unknown) => expect((e as CphError).errorCode).to.equal('APIGW.0301'),
    );
    expect(calls).to.equal(1);
    calls = 0;
    await withRetry(
      async () => {
        calls += 1;
        throw err(undefined, 'Timeout', { outcomeUnknown: true });
      },
      { policy, clock, mayRetry: (e) => !e.outcomeUnknown },
    ).catch(() => undefined);
    expect(calls).to.equal(1);
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('withRetry: succeeds after transient failures; an abort during the wait rejects with the reason', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const done = withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw err(500, 'CPS.0003');
        return 'ok';
      },
      { policy, clock, random: () => 0.5 },
    );
    await clock.advance(10_000);
    expect(await done).to.equal('ok');
    const controller = new AbortController();
    let caught: unknown;
    withRetry(
      async () => {
        throw err(500, 'CPS.0003');
      },
      { policy, clock, signal: controller.signal, random: () => 0.5 },
    ).catch((e: unknown) => (caught = e));
    await flushMicrotasks();
    controller.abort(new Error('stop'));
    await flushMicrotasks();
    expect((caught as Error).message).to.equal('stop');
  });
});
