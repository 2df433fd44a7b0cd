// What the benchmarks read of the running controller: its own counters on its metrics port.
import { waitFor } from '../lib/wait.js';
import { ports } from '../test/world/layout.js';

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${ports.controllerMetrics}/metrics`)).text();
}

/** Whether a "VERB resource" key counts as work: watches and the leader Lease do not. */
export const beyondWatchesAndLease = (key: string): boolean => !key.startsWith('WATCH') && !key.endsWith(' leases');

/** The requests beyond watches and the Lease between two readings, by "VERB resource", those above 0. */
export function requestsBetween(before: Map<string, number>, after: Map<string, number>): [string, number][] {
  return [...after]
    .filter(([k]) => beyondWatchesAndLease(k))
    .map(([k, v]): [string, number] => [k, v - (before.get(k) ?? 0)])
    .filter(([, n]) => n > 0);
}

/** The controller's apiserver requests by "VERB resource", from sluice_controller_apiserver_requests_total. */
export async function controllerRequests(): Promise<Map<string, number>> {
  const text = await metricsText();
  return new Map(
    [...text.matchAll(/^sluice_controller_apiserver_requests_total\{verb="(\w+)",resource="([\w.-]*)"\} (\S+)/gm)].map((m) => [
      `${m[1]} ${m[2]}`,
      Number(m[3]),
    ]),
  );
}

/**
 * Waits until the controller has run no reconcile for `quietMs`: the aftermath of a bootstrap
 * (route status, the copies' status, …) has settled and an idle measurement can start.
 */
export async function controllerQuiet(timeoutMs: number, quietMs = 10_000): Promise<void> {
  const reconciles = async () => Number(/^sluice_controller_reconciles_total\{result="ok"\} (\S+)/m.exec(await metricsText())?.[1] ?? 0);
  let last = { n: await reconciles(), since: Date.now() };
  await waitFor(
    async () => {
      const n = await reconciles();
      if (n !== last.n) last = { n, since: Date.now() };
      return Date.now() - last.since >= quietMs;
    },
    { timeoutMs, intervalMs: 1000, what: 'the controller to go quiet after bootstrap' },
  );
}
