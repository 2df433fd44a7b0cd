// What the webhook adds to an UPDATE through the real apiserver: the same change sent in turn to a
// managed Deployment (the apiserver calls sluice's webhook), to one the floor webhook answers
// (bench/floor-webhook.ts: the least any webhook can be, reached the same way), to one the same
// floor webhook answers at a loopback URL (no Service, no pod-network proxy), and to an unmanaged
// one (no webhook), in one run, compared by median and 90th percentile. The floor says what the
// machine and the world's path to a webhook cost on their own (Service endpoint, the pod
// network's proxy, TLS, the apiserver encoding the review and applying the patch); what sluice
// adds above it is its own; the direct floor says how much of the floor is the world's proxy,
// which a real cluster's pod network does not have.
import { type ChildProcess, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { annotations, labels } from '../api/contract.js';
import { templateRevision } from '../api/revision.js';
import { createAuthority, issueCertificate } from '../certs/authority.js';
import { at, KubeClient, R } from '../lib/kube/client.js';
import { waitFor } from '../lib/wait.js';
import { paths, ports } from '../test/world/layout.js';
import { readyNamespace } from '../test/world/namespaces.js';
import { writeRule } from '../test/world/pod-network.js';
import { FLOOR_WARNING } from './floor-webhook.js';
import { type Figure, percentile, round } from './results.js';

const NS = 'bench-overhead';
const FLOOR = 'sluice-bench-floor';
const FLOOR_LABEL = 'sluice.dev/bench-floor';
const FLOOR_PORT = 8443;
const TARGETS = ['with-webhook', 'floor', 'floor-direct', 'without-webhook'] as const;
type Target = (typeof TARGETS)[number];

function deployment(name: Target) {
  const app = { app: name };
  const template = { metadata: { labels: app }, spec: { containers: [{ name: 'app', image: 'img:0' }] } };
  const managed = name === 'with-webhook';
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: NS,
      labels: managed ? { [labels.managed]: 'true' } : name.startsWith('floor') ? { [FLOOR_LABEL]: name } : {},
      annotations: managed ? { [annotations.stableRevision]: templateRevision(template) } : {},
    },
    // No replicas: the measurement is the request path, not pod churn.
    spec: { replicas: 0, selector: { matchLabels: app }, template },
  };
}

/**
 * The floor webhook, served as sluice's is: a pod (kwok's) behind a Service, the apiserver dialling
 * its endpoint through the pod network, which forwards to the local process; registered like
 * sluice's UPDATE freeze, for Deployments labelled FLOOR_LABEL=floor. Registered a second time at
 * its loopback URL, for those labelled FLOOR_LABEL=floor-direct.
 */
async function startFloor(client: KubeClient): Promise<{ stop: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-floor-'));
  const ca = createAuthority('sluice-bench-floor-ca', 3600);
  const leaf = issueCertificate(ca, {
    commonName: FLOOR,
    dnsNames: [`${FLOOR}.${NS}.svc`],
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    lifetimeSeconds: 3600,
  });
  fs.writeFileSync(path.join(dir, 'tls.crt'), leaf.certPem);
  fs.writeFileSync(path.join(dir, 'tls.key'), leaf.keyPem);
  const program = path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-webhook.js');
  const child: ChildProcess = fork(program, [path.join(dir, 'tls.crt'), path.join(dir, 'tls.key')], { stdio: 'inherit' });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve(Number(m)));
    child.once('exit', (code) => reject(new Error(`the floor webhook exited (${code}) before listening`)));
  });
  const podLabels = { app: FLOOR };
  writeRule(paths.podNetworkRules, { namespace: NS, matchLabels: podLabels, port: FLOOR_PORT, to: `127.0.0.1:${port}` });
  await client.create(at(R.deployments, NS), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: FLOOR, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: podLabels },
      template: {
        metadata: { labels: podLabels },
        spec: { containers: [{ name: 'floor', image: 'floor', ports: [{ containerPort: FLOOR_PORT }] }] },
      },
    },
  });
  await client.create(at(R.services, NS), {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: FLOOR, namespace: NS },
    spec: { selector: podLabels, ports: [{ port: 443, targetPort: FLOOR_PORT }] },
  });
  const configuration = at(R.mutatingwebhooks, undefined, FLOOR);
  await client.delete(configuration);
  await client.create(R.mutatingwebhooks, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: FLOOR },
    webhooks: (
      [
        ['floor', { service: { namespace: NS, name: FLOOR, path: '/mutate', port: 443 } }],
        ['floor-direct', { url: `https://127.0.0.1:${port}/mutate` }],
      ] as const
    ).map(([name, to]) => ({
      name: `${name}.bench.sluice.dev`,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      timeoutSeconds: 5,
      failurePolicy: 'Fail',
      matchPolicy: 'Equivalent',
      reinvocationPolicy: 'Never',
      clientConfig: { ...to, caBundle: Buffer.from(ca.certPem).toString('base64') },
      rules: [{ operations: ['UPDATE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'], scope: 'Namespaced' }],
      objectSelector: { matchLabels: { [FLOOR_LABEL]: name } },
    })),
  });
  return {
    stop: async () => {
      await client.delete(configuration).catch(() => undefined);
      child.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The webhook's own figures: mutate answers and their summed handling time, TLS handshakes. */
async function webhookCounters(): Promise<{ answers: number; seconds: number; handshakes: number }> {
  const text = await (await fetch(`http://127.0.0.1:${ports.webhookMetrics}/metrics`)).text();
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  return {
    answers: sum(/^sluice_webhook_request_duration_seconds_count\{endpoint="mutate"[^}]*\} (\S+)/gm),
    seconds: sum(/^sluice_webhook_request_duration_seconds_sum\{endpoint="mutate"[^}]*\} (\S+)/gm),
    handshakes: sum(/^sluice_webhook_tls_handshakes_total (\S+)/gm),
  };
}

export async function apiserverOverhead(rounds = 300): Promise<Figure[]> {
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-bench');
  let floor: { stop: () => Promise<void> } | undefined;
  try {
    await readyNamespace(client, NS);
    floor = await startFloor(client);
    for (const name of TARGETS) await client.create(at(R.deployments, NS), deployment(name));
    // The apiserver loads configurations and endpoints asynchronously: wait until it calls the floor both ways.
    for (const name of ['floor', 'floor-direct'] as const) {
      await waitFor(
        async () => {
          const probe = { spec: { template: { spec: { containers: [{ name: 'app', image: `probe:${Date.now()}` }] } } } };
          const res = await client.patch(at(R.deployments, NS, name), probe, 'strategic', { dryRun: 'All' }).catch(() => undefined);
          return res?.warnings.some((w) => w.includes(FLOOR_WARNING)) || undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250, what: `the apiserver to call the floor webhook for Deployment ${NS}/${name}` },
      );
    }
    // Two kinds of UPDATE: a template change (the webhook freezes it: patch and warning) and a
    // metadata change (the webhook passes it untouched).
    const kinds = {
      template: (i: number) => ({
        body: { spec: { template: { spec: { containers: [{ name: 'app', image: `img:${i + 1}` }] } } } },
        type: 'strategic' as const,
      }),
      metadata: (i: number) => ({ body: { metadata: { annotations: { tick: String(i) } } }, type: 'merge' as const }),
    };
    const figures: Figure[] = [];
    for (const [kind, make] of Object.entries(kinds)) {
      const timings: Record<Target, number[]> = { 'with-webhook': [], floor: [], 'floor-direct': [], 'without-webhook': [] };
      // A webhook in service is warm: the first 100 rounds (JIT, connections, caches) are not counted.
      const warmup = 100;
      let before = await webhookCounters();
      for (let i = 0; i < rounds + warmup; i++) {
        if (i === warmup) before = await webhookCounters();
        for (const name of TARGETS) {
          const { body, type } = make(i);
          const t0 = performance.now();
          await client.patch(at(R.deployments, NS, name), body, type);
          if (i >= warmup) timings[name].push(performance.now() - t0);
        }
      }
      const after = await webhookCounters();
      for (const t of TARGETS) timings[t].sort((a, b) => a - b);
      const [w, f, fd, wo] = [timings['with-webhook'], timings.floor, timings['floor-direct'], timings['without-webhook']];
      const ms = (xs: number[], p: number) => round(percentile(xs, p));
      const handlerMs = ((after.seconds - before.seconds) / Math.max(1, after.answers - before.answers)) * 1000;
      const note =
        `${rounds} ${kind} updates each (after 100 uncounted), in turn, through kube-apiserver on loopback; ` +
        `sluice's webhook: median ${ms(w, 50)} ms, p90 ${ms(w, 90)} ms (its own handling: mean ${round(handlerMs, 3)} ms; ${after.handshakes - before.handshakes} new TLS connections); ` +
        `floor webhook: median ${ms(f, 50)} ms, p90 ${ms(f, 90)} ms; floor webhook at a loopback URL: median ${ms(fd, 50)} ms, p90 ${ms(fd, 90)} ms; ` +
        `no webhook: median ${ms(wo, 50)} ms, p90 ${ms(wo, 90)} ms`;
      const prefix = kind === 'template' ? 'apiserver_update_latency' : 'apiserver_metadata_update_latency';
      const ratio = (a: number[], b: number[], p: number) => round(percentile(a, p) / percentile(b, p), 3);
      figures.push(
        { name: `${prefix}_ratio_median`, value: ratio(w, wo, 50), unit: 'ratio', target: '< 1.25', note },
        { name: `${prefix}_ratio_p90`, value: ratio(w, wo, 90), unit: 'ratio', note: 'same run, 90th percentiles' },
        {
          name: `${prefix}_floor_ratio_median`,
          value: ratio(f, wo, 50),
          unit: 'ratio',
          note: 'same run: the floor webhook against no webhook, medians (what any webhook costs on this machine and path)',
        },
        {
          name: `${prefix}_floor_direct_ratio_median`,
          value: ratio(fd, wo, 50),
          unit: 'ratio',
          note: "same run: the floor webhook at a loopback URL against no webhook, medians (the floor without the world's pod-network proxy)",
        },
        {
          name: `${prefix}_over_floor_median`,
          value: ratio(w, f, 50),
          unit: 'ratio',
          note: "same run: sluice's webhook against the floor webhook, medians (what sluice adds above the floor)",
        },
      );
    }
    return figures;
  } finally {
    await floor?.stop();
    await client.delete(at(R.namespaces, undefined, NS)).catch(() => undefined);
    client.close();
  }
}
