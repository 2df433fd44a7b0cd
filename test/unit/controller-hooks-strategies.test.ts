// Hooks, gates and the iteration strategies in the state machine, driven the way the reconciler
// drives it: decide, answer what it asks for, decide again.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HookType, hooksOf, strategyOf } from '../../api/canary-analysis.js';
import type { CanaryStatus, CanaryWebhook } from '../../api/flagger-types.js';
import type { HookResults, MetricResult } from '../../controller/check-results.js';
import { callHook, hookPayload } from '../../controller/hooks/call-hook.js';
import { type Decision, decide, type Observed, type Settings } from '../../controller/state-machine.js';
import { analysingStatus, copyOf, deployment, observed, rev, seedCanary } from './controller-fixtures.js';

const settings: Settings = { minIntervalMs: 1000, pollMs: 500 };
const T0 = new Date('2026-11-27T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const V0 = 'podinfo:6.0.0';
const V1 = 'podinfo:6.0.1';
const target = deployment(V1, { paused: true });
const obs = (copy = copyOf(V1, 2)): Observed => observed(target, copy);
const pass: MetricResult[] = [{ name: 'request-success-rate', ok: true, value: 100, message: '' }];
const status = (over: Partial<CanaryStatus>): CanaryStatus => analysingStatus(T0, over);
const hook = (type: HookType, name: string = type): CanaryWebhook => ({ name, type, url: `http://tester/${name}` });
const messages = (d: Decision) => d.events.map((e) => e.message);

/** Runs decide to completion, answering hooks from `answers` (type → ok) and metrics with `metrics`; records what was asked. */
function drive(
  c: ReturnType<typeof seedCanary>,
  o: Observed,
  now: Date,
  answers: Partial<Record<HookType, boolean>>,
  metrics: MetricResult[] = pass,
) {
  const asked: string[] = [];
  let hooks: HookResults = {};
  let m: MetricResult[] | undefined;
  let d = decide(c, o, undefined, now, settings);
  for (let i = 0; i < 10 && (d.needHooks || d.needMetrics); i++) {
    if (d.needHooks) {
      asked.push(d.needHooks);
      const ok = answers[d.needHooks] ?? true;
      hooks = {
        ...hooks,
        [d.needHooks]: hooksOf(c, d.needHooks).map((h) => ({ name: h.name, ok, message: ok ? 'answered 200' : 'answered 403: closed' })),
      };
    } else {
      asked.push('metrics');
      m = metrics;
    }
    d = decide(c, o, m, now, settings, hooks);
  }
  return { d, asked };
}

describe('analysis hooks in the state machine', () => {
  it('asks nothing of a Canary without hooks (its steps are as before)', () => {
    const { d, asked } = drive(seedCanary({ status: status({ phase: 'Progressing' }) }), obs(), at(60_000), {});
    assert.deepEqual(asked, ['metrics']);
    assert.equal(d.status.canaryWeight, 20);
  });

  it('holds a new revision in Waiting, copy at zero, until confirm-rollout opens', () => {
    const c = seedCanary({
      analysis: { webhooks: [hook('confirm-rollout', 'gate')] },
      status: { phase: 'Succeeded', lastPromotedSpec: rev(V0), lastTransitionTime: T0.toISOString() },
    });
    const closed = drive(c, obs(copyOf(V0, 0)), at(1000), { 'confirm-rollout': false }).d;
    assert.equal(closed.status.phase, 'Waiting');
    assert.equal(closed.status.lastAppliedSpec, rev(V1));
    assert.deepEqual(messages(closed), ['Halt podinfo.test advancement waiting for approval gate']);
    // Still closed: no repeated event, no status change.
    const again = drive({ ...c, status: closed.status }, obs(copyOf(V0, 0)), at(70_000), { 'confirm-rollout': false });
    assert.deepEqual(again.asked, ['confirm-rollout']);
    assert.deepEqual(again.d.events, []);
    const open = drive({ ...c, status: closed.status }, obs(copyOf(V0, 0)), at(130_000), { 'confirm-rollout': true }).d;
    assert.equal(open.status.phase, 'Progressing');
    assert.deepEqual(messages(open), ['New revision detected! Scaling up podinfo-canary.test']);
  });

  it('rolls back from Waiting when a rollback hook answers 2xx', () => {
    const c = seedCanary({
      analysis: { webhooks: [hook('confirm-rollout'), hook('rollback', 'switch')] },
      status: status({ phase: 'Waiting', canaryWeight: 0, iterations: 0 }),
    });
    const { d, asked } = drive(c, obs(copyOf(V0, 0)), at(70_000), { rollback: true });
    assert.deepEqual(asked, ['rollback']);
    assert.equal(d.status.phase, 'Failed');
    assert.match(messages(d)[0]!, /^Rolling back podinfo\.test manual webhook invoked$/);
  });

  it('counts a failing pre-rollout hook as a failed check, retries after an interval, then starts', () => {
    const c = seedCanary({
      analysis: { threshold: 3, webhooks: [hook('pre-rollout', 'smoke')] },
      status: status({ phase: 'Progressing', canaryWeight: 0, iterations: 0 }),
    });
    const first = drive(c, obs(), at(1000), { 'pre-rollout': false }).d;
    assert.equal(first.status.failedChecks, 1);
    assert.equal(first.status.canaryWeight, 0);
    assert.deepEqual(messages(first), ['Halt podinfo.test advancement pre-rollout check smoke failed answered 403: closed']);
    const early = drive({ ...c, status: first.status }, obs(), at(30_000), { 'pre-rollout': true });
    assert.deepEqual(early.asked, [], 'not retried within the interval');
    const later = drive({ ...c, status: first.status }, obs(), at(62_000), { 'pre-rollout': true }).d;
    assert.equal(later.status.canaryWeight, 10);
    assert.equal(later.status.failedChecks, 0);
  });

  it('asks rollback, then rollout hooks, then metrics, then the traffic gate, in that order', () => {
    const c = seedCanary({
      analysis: { webhooks: [hook('rollback'), hook('rollout'), hook('confirm-traffic-increase')] },
      status: status({ phase: 'Progressing' }),
    });
    const { d, asked } = drive(c, obs(), at(60_000), { rollback: false });
    assert.deepEqual(asked, ['rollback', 'rollout', 'metrics', 'confirm-traffic-increase']);
    assert.equal(d.status.canaryWeight, 20);
    const held = drive(c, obs(), at(60_000), { rollback: false, 'confirm-traffic-increase': false }).d;
    assert.equal(held.status.canaryWeight, 10);
    assert.equal(held.status.failedChecks, 0, 'a closed traffic gate is not a failure');
    assert.deepEqual(messages(held), ['Halt podinfo.test advancement waiting for traffic increase approval confirm-traffic-increase']);
  });

  it('a failing rollout hook is a failed check like a failing metric, and rolls back at the threshold', () => {
    const c = seedCanary({
      analysis: { threshold: 2, webhooks: [hook('rollout', 'load')] },
      status: status({ phase: 'Progressing', failedChecks: 1 }),
    });
    const d = drive(c, obs(), at(60_000), { rollout: false }).d;
    assert.equal(d.status.phase, 'Failed');
    assert.deepEqual(messages(d), [
      'Halt podinfo.test advancement rollout check load failed answered 403: closed',
      'Rolling back podinfo.test failed checks threshold reached 2',
      'Canary failed! Scaling down podinfo-canary.test',
    ]);
  });

  it('holds at max weight in WaitingPromotion while confirm-promotion is closed, still checking metrics, then promotes', () => {
    const c = seedCanary({
      analysis: { webhooks: [hook('confirm-promotion', 'promotion gate')] },
      status: status({ phase: 'Progressing', canaryWeight: 50, iterations: 5 }),
    });
    const held = drive(c, obs(), at(60_000), { 'confirm-promotion': false }).d;
    assert.equal(held.status.phase, 'WaitingPromotion');
    assert.equal(held.status.canaryWeight, 50);
    assert.deepEqual(messages(held), ['Halt podinfo.test advancement waiting for promotion approval promotion gate']);
    const failing = drive({ ...c, status: held.status }, obs(), at(120_000), { 'confirm-promotion': false }, [
      { name: 'request-success-rate', ok: false, message: 'success rate 50% < 99%' },
    ]).d;
    assert.equal(failing.status.failedChecks, 1, 'analysis goes on while waiting');
    const open = drive({ ...c, status: held.status }, obs(), at(120_000), { 'confirm-promotion': true }).d;
    assert.equal(open.status.phase, 'Promoting');
    assert.equal(open.status.canaryWeight, 100);
  });
});

describe('iteration strategies', () => {
  const ab = (st: Partial<CanaryStatus>) =>
    seedCanary({ analysis: { iterations: 3, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] }, status: status(st) });
  it('tells the strategies apart', () => {
    assert.equal(strategyOf(seedCanary()), 'canary');
    assert.equal(strategyOf(ab({})), 'ab');
    assert.equal(strategyOf(seedCanary({ analysis: { iterations: 5 } })), 'bluegreen');
  });
  it('A/B: starts without weights, counts iterations, promotes after the last passing one', () => {
    const start = drive(ab({ phase: 'Progressing', canaryWeight: 0, iterations: 0 }), obs(), at(1000), {}).d;
    assert.equal(start.status.canaryWeight, 0);
    assert.equal(start.status.iterations, 1);
    assert.deepEqual(messages(start), [
      'Starting canary analysis for podinfo.test',
      'Advance podinfo.test canary iteration 1/3 (requests matching analysis.match to the canary)',
    ]);
    let st = start.status;
    const seen: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const next = decide({ ...ab({}), status: st }, obs(), pass, at(1000 + i * 60_000), settings);
      seen.push(...messages(next));
      st = next.status;
    }
    assert.deepEqual(seen, [
      'Advance podinfo.test canary iteration 2/3',
      'Advance podinfo.test canary iteration 3/3',
      'Routing all traffic to canary podinfo-canary.test',
      `Promoting revision ${rev(V1).slice(0, 10)}… to podinfo.test`,
    ]);
    assert.equal(st.phase, 'Promoting');
    assert.equal(st.canaryWeight, 100);
  });
});

describe('calling hooks', () => {
  let server: http.Server;
  let base: string;
  const seen: unknown[] = [];
  let answer: (res: http.ServerResponse) => void = (res) => res.end('ok');
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push(JSON.parse(body));
        answer(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it("POSTs Flagger's payload and reports 2xx as passed", async () => {
    seen.length = 0;
    const c = seedCanary({ status: status({ phase: 'Progressing' }) });
    const h: CanaryWebhook = { name: 'load', type: 'rollout', url: `${base}/`, metadata: { cmd: 'hey -z 1m' } };
    const r = await callHook(h, hookPayload(c, h, 'Progressing'));
    assert.deepEqual(r, { name: 'load', ok: true, message: 'answered 200' });
    assert.deepEqual(seen, [
      { name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: rev(V1), metadata: { cmd: 'hey -z 1m' } },
    ]);
  });

  it('reports a non-2xx answer with its body, retrying as asked', async () => {
    seen.length = 0;
    answer = (res) => {
      res.statusCode = 403;
      res.end('gate closed');
    };
    const r = await callHook({ name: 'gate', url: `${base}/`, retries: 2, timeout: '5s' }, hookPayload(seedCanary(), {}, 'Waiting'));
    assert.deepEqual(r, { name: 'gate', ok: false, message: 'answered 403: gate closed' });
    assert.equal(seen.length, 3);
  });

  it('a hook that hangs costs at most its timeout, retries included', async () => {
    answer = () => undefined; // never answers
    const t0 = Date.now();
    const r = await callHook({ name: 'slow', url: `${base}/`, retries: 5, timeout: '300ms' }, hookPayload(seedCanary(), {}, 'Progressing'));
    const took = Date.now() - t0;
    assert.equal(r.ok, false);
    assert.equal(r.message, 'timed out after 0.3s');
    assert.ok(took < 1000, `took ${took} ms`);
    answer = (res) => res.end('ok');
  });

  it('names a refused connection', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/`;
    await new Promise((r) => closed.close(r));
    const r = await callHook({ name: 'gone', url, timeout: '1s' }, hookPayload(seedCanary(), {}, 'Progressing'));
    assert.deepEqual(r, { name: 'gone', ok: false, message: `could not be reached at ${url}: ECONNREFUSED` });
  });
});
