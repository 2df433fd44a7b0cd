// Cluster-policy figures on the local world with sluice running:
// - from `kubectl label namespace … sluice.dev/rollouts=enabled` to every Deployment's generated
//   Canary Initialized, for a namespace of N Deployments;
// - from creating a Deployment in an opted-in namespace to its Canary Initialized.
import { performance } from 'node:perf_hooks';
import { type Canary, CR } from '../api/flagger-types.js';
import { POLICY_REF } from '../api/policy-types.js';
import { at, KubeClient, R } from '../lib/kube/client.js';
import { waitFor } from '../lib/wait.js';
import { paths } from '../test/world/layout.js';
import { readyNamespace } from '../test/world/namespaces.js';
import { buildBinaries, runKubectl } from '../test/world/world.js';
import { type Figure, percentile, round } from './results.js';

const NS = 'bench-policy';
const POLICY = 'bench-policy';

function deploymentFor(name: string) {
  const app = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: app },
      template: { metadata: { labels: app }, spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }] } },
    },
  };
}

export async function policyBench(deployments = 20, late = 5): Promise<Figure[]> {
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-bench');
  const { binDir } = buildBinaries();
  const initialized = async (names: string[]) => {
    const list = await client.list<Canary>(at(CR.canaries, NS));
    return names.every((n) => list.items.find((c) => c.metadata.name === n)?.status?.phase === 'Initialized');
  };
  try {
    await readyNamespace(client, NS);
    const names = Array.from({ length: deployments }, (_, i) => `svc${i}`);
    for (const n of names) await client.create(at(R.deployments, NS), deploymentFor(n));
    await client.create(POLICY_REF, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'ClusterCanaryPolicy',
      metadata: { name: POLICY },
      spec: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } },
        canaryTemplate: {
          service: { gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
          analysis: { interval: '10s', maxWeight: 50, stepWeight: 10 },
        },
        constraints: { maxWeight: 50 },
      },
    });
    const t0 = performance.now();
    const r = await runKubectl(binDir, ['label', 'namespace', NS, 'sluice.dev/rollouts=enabled']);
    if (r.code !== 0) throw new Error(r.stderr);
    await waitFor(() => initialized(names), {
      timeoutMs: 120_000,
      intervalMs: 20,
      what: `${deployments} generated Canaries to be Initialized`,
    });
    const all = performance.now() - t0;

    const lateTimes: number[] = [];
    for (let i = 0; i < late; i++) {
      const name = `late${i}`;
      const t = performance.now();
      await client.create(at(R.deployments, NS), deploymentFor(name));
      await waitFor(() => initialized([name]), { timeoutMs: 30_000, intervalMs: 10, what: `Canary ${name} to be Initialized` });
      lateTimes.push(performance.now() - t);
    }
    lateTimes.sort((a, b) => a - b);
    return [
      {
        name: 'policy_label_to_all_canaries_initialized',
        value: round(all, 0),
        unit: 'ms',
        target: 'seconds',
        note: `${deployments} Deployments (1 replica each) in one namespace, one ClusterCanaryPolicy; from kubectl label namespace returning to every generated Canary Initialized (polled every 20 ms)`,
      },
      {
        name: 'policy_new_deployment_to_canary_initialized_median',
        value: round(percentile(lateTimes, 50), 0),
        unit: 'ms',
        target: 'seconds',
        note: `${late} Deployments created one after another in the opted-in namespace: from the create returning to its Canary Initialized (polled every 10 ms); max ${round(lateTimes[lateTimes.length - 1]!, 0)} ms`,
      },
    ];
  } finally {
    await client.delete(at(POLICY_REF, undefined, POLICY)).catch(() => undefined);
    await client.delete(at(R.namespaces, undefined, NS)).catch(() => undefined);
    client.close();
  }
}
