// Controller figures on the local world with sluice running:
// - how long after `kubectl set image` returns the canary copy is scaled up (Flagger waits up to
//   one analysis interval for this);
// - what an idle controller asks of the apiserver, per canary per minute, beyond its watches.
import { performance } from 'node:perf_hooks';
import { type Canary, CR } from '../api/flagger-types.js';
import type { Deployment } from '../api/workload.js';
import { at, KubeClient, R } from '../lib/kube/client.js';
import { delay, waitFor } from '../lib/wait.js';
import { paths } from '../test/world/layout.js';
import { readyNamespace } from '../test/world/namespaces.js';
import { buildBinaries, runKubectl } from '../test/world/world.js';
import { beyondWatchesAndLease, controllerQuiet, controllerRequests } from './controller-probe.js';
import { type Figure, percentile, round } from './results.js';

const NS = 'bench-controller';

function canaryFor(name: string) {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace: NS },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 9898, gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
      analysis: {
        interval: '10s',
        threshold: 5,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', interval: '10s', thresholdRange: { min: 99 } }],
      },
    },
  };
}

function deploymentFor(name: string) {
  const app = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: app },
      template: { metadata: { labels: app }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
    },
  };
}

export async function controllerBench(canaries = 5, rollouts = 7): Promise<Figure[]> {
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-bench');
  const { binDir } = buildBinaries();
  try {
    await readyNamespace(client, NS);
    const names = Array.from({ length: canaries }, (_, i) => `app${i}`);
    for (const n of names) {
      await client.create(at(R.deployments, NS), deploymentFor(n));
      await client.create(at(CR.canaries, NS), canaryFor(n));
    }
    await waitFor(
      async () => {
        const list = await client.list<Canary>(at(CR.canaries, NS));
        return list.items.length === canaries && list.items.every((c) => c.status?.phase === 'Initialized');
      },
      { timeoutMs: 120_000, what: `${canaries} Canaries to be Initialized` },
    );

    // Idle: first the aftermath of bootstrap settles (route status, copies' status, …): no
    // reconcile for 10 s; then a minute in which nothing changes is counted.
    await controllerQuiet(180_000);
    const before = await controllerRequests();
    const idleMs = 60_000;
    await delay(idleMs); // the measurement window itself, not synchronisation
    const after = await controllerRequests();
    const diff = (key: string) => (after.get(key) ?? 0) - (before.get(key) ?? 0);
    const keys = [...after.keys()];
    // The leader Lease is renewed every 2 s whatever the number of Canaries: counted apart.
    const perCanary = keys.filter(beyondWatchesAndLease).reduce((n, k) => n + diff(k), 0);
    const lease = keys.filter((k) => k.endsWith(' leases')).reduce((n, k) => n + diff(k), 0);
    const watches = keys.filter((k) => k.startsWith('WATCH')).reduce((n, k) => n + diff(k), 0);

    // Latency from `kubectl set image` returning to the canary copy scaled up.
    const latencies: number[] = [];
    for (let i = 0; i < rollouts; i++) {
      const r = await runKubectl(binDir, ['-n', NS, 'set', 'image', 'deployment/app0', `app=app:${i + 2}`]);
      if (r.code !== 0) throw new Error(r.stderr);
      const t0 = performance.now();
      await waitFor(async () => ((await client.get<Deployment>(at(R.deployments, NS, 'app0-canary'))).spec.replicas ?? 0) > 0, {
        timeoutMs: 30_000,
        intervalMs: 10,
        what: 'the canary copy to scale up',
      });
      latencies.push(performance.now() - t0);
      // Revert to the stable revision: analysis is abandoned and the copy returns to zero.
      await runKubectl(binDir, ['-n', NS, 'set', 'image', 'deployment/app0', 'app=app:1']);
      await waitFor(async () => ((await client.get<Deployment>(at(R.deployments, NS, 'app0-canary'))).spec.replicas ?? 1) === 0, {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: 'the copy back at zero',
      });
    }
    latencies.sort((a, b) => a - b);
    return [
      {
        name: 'controller_set_image_to_canary_scaled_up_median',
        value: round(percentile(latencies, 50), 0),
        unit: 'ms',
        target: '< 1000 ms (Flagger: up to one analysis interval)',
        note: `${rollouts} rollouts: from kubectl set image returning to spec.replicas > 0 on the canary copy (polled every 10 ms); max ${round(latencies[latencies.length - 1]!, 0)} ms`,
      },
      {
        name: 'controller_idle_requests_per_canary_per_minute',
        value: round(perCanary / canaries / (idleMs / 60_000), 2),
        unit: 'req',
        target: '0 beyond the watches',
        note: `${canaries} idle Canaries for ${idleMs / 1000} s, counted by the controller (sluice_controller_apiserver_requests_total): requests other than watches and the leader Lease; besides, in that minute: ${lease} Lease requests (per process, not per Canary), ${watches} watches opened`,
      },
    ];
  } finally {
    await client.delete(at(R.namespaces, undefined, NS)).catch(() => undefined);
    client.close();
  }
}
