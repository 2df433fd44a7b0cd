// Whole rollouts through the state machine, pass after pass, as the reconciler drives it: the world
// answers each status as the objects would (the frozen target, the canary copy scaled up and ready,
// the primary rolled out after the release), the clock moves to each requeue, metrics answer when
// asked. What is checked is what a person sees: the Events, in order and in Flagger's words (the
// seed guide's `kubectl describe canary`), and the status at each phase. A step taken twice, an
// Event lost or reworded, a phase skipped fails here.
import assert from 'node:assert/strict';
import { type HookType, hooksOf } from '../../api/canary-analysis.js';
import { annotations } from '../../api/contract.js';
import type { Canary, CanaryCondition, CanaryStatus } from '../../api/flagger-types.js';
import type { HookResults, MetricResult } from '../../controller/check-results.js';
import { type Decision, decide, type Observed, type Settings } from '../../controller/state-machine.js';
import { copyOf, deployment, observed, rev, seedCanary } from './controller-fixtures.js';

const settings: Settings = { minIntervalMs: 1000, pollMs: 500 };
const T0 = new Date('2026-11-27T10:00:00Z');
const V0 = 'podinfo:6.0.0';
const V1 = 'podinfo:6.0.1';
const short = (image: string) => rev(image).slice(0, 10);

const ok = (name = 'request-success-rate', value = 100): MetricResult => ({ name, ok: true, value, message: '' });
const bad = (value: number): MetricResult => ({
  name: 'request-success-rate',
  ok: false,
  value,
  message: `request-success-rate ${value} < 99`,
});

/** The objects as they are for a status: the target frozen on V1 until the release rolls it out. */
function world(st: CanaryStatus): Observed {
  const releasing = st.phase === 'Promoting' || st.phase === 'Finalising' || st.phase === 'Succeeded';
  const target = releasing
    ? deployment(V1, { annotations: { [annotations.stableRevision]: rev(V1) } })
    : deployment(V1, { paused: true, annotations: { [annotations.stableRevision]: rev(V0) } });
  const analysed = st.lastAppliedSpec === rev(V1) && st.phase !== 'Failed' && st.phase !== 'Succeeded';
  return observed(target, analysed ? copyOf(V1, 2) : copyOf(V0, 0));
}

interface Trace {
  events: string[];
  phases: string[];
  weights: number[];
  /** The status after each pass. */
  statuses: CanaryStatus[];
  last: Decision;
  passes: number;
}

interface RunOptions {
  /** The objects for a status (default: world()). */
  world?: (st: CanaryStatus, pass: number) => Observed;
  /** Whether the hooks of a type answer 2xx, the n-th time that type is asked (default: yes). */
  hooks?: (type: HookType, n: number) => boolean;
  maxPasses?: number;
}

/** Decides until the rollout ends (or maxPasses), answering metrics with `metrics(n)` for the n-th check. */
function run(c: Canary, metrics: (n: number) => MetricResult[], o: RunOptions = {}): Trace {
  const t: Trace = { events: [], phases: [], weights: [], statuses: [], last: undefined as never, passes: 0 };
  let status = c.status ?? {};
  let now = T0;
  let checks = 0;
  const asked = new Map<HookType, number>();
  for (; t.passes < (o.maxPasses ?? 60); t.passes++) {
    const canary = { ...c, status };
    const objects = (o.world ?? world)(status, t.passes);
    let hooks: HookResults = {};
    let m: MetricResult[] | undefined;
    let d = decide(canary, objects, undefined, now, settings);
    for (let i = 0; i < 10 && (d.needHooks || d.needMetrics); i++) {
      if (d.needHooks) {
        const type = d.needHooks;
        const n = asked.get(type) ?? 0;
        asked.set(type, n + 1);
        const open = o.hooks?.(type, n) ?? true;
        hooks = {
          ...hooks,
          [type]: hooksOf(c, type).map((h) => ({ name: h.name, ok: open, message: open ? 'answered 200' : 'answered 403' })),
        };
      } else m = metrics(checks++);
      d = decide(canary, objects, m, now, settings, hooks);
    }
    const at = (now.getTime() - T0.getTime()) / 1000;
    t.events.push(...d.events.map((e) => `${at} s ${e.type}: ${e.message}`));
    if (d.status.phase !== t.phases.at(-1)) t.phases.push(d.status.phase ?? '');
    if (d.status.canaryWeight !== undefined && d.status.canaryWeight !== t.weights.at(-1)) t.weights.push(d.status.canaryWeight);
    t.statuses.push(d.status);
    t.last = d;
    status = d.status;
    if ((status.phase === 'Succeeded' || status.phase === 'Failed') && t.passes > 0 && d.requeueAfterMs === undefined) break;
    now = new Date(now.getTime() + Math.max(d.requeueAfterMs ?? 60_000, 1));
  }
  return t;
}

const atRest: CanaryStatus = {
  phase: 'Succeeded',
  lastPromotedSpec: rev(V0),
  lastAppliedSpec: rev(V0),
  lastTransitionTime: T0.toISOString(),
};

const PROMOTED: Omit<CanaryCondition, 'lastUpdateTime' | 'lastTransitionTime'> = {
  type: 'Promoted',
  status: 'True',
  reason: 'Succeeded',
  message: 'Canary analysis completed successfully, promotion finished.',
};
const FAILED: Omit<CanaryCondition, 'lastUpdateTime' | 'lastTransitionTime'> = {
  type: 'Promoted',
  status: 'False',
  reason: 'Failed',
  message: 'Canary analysis failed, canary scaled to zero.',
};
const conditionsOf = (st: CanaryStatus) => st.conditions?.map(({ type, status, reason, message }) => ({ type, status, reason, message }));
const A_B = { stepWeight: undefined, maxWeight: undefined };

describe('whole rollouts through the state machine', () => {
  it('progressive: each weight step once, one interval apart, then the release', () => {
    const t = run(seedCanary({ status: atRest }), () => [ok()]);
    assert.deepEqual(t.events, [
      '0 s Normal: New revision detected! Scaling up podinfo-canary.test',
      '0.001 s Normal: Starting canary analysis for podinfo.test',
      '0.001 s Normal: Advance podinfo.test canary weight 10',
      '60.001 s Normal: Advance podinfo.test canary weight 20',
      '120.001 s Normal: Advance podinfo.test canary weight 30',
      '180.001 s Normal: Advance podinfo.test canary weight 40',
      '240.001 s Normal: Advance podinfo.test canary weight 50',
      '300.001 s Normal: Routing all traffic to canary',
      `300.001 s Normal: Promoting revision ${short(V1)}… to podinfo.test`,
      '300.501 s Normal: Promotion completed! Scaling down podinfo-canary.test',
    ]);
    assert.deepEqual(t.phases, ['Progressing', 'Promoting', 'Succeeded']);
    assert.deepEqual(t.weights, [0, 10, 20, 30, 40, 50, 100, 0]);
    const st = t.last.status;
    assert.deepEqual([st.lastPromotedSpec, st.lastAppliedSpec, st.failedChecks, st.iterations], [rev(V1), rev(V1), 0, 6]);
    assert.deepEqual(conditionsOf(st), [PROMOTED]);
    assert.equal(st.conditions![0]!.lastTransitionTime, '2026-11-27T10:05:00.501Z');
    assert.deepEqual(st.lastChecks, [{ name: 'request-success-rate', ok: true, value: 100, at: '2026-11-27T10:05:00.001Z' }]);
  });

  it('stepWeightPromotion: traffic goes back to the primary in steps, one interval apart', () => {
    const t = run(seedCanary({ status: atRest, analysis: { stepWeightPromotion: 50 } }), () => [ok()]);
    assert.deepEqual(t.events.slice(-4), [
      '300.001 s Normal: Routing all traffic to canary',
      `300.001 s Normal: Promoting revision ${short(V1)}… to podinfo.test`,
      '300.501 s Normal: Advance podinfo.test primary weight 50',
      '360.501 s Normal: Promotion completed! Scaling down podinfo-canary.test',
    ]);
    assert.deepEqual(t.phases, ['Progressing', 'Promoting', 'Finalising', 'Succeeded']);
    assert.deepEqual(t.weights.slice(-3), [100, 50, 0]);
  });

  it('a failing metric: halts with its message at each check, rolls back at the threshold, records the failure', () => {
    const t = run(seedCanary({ status: atRest }), (n) => (n === 0 ? [ok()] : [bad(69.17)]));
    assert.deepEqual(t.events, [
      '0 s Normal: New revision detected! Scaling up podinfo-canary.test',
      '0.001 s Normal: Starting canary analysis for podinfo.test',
      '0.001 s Normal: Advance podinfo.test canary weight 10',
      '60.001 s Normal: Advance podinfo.test canary weight 20',
      ...[120, 180, 240, 300, 360].map((s) => `${s}.001 s Normal: Halt podinfo.test advancement request-success-rate 69.17 < 99`),
      '360.001 s Warning: Rolling back podinfo.test failed checks threshold reached 5',
      '360.001 s Warning: Canary failed! Scaling down podinfo-canary.test',
    ]);
    assert.deepEqual(t.phases, ['Progressing', 'Failed']);
    assert.deepEqual(t.weights, [0, 10, 20, 0]);
    const st = t.last.status;
    assert.deepEqual([st.lastPromotedSpec, st.lastAppliedSpec, st.failedChecks], [rev(V0), rev(V1), 5]);
    assert.deepEqual(conditionsOf(st), [FAILED]);
    assert.deepEqual(st.lastChecks, [
      { name: 'request-success-rate', ok: false, value: 69.17, message: 'request-success-rate 69.17 < 99', at: '2026-11-27T10:06:00.001Z' },
    ]);
  });

  it('lastChecks keep each metric’s bounds and drop a value that is not a number', () => {
    const t = run(seedCanary({ status: atRest }), () => [
      { ...ok('latency', 250), max: 500 },
      { ...ok(), min: 99 },
      { ...ok('errors'), value: Number.NaN },
    ]);
    assert.deepEqual(t.last.status.lastChecks, [
      { name: 'latency', ok: true, value: 250, max: 500, at: '2026-11-27T10:05:00.001Z' },
      { name: 'request-success-rate', ok: true, value: 100, min: 99, at: '2026-11-27T10:05:00.001Z' },
      { name: 'errors', ok: true, at: '2026-11-27T10:05:00.001Z' },
    ]);
  });

  it('A/B: iterations counted one interval apart, the match named once, then the release', () => {
    const t = run(seedCanary({ status: atRest, analysis: { iterations: 3, match: [{ headers: { x: { exact: 'y' } } }], ...A_B } }), () => [
      ok(),
    ]);
    assert.deepEqual(t.events, [
      '0 s Normal: New revision detected! Scaling up podinfo-canary.test',
      '0.001 s Normal: Starting canary analysis for podinfo.test',
      '0.001 s Normal: Advance podinfo.test canary iteration 1/3 (requests matching analysis.match to the canary)',
      '60.001 s Normal: Advance podinfo.test canary iteration 2/3',
      '120.001 s Normal: Advance podinfo.test canary iteration 3/3',
      '180.001 s Normal: Routing all traffic to canary podinfo-canary.test',
      `180.001 s Normal: Promoting revision ${short(V1)}… to podinfo.test`,
      '180.501 s Normal: Promotion completed! Scaling down podinfo-canary.test',
    ]);
    assert.deepEqual(t.weights, [0, 100, 0]);
    assert.equal(t.last.status.iterations, 4);
  });

  it('blue/green: with a mirror, and without traffic', () => {
    const mirrored = run(seedCanary({ status: atRest, analysis: { iterations: 2, mirror: true, ...A_B } }), () => [ok()]);
    assert.equal(mirrored.events[2], '0.001 s Normal: Advance podinfo.test canary iteration 1/2 (a mirror of the traffic to the canary)');
    assert.equal(mirrored.events[4], '120.001 s Normal: Routing all traffic to canary podinfo-canary.test');
    const dark = run(seedCanary({ status: atRest, analysis: { iterations: 2, ...A_B } }), () => [ok()]);
    assert.equal(dark.events[2], '0.001 s Normal: Advance podinfo.test canary iteration 1/2 (no traffic to the canary)');
    assert.deepEqual(dark.phases, ['Progressing', 'Promoting', 'Succeeded']);
  });

  it('skipAnalysis: released at once, said so', () => {
    const t = run(seedCanary({ status: atRest, spec: { skipAnalysis: true } }), () => assert.fail('no metric is asked for'));
    assert.deepEqual(t.events, [
      '0 s Normal: New revision detected! Skipping analysis of podinfo.test (skipAnalysis)',
      '0 s Normal: Routing all traffic to canary',
      `0 s Normal: Promoting revision ${short(V1)}… to podinfo.test`,
      '0.5 s Normal: Promotion completed! Scaling down podinfo-canary.test',
    ]);
    assert.deepEqual(t.weights, [100, 0]);
    assert.equal(t.last.status.lastChecks, undefined);
  });
});

describe('control actions: what each answers, in the words a person reads', () => {
  const V2 = 'podinfo:6.0.2';
  const analysing: CanaryStatus = {
    phase: 'Progressing',
    lastPromotedSpec: rev(V0),
    lastAppliedSpec: rev(V1),
    canaryWeight: 30,
    lastTransitionTime: T0.toISOString(),
  };
  const pausedByBob: CanaryStatus = { ...analysing, analysisPaused: { by: 'bob', at: T0.toISOString() } };
  const asked = (verb: string) => `${verb} of podinfo.test requested by alice (urgent fix)`;
  type Row = [
    verb: string,
    status: CanaryStatus,
    image: string,
    result: 'Applied' | 'Rejected',
    phase: string,
    message: string,
    more?: string[],
  ];
  const rows: Row[] = [
    [
      'promote',
      analysing,
      V1,
      'Applied',
      'Promoting',
      'remaining analysis skipped, releasing to the primary',
      [`Normal: Promoting revision ${short(V1)}… to podinfo.test`],
    ],
    ['promote', { ...analysing, phase: 'Succeeded' }, V1, 'Rejected', 'Succeeded', 'no analysis to cut short (phase Succeeded)'],
    [
      'promote',
      analysing,
      V2,
      'Rejected',
      'Progressing',
      'podinfo.test changed to a newer revision, whose analysis is starting; promote that one once it runs',
    ],
    ['pause', analysing, V1, 'Applied', 'Progressing', 'analysis held; the freeze still holds'],
    ['pause', pausedByBob, V1, 'Rejected', 'Progressing', 'already paused by bob since 2026-11-27T10:00:00.000Z'],
    ['resume', analysing, V1, 'Rejected', 'Progressing', 'it is not paused'],
    ['resume', pausedByBob, V1, 'Applied', 'Progressing', 'analysis goes on'],
    [
      'abort',
      { ...analysing, phase: 'Promoting' },
      V1,
      'Rejected',
      'Promoting',
      'the release to the primary has begun (phase Promoting); push the previous revision to undo it',
    ],
    ['abort', { ...analysing, phase: 'Succeeded' }, V1, 'Rejected', 'Succeeded', 'no rollout in progress (phase Succeeded)'],
    [
      'abort',
      analysing,
      V1,
      'Applied',
      'Failed',
      'rolled back; the primary pods were not touched',
      ['Warning: Rolling back podinfo.test aborted by alice', 'Warning: Canary failed! Scaling down podinfo-canary.test'],
    ],
    ['retry', analysing, V1, 'Rejected', 'Progressing', 'only a Failed rollout can be retried (phase Progressing)'],
    [
      'retry',
      { ...analysing, phase: 'Failed' },
      V1,
      'Applied',
      'Progressing',
      `analysing revision ${short(V1)}… again`,
      ['Normal: New revision detected! Scaling up podinfo-canary.test'],
    ],
    [
      'retry',
      { ...analysing, phase: 'Failed' },
      V2,
      'Rejected',
      'Failed',
      'podinfo.test holds another revision now, which is analysed on its own',
    ],
    ['pause', { phase: 'Initializing' }, V1, 'Rejected', 'Initializing', 'podinfo.test is not initialized yet; act once it is'],
  ];
  for (const [verb, st, image, result, phase, message, more = []] of rows) {
    it(`${verb} in ${st.phase}${st.analysisPaused ? ' (paused)' : ''} on ${image}: ${result}`, () => {
      const target = deployment(image, { paused: true, annotations: { [annotations.stableRevision]: rev(V0) } });
      const action = { name: 'a1', verb: verb as never, by: 'alice', reason: 'urgent fix' };
      const d = decide(seedCanary({ status: st }), { ...observed(target, copyOf(V1, 2)), action }, [ok()], T0, settings);
      assert.deepEqual(d.action, { name: 'a1', result, message });
      assert.equal(d.status.phase, phase);
      const first = result === 'Applied' ? `Normal: Accepted ${asked(verb)}: ${message}` : `Warning: Refused ${asked(verb)}: ${message}`;
      assert.deepEqual(
        d.events.map((e) => `${e.type}: ${e.message}`),
        [first, ...more],
      );
      assert.deepEqual(d.status.lastAction, { name: 'a1', action: verb, by: 'alice', at: T0.toISOString(), result, message });
      assert.equal(d.requeueAfterMs, 0, 'decided again at once: the action may have changed what is due');
      if (verb === 'pause' && result === 'Applied') assert.deepEqual(d.status.analysisPaused, { by: 'alice', at: T0.toISOString() });
      if (result === 'Applied' && verb !== 'pause') assert.equal(d.status.analysisPaused, undefined, 'an explicit decision lifts a pause');
    });
  }
});

describe('gates, hooks and waits through whole rollouts', () => {
  const hook = (type: HookType, name: string) => ({ name, type, url: `http://tester/${name}` });
  const withHooks = (...hs: ReturnType<typeof hook>[]) => seedCanary({ status: atRest, analysis: { webhooks: hs } });
  const released = (at: number) => [
    `${at}.001 s Normal: Routing all traffic to canary`,
    `${at}.001 s Normal: Promoting revision ${short(V1)}… to podinfo.test`,
    `${at}.501 s Normal: Promotion completed! Scaling down podinfo-canary.test`,
  ];
  const weights = (from: number, ...ws: number[]) =>
    ws.map((w, i) => `${from + 60 * i}.001 s Normal: Advance podinfo.test canary weight ${w}`);

  it('confirm-rollout closed: the revision waits (said once), then starts from scratch when it opens', () => {
    const t = run(withHooks(hook('confirm-rollout', 'gate-a')), () => [ok()], { hooks: (_t, n) => n >= 2 });
    assert.deepEqual(t.events, [
      '0 s Normal: Halt podinfo.test advancement waiting for approval gate-a',
      '120 s Normal: New revision detected! Scaling up podinfo-canary.test',
      '120.001 s Normal: Starting canary analysis for podinfo.test',
      ...weights(120, 10, 20, 30, 40, 50),
      ...released(420),
    ]);
    assert.deepEqual(t.phases, ['Waiting', 'Progressing', 'Promoting', 'Succeeded']);
    assert.deepEqual(
      t.statuses.slice(0, 2).map((st) => [st.phase, st.lastAppliedSpec, st.canaryWeight]),
      [
        ['Waiting', rev(V1), 0],
        ['Waiting', rev(V1), 0],
      ],
    );
  });

  it('confirm-promotion closed: held at the last weight (said once, metrics still checked), then released', () => {
    let checked = 0;
    const t = run(
      withHooks(hook('confirm-promotion', 'promo')),
      () => {
        checked++;
        return [ok()];
      },
      { hooks: (_t, n) => n >= 2 },
    );
    assert.deepEqual(t.events.slice(7), [
      '300.001 s Normal: Halt podinfo.test advancement waiting for promotion approval promo',
      ...released(420),
    ]);
    assert.deepEqual(t.phases, ['Progressing', 'WaitingPromotion', 'Promoting', 'Succeeded']);
    assert.equal(checked, 7, 'a check at each of the 5 steps, and at each of the 2 closed asks');
  });

  it('confirm-traffic-increase closed once: that step is held for an interval, then goes on', () => {
    const t = run(withHooks(hook('confirm-traffic-increase', 'more')), () => [ok()], { hooks: (_t, n) => n !== 1 });
    assert.deepEqual(t.events.slice(2), [
      ...weights(0, 10, 20),
      '120.001 s Normal: Halt podinfo.test advancement waiting for traffic increase approval more',
      ...weights(180, 30, 40, 50),
      ...released(360),
    ]);
  });

  it('a rollback hook answering 2xx rolls back at the next step', () => {
    const t = run(withHooks(hook('rollback', 'stop')), () => [ok()], { hooks: (_t, n) => n === 3 });
    assert.deepEqual(t.events.slice(-3), [
      '180.001 s Normal: Advance podinfo.test canary weight 40',
      '240.001 s Warning: Rolling back podinfo.test manual webhook invoked',
      '240.001 s Warning: Canary failed! Scaling down podinfo-canary.test',
    ]);
    assert.deepEqual(t.phases, ['Progressing', 'Failed']);
    assert.deepEqual(conditionsOf(t.last.status), [FAILED]);
  });

  it('a failing pre-rollout hook: a failed check each interval before any traffic, then the analysis starts', () => {
    const t = run(withHooks(hook('pre-rollout', 'smoke')), () => [ok()], { hooks: (_t, n) => n >= 2 });
    assert.deepEqual(t.events.slice(0, 5), [
      '0 s Normal: New revision detected! Scaling up podinfo-canary.test',
      '0.001 s Warning: Halt podinfo.test advancement pre-rollout check smoke failed answered 403',
      '60.001 s Warning: Halt podinfo.test advancement pre-rollout check smoke failed answered 403',
      '120.001 s Normal: Starting canary analysis for podinfo.test',
      '120.001 s Normal: Advance podinfo.test canary weight 10',
    ]);
    assert.deepEqual(
      t.statuses.slice(1, 3).map((st) => [st.failedChecks, st.canaryWeight]),
      [
        [1, 0],
        [2, 0],
      ],
    );
  });

  it('a failing rollout hook halts its step like a failing metric', () => {
    const t = run(withHooks(hook('rollout', 'load')), () => [ok()], { hooks: (_t, n) => n !== 2 });
    assert.deepEqual(t.events.slice(2, 7), [
      ...weights(0, 10, 20, 30),
      '180.001 s Warning: Halt podinfo.test advancement rollout check load failed answered 403',
      '240.001 s Normal: Advance podinfo.test canary weight 40',
    ]);
    assert.equal(t.statuses.find((st) => st.failedChecks === 1)?.canaryWeight, 30);
  });

  it('a canary copy never ready: a Warning each poll, rolled back when the progress deadline passes', () => {
    const t = run(seedCanary({ status: atRest }), () => [ok()], {
      world: (st) => ({ ...world(st), canaryCopy: copyOf(V1, 2, false) }),
      maxPasses: 400,
    });
    const waits = t.events.filter((e) =>
      / Warning: Waiting for podinfo-canary\.test rollout to finish: 0 of 2 updated replicas are available$/.test(e),
    );
    assert.equal(waits.length, 120, 'one every 500 ms for 60 s');
    assert.deepEqual(t.events.slice(-2), [
      '60.001 s Warning: Rolling back podinfo.test progress deadline exceeded: podinfo-canary.test not ready after 60 s',
      '60.001 s Warning: Canary failed! Scaling down podinfo-canary.test',
    ]);
    assert.deepEqual(t.phases, ['Progressing', 'Failed']);
  });

  it('ready pods the canary Service does not list yet: no traffic until it does', () => {
    const t = run(seedCanary({ status: atRest }), () => [ok()], { world: (st, n) => ({ ...world(st), canaryEndpoints: n < 3 ? 0 : 2 }) });
    assert.deepEqual(t.events.slice(0, 5), [
      '0 s Normal: New revision detected! Scaling up podinfo-canary.test',
      '0.001 s Warning: Waiting for podinfo-canary.test to list the ready pods of podinfo-canary.test: no ready endpoint yet',
      '0.501 s Warning: Waiting for podinfo-canary.test to list the ready pods of podinfo-canary.test: no ready endpoint yet',
      '1.001 s Normal: Starting canary analysis for podinfo.test',
      '1.001 s Normal: Advance podinfo.test canary weight 10',
    ]);
  });

  it('a newer revision mid-analysis restarts it from weight 0; a revert to the stable revision abandons it', () => {
    const V2 = 'podinfo:6.0.2';
    const newer = run(seedCanary({ status: atRest }), () => [ok()], {
      world: (st, n) => (n >= 3 ? observed(deployment(V2, { paused: true }), copyOf(V1, 2)) : world(st)),
      maxPasses: 4,
    });
    assert.equal(newer.events.at(-1), '120.001 s Normal: New revision detected! Restarting analysis for podinfo.test');
    assert.deepEqual(
      [newer.last.status.phase, newer.last.status.lastAppliedSpec, newer.last.status.canaryWeight, newer.last.status.lastPromotedSpec],
      ['Progressing', rev(V2), 0, rev(V0)],
    );
    const reverted = run(seedCanary({ status: atRest }), () => [ok()], {
      world: (st, n) => (n === 3 ? observed(deployment(V0, { paused: true }), copyOf(V1, 2)) : world(st)),
      maxPasses: 4,
    });
    assert.equal(
      reverted.events.at(-1),
      `120.001 s Normal: podinfo.test reverted to its stable revision ${short(V0)}…; analysis of ${short(V1)}… abandoned`,
    );
    assert.deepEqual(
      [reverted.last.status.phase, reverted.last.status.lastAppliedSpec, reverted.last.status.canaryWeight],
      ['Initialized', rev(V0), 0],
    );
  });

  it('the release waits for the primary pods, saying how many are ready', () => {
    const t = run(seedCanary({ status: atRest }), () => [ok()], {
      world: (st, n) => (st.phase === 'Promoting' && n < 9 ? observed(deployment(V1, { rolledOut: false }), copyOf(V1, 2)) : world(st)),
    });
    assert.deepEqual(t.events.slice(-3), [
      '300.501 s Warning: Waiting for podinfo.test rollout to finish: 0 of 2 updated replicas are available',
      '301.001 s Warning: Waiting for podinfo.test rollout to finish: 0 of 2 updated replicas are available',
      '301.501 s Normal: Promotion completed! Scaling down podinfo-canary.test',
    ]);
  });

  it('the Promoted condition moves its transition time only when its status changes, and keeps other conditions', () => {
    const other: CanaryCondition = {
      type: 'Ready',
      status: 'True',
      reason: 'Ok',
      message: 'kept',
      lastUpdateTime: 'then',
      lastTransitionTime: 'then',
    };
    const start = {
      ...atRest,
      conditions: [{ ...PROMOTED, lastUpdateTime: '2026-11-27T09:00:00.000Z', lastTransitionTime: '2026-11-27T09:00:00.000Z' }, other],
    };
    const t = run(seedCanary({ status: start }), () => [ok()]);
    const [first, second] = t.statuses;
    assert.deepEqual(first!.conditions![1], other, 'another condition kept, after Promoted');
    assert.deepEqual(
      [first!.conditions![0]!.status, first!.conditions![0]!.reason, first!.conditions![0]!.lastTransitionTime],
      ['Unknown', 'Progressing', T0.toISOString()],
    );
    // Still Unknown one step later: the transition time stays, only the update time moves.
    assert.equal(second!.conditions![0]!.status, 'Unknown');
    assert.equal(second!.conditions![0]!.lastTransitionTime, T0.toISOString());
    assert.deepEqual(conditionsOf(t.last.status), [PROMOTED, { type: 'Ready', status: 'True', reason: 'Ok', message: 'kept' }]);
    assert.equal(t.last.status.conditions![0]!.lastTransitionTime, '2026-11-27T10:05:00.501Z');
  });
});

describe('defaults and deadlines', () => {
  it('a Canary without analysis settings rolls out with the defaults (steps of 10 up to 100, one a minute), never a crash', () => {
    const c = seedCanary({ status: atRest });
    delete c.spec.analysis;
    const t = run(c, () => []);
    assert.deepEqual(t.weights, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 0]);
    assert.equal(t.events.at(-1), '600.501 s Normal: Promotion completed! Scaling down podinfo-canary.test');
  });

  it('waiting for the copy, the next look is at the poll interval or just past the deadline, whichever is sooner', () => {
    const since = new Date(T0.getTime() - 59_900).toISOString();
    const st: CanaryStatus = {
      phase: 'Progressing',
      lastPromotedSpec: rev(V0),
      lastAppliedSpec: rev(V1),
      canaryWeight: 0,
      lastTransitionTime: since,
    };
    const notReady = { ...world(st), canaryCopy: copyOf(V1, 2, false) };
    assert.equal(decide(seedCanary({ status: st }), notReady, undefined, T0, settings).requeueAfterMs, 101);
    const early = { ...st, lastTransitionTime: new Date(T0.getTime() - 10_000).toISOString() };
    assert.equal(decide(seedCanary({ status: early }), notReady, undefined, T0, settings).requeueAfterMs, 500);
    const exactly = { ...st, lastTransitionTime: new Date(T0.getTime() - 60_000).toISOString() };
    assert.equal(
      decide(seedCanary({ status: exactly }), notReady, undefined, T0, settings).status.phase,
      'Progressing',
      'at the deadline, not past it',
    );
    const past = { ...st, lastTransitionTime: new Date(T0.getTime() - 60_001).toISOString() };
    assert.equal(decide(seedCanary({ status: past }), notReady, undefined, T0, settings).status.phase, 'Failed');
  });

  it('a step is due exactly one interval after the last; a failed pre-rollout check is retried only then', () => {
    const since = new Date(T0.getTime() - 60_000).toISOString();
    const st: CanaryStatus = {
      phase: 'Progressing',
      lastPromotedSpec: rev(V0),
      lastAppliedSpec: rev(V1),
      canaryWeight: 20,
      iterations: 2,
      lastTransitionTime: since,
    };
    assert.equal(decide(seedCanary({ status: st }), world(st), undefined, T0, settings).needMetrics, true, 'due at exactly one interval');
    const notYet = { ...st, lastTransitionTime: new Date(T0.getTime() - 59_999).toISOString() };
    assert.deepEqual(decide(seedCanary({ status: notYet }), world(notYet), undefined, T0, settings).requeueAfterMs, 1);
    const hook = { name: 'smoke', type: 'pre-rollout' as const, url: 'http://tester/smoke' };
    const pre: CanaryStatus = {
      ...st,
      canaryWeight: 0,
      iterations: 0,
      failedChecks: 1,
      lastTransitionTime: new Date(T0.getTime() - 30_000).toISOString(),
    };
    const c = seedCanary({ status: pre, analysis: { webhooks: [hook] } });
    assert.deepEqual(decide(c, world(pre), undefined, T0, settings).requeueAfterMs, 30_000, 'retried an interval after the failure');
    const fresh: CanaryStatus = { ...pre, failedChecks: 0 };
    assert.equal(
      decide(seedCanary({ status: fresh, analysis: { webhooks: [hook] } }), world(fresh), undefined, T0, settings).needHooks,
      'pre-rollout',
      'the first try at once',
    );
  });

  it('the release waits for the primary pods only as far as primaryReadyThreshold asks', () => {
    const st: CanaryStatus = {
      phase: 'Promoting',
      lastPromotedSpec: rev(V0),
      lastAppliedSpec: rev(V1),
      canaryWeight: 100,
      lastTransitionTime: T0.toISOString(),
    };
    const half = deployment(V1, { replicas: 2 });
    half.status = { ...half.status, availableReplicas: 1, readyReplicas: 1 };
    const objects = observed(half, copyOf(V1, 2));
    assert.equal(decide(seedCanary({ status: st }), objects, undefined, T0, settings).status.phase, 'Promoting');
    assert.equal(
      decide(seedCanary({ status: st, analysis: { primaryReadyThreshold: 50 } }), objects, undefined, T0, settings).status.phase,
      'Succeeded',
    );
  });
});

describe('the state machine at its edges', () => {
  const V2 = 'podinfo:6.0.2';
  const analysing = (over: Partial<CanaryStatus> = {}): CanaryStatus => ({
    phase: 'Progressing',
    lastPromotedSpec: rev(V0),
    lastAppliedSpec: rev(V1),
    canaryWeight: 0,
    iterations: 0,
    lastTransitionTime: T0.toISOString(),
    ...over,
  });
  const once = (c: Canary, o: Observed, metrics?: MetricResult[], hooks: HookResults = {}) => decide(c, o, metrics, T0, settings, hooks);
  const texts = (d: Decision) => d.events.map((e) => `${e.type}: ${e.message}`);

  it('bootstrap waits for a rollout only when nothing says which revision is stable', () => {
    const midRollout = (o: { paused?: boolean; stable?: string }) =>
      deployment(V1, {
        rolledOut: false,
        paused: o.paused,
        annotations: o.stable ? { [annotations.stableRevision]: o.stable } : undefined,
      });
    assert.equal(once(seedCanary(), observed(midRollout({}), undefined)).status.phase, 'Initializing');
    assert.equal(
      once(seedCanary(), observed(midRollout({ paused: true }), undefined)).status.phase,
      'Initialized',
      'held: its running pods are what it has',
    );
    const kept = once(seedCanary(), observed(midRollout({ stable: rev(V0) }), undefined));
    assert.deepEqual([kept.status.phase, kept.status.lastPromotedSpec], ['Initialized', rev(V0)]);
    assert.deepEqual(texts(kept), ['Normal: Initialization done! podinfo.test']);
  });

  it('blocked: the reason on the Promoted condition, other conditions kept, the same block leaving the status as it was', () => {
    const other = { type: 'Ready', status: 'True' as const, reason: 'Ok', message: 'kept' };
    const cron = seedCanary({ status: { phase: 'Initialized', conditions: [other] } });
    cron.spec.targetRef.kind = 'CronJob';
    const d = once(cron, observed(deployment(V0), undefined));
    assert.deepEqual(
      d.status.conditions!.map(({ type, status, reason, message }) => ({ type, status, reason, message })),
      [
        {
          type: 'Promoted',
          status: 'Unknown',
          reason: 'TargetNotSupported',
          message: 'targetRef kind CronJob is not supported; sluice manages Deployments, StatefulSets and DaemonSets',
        },
        other,
      ],
    );
    assert.deepEqual(texts(d), [
      'Warning: targetRef kind CronJob is not supported; sluice manages Deployments, StatefulSets and DaemonSets',
    ]);
    assert.equal(d.status.phase, 'Initialized', 'the phase it had');
    const again = decide(
      { ...cron, status: d.status },
      observed(deployment(V0), undefined),
      undefined,
      new Date(T0.getTime() + 5000),
      settings,
    );
    assert.deepEqual(again.status.conditions, d.status.conditions, 'times kept');
    const missing = once(seedCanary(), { target: deployment(V0), revision: undefined, canaryCopy: undefined, autoscaler: undefined });
    assert.equal(missing.status.conditions?.[0]?.reason, 'TargetNotFound', 'a target without a revision is not found');
  });

  it('a target that cannot be managed: TargetNotSupported before the selector check, any other problem after it', () => {
    const sts = seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'podinfo' } } });
    const onDelete = {
      ...deployment(V0),
      kind: 'StatefulSet',
      spec: { ...deployment(V0).spec, selector: {}, updateStrategy: { type: 'OnDelete' } },
    } as never;
    assert.equal(once(sts, observed(onDelete, undefined)).status.conditions?.[0]?.reason, 'TargetNotSupported');
    const long = deployment(V0);
    long.spec.selector = { matchLabels: { app: 'a'.repeat(60) } };
    assert.equal(once(seedCanary(), observed(long, undefined)).status.conditions?.[0]?.reason, 'TargetInvalid');
    assert.match(
      once(seedCanary(), observed(long, undefined)).status.conditions?.[0]?.message ?? '',
      /leaves no room for the canary copy's suffix/,
    );
  });

  it("past sluice's limits: every limit named in one message", () => {
    const c = seedCanary({ analysis: { interval: '600h', threshold: 0 } });
    c.spec.targetRef.name = 'a'.repeat(59);
    const d = once(c, observed(deployment(V0), undefined));
    assert.match(d.status.conditions![0]!.message ?? '', /^podinfo\.test passes sluice's limits: .+ at most 55; analysis\.interval 600h /);
  });

  it('the copy: not running the revision yet, gone, or ready but not listed, each said as it is', () => {
    const st = analysing();
    const old = once(seedCanary({ status: st }), { ...observed(deployment(V1, { paused: true }), copyOf(V0, 2)), canaryEndpoints: 0 });
    assert.deepEqual(texts(old), ['Warning: Waiting for podinfo-canary.test rollout to finish: 2 of 2 updated replicas are available']);
    const gone = once(seedCanary({ status: st }), observed(deployment(V1, { paused: true }), undefined));
    assert.deepEqual(texts(gone), ['Warning: Waiting for podinfo-canary.test rollout to finish: 0 of 0 updated replicas are available']);
    const starting = once(seedCanary({ status: st }), {
      ...observed(deployment(V1, { paused: true }), copyOf(V1, 2, false)),
      canaryEndpoints: 0,
    });
    assert.deepEqual(texts(starting), [
      'Warning: Waiting for podinfo-canary.test rollout to finish: 0 of 2 updated replicas are available',
    ]);
  });

  it('a newer revision while waiting for approval is recorded and waits, said again', () => {
    const hook = { name: 'gate', type: 'confirm-rollout' as const, url: 'http://tester/gate' };
    const waiting: CanaryStatus = { ...analysing(), phase: 'Waiting' };
    const closed: HookResults = { 'confirm-rollout': [{ name: 'gate', ok: false, message: 'closed' }] };
    const c = seedCanary({ status: waiting, analysis: { webhooks: [hook] } });
    const same = once(c, observed(deployment(V1, { paused: true }), copyOf(V0, 0)), undefined, closed);
    assert.deepEqual([texts(same), same.status], [[], waiting], 'the same revision: nothing new to say or write');
    const newer = once(c, observed(deployment(V2, { paused: true }), copyOf(V0, 0)), undefined, closed);
    assert.deepEqual(texts(newer), ['Normal: Halt podinfo.test advancement waiting for approval gate']);
    assert.deepEqual([newer.status.phase, newer.status.lastAppliedSpec], ['Waiting', rev(V2)]);
    // Retried after a failure with the gate closed: it waits, and the retry is not recorded until the gate is asked.
    const failed: CanaryStatus = { ...analysing(), phase: 'Failed' };
    const cf = seedCanary({ status: failed, analysis: { webhooks: [hook] } });
    const asked = decide(
      cf,
      { ...observed(deployment(V1, { paused: true }), copyOf(V0, 0)), action: { name: 'r', verb: 'retry', by: 'alice' } },
      undefined,
      T0,
      settings,
    );
    assert.deepEqual([asked.needHooks, asked.action, asked.status.lastAction], ['confirm-rollout', undefined, undefined]);
    const retried = decide(
      cf,
      { ...observed(deployment(V1, { paused: true }), copyOf(V0, 0)), action: { name: 'r', verb: 'retry', by: 'alice' } },
      undefined,
      T0,
      settings,
      closed,
    );
    assert.equal(retried.status.phase, 'Waiting');
    assert.ok(texts(retried).includes('Normal: Halt podinfo.test advancement waiting for approval gate'), texts(retried).join('\n'));
  });

  it('a revision that slipped in before the release began: the tested one becomes stable, the newer one is analysed', () => {
    const promoting: CanaryStatus = { ...analysing(), phase: 'Promoting', canaryWeight: 100 };
    const d = once(seedCanary({ status: promoting }), observed(deployment(V2, { paused: true }), copyOf(V1, 2)));
    assert.deepEqual(texts(d), ['Normal: New revision detected! Restarting analysis for podinfo.test']);
    assert.deepEqual(
      [
        d.status.phase,
        d.status.lastPromotedSpec,
        d.status.lastAppliedSpec,
        d.status.canaryWeight,
        d.status.failedChecks,
        d.status.iterations,
      ],
      ['Progressing', rev(V1), rev(V2), 0, 0, 0],
    );
  });

  it('stepWeightPromotion 0 or less means all at once', () => {
    for (const step of [0, -10]) {
      const t = run(seedCanary({ status: atRest, analysis: { stepWeightPromotion: step } }), () => [ok()]);
      assert.deepEqual(t.phases, ['Progressing', 'Promoting', 'Succeeded'], String(step));
    }
  });

  it('promote from WaitingPromotion keeps the canary share; abort from Waiting rolls back', () => {
    const held: CanaryStatus = { ...analysing(), phase: 'WaitingPromotion', canaryWeight: 50 };
    const p = decide(
      seedCanary({ status: held }),
      { ...world(held), action: { name: 'p', verb: 'promote', by: 'alice' } },
      undefined,
      T0,
      settings,
    );
    assert.deepEqual([p.action?.result, p.status.phase, p.status.canaryWeight], ['Applied', 'Promoting', 50]);
    const waiting: CanaryStatus = { ...analysing(), phase: 'Waiting' };
    const a = decide(
      seedCanary({ status: waiting }),
      { ...world(waiting), action: { name: 'a', verb: 'abort', by: 'alice' } },
      undefined,
      T0,
      settings,
    );
    assert.deepEqual([a.action?.result, a.status.phase], ['Applied', 'Failed']);
  });
});

describe('the state machine: conditions, gates and thresholds exactly', () => {
  const st = (over: Partial<CanaryStatus> = {}): CanaryStatus => ({
    phase: 'Progressing',
    lastPromotedSpec: rev(V0),
    lastAppliedSpec: rev(V1),
    canaryWeight: 20,
    iterations: 2,
    lastTransitionTime: new Date(T0.getTime() - 60_000).toISOString(),
    ...over,
  });
  const ready: CanaryCondition = { type: 'Ready', status: 'True', reason: 'Ok', message: 'kept' };

  it('the Promoted condition is found wherever it is in the list', () => {
    const earlier = '2026-11-27T09:00:00.000Z';
    const s = st({
      conditions: [ready, { type: 'Promoted', status: 'Unknown', reason: 'Progressing', message: 'x', lastTransitionTime: earlier }],
    });
    // A newer revision restarts the analysis: a phase change that keeps the condition Unknown.
    const d = decide(
      seedCanary({ status: s }),
      observed(deployment('podinfo:6.0.2', { paused: true }), copyOf(V1, 2)),
      [ok()],
      T0,
      settings,
    );
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(
      d.status.conditions?.find((c) => c.type === 'Promoted')?.lastTransitionTime,
      earlier,
      'still Unknown: its transition time stays',
    );
    assert.deepEqual(
      d.status.conditions?.find((c) => c.type === 'Ready'),
      ready,
    );
  });

  it('a block: found wherever it is, renewed when its message changes, the only condition when there were none', () => {
    const missing = { target: undefined, revision: undefined, canaryCopy: undefined, autoscaler: undefined };
    const fresh = decide(seedCanary(), missing, undefined, T0, settings);
    assert.equal(fresh.status.conditions?.length, 1);
    const earlier = '2026-11-27T09:00:00.000Z';
    const message = 'target Deployment podinfo.test not found; create it or correct spec.targetRef';
    const same = {
      type: 'Promoted',
      status: 'Unknown' as const,
      reason: 'TargetNotFound',
      message,
      lastUpdateTime: earlier,
      lastTransitionTime: earlier,
    };
    const kept = decide(seedCanary({ status: { phase: 'Initializing', conditions: [ready, same] } }), missing, undefined, T0, settings);
    assert.deepEqual(kept.status.conditions?.[0], same, 'the same block keeps its times, even after another condition');
    const other = { ...same, message: 'target Deployment old.test not found; create it or correct spec.targetRef' };
    const renewed = decide(seedCanary({ status: { phase: 'Initializing', conditions: [other] } }), missing, undefined, T0, settings);
    assert.deepEqual(
      [renewed.status.conditions?.[0]?.message, renewed.status.conditions?.[0]?.lastTransitionTime],
      [message, T0.toISOString()],
    );
  });

  it('gates name every closed hook; one rollback hook of several answering is enough', () => {
    const hooks = [
      { name: 'a', type: 'confirm-traffic-increase' as const, url: 'http://t/a' },
      { name: 'b', type: 'confirm-traffic-increase' as const, url: 'http://t/b' },
    ];
    const s = st();
    const closed: HookResults = { 'confirm-traffic-increase': hooks.map((h) => ({ name: h.name, ok: false, message: 'closed' })) };
    const d = decide(seedCanary({ status: s, analysis: { webhooks: hooks } }), world(s), [ok()], T0, settings, closed);
    assert.deepEqual(
      d.events.map((e) => e.message),
      ['Halt podinfo.test advancement waiting for traffic increase approval a, b'],
    );
    const rb = [
      { name: 'x', type: 'rollback' as const, url: 'http://t/x' },
      { name: 'y', type: 'rollback' as const, url: 'http://t/y' },
    ];
    const answers: HookResults = {
      rollback: [
        { name: 'x', ok: false, message: 'no' },
        { name: 'y', ok: true, message: 'yes' },
      ],
    };
    assert.equal(
      decide(seedCanary({ status: s, analysis: { webhooks: rb } }), world(s), [ok()], T0, settings, answers).status.phase,
      'Failed',
    );
  });

  it('canaryReadyThreshold: a copy ready enough for it starts the step', () => {
    const s = st({ canaryWeight: 0, iterations: 0 });
    const half = { ...world(s), canaryCopy: copyOf(V1, 2, false) };
    half.canaryCopy!.status = { ...half.canaryCopy!.status, updatedReplicas: 2, availableReplicas: 1, readyReplicas: 1 };
    assert.equal(decide(seedCanary({ status: s }), half, [ok()], T0, settings).status.canaryWeight, 0);
    assert.equal(
      decide(seedCanary({ status: s, analysis: { canaryReadyThreshold: 50 } }), half, [ok()], T0, settings).status.canaryWeight,
      10,
    );
  });

  it('a wait for the target says so as a Warning; past the limits the reason is SpecInvalid', () => {
    const d = decide(seedCanary(), observed(deployment(V0, { rolledOut: false }), undefined), undefined, T0, settings);
    assert.deepEqual(
      d.events.map((e) => e.type),
      ['Warning'],
    );
    const c = seedCanary({ analysis: { interval: '600h' } });
    assert.equal(decide(c, observed(deployment(V0), undefined), undefined, T0, settings).status.conditions?.[0]?.reason, 'SpecInvalid');
  });
});
