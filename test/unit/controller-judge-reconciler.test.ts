// A CanaryJudge through the reconciler, on the in-memory apiserver: the baseline made at rest,
// scaled with the canary, given the canary's share of the route once ready and scaled down only
// after the route stopped sending to it; a Pass advancing, a Fail rolling back, a judge that
// cannot be read failing the step with its reason.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { JUDGE_REF } from '../../api/canary-judge.js';
import { labels as L } from '../../api/contract.js';
import type { Deployment } from '../../api/workload.js';
import { at, R } from '../../lib/kube/client.js';
import { analysing, bootstrapped, type Harness, NS, step } from './reconciler-harness.js';

/** A Prometheus answering range queries: `canary` values for the canary's query, `reference` for the other side. */
async function rangeStub() {
  const sides = { canary: [12, 13, 12, 14, 13, 12, 13, 12], reference: [12, 13, 12, 14, 13, 12, 13, 12] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const query = new URLSearchParams(body).get('query') ?? '';
      const values = (query.includes('-canary') ? sides.canary : sides.reference).map((v, i) => [i, String(v)]);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values }] } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sides, close: () => server.close() };
}

const judge = (spec: Record<string, unknown>) => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'CanaryJudge',
  metadata: { name: 'podinfo', namespace: NS },
  spec,
});
const LATENCY = { metrics: [{ name: 'latency', query: 'mean{svc="{{ service }}-{{ variant }}"}', direction: 'increase' }] };

describe('a CanaryJudge through the reconciler', () => {
  let prom: Awaited<ReturnType<typeof rangeStub>>;
  before(async () => {
    prom = await rangeStub();
  });
  after(() => prom.close());
  const baseline = (h: Harness) => h.cluster.find<Deployment>(at(R.deployments, NS, 'podinfo-baseline'));

  it('runs the baseline only while analysed, gives it the canary’s share once ready, and shrinks it after the route lets go', async () => {
    const h = await bootstrapped(prom.url, { maxWeight: 20, metrics: [] });
    await h.cluster.create(at(JUDGE_REF, NS), judge(LATENCY));
    await h.settle();
    const atRest = (await baseline(h))!;
    assert.equal(atRest.spec.replicas, 0);
    assert.equal(atRest.metadata.labels?.[L.role], 'baseline');
    await analysing(h);
    assert.equal((await baseline(h))?.spec.replicas, 2, "the baseline runs at the canary copy's size");
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 90, 'podinfo-canary': 10 }, 'no share before a baseline pod is ready');
    h.rollOut('podinfo-baseline');
    await h.settle();
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 80, 'podinfo-canary': 10, 'podinfo-baseline': 10 });
    assert.ok(await h.cluster.find(at(R.services, NS, 'podinfo-baseline')), 'the baseline has its Service');
    let canary = await step(h);
    assert.equal(canary.status?.canaryWeight, 20);
    assert.equal(canary.status?.judgement?.verdict, 'Pass');
    assert.equal(canary.status?.judgement?.baseline, 'fresh');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 60, 'podinfo-canary': 20, 'podinfo-baseline': 20 });
    const mark = h.cluster.writes.length;
    canary = await step(h);
    assert.equal(canary.status?.phase, 'Promoting');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 0, 'podinfo-canary': 100 });
    assert.equal((await baseline(h))?.spec.replicas, 0);
    const later = h.cluster.writes.slice(mark);
    const routeWrite = later.findIndex((w) => w.ref.plural === 'httproutes');
    const shrink = later.findIndex((w) => w.ref.plural === 'deployments' && w.ref.name === 'podinfo-baseline');
    assert.ok(routeWrite >= 0 && shrink > routeWrite, `the route (${routeWrite}) lets go before the baseline shrinks (${shrink})`);
    assert.ok(h.events().some((e) => /^Judged podinfo\.test judge Pass, score 100: latency Pass: /.test(e)));
  });

  it('rolls back a candidate the judge finds slower, and says why in the status and an Event', async () => {
    const h = await bootstrapped(prom.url, { maxWeight: 20, threshold: 1, metrics: [] });
    await h.cluster.create(at(JUDGE_REF, NS), judge(LATENCY));
    await h.settle();
    await analysing(h);
    h.rollOut('podinfo-baseline');
    await h.settle();
    prom.sides.canary = [16, 17, 16, 18, 17, 16, 17, 16];
    try {
      const canary = await step(h);
      assert.equal(canary.status?.phase, 'Failed');
      assert.equal(canary.status?.judgement?.verdict, 'Fail');
      assert.equal(canary.status?.judgement?.metrics[0]?.label, 'High');
      assert.ok(h.events().some((e) => /^Halt podinfo\.test advancement judge Fail, score 0: latency High: shift \+4/.test(e)));
    } finally {
      prom.sides.canary = [...prom.sides.reference];
    }
  });

  it('fails the step on a judge it cannot read, naming the judge and the field', async () => {
    const h = await bootstrapped(prom.url, { maxWeight: 20, threshold: 1, metrics: [] });
    await h.cluster.create(at(JUDGE_REF, NS), judge({ metrics: [{ name: 'latency' }] }));
    await h.settle();
    await analysing(h);
    const canary = await step(h);
    assert.equal(canary.status?.phase, 'Failed');
    const check = canary.status?.lastChecks?.find((c) => c.name === 'judge');
    assert.match(
      check?.message ?? '',
      /judge check failed: CanaryJudge test\/podinfo: spec\.metrics\[0\] \(latency\) needs exactly one of query and templateRef/,
    );
    assert.equal((await baseline(h))?.spec.replicas ?? 0, 0, 'an unreadable judge runs no baseline');
  });
});
