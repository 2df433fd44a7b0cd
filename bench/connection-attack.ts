// Can a pod stop admissions by holding connections to the webhook? Admissions of a managed
// Deployment through the real apiserver (which reaches the webhook through its Service, as in a
// cluster) are timed while nothing else talks to the webhook, then while attacker processes,
// each from its own loopback address as pods from their own IPs, hold as many idle, handshaken,
// slow-header and keep-alive connections as they can to both the admission and the metrics port
// (bench/connection-attacker.ts). Before the timed admissions under attack, the benchmark waits
// past the webhook's keep-alive timeout: every connection the apiserver had pooled is gone, so
// each admission it sends must win a new connection from a port the attackers keep full. That is
// the case a plain connection cap loses (it refuses the newest connection, the apiserver's).
import { type ChildProcess, fork } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { annotations, labels } from '../api/contract.js';
import { templateRevision } from '../api/revision.js';
import { at, KubeClient, R } from '../lib/kube/client.js';
import { delay, waitFor } from '../lib/wait.js';
import { paths, ports } from '../test/world/layout.js';
import { readyNamespace } from '../test/world/namespaces.js';
import { type Figure, percentile, round } from './results.js';

const NS = 'bench-attack';
const NAME = 'guarded';

export interface AttackOptions {
  /** Attacker processes, each from its own address (127.0.0.2, .3, …). */
  sources: number;
  /** Connections of each shape per source to the admission port (four shapes). */
  each: number;
  /** Connections of each shape per source to the metrics port (three shapes). */
  metricsEach: number;
  /** Timed admissions per phase, and how many at once. */
  admissions: number;
  concurrency: number;
  /** How long the attack runs before the timed admissions: past the webhook's 30 s keep-alive timeout. */
  holdSeconds: number;
  /** How soon an attacker opens a connection again once one is closed. */
  reconnectMs: number;
  /** Figure names start with it (one source, many sources). */
  label: string;
}

/** One pod holding thousands of connections; then eight pods, more than the port's whole budget between them. */
export const ATTACKS: AttackOptions[] = [
  { label: 'one_source', sources: 1, each: 750, metricsEach: 250, admissions: 300, concurrency: 4, holdSeconds: 35, reconnectMs: 1000 },
  { label: 'eight_sources', sources: 8, each: 100, metricsEach: 30, admissions: 300, concurrency: 4, holdSeconds: 35, reconnectMs: 1000 },
];

interface Phase {
  ms: number[];
  failures: string[];
}

/** `n` metadata UPDATEs of the managed Deployment, `concurrency` at a time: each is an admission review to sluice's /mutate. */
async function admissions(client: KubeClient, n: number, concurrency: number, tag: string): Promise<Phase> {
  const ms: number[] = [];
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const t0 = performance.now();
      try {
        await client.patch(at(R.deployments, NS, NAME), { metadata: { annotations: { tick: `${tag}-${i}` } } }, 'merge');
        ms.push(performance.now() - t0);
      } catch (err) {
        failures.push((err as Error).message.slice(0, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  ms.sort((a, b) => a - b);
  return { ms, failures };
}

/** GET on a fresh connection to the metrics port, as a scraper or the kubelet's probe does, from another address. */
function scrape(path_: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(
      { host: '127.0.0.1', port: ports.webhookMetrics, path: path_, localAddress: '127.0.0.250', agent: false, timeout: 5_000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** The webhook's own count of open connections on a port, and of the address holding the most. */
function openConnections(text: string, port: string): { open: number; largest: number } {
  const read = (name: string) => Number(new RegExp(`^${name}\\{port="${port}"\\} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { open: read('sluice_webhook_connections_open'), largest: read('sluice_webhook_connections_largest_source') };
}

async function counters(): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${ports.webhookMetrics}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(sluice_webhook_connections_(?:evicted|refused)_total)\{([^}]*)\} (\S+)/gm))
    out[`${m[1]}{${m[2]}}`] = Number(m[3]);
  out.handshakes = Number(/^sluice_webhook_tls_handshakes_total (\S+)/m.exec(text)?.[1] ?? 0);
  return out;
}

export async function connectionAttack(opts: AttackOptions): Promise<Figure[]> {
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-bench-attack');
  const attackers: ChildProcess[] = [];
  try {
    await readyNamespace(client, NS);
    const template = { metadata: { labels: { app: NAME } }, spec: { containers: [{ name: 'app', image: 'img:0' }] } };
    await client.create(at(R.deployments, NS), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: NAME,
        namespace: NS,
        labels: { [labels.managed]: 'true' },
        annotations: { [annotations.stableRevision]: templateRevision(template) },
      },
      spec: { replicas: 0, selector: { matchLabels: { app: NAME } }, template },
    });
    // Warm: the apiserver has loaded the configuration, connected, and the webhook's JIT has run.
    await admissions(client, 100, opts.concurrency, 'warm');
    const quiet = await admissions(client, opts.admissions, opts.concurrency, 'quiet');

    const held = { admission: 0, metrics: 0 };
    const now = { admission: 0, metrics: 0 };
    const perSource = new Map<number, { admission: number; metrics: number }>();
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'connection-attacker.js');
    for (let s = 0; s < opts.sources; s++) {
      const child = fork(
        script,
        [
          JSON.stringify({
            host: '127.0.0.1',
            from: `127.0.0.${s + 2}`,
            admissionPort: ports.webhook,
            metricsPort: ports.webhookMetrics,
            each: opts.each,
            metricsEach: opts.metricsEach,
            reconnectMs: opts.reconnectMs,
          }),
        ],
        { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
      );
      child.on('message', (m: { admission: number; metrics: number }) => {
        perSource.set(s, m);
        now.admission = [...perSource.values()].reduce((n, x) => n + x.admission, 0);
        now.metrics = [...perSource.values()].reduce((n, x) => n + x.metrics, 0);
        held.admission = Math.max(held.admission, now.admission);
        held.metrics = Math.max(held.metrics, now.metrics);
      });
      attackers.push(child);
    }
    const before = await counters();
    await waitFor(() => now.admission > 0 || undefined, { timeoutMs: 30_000, what: 'the attackers to hold connections' });
    // Past the keep-alive timeout, so every admission below needs a connection the attackers want too.
    await delay(opts.holdSeconds * 1000);
    const heldBefore = { ...now };
    const scrapes: Promise<{ status: number; body: string }>[] = [];
    const scraping = setInterval(() => scrapes.push(scrape('/metrics'), scrape('/readyz')), 500);
    const attacked = await admissions(client, opts.admissions, opts.concurrency, 'attack');
    clearInterval(scraping);
    const answers = await Promise.all(scrapes);
    const scraped = answers.map((a) => a.status);
    // What the webhook itself held, at the scrapes that got through.
    const seen = { admission: { open: 0, largest: 0 }, metrics: { open: 0, largest: 0 } };
    for (const a of answers.filter((x) => x.body.includes('sluice_webhook_connections_open')))
      for (const port of ['admission', 'metrics'] as const) {
        const c = openConnections(a.body, port);
        seen[port] = { open: Math.max(seen[port].open, c.open || 0), largest: Math.max(seen[port].largest, c.largest || 0) };
      }
    const after = await counters();
    const heldAfter = { ...now };
    const delta = Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k.replace('sluice_webhook_', '')} ${v}`)
      .join(', ');
    const ms = (xs: number[], p: number) => round(percentile(xs, p), 1);
    const shape = `${opts.sources} attacker processes (own loopback addresses), each keeping ${opts.each} idle, ${opts.each} TLS-then-silent, ${opts.each} slow-header and ${opts.each} keep-alive connections to the admission port and ${opts.metricsEach} of three shapes to the metrics port, reopening each ${opts.reconnectMs} ms after it is closed`;
    const noteBase = `${opts.admissions} metadata UPDATEs of a managed Deployment through kube-apiserver (which reaches the webhook through its Service), ${opts.concurrency} at a time`;
    const failures = attacked.failures.length;
    return [
      {
        name: `attack_${opts.label}_admission_p99_quiet`,
        value: ms(quiet.ms, 99),
        unit: 'ms',
        note: `${noteBase}, nothing else connected (median ${ms(quiet.ms, 50)} ms, ${quiet.failures.length} failed)`,
      },
      {
        name: `attack_${opts.label}_admission_p99_under_attack`,
        value: ms(attacked.ms, 99),
        unit: 'ms',
        note: `${noteBase}, after ${opts.holdSeconds} s of attack (past the 30 s keep-alive: the apiserver's pooled connections were gone), while ${shape} (median ${ms(attacked.ms, 50)} ms; webhook counters over the attack: ${delta || 'none'})`,
      },
      {
        name: `attack_${opts.label}_admission_failures`,
        value: failures,
        unit: 'count',
        target: '0',
        note: `admissions refused or failed under the attack, of ${opts.admissions}${failures ? `; first: ${attacked.failures[0]}` : ''}`,
      },
      {
        name: `attack_${opts.label}_connections_held_admission_port`,
        value: seen.admission.open,
        unit: 'connections',
        note: `most connections the webhook had open on its admission port during the attacked admissions, by its own gauge (the address holding the most: ${seen.admission.largest}); the attackers tried to hold ${opts.sources * opts.each * 4} and counted up to ${held.admission} open from their side (${heldBefore.admission} when the timed admissions began, ${heldAfter.admission} at their end: connections the kernel accepted that wait for the webhook to close them); --max-connections 1000, --max-connections-per-source 200`,
      },
      {
        name: `attack_${opts.label}_connections_held_metrics_port`,
        value: seen.metrics.open,
        unit: 'connections',
        note: `most connections the webhook had open on its metrics port (the address holding the most: ${seen.metrics.largest}); the attackers tried ${opts.sources * opts.metricsEach * 3} and counted up to ${held.metrics} from their side; its budget: 64, 16 per source`,
      },
      {
        name: `attack_${opts.label}_metrics_probe_success`,
        value: round(scraped.filter((c) => c === 200).length / Math.max(1, scraped.length), 3),
        unit: 'ratio',
        target: '1',
        note: `GET /metrics and /readyz on fresh connections from another address every 500 ms during the attacked admissions (${scraped.length} requests)`,
      },
    ];
  } finally {
    for (const a of attackers) a.kill();
    await client.delete(at(R.namespaces, undefined, NS)).catch(() => undefined);
    client.close();
  }
}
