// What the webhook adds to an UPDATE through the real apiserver: the same template change sent
// alternately to a managed Deployment (the apiserver calls the webhook) and an unmanaged one (it
// does not), in one run, compared by median and 90th percentile.
import { performance } from 'node:perf_hooks';
import { KubeClient, R, at } from '../lib/kube/client.js';
import { annotations, labels } from '../api/contract.js';
import { templateRevision } from '../api/revision.js';
import { paths } from '../test/world/layout.js';
import { readyNamespace } from '../test/world/namespaces.js';
import { percentile, round, type Figure } from './results.js';

const NS = 'bench-overhead';

function deployment(name: string, managed: boolean) {
  const app = { app: name };
  const template = { metadata: { labels: app }, spec: { containers: [{ name: 'app', image: 'img:0' }] } };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: NS,
      labels: managed ? { [labels.managed]: 'true' } : {},
      annotations: managed ? { [annotations.stableRevision]: templateRevision(template) } : {},
    },
    // No replicas: the measurement is the request path, not pod churn.
    spec: { replicas: 0, selector: { matchLabels: app }, template },
  };
}

export async function apiserverOverhead(rounds = 300): Promise<Figure[]> {
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-bench');
  try {
    await readyNamespace(client, NS);
    for (const [name, managed] of [
      ['with-webhook', true],
      ['without-webhook', false],
    ] as const) {
      await client.create(at(R.deployments, NS), deployment(name, managed));
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
      const timings: Record<string, number[]> = { 'with-webhook': [], 'without-webhook': [] };
      // A webhook in service is warm: the first 100 rounds (JIT, connections, caches) are not counted.
      const warmup = 100;
      for (let i = 0; i < rounds + warmup; i++) {
        for (const name of ['with-webhook', 'without-webhook']) {
          const { body, type } = make(i);
          const t0 = performance.now();
          await client.patch(at(R.deployments, NS, name), body, type);
          if (i >= warmup) timings[name]!.push(performance.now() - t0);
        }
      }
      const [w, wo] = [timings['with-webhook']!.sort((a, b) => a - b), timings['without-webhook']!.sort((a, b) => a - b)];
      const note = `${rounds} ${kind} updates each (after 100 uncounted), alternating, through kube-apiserver on loopback; with: median ${round(percentile(w, 50))} ms, p90 ${round(percentile(w, 90))} ms; without: median ${round(percentile(wo, 50))} ms, p90 ${round(percentile(wo, 90))} ms`;
      const prefix = kind === 'template' ? 'apiserver_update_latency_ratio' : 'apiserver_metadata_update_latency_ratio';
      figures.push(
        { name: `${prefix}_median`, value: round(percentile(w, 50) / percentile(wo, 50), 3), unit: 'ratio', target: '< 1.25', note },
        {
          name: `${prefix}_p90`,
          value: round(percentile(w, 90) / percentile(wo, 90), 3),
          unit: 'ratio',
          note: 'same run, 90th percentiles',
        },
      );
    }
    return figures;
  } finally {
    await client.delete(at(R.namespaces, undefined, NS)).catch(() => undefined);
    client.close();
  }
}
