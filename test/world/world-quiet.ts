// What the benchmarks read of the world's apiserver: its own request counters (GET /metrics, with
// the admin client), to know when the world has finished what an earlier step left it to do.
import type { KubeClient } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';

/**
 * Requests the apiserver has answered, beyond watches, Leases (every component renews its own)
 * and requests for no resource (this probe's own GET /metrics among them).
 */
export function requestsAnswered(metricsText: string): number {
  let total = 0;
  for (const m of metricsText.matchAll(/^apiserver_request_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = m[1]!;
    const verb = /(?:^|,)verb="([^"]*)"/.exec(labels)?.[1];
    const resource = /(?:^|,)resource="([^"]*)"/.exec(labels)?.[1] ?? '';
    if (verb === 'WATCH' || resource === '' || resource === 'leases') continue;
    total += Number(m[2]);
  }
  return total;
}

export interface Quiet {
  /** Seconds from the call until the world was quiet. */
  waitedSeconds: number;
  /** The rate over the last window, requests a second. */
  perSecond: number;
}

/**
 * Waits until the apiserver answers at most `perSecond` requests a second (beyond watches and
 * Leases) over a whole `windowMs`. What one run of a benchmark deletes, the world's
 * controller-manager goes on cleaning up for minutes afterwards (Endpoints, EndpointSlices, the
 * garbage collector's checks), on the same two cores: a run started meanwhile measures the last
 * one's aftermath as well as itself.
 */
export async function worldQuiet(client: KubeClient, opts: { perSecond?: number; windowMs?: number; timeoutMs: number }): Promise<Quiet> {
  const perSecond = opts.perSecond ?? 5;
  const windowMs = opts.windowMs ?? 10_000;
  const read = async () => requestsAnswered((await client.request<string>('GET', '/metrics')).body);
  const t0 = Date.now();
  let last = { n: await read(), at: Date.now() };
  let rate = Number.POSITIVE_INFINITY;
  await waitFor(
    async () => {
      // A rate over less than a whole window (the first probe comes at once) says nothing.
      if (Date.now() - last.at < windowMs) return false;
      const n = await read();
      const at = Date.now();
      rate = (n - last.n) / ((at - last.at) / 1000);
      last = { n, at };
      return rate <= perSecond;
    },
    {
      timeoutMs: opts.timeoutMs,
      intervalMs: 1000,
      what: `the world to go quiet (at most ${perSecond} apiserver requests a second beyond watches and Leases, over ${windowMs / 1000} s)`,
    },
  );
  return { waitedSeconds: Math.round((Date.now() - t0) / 100) / 10, perSecond: Math.round(rate * 10) / 10 };
}
