// `make demo` (with the world already up, as the Makefile arranges): shows the local world and
// the webhook at work on the seed's podinfo. Each step prints what a person would type and see.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { KubeClient, R, at } from '../../lib/kube/client.js';
import { PrometheusClient } from '../../controller/analysis/prometheus-client.js';
import { waitFor } from '../../lib/wait.js';
import { templateRevision } from '../../api/revision.js';
import { annotations, labels } from '../../api/contract.js';
import { paths, root, urls } from './layout.js';
import { buildBinaries, runKubectl } from './world.js';
import { installManifests, startWebhook } from './sluice.js';

const { binDir } = buildBinaries();
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

async function sh(...args: string[]): Promise<string> {
  console.log(bold(`$ kubectl ${args.join(' ')}`));
  const r = await runKubectl(binDir, args);
  process.stdout.write(r.stdout);
  if (r.stderr) process.stdout.write(r.stderr);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const started = Date.now();
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-demo');
  const prom = new PrometheusClient(urls.prometheus);
  console.log(bold('\n== 1. A real control plane with three kwok nodes'));
  await sh('get', 'nodes', '-o', 'wide');

  console.log(bold('\n== 2. The seed\'s podinfo Deployment and HPA become Available'));
  await sh('create', 'namespace', 'test');
  await sh('apply', '-f', path.join(root, 'examples/podinfo/deployment.yaml'), '-f', path.join(root, 'examples/podinfo/hpa.yaml'));
  await sh('rollout', 'status', '-n', 'test', 'deployment/podinfo', '--timeout=90s');

  console.log(bold('\n== 3. The gateway splits traffic by HTTPRoute weight (90/10), as Prometheus sees it'));
  const canary = YAML.parse(fs.readFileSync(path.join(root, 'examples/podinfo/deployment.yaml'), 'utf8'));
  canary.metadata.name = 'podinfo-canary';
  canary.spec.selector.matchLabels.app = canary.spec.template.metadata.labels.app = 'podinfo-canary';
  await client.create(at(R.deployments, 'test'), canary);
  for (const [name, app] of [['podinfo-primary', 'podinfo'], ['podinfo-canary', 'podinfo-canary']] as const) {
    await client.create(at(R.services, 'test'), { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'test' }, spec: { selector: { app }, ports: [{ name: 'http', port: 9898, targetPort: 9898 }] } });
  }
  await client.create(at(R.httproutes, 'test'), {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: { parentRefs: [{ name: 'cilium', namespace: 'cilium' }], rules: [{ backendRefs: [{ name: 'podinfo-primary', port: 9898, weight: 90 }, { name: 'podinfo-canary', port: 9898, weight: 10 }] }] },
  });
  await sh('rollout', 'status', '-n', 'test', 'deployment/podinfo-canary', '--timeout=90s');
  const q = (svc: string) => `sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name="test_${svc}_9898"}[10s]))`;
  const share = await waitFor(async () => {
    const c = await prom.value(q('podinfo-canary'));
    const p = await prom.value(q('podinfo-primary'));
    process.stdout.write(`\r  primary ${p.toFixed(1)} req/s, canary ${c.toFixed(1)} req/s, canary share ${((100 * c) / (c + p)).toFixed(1)}%   `);
    return c + p > 15 ? (100 * c) / (c + p) : undefined;
  }, { timeoutMs: 60_000, intervalMs: 1000, what: 'traffic in Prometheus' });
  console.log(`\n  canary share of gateway traffic: ${share.toFixed(1)}% (route weight 10%)`);

  console.log(bold('\n== 4. sluice\'s webhook freezes a template change of a managed Deployment'));
  installManifests(binDir);
  await startWebhook();
  const d = await client.get<{ metadata: { name: string }; spec: { template: unknown } }>(at(R.deployments, 'test', 'podinfo'));
  // What the controller does at bootstrap: mark the Deployment managed and record its stable revision.
  await client.patch(at(R.deployments, 'test', 'podinfo'), { metadata: { labels: { [labels.managed]: 'true' }, annotations: { [annotations.stableRevision]: templateRevision(d.spec.template), [annotations.canary]: 'podinfo' } } });
  await sh('-n', 'test', 'set', 'image', 'deployment/podinfo', 'podinfod=ghcr.io/stefanprodan/podinfo:6.0.1');
  await sh('-n', 'test', 'get', 'deployment', 'podinfo', '-o', 'custom-columns=NAME:.metadata.name,PAUSED:.spec.paused,IMAGE:.spec.template.spec.containers[0].image,AVAILABLE:.status.availableReplicas');
  await sh('-n', 'test', 'get', 'replicasets', '-l', 'app=podinfo');
  console.log(`\nDemo done in ${((Date.now() - started) / 1000).toFixed(0)} s: the spec holds 6.0.1, the pods still run 6.0.0, one ReplicaSet.`);
  client.close();
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
