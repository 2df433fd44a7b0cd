import assert from 'node:assert/strict';
import { nextWeight } from '../../api/canary-analysis.js';
import { annotations } from '../../api/contract.js';
import type { CanaryStatus } from '../../api/flagger-types.js';
import type { MetricResult } from '../../controller/check-results.js';
import { decide, type Observed, type Settings } from '../../controller/state-machine.js';
import { analysingStatus, copyOf, deployment, observed, rev, seedCanary } from './controller-fixtures.js';

const settings: Settings = { minIntervalMs: 1000, pollMs: 500 };
const T0 = new Date('2026-11-27T10:00:00Z');
const after = (ms: number) => new Date(T0.getTime() + ms);
const V0 = 'podinfo:6.0.0';
const V1 = 'podinfo:6.0.1';
const V2 = 'podinfo:6.0.2';
const obs = (target = deployment(V0), copy = copyOf(V0, 0)): Observed => observed(target, copy);
const progressing = (over: Partial<CanaryStatus> = {}): CanaryStatus => analysingStatus(T0, { phase: 'Progressing', ...over });
const pass: MetricResult[] = [{ name: 'request-success-rate', ok: true, value: 100, message: '' }];
const fail: MetricResult[] = [{ name: 'request-success-rate', ok: false, value: 69.17, message: 'success rate 69.17% < 99%' }];
const messages = (d: { events: { message: string }[] }) => d.events.map((e) => e.message);

describe('rollout state machine', () => {
  describe('bootstrap', () => {
    it('reports a missing target on status and events, and retries', () => {
      const d = decide(
        seedCanary(),
        { target: undefined, revision: undefined, canaryCopy: undefined, autoscaler: undefined },
        undefined,
        T0,
        settings,
      );
      assert.equal(d.status.phase, 'Initializing');
      assert.match(messages(d)[0]!, /target Deployment podinfo\.test not found/);
      assert.equal(d.status.conditions?.[0]?.reason, 'TargetNotFound');
      assert.match(d.status.conditions?.[0]?.message ?? '', /not found/);
      assert.equal(d.requeueAfterMs, 10_000);
    });
    it('a block that has not changed leaves the status as it was: no write, so no pass woken by its own write', () => {
      const missing = { target: undefined, revision: undefined, canaryCopy: undefined, autoscaler: undefined };
      const first = decide(seedCanary(), missing, undefined, T0, settings);
      const again = decide(seedCanary({ status: first.status }), missing, undefined, after(5_000), settings);
      assert.deepEqual(again.status, first.status, 'the same block, the same status, times included');
      const other = deployment(V0);
      other.spec.selector = {};
      const changed = decide(seedCanary({ status: first.status }), obs(other), undefined, after(5_000), settings);
      assert.equal(changed.status.conditions?.[0]?.reason, 'TargetInvalid');
      assert.equal(changed.status.conditions?.[0]?.lastTransitionTime, after(5_000).toISOString());
    });

    it("refuses a Canary past sluice's limits before anything else, naming each limit", () => {
      const long = 'a'.repeat(59);
      const d = decide(
        seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: long } }, analysis: { interval: '600h' } }),
        obs(),
        undefined,
        T0,
        settings,
      );
      assert.equal(d.status.conditions?.[0]?.reason, 'SpecInvalid');
      assert.match(d.status.conditions?.[0]?.message ?? '', /the generated Service a{59}-primary would be longer than 63 characters/);
      assert.match(d.status.conditions?.[0]?.message ?? '', /analysis\.interval 600h is longer than the ceiling of 24h/);
      assert.equal(d.requeueAfterMs, 10_000);
    });

    it('reports a target without matchLabels', () => {
      const t = deployment(V0);
      t.spec.selector = {};
      assert.match(messages(decide(seedCanary(), obs(t), undefined, T0, settings))[0]!, /no spec\.selector\.matchLabels/);
    });
    it('waits for a target in the middle of its own rollout', () => {
      const d = decide(seedCanary(), obs(deployment(V0, { rolledOut: false })), undefined, T0, settings);
      assert.equal(d.status.phase, 'Initializing');
      assert.match(messages(d)[0]!, /^Waiting for podinfo\.test rollout to finish: 0 of 2 updated replicas are available$/);
    });
    it('initialises with the running template as the stable revision', () => {
      const d = decide(seedCanary(), obs(), undefined, T0, settings);
      assert.equal(d.status.phase, 'Initialized');
      assert.equal(d.status.lastPromotedSpec, rev(V0));
      assert.deepEqual(messages(d), ['Initialization done! podinfo.test']);
      assert.equal(d.status.conditions?.[0]?.status, 'True');
    });
    it('keeps the stable revision a previous Canary recorded on the target', () => {
      const t = deployment(V1, { paused: true, annotations: { [annotations.stableRevision]: rev(V0) } });
      const d = decide(seedCanary(), obs(t), undefined, T0, settings);
      assert.equal(d.status.lastPromotedSpec, rev(V0));
    });
  });

  describe('idle', () => {
    const idle = (phase: CanaryStatus['phase'], extra: Partial<CanaryStatus> = {}) =>
      seedCanary({ status: { phase, lastPromotedSpec: rev(V0), lastTransitionTime: T0.toISOString(), ...extra } });
    it('does nothing while the template is the stable revision', () => {
      const d = decide(idle('Succeeded'), obs(), undefined, after(5000), settings);
      assert.deepEqual(d.events, []);
      assert.equal(d.requeueAfterMs, undefined);
    });
    it('starts analysis on a new revision', () => {
      const d = decide(idle('Initialized'), obs(deployment(V1, { paused: true })), undefined, after(5000), settings);
      assert.equal(d.status.phase, 'Progressing');
      assert.equal(d.status.lastAppliedSpec, rev(V1));
      assert.equal(d.status.canaryWeight, 0);
      assert.deepEqual(messages(d), ['New revision detected! Scaling up podinfo-canary.test']);
    });
    it('does not retry the revision that just failed', () => {
      const d = decide(
        idle('Failed', { lastAppliedSpec: rev(V1) }),
        obs(deployment(V1, { paused: true })),
        undefined,
        after(5000),
        settings,
      );
      assert.equal(d.status.phase, 'Failed');
      assert.deepEqual(d.events, []);
    });
    it('analyses a newer revision after a failure', () => {
      const d = decide(
        idle('Failed', { lastAppliedSpec: rev(V1) }),
        obs(deployment(V2, { paused: true })),
        undefined,
        after(5000),
        settings,
      );
      assert.equal(d.status.phase, 'Progressing');
      assert.equal(d.status.lastAppliedSpec, rev(V2));
    });
    it('releases at once with skipAnalysis', () => {
      const c = idle('Succeeded');
      c.spec.skipAnalysis = true;
      const d = decide(c, obs(deployment(V1, { paused: true })), undefined, after(5000), settings);
      assert.equal(d.status.phase, 'Promoting');
      assert.equal(d.status.canaryWeight, 100);
    });
    it('does nothing while suspended', () => {
      const c = idle('Succeeded');
      c.spec.suspend = true;
      assert.equal(decide(c, obs(deployment(V1, { paused: true })), undefined, after(5000), settings).status.phase, 'Succeeded');
    });
  });

  describe('progressing', () => {
    const target = deployment(V1, { paused: true });
    it('waits for the canary copy, naming it and its replicas', () => {
      const c = seedCanary({ status: progressing({ canaryWeight: 0, iterations: 0 }) });
      const d = decide(c, obs(target, copyOf(V1, 2, false)), undefined, after(2000), settings);
      assert.deepEqual(messages(d), ['Waiting for podinfo-canary.test rollout to finish: 0 of 2 updated replicas are available']);
      assert.equal(d.requeueAfterMs, 500);
    });
    it('does not count a copy still running the previous revision as ready', () => {
      const c = seedCanary({ status: progressing({ canaryWeight: 0, iterations: 0 }) });
      assert.match(messages(decide(c, obs(target, copyOf(V0, 2)), undefined, after(2000), settings))[0]!, /^Waiting for podinfo-canary/);
    });
    it('rolls back when the copy is not ready by the progress deadline', () => {
      const c = seedCanary({ status: progressing({ canaryWeight: 0, iterations: 0 }) });
      const d = decide(c, obs(target, copyOf(V1, 2, false)), undefined, after(61_000), settings);
      assert.equal(d.status.phase, 'Failed');
      assert.match(messages(d)[0]!, /^Rolling back podinfo\.test progress deadline exceeded/);
    });
    it('starts analysis at the first step once the copy is ready', () => {
      const c = seedCanary({ status: progressing({ canaryWeight: 0, iterations: 0 }) });
      const d = decide(c, obs(target, copyOf(V1, 2)), undefined, after(2000), settings);
      assert.equal(d.status.canaryWeight, 10);
      assert.deepEqual(messages(d), ['Starting canary analysis for podinfo.test', 'Advance podinfo.test canary weight 10']);
      assert.equal(d.requeueAfterMs, 60_000);
    });
    it('waits out the interval without acting, and asks for metrics when due', () => {
      const c = seedCanary({ status: progressing() });
      const early = decide(c, obs(target, copyOf(V1, 2)), undefined, after(20_000), settings);
      assert.equal(early.requeueAfterMs, 40_000);
      assert.deepEqual(early.status, c.status);
      assert.equal(decide(c, obs(target, copyOf(V1, 2)), undefined, after(60_000), settings).needMetrics, true);
    });
    it('advances the weight when every check passes', () => {
      const d = decide(seedCanary({ status: progressing() }), obs(target, copyOf(V1, 2)), pass, after(60_000), settings);
      assert.equal(d.status.canaryWeight, 20);
      assert.equal(d.status.lastTransitionTime, after(60_000).toISOString());
      assert.deepEqual(messages(d), ['Advance podinfo.test canary weight 20']);
    });
    it('never repeats a step: the status it wrote makes the next step not due', () => {
      const c = seedCanary({ status: progressing() });
      const first = decide(c, obs(target, copyOf(V1, 2)), pass, after(60_000), settings);
      const again = decide({ ...c, status: first.status }, obs(target, copyOf(V1, 2)), pass, after(60_500), settings);
      assert.equal(again.status.canaryWeight, 20);
      assert.deepEqual(again.events, []);
    });
    it('follows stepWeights and caps at maxWeight', () => {
      const c = seedCanary({ analysis: { stepWeights: [1, 5, 25, 80], maxWeight: 50, stepWeight: undefined } });
      assert.deepEqual(
        [0, 1, 5, 25].map((w) => nextWeight(c.spec, w)),
        [1, 5, 25, 50],
      );
      assert.equal(nextWeight(seedCanary().spec, 45), 50);
    });
    it('releases after the checks pass at maxWeight', () => {
      const d = decide(
        seedCanary({ status: progressing({ canaryWeight: 50 }) }),
        obs(target, copyOf(V1, 2)),
        pass,
        after(60_000),
        settings,
      );
      assert.equal(d.status.phase, 'Promoting');
      assert.equal(d.status.canaryWeight, 100);
      assert.deepEqual(messages(d), ['Routing all traffic to canary', `Promoting revision ${rev(V1).slice(0, 10)}… to podinfo.test`]);
    });
    it('halts on a failed check and counts it', () => {
      const d = decide(
        seedCanary({ status: progressing({ canaryWeight: 20, failedChecks: 1 }) }),
        obs(target, copyOf(V1, 2)),
        fail,
        after(60_000),
        settings,
      );
      assert.equal(d.status.canaryWeight, 20);
      assert.equal(d.status.failedChecks, 2);
      assert.deepEqual(messages(d), ['Halt podinfo.test advancement success rate 69.17% < 99%']);
    });
    it('rolls back when failed checks reach the threshold', () => {
      const d = decide(
        seedCanary({ status: progressing({ canaryWeight: 20, failedChecks: 4 }) }),
        obs(target, copyOf(V1, 2)),
        fail,
        after(60_000),
        settings,
      );
      assert.equal(d.status.phase, 'Failed');
      assert.equal(d.status.canaryWeight, 0);
      assert.equal(d.status.failedChecks, 5);
      assert.deepEqual(messages(d), [
        'Halt podinfo.test advancement success rate 69.17% < 99%',
        'Rolling back podinfo.test failed checks threshold reached 5',
        'Canary failed! Scaling down podinfo-canary.test',
      ]);
      assert.deepEqual(
        d.events.slice(1).map((e) => e.type),
        ['Warning', 'Warning'],
      );
      assert.equal(d.status.conditions?.[0]?.status, 'False');
    });
    it('restarts analysis for a newer revision', () => {
      const d = decide(
        seedCanary({ status: progressing({ canaryWeight: 30 }) }),
        obs(deployment(V2, { paused: true }), copyOf(V1, 2)),
        undefined,
        after(1000),
        settings,
      );
      assert.equal(d.status.lastAppliedSpec, rev(V2));
      assert.equal(d.status.canaryWeight, 0);
      assert.deepEqual(messages(d), ['New revision detected! Restarting analysis for podinfo.test']);
    });
    it('abandons analysis when the template is reverted to the stable revision', () => {
      const d = decide(
        seedCanary({ status: progressing({ canaryWeight: 30 }) }),
        obs(deployment(V0, { paused: true }), copyOf(V1, 2)),
        undefined,
        after(1000),
        settings,
      );
      assert.equal(d.status.phase, 'Initialized');
      assert.equal(d.status.canaryWeight, 0);
      assert.match(messages(d)[0]!, /reverted to its stable revision/);
    });
  });

  describe('release', () => {
    const promoting = (over: Partial<CanaryStatus> = {}) => progressing({ phase: 'Promoting', canaryWeight: 100, ...over });
    it('waits for the primary rollout', () => {
      const d = decide(
        seedCanary({ status: promoting() }),
        obs(deployment(V1, { rolledOut: false }), copyOf(V1, 2)),
        undefined,
        after(1000),
        settings,
      );
      assert.deepEqual(messages(d), ['Waiting for podinfo.test rollout to finish: 0 of 2 updated replicas are available']);
    });
    it('does not complete while the target is still held, whatever its status says', () => {
      // A paused Deployment's status can look rolled out (its old ReplicaSet is all there is): the
      // release is not done until the target is released and its own rollout has finished.
      const held = decide(
        seedCanary({ status: promoting() }),
        obs(deployment(V1, { paused: true }), copyOf(V1, 2)),
        undefined,
        after(1000),
        settings,
      );
      assert.equal(held.status.phase, 'Promoting');
      assert.equal(held.status.lastPromotedSpec, promoting().lastPromotedSpec, 'the candidate is not recorded as released');
      assert.match(messages(held)[0] ?? '', /^Waiting for podinfo\.test rollout to finish/);
    });
    it('completes once the primary runs the revision', () => {
      const d = decide(seedCanary({ status: promoting() }), obs(deployment(V1), copyOf(V1, 2)), undefined, after(1000), settings);
      assert.equal(d.status.phase, 'Succeeded');
      assert.equal(d.status.lastPromotedSpec, rev(V1));
      assert.equal(d.status.canaryWeight, 0);
      assert.deepEqual(messages(d), ['Promotion completed! Scaling down podinfo-canary.test']);
    });
    it('shifts traffic back by stepWeightPromotion per interval', () => {
      const c = seedCanary({ status: promoting(), analysis: { stepWeightPromotion: 50 } });
      const fin = decide(c, obs(deployment(V1), copyOf(V1, 2)), undefined, after(1000), settings);
      assert.equal(fin.status.phase, 'Finalising');
      assert.equal(fin.status.canaryWeight, 50);
      const early = decide({ ...c, status: fin.status }, obs(deployment(V1), copyOf(V1, 2)), undefined, after(2000), settings);
      assert.equal(early.status.phase, 'Finalising');
      const done = decide({ ...c, status: fin.status }, obs(deployment(V1), copyOf(V1, 2)), undefined, after(62_000), settings);
      assert.equal(done.status.phase, 'Succeeded');
    });
  });
});
