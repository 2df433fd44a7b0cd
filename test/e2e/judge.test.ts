// The statistical judge (docs/analysis.md) on the local world: a Canary with no thresholdRange at
// all, judged by a CanaryJudge that compares the candidate's mean latency with a fresh baseline of
// the stable revision, through the simulator's gateway and the world's Prometheus. The same
// behaviour on both sides is promoted; a candidate 30 % slower is rolled back; the baseline runs
// only while a rollout is analysed and takes the canary's share of traffic from the primary.
import assert from 'node:assert/strict';
import type { JudgementReport } from '../../api/canary-judge.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { canaryEvents, deploymentWithCanary, getCanary, setImage as setImageOf, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { admin, type Deployment, deleteNamespace, simulator } from '../world/test-clients.js';

type Route = KubeObject & { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } };

// The mean upstream time the gateway measured for one side: Envoy's histogram sum over its count.
const cluster = '{{ namespace }}_{{ service }}-{{ variant }}_9898';
const MEAN_LATENCY =
  `sum(rate(envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="${cluster}"}[2s])) / ` +
  `sum(rate(envoy_cluster_upstream_rq_time_count{envoy_cluster_name="${cluster}"}[2s]))`;

describe('the statistical judge against a fresh baseline, end to end', function () {
  this.timeout(300_000);
  let ns: string;

  before(async () => {
    ns = await sluiceAndNamespace('judge');
    // No metric with a thresholdRange: the judge alone decides.
    await deploymentWithCanary(ns, 'podinfo', { interval: '16s', threshold: 1, stepWeight: 25, maxWeight: 50, metrics: [] });
    await (await admin()).create(at({ group: 'sluice.dev', version: 'v1alpha1', plural: 'canaryjudges' }, ns), {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'CanaryJudge',
      metadata: { name: 'podinfo', namespace: ns },
      spec: {
        sampleStep: '2s',
        // The default false-alarm rate (1 %): two judgements a rollout, about seven samples a side each at a
        // 16 s interval, which is enough for a 30 % shift to stand out at that rate and few enough to stay short.
        metrics: [{ name: 'latency', query: MEAN_LATENCY, direction: 'increase' }],
      },
    });
    await waitPhase(ns, 'Initialized', 60_000);
    await simulator('PUT', `/traffic/${ns}/podinfo`, { ratePerSecond: 100 });
  });
  after(async () => {
    await simulator('DELETE', `/faults/${ns}/podinfo-canary`).catch(() => undefined);
    await simulator('DELETE', `/traffic/${ns}/podinfo`).catch(() => undefined);
    await simulator('DELETE', `/traffic/${ns}/dry`).catch(() => undefined);
    await deleteNamespace(ns);
  });

  const setImage = (tag: string) => setImageOf(ns, 'podinfo', tag);
  const baseline = async () => (await admin()).find<Deployment>(at(R.deployments, ns, 'podinfo-baseline'));
  const split = async () => {
    const route = await (await admin()).get<Route>(at(R.httproutes, ns, 'podinfo'));
    return Object.fromEntries(route.spec.rules.at(-1)!.backendRefs.map((b) => [b.name, b.weight]));
  };

  it('keeps a baseline of the stable revision at zero replicas at rest, taken before any rollout', async () => {
    const b = await waitFor(baseline, { timeoutMs: 30_000, what: 'podinfo-baseline to be created' });
    assert.equal(b.spec.replicas, 0);
    assert.equal(b.metadata.labels?.['sluice.dev/role'], 'baseline');
    assert.deepEqual(b.spec.template.spec, (await (await admin()).get<Deployment>(at(R.deployments, ns, 'podinfo'))).spec.template.spec);
    assert.deepEqual(Object.keys(await split()).sort(), ['podinfo-canary', 'podinfo-primary']);
  });

  it('promotes a candidate that behaves as the stable revision, the baseline taking the canary’s share meanwhile', async () => {
    const revision = await setImage('6.0.1');
    // Mid-analysis: primary 100 − 2w, canary w, baseline w, and baseline pods running.
    const during = await waitFor(
      async () => {
        const w = await split();
        return w['podinfo-baseline'] === 25 ? w : undefined;
      },
      { timeoutMs: 60_000, what: 'the route to give the baseline 25' },
    );
    assert.deepEqual(during, { 'podinfo-primary': 50, 'podinfo-canary': 25, 'podinfo-baseline': 25 });
    assert.ok(((await baseline())?.spec.replicas ?? 0) >= 1, 'the baseline runs while the candidate is analysed');
    // Either end, then say which: a false alarm fails at once with the judgement that raised it.
    const done = await waitPhase(ns, ['Succeeded', 'Failed'], 180_000, revision);
    const j = done.status?.judgement as JudgementReport;
    assert.equal(done.status?.phase, 'Succeeded', JSON.stringify(j));
    assert.equal(j.verdict, 'Pass', JSON.stringify(j));
    assert.equal(j.baseline, 'fresh', j.fallback);
    const latency = j.metrics.find((m) => m.name === 'latency')!;
    assert.equal(latency.label, 'Pass');
    assert.ok(latency.canaryN >= 3 && latency.baselineN >= 3, JSON.stringify(latency));
    const events = (await canaryEvents(ns)).map((e) => e.message);
    assert.ok(
      events.some((m) =>
        /^Judged podinfo\.\S+ judge Pass, score 100: latency Pass: shift \S+ \[\S+, \S+\], ratio \S+, n \d+\/\d+$/.test(m),
      ),
      events.join('\n'),
    );
    // At rest again: no baseline pods, no baseline in the route.
    await waitFor(async () => ((await baseline())?.spec.replicas === 0 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the baseline to scale to zero after the release',
    });
    assert.equal((await split())['podinfo-baseline'], undefined);
  });

  it('rolls back a candidate 30 % slower than the baseline, with no thresholdRange set', async () => {
    // The world's requests take 12 ms (median, log-normal): 4 ms more on the canary is +30 % on the mean.
    await simulator('PUT', `/faults/${ns}/podinfo-canary`, { latencyMs: 4 });
    const revision = await setImage('6.0.2');
    const failed = await waitPhase(ns, ['Succeeded', 'Failed'], 180_000, revision);
    const j = failed.status?.judgement as JudgementReport;
    assert.equal(failed.status?.phase, 'Failed', JSON.stringify(j));
    assert.equal(j.verdict, 'Fail', JSON.stringify(j));
    const latency = j.metrics.find((m) => m.name === 'latency')!;
    assert.equal(latency.label, 'High');
    assert.ok((latency.ratio ?? 0) > 1.15, `ratio ${latency.ratio}`);
    assert.ok((latency.lower ?? 0) > 0, 'the interval of the shift lies above 0');
    const events = (await canaryEvents(ns)).map((e) => e.message);
    assert.ok(
      events.some((m) => /^Halt podinfo\.\S+ advancement judge Fail, score 0: latency High: shift \+/.test(m)),
      events.join('\n'),
    );
    const canary = await getCanary(ns);
    assert.equal(canary.status?.canaryWeight, 0);
    await simulator('DELETE', `/faults/${ns}/podinfo-canary`);
  });

  it('promotes through a dry-run metric that fails every check, reporting each failure as a dry run', async () => {
    // A success rate above 100 % cannot be met: every check of it fails.
    const impossible = { name: 'request-success-rate', interval: '6s', thresholdRange: { min: 101 }, dryRun: true };
    await deploymentWithCanary(ns, 'dry', { interval: '2s', threshold: 1, stepWeight: 25, maxWeight: 50, metrics: [impossible] });
    await waitPhase(ns, 'Initialized', 60_000, undefined, 'dry');
    await simulator('PUT', `/traffic/${ns}/dry`, { ratePerSecond: 50 });
    const revision = await setImageOf(ns, 'dry', '6.0.1');
    const done = await waitPhase(ns, 'Succeeded', 90_000, revision, 'dry');
    assert.equal(done.status?.failedChecks, 0);
    const rows = await canaryEvents(ns, 'dry');
    const events = rows.map((e) => e.message);
    // The same words twice are one Event counted twice, as Kubernetes aggregates them.
    const dryRuns = rows
      .filter((e) =>
        /^Dry run: dry\.\S+ would halt advancement at weight (25|50): (success rate \S+ < 101%|request-success-rate check failed)/.test(
          e.message,
        ),
      )
      .reduce((n, e) => n + e.count, 0);
    assert.ok(
      dryRuns >= 2,
      `a dry-run failure reported at each of the two steps:\n${rows.map((e) => `${e.message} (x${e.count})`).join('\n')}`,
    );
    assert.ok(!events.some((m) => m.startsWith('Halt dry')), events.join('\n'));
    assert.ok(
      events.some((m) => m.startsWith('Promoting revision')),
      events.join('\n'),
    );
  });
});
