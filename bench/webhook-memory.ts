// The webhook's resident memory with many Canaries and managed Deployments in the cluster: its
// caches hold them (webhook/admission-cache.ts). Each variant is a webhook process started beside
// the world's own (the apiserver keeps calling that one), given time to list and settle, then
// read from /proc. The variants are V8 heap settings, so the image's are chosen from figures.
import { performance } from 'node:perf_hooks';
import { annotations as A, labels as L, values } from '../api/contract.js';
import { CR } from '../api/flagger-types.js';
import { at, KubeClient, R } from '../lib/kube/client.js';
import { delay } from '../lib/wait.js';
import { paths } from '../test/world/layout.js';
import { readyNamespace } from '../test/world/namespaces.js';
import { freePort } from '../test/world/probe.js';
import { ensureStarted, stopComponent } from '../test/world/processes.js';
import { thisBuild, webhookSpec } from '../test/world/sluice.js';
import { inBatches, sample } from './process-sample.js';
import { type Figure, percentile, round } from './results.js';

export interface WebhookMemoryOptions {
  namespaces: number;
  perNamespace: number;
  /** How long each process runs after it is ready before it is read (its caches listed, the heap settled). */
  settleSeconds: number;
  /** V8 flags per variant; the key names the figure. */
  variants: Record<string, string[]>;
}

const nsName = (i: number) => `bench-wmem-${i}`;

/** A Canary as the controller leaves it after a release: spec and a status of realistic size (the dashboard bench too). */
export function canary(ns: string, name: string) {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace: ns },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 9898, gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
      analysis: {
        interval: '1m',
        threshold: 5,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [
          { name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } },
          { name: 'error-ratio', interval: '1m', thresholdRange: { max: 1 }, templateRef: { name: 'error-ratio', namespace: ns } },
        ],
        webhooks: [{ name: 'load-test', url: 'http://tester.test/', timeout: '5s', metadata: { cmd: 'hey -z 1m -q 10 -c 2 http://app/' } }],
      },
    },
  };
}

export function status(now: string) {
  const condition = (type: string, s: string, reason: string, message: string) => ({
    type,
    status: s,
    reason,
    message,
    lastUpdateTime: now,
    lastTransitionTime: now,
  });
  return {
    phase: 'Succeeded',
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 6,
    lastAppliedSpec: '0123456789abcdef',
    lastPromotedSpec: '0123456789abcdef',
    lastTransitionTime: now,
    observedGeneration: 1,
    conditions: [
      condition('Promoted', 'True', 'Succeeded', 'Canary analysis completed successfully, promotion finished.'),
      condition('Ready', 'True', 'Succeeded', 'The last revision was released; the primary pods run it.'),
      condition('Reconciling', 'False', 'Succeeded', 'Nothing in progress.'),
      condition('Stalled', 'False', 'Succeeded', 'Nothing blocks the Canary.'),
    ],
    lastChecks: [
      { name: 'request-success-rate', ok: true, value: 99.97, min: 99, at: now },
      { name: 'error-ratio', ok: true, value: 0.03, max: 1, at: now },
    ],
  };
}

/** A managed Deployment at zero replicas (no pods: only the webhook's caches are measured). */
function deployment(ns: string, name: string) {
  const app = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: ns,
      labels: { ...app, [L.managed]: values.managed },
      annotations: { [A.stableRevision]: '0123456789abcdef', [A.canary]: name },
    },
    spec: {
      replicas: 0,
      selector: { matchLabels: app },
      template: {
        metadata: { labels: app },
        spec: {
          containers: [{ name: 'app', image: 'ghcr.io/stefanprodan/podinfo:6.0.0', ports: [{ name: 'http', containerPort: 9898 }] }],
        },
      },
    },
  };
}

export async function webhookMemory(o: WebhookMemoryOptions): Promise<Figure[]> {
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-bench');
  const namespaces = Array.from({ length: o.namespaces }, (_, i) => nsName(i));
  const pairs = namespaces.flatMap((ns) => Array.from({ length: o.perNamespace }, (_, j) => ({ ns, name: `app-${j}` })));
  const total = pairs.length;
  const figures: Figure[] = [];
  try {
    const t0 = performance.now();
    await inBatches(namespaces, 10, (ns) => readyNamespace(client, ns));
    const now = new Date().toISOString();
    await inBatches(pairs, 20, async ({ ns, name }) => {
      await client.create(at(R.deployments, ns), deployment(ns, name));
      await client.create(at(CR.canaries, ns), canary(ns, name));
      await client.patch(at(CR.canaries, ns, name, 'status'), { status: status(now) });
    });
    console.log(`webhook-memory: ${total} Canaries and Deployments created in ${round((performance.now() - t0) / 1000, 1)} s`);
    for (const [label, flags] of Object.entries(o.variants)) {
      const name = `sluice-webhook-mem-${label}`;
      const [node, ...rest] = thisBuild.entrypoint;
      const spec = webhookSpec({
        name,
        port: await freePort(),
        metricsPort: await freePort(),
        build: { entrypoint: [node!, ...flags, ...rest] },
      });
      await ensureStarted(spec);
      // Read once a second over the last third of the settle time: the median, so one GC does not decide.
      const reads: number[] = [];
      for (let s = 0; s < o.settleSeconds; s++) {
        await delay(1000);
        if (s >= (o.settleSeconds * 2) / 3) reads.push(sample(name).rssMiB);
      }
      await stopComponent(name);
      reads.sort((a, b) => a - b);
      const rss = round(percentile(reads, 50), 0);
      console.log(`webhook-memory: ${label} (${flags.join(' ') || 'node defaults'}): ${rss} MiB`);
      figures.push({
        name: `webhook_rss_${label}`,
        value: rss,
        unit: 'MiB',
        target: label === 'image' ? '< 80 MiB' : '',
        note: `a webhook process (${flags.length ? `node ${flags.join(' ')}` : 'node defaults'}) with ${total} Canaries (status as after a release) and ${total} managed Deployments in ${o.namespaces} namespaces in its caches: median VmRSS over the last ${Math.ceil(o.settleSeconds / 3)} s of ${o.settleSeconds} s after it was ready`,
      });
    }
    return figures;
  } finally {
    await inBatches(namespaces, 10, (ns) => client.delete(at(R.namespaces, undefined, ns)).catch(() => undefined));
  }
}
