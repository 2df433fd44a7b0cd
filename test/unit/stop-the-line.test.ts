// Stop the line (docs/policy.md): a ClusterCanaryPolicy's stopTheLine holds every rollout in scope
// at its step, said once on each Canary; an abort still works and a revert still goes through;
// lifting it lets the rollout go on from the same step.
import assert from 'node:assert/strict';
import type { CanaryStatus } from '../../api/flagger-types.js';
import { canaryView } from '../../cli/rollout-view.js';
import { PLAIN, screen } from '../../cli/screen.js';
import type { MetricResult } from '../../controller/check-results.js';
import { decide, type Observed, type Settings } from '../../controller/state-machine.js';
import { linesStopped } from '../../policy/selection.js';
import { analysingStatus, copyOf, deployment, observed, rev, seedCanary } from './controller-fixtures.js';

const settings: Settings = { minIntervalMs: 1000, pollMs: 500 };
const T0 = new Date('2026-12-01T10:00:00Z');
const after = (ms: number) => new Date(T0.getTime() + ms);
const stop = { policy: 'freeze-friday', reason: 'incident 42', by: 'oncall' };
const frozen = observed(deployment('podinfo:6.0.1', { paused: true }), copyOf('podinfo:6.0.1', 2));
const stopped = (o: Observed = frozen): Observed => ({ ...o, lineStop: stop });
const pass: MetricResult[] = [{ name: 'request-success-rate', ok: true, value: 100, message: '' }];
const progressing = (over: Partial<CanaryStatus> = {}) => seedCanary({ status: analysingStatus(T0, { phase: 'Progressing', ...over }) });

describe('stop the line', () => {
  it('holds a due step where it is, saying once who stopped it and why', () => {
    const d = decide(progressing(), stopped(), pass, after(60_000), settings);
    assert.deepEqual([d.status.phase, d.status.canaryWeight, d.needMetrics], ['Progressing', 10, undefined]);
    assert.deepEqual(d.status.lineStopped, {
      policy: 'freeze-friday',
      reason: 'incident 42',
      by: 'oncall',
      since: after(60_000).toISOString(),
    });
    assert.equal(d.events[0]!.type, 'Warning');
    assert.match(d.events[0]!.message, /^Stopped podinfo\.test: ClusterCanaryPolicy freeze-friday stops the line by oncall: incident 42;/);
    const again = decide(progressing({ lineStopped: d.status.lineStopped }), stopped(), pass, after(180_000), settings);
    assert.deepEqual(again.events, []);
    assert.deepEqual(again.status, { ...progressing().status, lineStopped: d.status.lineStopped });
  });

  it('starts no analysis of a new revision while stopped', () => {
    const idle = seedCanary({
      status: { phase: 'Succeeded', lastPromotedSpec: rev('podinfo:6.0.0'), lastAppliedSpec: rev('podinfo:6.0.0') },
    });
    const d = decide(
      idle,
      stopped(observed(deployment('podinfo:6.0.1', { paused: true }), copyOf('podinfo:6.0.0', 0))),
      undefined,
      T0,
      settings,
    );
    assert.equal(d.status.phase, 'Succeeded');
    assert.match(d.events[0]!.message, /stops the line/);
  });

  it('still takes an abort, and still lets a revert to the released revision through', () => {
    const abort = { ...stopped(), action: { name: 'a1', verb: 'abort' as const, by: 'alice', reason: 'bad' } };
    const d = decide(progressing(), abort, undefined, after(1000), settings);
    assert.equal(d.status.phase, 'Failed');
    const promote = { ...stopped(), action: { name: 'p1', verb: 'promote' as const, by: 'alice' } };
    const refused = decide(progressing(), promote, undefined, after(1000), settings);
    assert.equal(refused.action?.result, 'Rejected');
    assert.match(
      refused.action?.message ?? '',
      /the line is stopped by ClusterCanaryPolicy freeze-friday: incident 42; abort, pause and resume are taken, promote once it is lifted/,
    );
    assert.equal(refused.status.phase, 'Progressing');
    const reverted = stopped(observed(deployment('podinfo:6.0.0', { paused: true }), copyOf('podinfo:6.0.1', 2)));
    const r = decide(progressing(), reverted, undefined, after(1000), settings);
    assert.equal(r.status.phase, 'Initialized');
  });

  it('lets a release already under way finish', () => {
    const promoting = seedCanary({ status: analysingStatus(T0, { phase: 'Promoting', canaryWeight: 100 }) });
    const released = deployment('podinfo:6.0.1', { annotations: {} });
    const d = decide(promoting, stopped(observed(released, copyOf('podinfo:6.0.1', 2))), undefined, after(1000), settings);
    assert.notEqual(d.status.phase, 'Promoting', 'the release moved on');
    assert.equal(d.status.lineStopped, undefined);
  });

  it('goes on from the same step once lifted, saying so', () => {
    const held = progressing({ lineStopped: { ...stop, since: after(30_000).toISOString() } });
    const d = decide(held, frozen, pass, after(90_000), settings);
    assert.equal(d.status.canaryWeight, 20, 'the step that was due is taken');
    assert.equal(d.status.lineStopped, undefined);
    assert.match(d.events[0]!.message, /^Line reopened for podinfo\.test \(stopped by ClusterCanaryPolicy freeze-friday since /);
  });

  it('shows who stopped it in kubectl sluice get', () => {
    const c = progressing({ lineStopped: { ...stop, since: T0.toISOString() } });
    assert.match(
      screen(canaryView(c), PLAIN),
      /^Line stopped: +by ClusterCanaryPolicy freeze-friday \(oncall\) since 2026-12-01T10:00:00\.000Z: incident 42$/m,
    );
  });

  it('is the policies whose namespaceSelector selects the namespace, opted in or not, first by name', () => {
    const policy = (name: string, stopTheLine?: { reason: string }, deleting = false) => ({
      metadata: { name, ...(deleting ? { deletionTimestamp: T0.toISOString() } : {}) },
      spec: { namespaceSelector: { matchLabels: { tier: 'prod' } }, ...(stopTheLine ? { stopTheLine } : {}) },
    });
    const prod = { metadata: { name: 'shop', labels: { tier: 'prod' } } };
    const all = [policy('zeta', { reason: 'z' }), policy('alpha', { reason: 'a' }), policy('quiet'), policy('gone', { reason: 'g' }, true)];
    assert.deepEqual(
      linesStopped(all, prod).map((p) => p.metadata.name),
      ['alpha', 'zeta'],
    );
    assert.deepEqual(linesStopped(all, { metadata: { name: 'dev', labels: { tier: 'dev' } } }), []);
    assert.deepEqual(linesStopped(all, undefined), []);
  });
});
