// Exponential backoff, the one formula every retry in sluice uses (watches, the work queue, hook
// calls, alert deliveries): `baseMs`, doubling per failed attempt, capped.

/** The wait before retry number `retry` (0 for the first retry): baseMs · 2^retry, at most maxMs. */
export function backoffDelay(retry: number, baseMs: number, maxMs = Number.POSITIVE_INFINITY): number {
  return Math.min(baseMs * 2 ** Math.max(0, retry), maxMs);
}
