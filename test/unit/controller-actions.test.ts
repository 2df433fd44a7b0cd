// Control actions in the state machine (act() in controller/state-machine.ts): what each verb does
// in each phase, what it refuses and why, and that who asked is in every event.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type ActionVerb, VERBS } from '../../api/canary-action.js';
import type { CanaryStatus, Phase } from '../../api/flagger-types.js';
import { allowed, PHASES } from '../../api/phases.js';
import type { MetricResult } from '../../controller/check-results.js';
import { type ActionRequest, decide, type Settings } from '../../controller/state-machine.js';
import { analysingStatus, copyOf, deployment, observed, rev, seedCanary } from './controller-fixtures.js';
import { runs } from './runs.js';

const settings: Settings = { minIntervalMs: 1000, pollMs: 500 };
const T0 = new Date('2026-11-28T10:00:00Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const V0 = 'podinfo:6.0.0';
const V1 = 'podinfo:6.0.1';
const frozen = () => deployment(V1, { paused: true });
const pass: MetricResult[] = [{ name: 'request-success-rate', ok: true, value: 100, message: '', min: 99 }];
const ask = (verb: ActionVerb, by = 'alice@example.com'): ActionRequest => ({ name: `podinfo-${verb}-x1`, verb, by });
const run = (status: CanaryStatus, a: ActionRequest | undefined, now = T0, target = frozen(), metrics?: MetricResult[]) =>
  decide(seedCanary({ status }), { ...observed(target, copyOf(V1, 2)), action: a }, metrics, now, settings);

describe('control actions', () => {
  it('promote mid-analysis releases at once, keeping the canary share while the primary rolls', () => {
    const d = run(analysingStatus(T0, { phase: 'Progressing', canaryWeight: 30 }), ask('promote'));
    assert.equal(d.status.phase, 'Promoting');
    assert.equal(d.status.canaryWeight, 30);
    assert.equal(d.action?.result, 'Applied');
    assert.match(d.events[0]!.message, /^Accepted promote of podinfo\.test requested by alice@example\.com: /);
    assert.deepEqual(d.status.lastAction && { ...d.status.lastAction, at: 'x' }, {
      name: 'podinfo-promote-x1',
      action: 'promote',
      by: 'alice@example.com',
      at: 'x',
      result: 'Applied',
      message: d.action!.message,
    });
  });

  it('abort rolls back: Failed, weight 0, stable revision unchanged, the user named', () => {
    const before = analysingStatus(T0, { phase: 'Progressing', canaryWeight: 40 });
    const d = run(before, ask('abort', 'bob'));
    assert.equal(d.status.phase, 'Failed');
    assert.equal(d.status.canaryWeight, 0);
    assert.equal(d.status.lastPromotedSpec, before.lastPromotedSpec);
    assert.ok(d.events.some((e) => /Rolling back podinfo\.test aborted by bob/.test(e.message)));
    assert.ok(d.events.some((e) => /requested by bob/.test(e.message)));
  });

  it('abort is refused once the release has begun, and when nothing is in progress', () => {
    const promoting = run(analysingStatus(T0, { phase: 'Promoting', canaryWeight: 100 }), ask('abort'));
    assert.equal(promoting.action?.result, 'Rejected');
    assert.match(promoting.action!.message, /release to the primary has begun/);
    assert.equal(promoting.status.phase, 'Promoting');
    assert.equal(promoting.events[0]?.type, 'Warning');
    const idle = run({ phase: 'Succeeded', lastPromotedSpec: rev(V0), lastAppliedSpec: rev(V0) }, ask('abort'), T0, deployment(V0));
    assert.equal(idle.action?.result, 'Rejected');
    assert.match(idle.action!.message, /no rollout in progress \(phase Succeeded\)/);
  });

  it('retry analyses a Failed revision again without a template change; refused when the target moved on', () => {
    const failed: CanaryStatus = { ...analysingStatus(T0, { phase: 'Failed', canaryWeight: 0, failedChecks: 5 }) };
    const d = run(failed, ask('retry'));
    assert.equal(d.status.phase, 'Progressing');
    assert.equal(d.status.failedChecks, 0);
    assert.equal(d.status.lastAppliedSpec, rev(V1));
    assert.equal(d.action?.result, 'Applied');
    const moved = run(failed, ask('retry'), T0, deployment('podinfo:6.0.2', { paused: true }));
    assert.equal(moved.action?.result, 'Rejected');
    assert.equal(moved.status.phase, 'Failed');
    // Without an action, a Failed revision stays rejected: retry is what starts it again.
    assert.equal(run(failed, undefined).status.phase, 'Failed');
  });

  it('pause holds the weight through any number of intervals; resume goes on with the next step', () => {
    const start = analysingStatus(T0, { phase: 'Progressing', canaryWeight: 20 });
    const paused = run(start, ask('pause'));
    assert.deepEqual(paused.status.analysisPaused, { by: 'alice@example.com', at: T0.toISOString() });
    let st = paused.status;
    for (let i = 1; i <= 3; i++) {
      const d = run(st, undefined, later(i * 60_000), frozen(), pass);
      assert.equal(d.status.canaryWeight, 20, `interval ${i}: held`);
      assert.ok(!d.needMetrics, 'no check runs while paused');
      st = d.status;
    }
    const again = run(st, ask('pause', 'carol'));
    assert.equal(again.action?.result, 'Rejected');
    assert.match(again.action!.message, /already paused by alice@example\.com/);
    const resumed = run(st, ask('resume'), later(4 * 60_000));
    assert.equal(resumed.status.analysisPaused, undefined);
    const next = run(resumed.status, undefined, later(4 * 60_000 + 1), frozen(), pass);
    assert.equal(next.status.canaryWeight, 30);
  });

  it('resume is refused when nothing is paused; promote lifts a pause', () => {
    const start = analysingStatus(T0, { phase: 'Progressing' });
    assert.equal(run(start, ask('resume')).action?.result, 'Rejected');
    const d = run({ ...start, analysisPaused: { by: 'a', at: T0.toISOString() } }, ask('promote'));
    assert.equal(d.status.phase, 'Promoting');
    assert.equal(d.status.analysisPaused, undefined);
  });

  it('every action before initialization is refused and changes nothing but lastAction', () => {
    for (const verb of VERBS) {
      const d = run({ phase: 'Initializing' }, ask(verb), T0, deployment(V0));
      assert.equal(d.action?.result, 'Rejected', verb);
      assert.equal(d.status.phase, 'Initializing');
    }
  });

  it('any verb in any phase: the decision stays within the transition table and names its outcome and the user', () => {
    const phases = Object.keys(PHASES).filter((p) => p !== '') as Phase[];
    fc.assert(
      fc.property(
        fc.constantFrom(...phases),
        fc.constantFrom(...VERBS),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 50 }),
        (phase, verb, pausedBefore, sameRevision, weight) => {
          const st: CanaryStatus = {
            ...analysingStatus(T0, { phase, canaryWeight: weight }),
            ...(pausedBefore ? { analysisPaused: { by: 'x', at: T0.toISOString() } } : {}),
          };
          const target = sameRevision ? frozen() : deployment('podinfo:9.9.9', { paused: true });
          const d = run(st, ask(verb, 'dana'), later(5000), target);
          assert.ok(allowed(phase, d.status.phase), `${phase} → ${d.status.phase}`);
          assert.ok(d.action, 'an outcome');
          assert.ok(d.events.every((e) => !e.message.includes('requested by') || e.message.includes('dana')));
          assert.ok(d.events.some((e) => e.message.includes('requested by dana')));
          assert.equal(d.status.lastAction?.by, 'dana');
        },
      ),
      { numRuns: runs(2000) },
    );
  });
});
