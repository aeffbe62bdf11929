/**
 * A token bucket that keeps one CPH account's calls under a chosen rate. The gateway allows 200 requests per
 * second per API and locks nothing for going over, but the docs warn that the management plane is limited
 * and that bulk work on one server blocks other work there, so the default stays far below (20/s).
 *
 * Guarantees:
 * - at most `burst` calls pass at once after a quiet period, and at most `qps` per second on average;
 * - waiters are served in the order they called `acquire` (each reserves the next free slot);
 * - a waiter whose AbortSignal fires stops waiting, rejects with the signal's reason, and hands its slot back;
 * - one instance is meant to be shared by every caller of one account (see `RateLimiterRegistry`).
 *
 * Written here rather than taken from npm: it is twenty lines, it must run on the injected Clock so tests can
 * drive it with a fake one, and the usual packages (limiter, bottleneck) schedule on real timers.
 */
import type { Clock } from '../runtime/clock.js';

export interface RateLimiterOptions {
  /** Average calls per second; default 20. */
  qps?: number;
  /** Calls of any one API per second, for the per-API cap of the registry; default floor(qps). */
  apiQps?: number;
  /** Calls allowed at once after a quiet period; default equal to qps (at least 1). */
  burst?: number;
  clock: Clock;
}

export const defaultQps = 20;

export interface RateLimiter {
  /** Resolves when the caller may make one call; rejects with `signal.reason` if the signal aborts first. */
  acquire(signal?: AbortSignal): Promise<void>;
}

export class TokenBucket implements RateLimiter {
  readonly qps: number;
  readonly burst: number;
  private readonly clock: Clock;
  /** May go negative: each waiter reserves a token it will own once the bucket refills. */
  private tokens: number;
  private last: number;

  constructor(options: RateLimiterOptions) {
    const qps = options.qps ?? defaultQps;
    if (!(qps > 0) || !Number.isFinite(qps))
      throw new RangeError(`rate limit qps must be a positive number, got ${qps}`);
    const burst = options.burst ?? Math.max(1, Math.floor(qps));
    if (!(burst >= 1) || !Number.isFinite(burst))
      throw new RangeError(`rate limit burst must be at least 1, got ${burst}`);
    this.qps = qps;
    this.burst = burst;
    this.clock = options.clock;
    this.tokens = burst;
    this.last = options.clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.qps) / 1000);
  }

  /** Tokens available now (negative when callers are queued); for tests and metrics. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.refill();
    this.tokens -= 1;
    if (this.tokens >= 0) return;
    const waitMs = Math.ceil((-this.tokens * 1000) / this.qps);
    try {
      await this.clock.sleep(waitMs, signal);
    } catch (err) {
      this.tokens += 1;
      throw err;
    }
  }
}

/**
 * At most `limit` calls per key (one CPH API) start in any window of `windowMs` (default one second). The
 * gateway counts requests per API per second, and a token bucket lets up to burst + qps calls through in one
 * second after a quiet period; this cap keeps every API at or under qps in every second, so a budget set to
 * the gateway's limit never earns 429s (and the retries they cost) in a bulk sweep or burst of writes.
 * Guarantees: waiters of one key start in the order they called; an aborted waiter gives its slot back.
 */
export class ApiWindowLimiter {
  /** Per key: the start times reserved within the last window and after, ascending. */
  private readonly starts = new Map<string, number[]>();
  readonly limit: number;
  private readonly windowMs: number;

  constructor(private readonly options: { limit: number; windowMs?: number; clock: Clock }) {
    if (!Number.isInteger(options.limit) || options.limit < 1)
      throw new RangeError(`calls per window must be a whole number of at least 1, got ${options.limit}`);
    this.limit = options.limit;
    this.windowMs = options.windowMs ?? 1_000;
  }

  async acquire(key: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    const now = this.options.clock.now();
    let starts = this.starts.get(key);
    if (!starts) this.starts.set(key, (starts = []));
    while (starts.length > 0 && starts[0]! <= now - this.windowMs) starts.shift();
    const at = starts.length < this.limit ? now : Math.max(now, starts[starts.length - this.limit]! + this.windowMs);
    starts.push(at);
    if (at <= now) return;
    try {
      await this.options.clock.sleep(at - now, signal);
    } catch (err) {
      const index = starts.lastIndexOf(at);
      if (index >= 0) starts.splice(index, 1);
      throw err;
    }
  }
}

/** One bucket per account key (endpoint + project, or AK), so that every caller of one account shares it. */
export class RateLimiterRegistry {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly windows = new Map<string, ApiWindowLimiter>();

  constructor(private readonly defaults: RateLimiterOptions) {}

  forAccount(key: string): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(this.defaults);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** The per-API cap of one account key: apiQps (default qps) calls of one API in any second. */
  apiWindowForAccount(key: string): ApiWindowLimiter {
    let window = this.windows.get(key);
    if (!window) {
      // 1.05 s rather than 1 s: the gateway counts arrivals, which trail the starts by a varying latency.
      const limit = Math.max(1, Math.floor(this.defaults.apiQps ?? this.defaults.qps ?? defaultQps));
      window = new ApiWindowLimiter({ limit, windowMs: 1_050, clock: this.defaults.clock });
      this.windows.set(key, window);
    }
    return window;
  }
}
