/**
 * When and how long to wait before trying a CPH call again. Exponential backoff with full jitter (a random
 * wait between 0 and base*2^(attempt-1), capped), so that many clients that failed together do not come back
 * together; a bound on attempts and a bound on the total time, whichever comes first. Throttling (429 /
 * APIGW.0308) honours Retry-After, and otherwise waits the 2 to 5 seconds the gateway docs ask for. Only
 * failures that `CphError.retryable` marks are retried: 5xx, throttling, timeouts and broken connections,
 * never a 4xx (a 401 retried in a loop would lock the AK after five bad signatures).
 *
 * Written here rather than taken from npm (p-retry, async-retry): it must sleep on the injected Clock and know
 * CPH's throttling rule, and the whole policy is a page of code.
 */
import type { Clock } from '../runtime/clock.js';
import { backoff } from '../runtime/backoff.js';
import { CphError, isThrottle } from './errors.js';

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 disables retries. */
  maxAttempts: number;
  /** No retry starts later than this after the first attempt began (the wait included). */
  maxElapsedMs: number;
  /** The first backoff ceiling; doubles each attempt. */
  baseDelayMs: number;
  /** The largest backoff ceiling. */
  maxDelayMs: number;
  /** Wait when throttled without a Retry-After header: uniform in [min, max]. */
  throttleDelayMs: { min: number; max: number };
  /** Longest Retry-After honoured; a longer one ends the retries. */
  maxRetryAfterMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  maxElapsedMs: 60_000,
  baseDelayMs: 500,
  maxDelayMs: 15_000,
  throttleDelayMs: { min: 2_000, max: 5_000 },
  maxRetryAfterMs: 30_000,
};

/** Full jitter: uniform in [0, min(maxDelay, base * 2^(attempt-1))]; `attempt` is the attempt that failed (1-based). */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * backoff(policy.baseDelayMs, policy.maxDelayMs, attempt));
}

/** Parses Retry-After: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** The wait before the next attempt after `err` ended attempt number `attempt`, or undefined to give up. */
export function retryDelayMs(
  err: unknown,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number | undefined {
  if (!(err instanceof CphError) || !err.retryable) return undefined;
  if (attempt >= policy.maxAttempts) return undefined;
  if (isThrottle(err)) {
    if (err.retryAfterMs !== undefined) return err.retryAfterMs > policy.maxRetryAfterMs ? undefined : err.retryAfterMs;
    const { min, max } = policy.throttleDelayMs;
    return Math.floor(min + random() * (max - min));
  }
  return backoffDelayMs(attempt, policy, random);
}

export interface RetryContext {
  policy: RetryPolicy;
  clock: Clock;
  signal?: AbortSignal | undefined;
  random?: () => number;
  /** Whether this error may be retried for this request (e.g. a POST must not repeat after a timeout). */
  mayRetry?: (err: CphError) => boolean;
  onRetry?: (info: { attempt: number; delayMs: number; error: CphError }) => void;
}

/**
 * Runs `attempt(n)` until it succeeds, fails with an error not worth retrying, or the attempt or time bound
 * is reached. The last error is thrown with `attempts` set.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, context: RetryContext): Promise<T> {
  const { policy, clock } = context;
  const started = clock.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (err instanceof CphError) err.attempts = n;
      if (!(err instanceof CphError) || (context.mayRetry && !context.mayRetry(err))) throw err;
      const delay = retryDelayMs(err, n, policy, context.random);
      if (delay === undefined) throw err;
      if (clock.now() - started + delay > policy.maxElapsedMs) throw err;
      context.onRetry?.({ attempt: n, delayMs: delay, error: err });
      await clock.sleep(delay, context.signal);
    }
  }
}
