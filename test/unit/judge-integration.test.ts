// The statistical judge inside the controller: what a CanaryJudge resolves to (and what it is
// refused for), the baseline's desired state and route share, the webhook's check of a baseline,
// samples read from a Prometheus that never overlap, and a Marginal verdict holding the step.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import {
  type CanaryJudge,
  intervalConfidence,
  longestRangeWindow,
  plannedJudgements,
  type ResolvedJudge,
  resolveJudge,
} from '../../api/canary-judge.js';
import { annotations as A, labels as L } from '../../api/contract.js';
import type { Canary } from '../../api/flagger-types.js';
import { baselineWeight, desiredBaseline, noBaselineBecause } from '../../controller/baseline.js';
import type { MetricResult } from '../../controller/check-results.js';
import { buildCanaryCopy } from '../../controller/generated-objects.js';
import { collectSamples } from '../../controller/judge/collect-samples.js';
import { judgeSamples } from '../../controller/judge/judge.js';
import { routeFor } from '../../controller/router/http-route.js';
import { decide, type Settings } from '../../controller/state-machine.js';
import { baselineDifference, decideCopy, type PodTemplateLike, type TargetLike } from '../../webhook/copy-decision.js';
import { root } from '../world/layout.js';
import { analysingStatus, copyOf, deployment, observed, rev, seedCanary } from './controller-fixtures.js';

const judgeObject = (spec: Record<string, unknown>): CanaryJudge =>
  ({
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'CanaryJudge',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec,
  }) as unknown as CanaryJudge;
const resolved = (spec: Record<string, unknown>): ResolvedJudge => {
  const r = resolveJudge(judgeObject(spec));
  if ('error' in r) throw new Error(r.error);
  return r;
};
const LATENCY = { name: 'latency', query: 'q{{ variant }}' };

describe('judge in the controller: a CanaryJudge resolved', () => {
  it('fills every default, so a judge of one query is enough', () => {
    const r = resolved({ metrics: [LATENCY] });
    assert.deepEqual([r.baseline, r.falseAlarmRate, r.tolerance, r.sampleStepMs, r.pass, r.marginal], ['fresh', 0.01, 0, 5000, 95, 75]);
    assert.deepEqual(r.metrics[0], {
      name: 'latency',
      query: 'q{{ variant }}',
      templateVariables: {},
      groups: ['latency'],
      direction: 'either',
      critical: false,
      mustHaveData: false,
      nanStrategy: 'remove',
      measure: 'meanRatio',
      allowedIncrease: 1,
      allowedDecrease: 1,
      criticalIncrease: 1,
      criticalDecrease: 1,
    });
    assert.equal(resolved({ metrics: [{ ...LATENCY, effectSize: { measure: 'cles' } }] }).metrics[0]!.allowedIncrease, 0.5);
    assert.equal(resolved({ metrics: [{ ...LATENCY, outliers: { strategy: 'remove' } }] }).metrics[0]!.outlierFactor, 3);
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['no metrics', { metrics: [] }, /spec\.metrics is empty/],
    [
      'both a query and a template',
      { metrics: [{ ...LATENCY, templateRef: { name: 't' } }] },
      /needs exactly one of query and templateRef/,
    ],
    ['neither', { metrics: [{ name: 'x' }] }, /needs exactly one of query and templateRef/],
    ['two metrics of one name', { metrics: [LATENCY, LATENCY] }, /a second metric named latency/],
    ['an unknown direction', { metrics: [{ ...LATENCY, direction: 'up' }] }, /direction must be increase, decrease or either/],
    [
      'a sample step that is not a duration',
      { sampleStep: 'often', metrics: [LATENCY] },
      /spec\.sampleStep must be a duration of at least 1s/,
    ],
    ['a sample step under a second', { sampleStep: '500ms', metrics: [LATENCY] }, /spec\.sampleStep/],
    ['a false-alarm rate of 0', { falseAlarmRate: 0, metrics: [LATENCY] }, /spec\.falseAlarmRate must be a number above 0/],
    ['thresholds upside down', { scoreThresholds: { pass: 50, marginal: 80 }, metrics: [LATENCY] }, /marginal <= pass/],
    ['weights over 100', { groupWeights: { a: 60, b: 50 }, metrics: [LATENCY] }, /add up to more than 100/],
    ['a negative effect limit', { metrics: [{ ...LATENCY, effectSize: { allowedIncrease: -1 } }] }, /effectSize\.allowedIncrease/],
  ];
  for (const [what, spec, message] of refusals)
    it(`refuses ${what}, naming the object and the field`, () => {
      const r = resolveJudge(judgeObject(spec));
      assert.ok('error' in r, what);
      assert.match(r.error, /^CanaryJudge test\/podinfo: /);
      assert.match(r.error, message);
    });

  it('splits the false-alarm rate over the judgements a rollout makes, its metrics and the tails that count', () => {
    assert.equal(plannedJudgements(seedCanary()), 5); // 10, 20, 30, 40, 50
    assert.equal(plannedJudgements(seedCanary({ analysis: { stepWeights: [5, 25, 50], maxWeight: undefined } })), 3);
    assert.equal(plannedJudgements(seedCanary({ analysis: { iterations: 4, match: [{ headers: {} }] } })), 4);
    assert.ok(Math.abs(intervalConfidence(0.01, 10, 1, 'either') - 0.999) < 1e-15);
    assert.ok(Math.abs(intervalConfidence(0.01, 10, 1, 'increase') - 0.998) < 1e-15);
    assert.ok(Math.abs(intervalConfidence(0.01, 5, 2, 'either') - 0.999) < 1e-15);
  });

  it('resolves the example judge for the seed, whose queries read windows no longer than its sample step', () => {
    const doc = YAML.parse(fs.readFileSync(path.join(root, 'examples/judge/canary-judge.yaml'), 'utf8')) as CanaryJudge;
    const r = resolveJudge(doc);
    assert.ok(!('error' in r), JSON.stringify(r));
    for (const m of r.metrics) assert.equal(longestRangeWindow(m.query ?? ''), r.sampleStepMs, m.name);
    assert.deepEqual(
      r.metrics.map((m) => [m.name, m.direction, m.critical]),
      [
        ['latency', 'increase', false],
        ['errors', 'increase', true],
      ],
    );
  });

  it("reads a query's longest range window, so samples are never closer than it", () => {
    assert.equal(longestRangeWindow('rate(x[5m]) / rate(y[30s])'), 300_000);
    assert.equal(longestRangeWindow('max_over_time(rate(x[1m])[10m:1m])'), 600_000);
    assert.equal(longestRangeWindow('rate(x[1d])'), 86_400_000);
    assert.equal(longestRangeWindow('x{path=~"[a-z]+"}'), 0);
  });
});

describe('judge in the controller: the fresh baseline', () => {
  const stable = rev('podinfo:6.0.0');
  const atRest = deployment('podinfo:6.0.0', { annotations: { [A.stableRevision]: stable } });
  const frozen = deployment('podinfo:6.0.1', { paused: true, annotations: { [A.stableRevision]: stable } });
  const judge = resolved({ metrics: [LATENCY] });

  it('is taken at rest from the released template, at zero replicas', () => {
    const want = desiredBaseline({ phase: 'Succeeded', lastPromotedSpec: stable }, atRest, undefined, undefined, 2);
    assert.deepEqual(want, { template: atRest.spec.template, revision: stable, replicas: 0 });
  });

  it('is not created while the target does not yet say its released revision (the webhook checks against it)', () => {
    const bare = deployment('podinfo:6.0.0');
    assert.equal(desiredBaseline({ phase: 'Initialized', lastPromotedSpec: stable }, bare, undefined, undefined, 2), undefined);
  });

  it('runs at the canary’s size while analysed, keeping the stable template; unknown mid-rollout when it never existed', () => {
    const st = analysingStatus(new Date(0), { phase: 'Progressing' });
    const baseline = buildCanaryCopy(seedCanary(), atRest, atRest.spec.template, stable, 0, 'baseline');
    assert.deepEqual(desiredBaseline(st, frozen, baseline, undefined, 3), { template: undefined, revision: undefined, replicas: 3 });
    assert.equal(desiredBaseline(st, frozen, undefined, undefined, 3), undefined);
    // Released: the new stable template, back to zero.
    const released = { phase: 'Succeeded' as const, lastPromotedSpec: rev('podinfo:6.0.1') };
    const after = deployment('podinfo:6.0.1', { annotations: { [A.stableRevision]: rev('podinfo:6.0.1') } });
    assert.deepEqual(desiredBaseline(released, after, baseline, undefined, 3), {
      template: after.spec.template,
      revision: rev('podinfo:6.0.1'),
      replicas: 0,
    });
  });

  it("takes the canary's share from the primary once a baseline pod is ready, and only while analysed", () => {
    const st = { phase: 'Progressing' as const };
    assert.equal(baselineWeight(st, 20, true), 20);
    assert.equal(baselineWeight(st, 60, true), 40);
    assert.equal(baselineWeight(st, 20, false), 0);
    assert.equal(baselineWeight({ phase: 'Promoting' }, 100, true), 0);
  });

  it('routes primary 100 − 2w, canary w, baseline w; without a baseline the route is as before', () => {
    const c = seedCanary();
    const refs = (b: number) =>
      routeFor(c, { phase: 'Progressing' }, 20, b)
        .spec.rules.at(-1)!
        .backendRefs.map((r) => `${r.name}=${r.weight}`);
    assert.deepEqual(refs(20), ['podinfo-primary=60', 'podinfo-canary=20', 'podinfo-baseline=20']);
    assert.deepEqual(refs(0), ['podinfo-primary=80', 'podinfo-canary=20']);
  });

  it('says why a Canary compares with the primary instead', () => {
    assert.equal(noBaselineBecause(seedCanary(), judge, true), undefined);
    assert.match(noBaselineBecause(seedCanary(), resolved({ baseline: 'primary', metrics: [LATENCY] }), true)!, /spec\.baseline: primary/);
    const sts = seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' } } });
    assert.match(noBaselineBecause(sts, judge, false)!, /a StatefulSet has no fresh baseline.*warm/);
    assert.match(noBaselineBecause(seedCanary({ analysis: { iterations: 3 } }), judge, true)!, /blue\/green/);
  });
});

describe("judge in the controller: the webhook's check of a baseline", () => {
  const target = deployment('podinfo:6.0.1', { paused: true, annotations: { [A.stableRevision]: rev('podinfo:6.0.0') } });
  type Template = PodTemplateLike & { spec: Record<string, unknown> };
  const stableTemplate = deployment('podinfo:6.0.0').spec.template as Template;
  const baseline = (template: Template = stableTemplate) =>
    buildCanaryCopy(seedCanary(), target, template as never, rev('podinfo:6.0.0'), 1, 'baseline') as unknown as {
      metadata: { name: string; labels?: Record<string, string>; ownerReferences?: { uid: string }[] };
      spec: { template: PodTemplateLike };
    };
  const asTarget = (d: unknown) => d as TargetLike;

  it('admits the released revision under the baseline’s own labels, and nothing else', async () => {
    assert.equal(baselineDifference(baseline().spec.template, asTarget(target)), undefined);
    const candidate = baseline(deployment('podinfo:6.0.1').spec.template as Template);
    assert.match(baselineDifference(candidate.spec.template, asTarget(target))!, /not the released revision/);
    const hostPid = { ...stableTemplate, spec: { ...stableTemplate.spec, hostPID: true } };
    assert.match(baselineDifference(baseline(hostPid).spec.template, asTarget(target))!, /not the released revision/);
    assert.match(baselineDifference(baseline().spec.template, asTarget(deployment('podinfo:6.0.0')))!, /no released revision yet/);
  });

  it('is asked for a Deployment labelled baseline, named and owned as one', async () => {
    const obj = baseline();
    const owner = obj.metadata.ownerReferences![0]!;
    const sources = { canariesTargeting: () => [owner.uid], target: async () => asTarget(target) };
    const review = (o: unknown, name: string) =>
      ({ uid: '1', operation: 'CREATE', namespace: 'test', name, userInfo: { username: 'bot' }, object: o }) as never;
    assert.equal((await decideCopy(review(obj, 'podinfo-baseline'), ['bot'], sources)).allowed, true);
    const evil = baseline(deployment('example.com/miner:1').spec.template as Template);
    const refused = await decideCopy(review(evil, 'podinfo-baseline'), ['bot'], sources);
    assert.match(refused.allowed ? '' : refused.message, /must run the released revision of Deployment podinfo/);
    const misnamed = await decideCopy(review({ ...obj, metadata: { ...obj.metadata, name: 'x' } }, 'x'), ['bot'], sources);
    assert.match(misnamed.allowed ? '' : misnamed.message, /labelled sluice\.dev\/role=baseline but is not named <target>-baseline/);
    assert.equal(obj.metadata.labels?.[L.role], 'baseline');
  });
});

describe('judge in the controller: samples from Prometheus', () => {
  let server: http.Server;
  let address: string;
  const asked: URLSearchParams[] = [];
  let answer: (form: URLSearchParams) => unknown = () => ({ status: 'success', data: { resultType: 'matrix', result: [] } });
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        asked.push(form);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answer(form)));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  const deps = () => ({ metricTemplate: () => undefined, defaultPrometheus: address, timeoutMs: 2000 });
  const window = { start: new Date(1_000_000), end: new Date(1_060_000) };

  it("renders the query for each side and widens the step to the query's range window", async () => {
    asked.length = 0;
    answer = (form) => {
      const side = form.get('query')!.includes('canary') ? [13, 14, 15] : [12, 12, 13];
      return { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: side.map((v, i) => [i, String(v)]) }] } };
    };
    const judge = resolved({ sampleStep: '5s', metrics: [{ name: 'latency', query: 'rate(x{side="{{ variant }}"}[10s])' }] });
    const got = await collectSamples(seedCanary(), judge, 'baseline', window, deps());
    assert.deepEqual(got.samples.get('latency'), { canary: [13, 14, 15], baseline: [12, 12, 13] });
    assert.equal(got.stepSeconds, 10);
    assert.deepEqual(asked.map((f) => f.get('query')).sort(), ['rate(x{side="baseline"}[10s])', 'rate(x{side="canary"}[10s])']);
    // The first point is one step in: its window holds only this step's traffic.
    assert.deepEqual([asked[0]!.get('start'), asked[0]!.get('end'), asked[0]!.get('step')], ['1010', '1060', '10']);
  });

  it('refuses a query that answers several series, and turns a failure into an Error metric that fails the judgement', async () => {
    answer = () => ({
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          { metric: { a: '1' }, values: [[0, '1']] },
          { metric: { a: '2' }, values: [[0, '1']] },
        ],
      },
    });
    const judge = resolved({ metrics: [LATENCY] });
    const got = await collectSamples(seedCanary(), judge, 'primary', window, deps());
    assert.match(got.samples.get('latency')!.error ?? '', /returned 2 series; a judge compares one: aggregate it/);
    const report = judgeSamples(judge, got.samples, 5, new Date(0));
    assert.equal(report.verdict, 'Fail');
    assert.equal(report.metrics[0]!.label, 'Error');
  });

  it('gives no samples, never a query into the future, when the step is shorter than one sample step', async () => {
    asked.length = 0;
    const judge = resolved({ sampleStep: '1m', metrics: [LATENCY] });
    const got = await collectSamples(seedCanary(), judge, 'baseline', { start: new Date(0), end: new Date(30_000) }, deps());
    assert.deepEqual(got.samples.get('latency'), { canary: [], baseline: [] });
    assert.equal(asked.length, 0);
    assert.equal(judgeSamples(judge, got.samples, 5, new Date(0)).metrics[0]!.label, 'Nodata');
  });
});

describe('judge in the controller: the verdict in a rollout', () => {
  const settings: Settings = { minIntervalMs: 1000, pollMs: 500 };
  const T0 = new Date('2026-11-27T10:00:00Z');
  const after = (ms: number) => new Date(T0.getTime() + ms);
  const target = deployment('podinfo:6.0.1', { paused: true });
  const obs = observed(target, copyOf('podinfo:6.0.1', 2));
  const judged = (verdict: 'Pass' | 'Marginal' | 'Fail', at: Date): MetricResult => {
    const judgement = {
      verdict,
      score: verdict === 'Pass' ? 100 : verdict === 'Marginal' ? 80 : 0,
      confidence: 0.998,
      baseline: 'fresh' as const,
      metrics: [
        { name: 'latency', label: verdict === 'Pass' ? 'Pass' : 'High', canaryN: 12, baselineN: 12, estimate: 3, lower: 1, upper: 5 },
      ],
      at: at.toISOString(),
    };
    return verdict === 'Pass'
      ? { name: 'judge', ok: true, message: '', value: judgement.score, judgement }
      : { name: 'judge', ok: verdict === 'Marginal', hold: verdict === 'Marginal', message: `judge ${verdict}`, judgement };
  };
  const canary = (over: Record<string, unknown> = {}): Canary =>
    seedCanary({ status: analysingStatus(T0, { phase: 'Progressing', ...over }), analysis: { metrics: [] } });

  it('advances on Pass and says so in an Event with the numbers', () => {
    const d = decide(canary(), obs, [judged('Pass', after(60_000))], after(60_000), settings);
    assert.equal(d.status.canaryWeight, 20);
    assert.equal(d.status.judgement?.verdict, 'Pass');
    assert.match(d.events[0]!.message, /^Judged podinfo\.test judge Pass, score 100: latency Pass: shift \+3 \[\+1, \+5\], n 12\/12$/);
  });

  it('warns at every step where the judge compared with the primary, saying why', () => {
    const pass = judged('Pass', after(60_000));
    pass.judgement = { ...pass.judgement!, baseline: 'primary', fallback: 'a StatefulSet has no fresh baseline' };
    const d = decide(canary(), obs, [pass], after(60_000), settings);
    assert.equal(d.events[0]!.type, 'Warning');
    assert.match(
      d.events[0]!.message,
      /judge Pass, score 100 against the primary, not a fresh baseline \(a StatefulSet has no fresh baseline\): latency Pass/,
    );
  });

  it('holds the weight on Marginal without counting a failed check, and the next judgement reads the samples after it', () => {
    const d = decide(canary(), obs, [judged('Marginal', after(60_000))], after(60_000), settings);
    assert.deepEqual([d.status.canaryWeight, d.status.failedChecks, d.status.phase], [10, 0, 'Progressing']);
    assert.equal(d.status.lastTransitionTime, after(60_000).toISOString());
    assert.equal(d.status.judgement?.marginalSince, after(60_000).toISOString());
    assert.match(d.events[0]!.message, /^Hold podinfo\.test at weight 10: judge Marginal/);
    // Still Marginal a step later: the hold keeps its start.
    const again = decide({ ...canary(), status: d.status }, obs, [judged('Marginal', after(120_000))], after(120_000), settings);
    assert.equal(again.status.judgement?.marginalSince, after(60_000).toISOString());
  });

  it('counts a Marginal that outlasts the progress deadline as a failed check, and a Fail at once', () => {
    const held = canary({
      judgement: { ...judged('Marginal', T0).judgement!, marginalSince: after(-30_000).toISOString() },
    });
    const d = decide(held, obs, [judged('Marginal', after(60_000))], after(60_000), settings);
    assert.equal(d.status.failedChecks, 1);
    assert.match(d.events[0]!.message, /the judge stayed Marginal past the progress deadline \(60s\)/);
    const f = decide(canary(), obs, [judged('Fail', after(60_000))], after(60_000), settings);
    assert.equal(f.status.failedChecks, 1);
    assert.match(f.events[0]!.message, /^Halt podinfo\.test advancement judge Fail/);
  });
});
