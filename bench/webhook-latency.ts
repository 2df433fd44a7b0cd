// AdmissionReview latency over TLS on loopback: the real webhook process (certificates from
// files, so no apiserver is involved), a captured `kubectl set image` review as the body.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createAuthority, issueCertificate } from '../certs/authority.js';
import { root } from '../test/world/layout.js';
import { waitFor } from '../lib/wait.js';
import { probe } from '../test/world/probe.js';
import { closedLoop, makeTarget, openLoop } from './loadgen.js';
import { percentile, round, type Figure } from './results.js';

const PORT = 28543;

export async function webhookLatency(): Promise<Figure[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  const ca = createAuthority('bench-ca', 3600);
  const leaf = issueCertificate(ca, { commonName: 'bench', usage: 'server', lifetimeSeconds: 3600, ipAddresses: ['127.0.0.1'] });
  fs.writeFileSync(path.join(dir, 'tls.crt'), leaf.certPem);
  fs.writeFileSync(path.join(dir, 'tls.key'), leaf.keyPem);
  const child = spawn(process.execPath, [
    path.join(root, 'dist/webhook/main.js'),
    `--port=${PORT}`,
    '--bind-address=127.0.0.1',
    `--metrics-port=${PORT + 1}`,
    `--tls-cert-file=${path.join(dir, 'tls.crt')}`,
    `--tls-key-file=${path.join(dir, 'tls.key')}`,
  ], { stdio: 'ignore', env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' } });
  try {
    await waitFor(async () => (await probe(`https://127.0.0.1:${PORT}/readyz`, { ca: ca.certPem })).status === 200, { timeoutMs: 15_000, what: 'the webhook to serve' });
    const body = fs.readFileSync(path.join(root, 'test/fixtures/admission/set-image.json'), 'utf8');
    const target = makeTarget(`https://127.0.0.1:${PORT}/mutate`, body, ca.certPem);
    await closedLoop(target, 8, 2); // warm-up: JIT, TLS sessions, sockets
    const open = await openLoop(target, 500, 15);
    const closed = await closedLoop(target, 32, 10);
    const throughput = closed.latenciesMs.length / closed.seconds;
    return [
      { name: 'webhook_admission_p50_at_500rps', value: round(percentile(open.latenciesMs, 50), 3), unit: 'ms', note: `open loop, 500 req/s for 15 s over TLS on loopback, ${open.latenciesMs.length} answers, ${open.errors} errors; body: captured kubectl set image review (${Math.round(body.length / 1024)} KiB)` },
      { name: 'webhook_admission_p99_at_500rps', value: round(percentile(open.latenciesMs, 99), 3), unit: 'ms', target: '< 5 ms', note: 'same run, 99th percentile from the scheduled start of each request' },
      { name: 'webhook_max_sustained_rate', value: Math.round(throughput), unit: 'req/s', note: `closed loop, 32 connections for 10 s, one webhook process (the load generator shares the 2 cores); p99 ${round(percentile(closed.latenciesMs, 99), 2)} ms, ${closed.errors} errors` },
    ];
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
