// AdmissionReview latency over TLS on loopback: the real webhook process (certificates from
// files; the apiserver only feeds its policy caches), a captured `kubectl set image` review for
// /mutate and the seed's Canary for /validate, load from vegeta at a constant rate (latency
// counted from each request's scheduled start).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { createAuthority, issueCertificate } from '../certs/authority.js';
import { KubeClient } from '../lib/kube/client.js';
import { waitFor } from '../lib/wait.js';
import { paths, ports, root } from '../test/world/layout.js';
import { probe } from '../test/world/probe.js';
import { ensureServiceAccountToken, inClusterRoot } from '../test/world/sluice.js';
import { type Figure, round } from './results.js';

const PORT = 28543;

interface VegetaReport {
  latencies: { '50th': number; '99th': number; max: number };
  throughput: number;
  success: number;
  requests: number;
  status_codes: Record<string, number>;
}

function vegeta(bin: string, dir: string, targets: string, args: string[]): VegetaReport {
  const results = path.join(dir, 'results.bin');
  // One OS thread for the generator, so it leaves the webhook the other core of the two.
  execFileSync(
    path.join(bin, 'vegeta'),
    [
      'attack',
      `-targets=${path.join(dir, targets)}`,
      `-root-certs=${path.join(dir, 'ca.crt')}`,
      '-keepalive=true',
      `-output=${results}`,
      ...args,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, GOMAXPROCS: '1' } },
  );
  return JSON.parse(execFileSync(path.join(bin, 'vegeta'), ['report', '-type=json', results], { encoding: 'utf8' })) as VegetaReport;
}

/** Upper bound of the histogram bucket that holds quantile `q` (frozen decisions, the benchmark's). */
function bucketQuantile(metricsText: string, q: number): number {
  const buckets = [
    ...metricsText.matchAll(/^sluice_webhook_request_duration_seconds_bucket\{le="([^"]+)",endpoint="mutate",decision="frozen"\} (\d+)/gm),
  ].map((m) => [Number(m[1]), Number(m[2])] as const);
  const total = buckets.at(-1)?.[1] ?? 0;
  return buckets.find(([, n]) => n >= q * total)?.[0] ?? NaN;
}

export async function webhookLatency(): Promise<Figure[]> {
  const bin = execFileSync('bash', [path.join(root, 'bench/tools.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  const ca = createAuthority('bench-ca', 3600);
  const leaf = issueCertificate(ca, { commonName: 'bench', usage: 'server', lifetimeSeconds: 3600, ipAddresses: ['127.0.0.1'] });
  fs.writeFileSync(path.join(dir, 'ca.crt'), ca.certPem);
  fs.writeFileSync(path.join(dir, 'tls.crt'), leaf.certPem);
  fs.writeFileSync(path.join(dir, 'tls.key'), leaf.keyPem);
  const body = path.join(root, 'test/fixtures/admission/set-image.json');
  fs.writeFileSync(path.join(dir, 'targets.txt'), `POST https://127.0.0.1:${PORT}/mutate\nContent-Type: application/json\n@${body}\n`);
  // A Canary created by a person: the constraint check of every policy covering its namespace.
  const canary = YAML.parse(fs.readFileSync(path.join(root, 'examples/podinfo/canary.yaml'), 'utf8'));
  const canaryReview = path.join(dir, 'canary-review.json');
  fs.writeFileSync(
    canaryReview,
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'bench',
        kind: { group: 'flagger.app', version: 'v1beta1', kind: 'Canary' },
        resource: { group: 'flagger.app', version: 'v1beta1', resource: 'canaries' },
        namespace: 'test',
        name: 'podinfo',
        operation: 'CREATE',
        userInfo: { username: 'alice' },
        object: canary,
      },
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'validate.txt'),
    `POST https://127.0.0.1:${PORT}/validate\nContent-Type: application/json\n@${canaryReview}\n`,
  );
  // The webhook runs as itself (ServiceAccount sluice-webhook, its token where a kubelet puts it):
  // its caches need rights only that identity has, and it is not ready until they have listed.
  const admin = await KubeClient.load(paths.kubeconfig, 'sluice-bench');
  try {
    await ensureServiceAccountToken(admin, 'webhook');
  } finally {
    admin.close();
  }
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'dist/bin/sluice.js'),
      'webhook',
      `--port=${PORT}`,
      '--bind-address=127.0.0.1',
      `--metrics-port=${PORT + 1}`,
      `--tls-cert-file=${path.join(dir, 'tls.crt')}`,
      `--tls-key-file=${path.join(dir, 'tls.key')}`,
      `--in-cluster-root=${inClusterRoot('webhook')}`,
    ],
    {
      stdio: 'ignore',
      env: {
        ...process.env,
        SLUICE_LOG_LEVEL: 'warn',
        KUBERNETES_SERVICE_HOST: '127.0.0.1',
        KUBERNETES_SERVICE_PORT: String(ports.apiserver),
      },
    },
  );
  try {
    await waitFor(async () => (await probe(`https://127.0.0.1:${PORT}/readyz`, { ca: ca.certPem })).status === 200, {
      timeoutMs: 15_000,
      what: 'the webhook to serve',
    });
    vegeta(bin, dir, 'targets.txt', ['-rate=500/1s', '-duration=5s']); // warm-up: JIT, TLS sessions
    // Three runs: on two cores shared with the world, one run's tail says more about its
    // neighbours than about the webhook; the median run is reported, the others beside it.
    const runs = [0, 1, 2]
      .map(() => vegeta(bin, dir, 'targets.txt', ['-rate=500/1s', '-duration=10s']))
      .sort((a, b) => a.latencies['99th'] - b.latencies['99th']);
    const fixed = runs[1]!;
    const serverP99 = bucketQuantile(await (await fetch(`http://127.0.0.1:${PORT + 1}/metrics`)).text(), 0.99);
    const max = vegeta(bin, dir, 'targets.txt', ['-rate=0', '-max-workers=32', '-duration=10s']);
    vegeta(bin, dir, 'validate.txt', ['-rate=500/1s', '-duration=3s']);
    const validate = vegeta(bin, dir, 'validate.txt', ['-rate=500/1s', '-duration=20s']);
    const ms = (ns: number) => round(ns / 1e6, 3);
    const size = Math.round(fs.statSync(body).size / 1024);
    return [
      {
        name: 'webhook_admission_p50_at_500rps',
        value: ms(fixed.latencies['50th']),
        unit: 'ms',
        note: `vegeta, 500 req/s for 10 s over TLS (keep-alive) on loopback, the median of 3 runs by p99, ${fixed.requests} requests, success ${fixed.success * 100}%; body: captured kubectl set image review (${size} KiB); vegeta with GOMAXPROCS=1 beside the webhook on the 2 cores, the local world running idle beside them (the webhook's policy caches watch its apiserver)`,
      },
      {
        name: 'webhook_admission_p99_at_500rps',
        value: ms(fixed.latencies['99th']),
        unit: 'ms',
        target: '< 5 ms',
        note: `same run; max ${ms(fixed.latencies.max)} ms; the three runs' p99: ${runs.map((r) => ms(r.latencies['99th'])).join(', ')} ms`,
      },
      {
        // A histogram answers in buckets: this is the bound of the one holding the 99th percentile,
        // at most that long, not a measured percentile (the vegeta figures above are measured).
        name: 'webhook_handler_p99_upper_bound_at_500rps',
        value: serverP99 * 1000,
        unit: 'ms',
        note: "all three runs, the webhook's own histogram (sluice_webhook_request_duration_seconds, from body parsing to answer): an upper bound, not a measurement: the bound of the bucket holding the 99th percentile",
      },
      {
        name: 'webhook_validate_canary_p99_at_500rps',
        value: ms(validate.latencies['99th']),
        unit: 'ms',
        target: '< 5 ms',
        note: `vegeta, 500 req/s for 20 s, /validate with a Canary CREATE review (the seed's Canary), answered from the policy caches; ${validate.requests} requests, success ${validate.success * 100}%, p50 ${ms(validate.latencies['50th'])} ms`,
      },
      {
        name: 'webhook_max_sustained_rate',
        value: Math.round(max.throughput),
        unit: 'req/s',
        note: `vegeta, unthrottled with 32 workers for 10 s, one webhook process; success ${round(max.success * 100, 1)}%, p99 ${ms(max.latencies['99th'])} ms`,
      },
    ];
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
