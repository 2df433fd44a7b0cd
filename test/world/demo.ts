// `make demo` (the Makefile brings the world up first and down after): the seed guide on the
// local world. sluice starts, the seed's manifests apply (intervals in seconds instead of
// minutes), 6.0.1 is promoted, 6.0.2 is rolled back under injected errors. Progress is printed
// live: phase, weight, each metric against its bound; a summary closes.
import assert from 'node:assert/strict';
import { type Canary, CR } from '../../api/flagger-types.js';
import { templateRevision } from '../../api/revision.js';
import { at, KubeClient, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { paths, ports, urls } from './layout.js';
import { readyNamespace } from './namespaces.js';
import { applySeed, canaryEvents } from './seed.js';
import { up as sluiceUp } from './sluice.js';
import { buildBinaries, runKubectl } from './world.js';

const NS = 'test';
const { binDir } = buildBinaries();
const tty = process.stdout.isTTY;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);

async function sh(...args: string[]): Promise<void> {
  console.log(bold(`$ kubectl ${args.join(' ')}`));
  const r = await runKubectl(binDir, args);
  process.stdout.write(r.stdout + r.stderr);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}`);
}

/** Last metric values, from the controller's own flagger_canary_metric_analysis gauge. */
async function metricValues(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${ports.controllerMetrics}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^flagger_canary_metric_analysis\{([^}]*)\} (\S+)/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.namespace === NS && labels.metric) out.set(labels.metric, Number(m[2]));
  }
  return out;
}

/** Highest canary weight seen while following the last rollout. */
let peakWeight = 0;

async function follow(client: KubeClient, revision: string, until: string[]): Promise<Canary> {
  let last = '';
  peakWeight = 0;
  return waitFor(
    async () => {
      const c = await client.get<Canary>(at(CR.canaries, NS, 'podinfo'));
      const s = c.status ?? {};
      const values = await metricValues();
      const checks = (c.spec.analysis?.metrics ?? []).map((m) => {
        const v = values.get(m.name);
        const bound = m.thresholdRange?.min !== undefined ? `≥ ${m.thresholdRange.min}` : `≤ ${m.thresholdRange?.max}`;
        return `${m.name} ${v === undefined ? '–' : v.toFixed(2)} (${bound})`;
      });
      const weight = s.canaryWeight ?? 0;
      if (s.lastAppliedSpec === revision) peakWeight = Math.max(peakWeight, weight);
      const line = `  ${(s.phase ?? '').padEnd(12)} weight ${String(weight).padStart(3)}  failed checks ${s.failedChecks ?? 0}  ${checks.join('  ')}`;
      if (line !== last) console.log(line);
      last = line;
      return s.lastAppliedSpec === revision && until.includes(s.phase ?? '') ? c : undefined;
    },
    { timeoutMs: 240_000, intervalMs: 1000, what: `canary podinfo.${NS} to reach ${until.join(' or ')}` },
  );
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-demo');
  console.log(bold('\n== sluice on the local world: a real control plane, three kwok nodes, Prometheus, a simulated gateway'));
  await sh('get', 'nodes');
  await sluiceUp();

  console.log(bold("\n== 1. The seed's podinfo, HPA, MetricTemplates and Canary (analysis interval 5s instead of 1m)"));
  await readyNamespace(client, NS);
  await applySeed(NS, { analysisInterval: '5s', metricInterval: '10s' });
  await fetch(`${urls.simulator}/traffic/${NS}/podinfo`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ratePerSecond: 100 }),
  });
  await waitFor(async () => (await client.get<Canary>(at(CR.canaries, NS, 'podinfo'))).status?.phase === 'Initialized', {
    timeoutMs: 90_000,
    what: 'Initialized',
  });
  await sh('-n', NS, 'get', 'canaries,deployments,services,httproutes,hpa');

  console.log(bold('\n== 2. kubectl set image → analysed on the canary, weights 10 … 50, released'));
  const t2 = Date.now();
  await sh('-n', NS, 'set', 'image', 'deployment/podinfo', 'podinfod=ghcr.io/stefanprodan/podinfo:6.0.1');
  type D = KubeObject & { spec: { paused?: boolean; template: { spec: { containers: { image: string }[] } } } };
  const rev1 = templateRevision((await client.get<D>(at(R.deployments, NS, 'podinfo'))).spec.template);
  const promoted = await follow(client, rev1, ['Succeeded', 'Failed']);
  const promotedIn = (Date.now() - t2) / 1000;
  assert.equal(promoted.status?.phase, 'Succeeded', 'the healthy revision must be promoted');

  console.log(bold('\n== 3. 6.0.2 with 50% errors injected on podinfo-canary → halted, rolled back'));
  await fetch(`${urls.simulator}/faults/${NS}/podinfo-canary`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errorRatio: 0.5 }),
  });
  const t3 = Date.now();
  await sh('-n', NS, 'set', 'image', 'deployment/podinfo', 'podinfod=ghcr.io/stefanprodan/podinfo:6.0.2');
  const rev2 = templateRevision((await client.get<D>(at(R.deployments, NS, 'podinfo'))).spec.template);
  const failed = await follow(client, rev2, ['Succeeded', 'Failed']);
  const failedPeak = peakWeight;
  const rolledBackIn = (Date.now() - t3) / 1000;
  const primaryImages = (
    await client.list<KubeObject & { spec: { containers: { image: string }[] } }>(at(R.pods, NS), { labelSelector: 'app=podinfo' })
  ).items.map((p) => p.spec.containers[0]?.image);
  assert.equal(failed.status?.phase, 'Failed', 'the faulty revision must be rolled back');
  await sh(
    '-n',
    NS,
    'get',
    'deployment',
    'podinfo',
    '-o',
    'custom-columns=NAME:.metadata.name,PAUSED:.spec.paused,SPEC IMAGE:.spec.template.spec.containers[0].image,AVAILABLE:.status.availableReplicas',
  );
  await sh('-n', NS, 'get', 'pods', '-l', 'app=podinfo', '-o', 'custom-columns=POD:.metadata.name,RUNNING IMAGE:.spec.containers[0].image');

  console.log(bold('\n== Events of canary/podinfo'));
  for (const e of await canaryEvents(NS)) console.log(`  ${e.type.padEnd(8)} ${e.message}${e.count > 1 ? ` (x${e.count})` : ''}`);
  console.log(bold('\n== Summary'));
  console.log(`  6.0.1: ${promoted.status?.phase} in ${promotedIn.toFixed(0)} s — the primary runs it, unpaused`);
  const onPrimary = primaryImages.filter((i) => i?.endsWith(':6.0.2')).length;
  console.log(
    `  6.0.2: ${failed.status?.phase} in ${rolledBackIn.toFixed(0)} s after ${failed.status?.failedChecks} failed checks — at most ${failedPeak}% of gateway traffic, on ${onPrimary} of ${primaryImages.length} primary pods; the Deployment holds it paused`,
  );
  console.log(`  whole demo: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  client.close();
}

main().catch((err) => {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exit(1);
});
