/**
 * The one exponential backoff: `base` for the first attempt, doubling with each attempt in a row, never
 * above `max`. Every retry delay of the operator (queue, watches, CPH calls, holds, sweeps) is built on it.
 */
export function backoff(baseMs: number, maxMs: number, attempt: number): number {
  // 2 ** 1024 is Infinity, which Math.min turns into `max`; an attempt below 1 is the first.
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
