// Waiting on a condition with a deadline: the only way tests and scripts synchronise.
import { AssertionError } from 'node:assert';
export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Says what was awaited, for the error when the deadline passes. */
  what: string;
}

export class DeadlineError extends Error {}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns a value other than undefined/false, and returns that value.
 * A probe that throws counts as "not yet" (a request that failed, an object not there yet); the
 * last error is reported if the deadline passes. An assertion that fails in a probe is "wrong",
 * not "not yet": it fails the wait at once, so a broken invariant is reported as itself and not as
 * a timeout minutes later.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 200;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new DeadlineError(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${why}`);
    }
    await delay(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
}
