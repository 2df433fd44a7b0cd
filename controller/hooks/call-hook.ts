// Calling a Canary's analysis webhooks with Flagger's payload. A hook that hangs, refuses or
// answers non-2xx costs at most its timeout (retries included) and comes back as a result naming
// what happened; it never throws.

import { parseDuration } from '../../api/duration.js';
import type { Canary, CanaryWebhook, Phase } from '../../api/flagger-types.js';
import { backoffDelay } from '../../lib/backoff.js';
import { readBounded } from '../../lib/bounded-body.js';
import { EgressDenied, type EgressGuard, egress, guardedFetch } from '../../lib/egress-guard.js';
import { delay } from '../../lib/wait.js';
import type { HookResult } from '../check-results.js';

/** Flagger's default when a hook gives no timeout. */
export const DEFAULT_HOOK_TIMEOUT_MS = 10_000;
/**
 * The longest a hook may take, whatever its `timeout` says (Flagger's guides give pre-rollout
 * test hooks a few minutes). Hooks run beside the reconcile workers (checks-in-flight.ts), each
 * holding one of a bounded number of check slots: the ceiling bounds how long, so a
 * `timeout: 500h` does not hold one for ever.
 */
export const MAX_HOOK_TIMEOUT_MS = 5 * 60_000;
/** A hook's answer only names its outcome: the first 64 KiB are read, the rest is not. */
export const MAX_HOOK_BODY_BYTES = 64 * 1024;

export interface HookPayload {
  name: string;
  namespace: string;
  phase: Phase;
  checksum: string;
  metadata: Record<string, string>;
}

/** The body Flagger POSTs to a hook: the Canary, its phase, the revision under test, the hook's metadata. */
export function hookPayload(
  canary: Canary,
  hook: Pick<CanaryWebhook, 'metadata'>,
  phase: Phase | undefined,
  extra: Record<string, string> = {},
): HookPayload {
  return {
    name: canary.metadata.name,
    namespace: canary.metadata.namespace ?? '',
    phase: phase ?? canary.status?.phase ?? '',
    checksum: canary.status?.lastAppliedSpec ?? '',
    metadata: { ...(hook.metadata ?? {}), ...extra },
  };
}

const brief = (text: string) => {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
};

/**
 * POSTs `payload` to the hook; `retries` more attempts after a failure, with a short backoff,
 * all within the one timeout. `signal` ends it early (the step it was asked for has moved on).
 */
export async function callHook(
  hook: CanaryWebhook,
  payload: HookPayload,
  fetchImpl: typeof fetch = fetch,
  signal?: AbortSignal,
  guard: EgressGuard = egress,
): Promise<HookResult> {
  let timeoutMs: number;
  try {
    timeoutMs = Math.min(parseDuration(hook.timeout, DEFAULT_HOOK_TIMEOUT_MS), MAX_HOOK_TIMEOUT_MS);
  } catch (err) {
    return { name: hook.name, ok: false, message: `has an invalid timeout: ${(err as Error).message}` };
  }
  try {
    await guard.check(hook.url);
  } catch (err) {
    if (err instanceof EgressDenied) return { name: hook.name, ok: false, message: `may not be called: ${err.message}` };
    throw err;
  }
  const deadline = Date.now() + timeoutMs;
  const attempts = 1 + Math.max(0, hook.retries ?? 0);
  const send = guardedFetch(fetchImpl, guard);
  let last = '';
  for (let i = 0; i < attempts; i++) {
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) break;
    try {
      const res = await send(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(left)]) : AbortSignal.timeout(left),
      });
      const body = await readBounded(res, MAX_HOOK_BODY_BYTES, true).catch(() => '');
      if (res.status >= 200 && res.status < 300) return { name: hook.name, ok: true, message: `answered ${res.status}` };
      last = `answered ${res.status}${body ? `: ${brief(body)}` : ''}`;
    } catch (err) {
      if (err instanceof EgressDenied) return { name: hook.name, ok: false, message: `may not be called: ${err.message}` };
      const e = err as Error & { cause?: { code?: string; message?: string } };
      last = signal?.aborted
        ? 'was not needed any more (the step moved on)'
        : e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `timed out after ${timeoutMs / 1000}s`
          : `could not be reached at ${hook.url}: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
    }
    if (i + 1 < attempts) await delay(backoffDelay(i, 200, Math.max(0, deadline - Date.now())));
  }
  return { name: hook.name, ok: false, message: last || `timed out after ${timeoutMs / 1000}s` };
}
