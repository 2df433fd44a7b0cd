// Release control in the state machine (docs/policy.md "Change windows", docs/operating.md
// "Break-glass" and "Fast rollback"): a closed window holds new analyses and releases but never a
// rollback; glass broken for a revision lets it through, once, with a reason; a change back to a
// recently released revision is released at once, without a canary.
import assert from 'node:assert/strict';
import type { CanaryStatus } from '../../api/flagger-types.js';
import { canaryView } from '../../cli/rollout-view.js';
import { PLAIN, screen } from '../../cli/screen.js';
import type { MetricResult } from '../../controller/check-results.js';
import { deploymentDriver } from '../../controller/kinds/deployment.js';
import { withReadiness } from '../../controller/readiness.js';
import { decide, type Observed, type Settings } from '../../controller/state-machine.js';
import type { ClosedWindow } from '../../policy/change-windows.js';
import { decideFreeze } from '../../webhook/freeze-decision.js';
import { reviewFixture } from '../fixtures/admission-fixtures.js';
import { controllerUser } from '../world/layout.js';
import { analysingStatus, copyOf, deployment, observed, rev, seedCanary } from './controller-fixtures.js';

const settings: Settings = { minIntervalMs: 1000, pollMs: 500 };
const T0 = new Date('2026-12-01T10:00:00Z');
const after = (ms: number) => new Date(T0.getTime() + ms);
const closed: ClosedWindow = {
  policy: 'year-end',
  window: 'holidays',
  until: '2026-12-01T10:30:00.000Z',
  message: 'the change window is closed by deny window holidays of ClusterCanaryPolicy year-end until 2026-12-01T10:30:00.000Z',
};
const pass: MetricResult[] = [{ name: 'request-success-rate', ok: true, value: 100, message: '' }];
const fail: MetricResult[] = [{ name: 'request-success-rate', ok: false, value: 80, message: 'request-success-rate 80 < 99' }];
const released = (image: string, over: Partial<CanaryStatus> = {}) =>
  seedCanary({ status: { phase: 'Succeeded', lastPromotedSpec: rev(image), lastAppliedSpec: rev(image), ...over } });
const pushed = (image: string, copyImage = 'podinfo:6.0.0', extra: Partial<Observed> = {}): Observed => ({
  ...observed(deployment(image, { paused: true }), copyOf(copyImage, 0)),
  ...extra,
});

describe('change windows in the state machine', () => {
  it('holds a new revision while closed, saying which window and until when once, then starts it when it opens', () => {
    const d = decide(released('podinfo:6.0.0'), pushed('podinfo:6.0.1', undefined, { window: closed }), undefined, T0, settings);
    assert.equal(d.status.phase, 'Succeeded');
    assert.equal(d.status.lastAppliedSpec, rev('podinfo:6.0.0'), 'no analysis recorded');
    assert.deepEqual(d.status.changeWindow, { ...closed, since: T0.toISOString() });
    assert.equal(d.events.length, 1);
    assert.equal(d.events[0]!.type, 'Warning');
    assert.match(
      d.events[0]!.message,
      /^Held podinfo\.test at revision \S+: the change window is closed by deny window holidays .* until 2026-12-01T10:30:00\.000Z; its analysis starts once it opens/,
    );
    assert.equal(d.requeueAfterMs, 60_000, 'looked at again within a minute (the window opens in 30)');
    const again = decide(
      released('podinfo:6.0.0', { changeWindow: d.status.changeWindow }),
      pushed('podinfo:6.0.1', undefined, { window: closed }),
      undefined,
      after(60_000),
      settings,
    );
    assert.deepEqual(again.events, []);
    assert.equal(again.status.changeWindow?.since, T0.toISOString());
    const open = decide(
      released('podinfo:6.0.0', { changeWindow: d.status.changeWindow }),
      pushed('podinfo:6.0.1'),
      undefined,
      after(1_800_000),
      settings,
    );
    assert.equal(open.status.phase, 'Progressing');
    assert.equal(open.status.changeWindow, undefined);
    assert.match(
      open.events[0]!.message,
      /^podinfo\.test: change window open \(held by holidays of ClusterCanaryPolicy year-end since 2026-12-01T10:00:00\.000Z\); the rollout goes on$/,
    );
    assert.match(open.events[1]!.message, /^New revision detected!/);
  });

  it('holds a revision waiting for confirm-rollout too, and says so again when the window or its end changes', () => {
    const waiting = seedCanary({ status: analysingStatus(T0, { phase: 'Waiting', canaryWeight: 0 }) });
    const d = decide(waiting, pushed('podinfo:6.0.1', undefined, { window: closed }), undefined, after(1000), settings);
    assert.equal(d.status.phase, 'Waiting');
    assert.ok(d.status.changeWindow);
    assert.match(d.events[0]!.message, /; its analysis starts once it opens/);
    const soon = { ...closed, until: new Date(T0.getTime() + 11_000).toISOString() };
    const moved = decide(
      seedCanary({ status: d.status }),
      pushed('podinfo:6.0.1', undefined, { window: soon }),
      undefined,
      after(1000),
      settings,
    );
    assert.equal(moved.events.length, 1, 'a new end is said');
    assert.equal(moved.status.changeWindow?.since, after(1000).toISOString());
    assert.equal(moved.requeueAfterMs, 10_001, 'woken just after the window ends');
    const renamed = decide(
      seedCanary({ status: moved.status }),
      pushed('podinfo:6.0.1', undefined, { window: { ...soon, window: 'other' } }),
      undefined,
      after(2000),
      settings,
    );
    assert.equal(renamed.events.length, 1, 'another window is said');
    const other = decide(
      seedCanary({ status: renamed.status }),
      pushed('podinfo:6.0.1', undefined, { window: { ...soon, window: 'other', policy: 'p2' } }),
      undefined,
      after(3000),
      settings,
    );
    assert.equal(other.events.length, 1, "another policy's window is said");
  });

  it('lets an analysis under way finish but holds its release, still rolling back on failure', () => {
    const last = seedCanary({ status: analysingStatus(T0, { phase: 'Progressing', canaryWeight: 50, iterations: 5 }) });
    const d = decide(
      last,
      { ...pushed('podinfo:6.0.1', 'podinfo:6.0.1'), canaryCopy: copyOf('podinfo:6.0.1', 2), window: closed },
      pass,
      after(60_000),
      settings,
    );
    assert.equal(d.status.phase, 'WaitingPromotion');
    assert.equal(d.status.canaryWeight, 50);
    assert.equal(d.status.lastTransitionTime, after(60_000).toISOString(), 'the next check is an interval from now');
    assert.equal(d.requeueAfterMs, 60_000);
    const again = decide(
      seedCanary({ status: d.status }),
      { ...pushed('podinfo:6.0.1'), canaryCopy: copyOf('podinfo:6.0.1', 2), window: closed },
      pass,
      after(120_000),
      settings,
    );
    assert.equal(again.status.lastTransitionTime, after(120_000).toISOString());
    assert.deepEqual(again.events, []);
    assert.ok(d.status.changeWindow);
    assert.match(d.events.at(-1)!.message, /the release follows once it opens/);
    const waiting = seedCanary({ status: { ...d.status, failedChecks: 4 } });
    const failed = decide(
      waiting,
      { ...pushed('podinfo:6.0.1'), canaryCopy: copyOf('podinfo:6.0.1', 2), window: closed },
      fail,
      after(120_000),
      settings,
    );
    assert.equal(failed.status.phase, 'Failed', 'a failure still rolls back inside the window');
  });

  it('refuses promote and retry while closed, and takes an abort', () => {
    const o = { ...pushed('podinfo:6.0.1'), canaryCopy: copyOf('podinfo:6.0.1', 2), window: closed };
    const progressing = seedCanary({ status: analysingStatus(T0, { phase: 'Progressing' }) });
    const promote = decide(progressing, { ...o, action: { name: 'p', verb: 'promote', by: 'alice' } }, undefined, after(1000), settings);
    assert.equal(promote.action?.result, 'Rejected');
    assert.match(promote.action!.message, /the change window is closed by deny window holidays.*; promote once it opens, or break glass/);
    const abort = decide(progressing, { ...o, action: { name: 'a', verb: 'abort', by: 'alice' } }, undefined, after(1000), settings);
    assert.equal(abort.status.phase, 'Failed');
  });

  it('says ChangeWindowClosed to kstatus, and shows the window in kubectl sluice get', () => {
    const st = withReadiness({ phase: 'Succeeded', changeWindow: { ...closed, since: T0.toISOString() } }, false, T0.toISOString());
    const reconciling = st.conditions!.find((c) => c.type === 'Reconciling');
    assert.equal(reconciling?.status, 'True');
    assert.equal(reconciling?.reason, 'ChangeWindowClosed');
    assert.match(reconciling!.message!, /^held: the change window is closed by deny window holidays/);
    const view = canaryView(released('podinfo:6.0.0', { changeWindow: { ...closed, since: T0.toISOString() } }));
    assert.match(
      screen(view, PLAIN),
      /Window:\s+the change window is closed by deny window holidays .* \(held since 2026-12-01T10:00:00\.000Z\)/,
    );
  });

  it('names the window and its end in the warning kubectl prints for a frozen change', () => {
    const review = reviewFixture('set-image').request;
    const d = decideFreeze(
      review,
      { controllerUsers: [controllerUser] },
      { canaryFor: () => undefined, servingPods: () => 0, closedWindow: () => closed.message },
    );
    assert.ok(d.kind === 'frozen');
    assert.match(
      d.warning,
      /; the change window is closed by deny window holidays of ClusterCanaryPolicy year-end until 2026-12-01T10:30:00\.000Z, and its analysis starts once it opens/,
    );
  });
});

describe('break-glass', () => {
  const glass = (reason?: string) => ({ name: 'g', verb: 'break-glass' as const, by: 'oncall@example.com', ...(reason ? { reason } : {}) });

  it('lets a held revision through with a reason, naming who and why, and the window no longer holds it', () => {
    const d = decide(
      released('podinfo:6.0.0'),
      pushed('podinfo:6.0.1', undefined, { window: closed, action: glass('hotfix for INC-7') }),
      undefined,
      T0,
      settings,
    );
    assert.equal(d.action?.result, 'Applied');
    assert.deepEqual(d.status.breakGlass, {
      revision: rev('podinfo:6.0.1'),
      by: 'oncall@example.com',
      reason: 'hotfix for INC-7',
      at: T0.toISOString(),
    });
    const warning = d.events.find((e) => e.type === 'Warning');
    assert.match(
      warning!.message,
      /^Break-glass by oncall@example\.com for revision \S+ of podinfo\.test \(hotfix for INC-7\): no longer held by the change window is closed/,
    );
    const next = decide(
      seedCanary({ status: d.status }),
      pushed('podinfo:6.0.1', undefined, { window: closed }),
      undefined,
      after(1000),
      settings,
    );
    assert.equal(next.status.phase, 'Progressing', 'the analysis starts inside the window');
    // A newer revision is not covered by that glass: held again.
    const newer = decide(
      seedCanary({ status: d.status }),
      pushed('podinfo:6.0.2', undefined, { window: closed }),
      undefined,
      after(1000),
      settings,
    );
    assert.equal(newer.status.phase, 'Succeeded');
    assert.ok(newer.status.changeWindow);
  });

  it('goes through a stopped line, and is refused without a reason or with nothing to break', () => {
    const stop = { policy: 'incident', reason: 'INC-7', by: 'oncall' };
    const progressing = seedCanary({ status: analysingStatus(T0, { phase: 'Progressing' }) });
    const o = { ...pushed('podinfo:6.0.1'), canaryCopy: copyOf('podinfo:6.0.1', 2), lineStop: stop };
    const d = decide(progressing, { ...o, action: glass('the fix itself') }, undefined, after(1000), settings);
    assert.equal(d.action?.result, 'Applied');
    assert.match(d.action!.message, /the line is stopped by ClusterCanaryPolicy incident: INC-7/);
    const step = decide(seedCanary({ status: d.status }), o, pass, after(61_000), settings);
    assert.equal(step.status.canaryWeight, 20, 'steps on past the stop');
    const promote = decide(
      seedCanary({ status: d.status }),
      { ...o, action: { name: 'p', verb: 'promote', by: 'oncall' } },
      undefined,
      after(2000),
      settings,
    );
    assert.equal(promote.action?.result, 'Applied', 'a promote of the glassed revision is not refused by the stop');
    const noReason = decide(progressing, { ...o, action: glass() }, undefined, after(1000), settings);
    assert.equal(noReason.action?.result, 'Rejected');
    assert.match(noReason.action!.message, /needs a reason/);
    const nothing = decide(progressing, { ...o, lineStop: undefined, action: glass('why not') }, undefined, after(1000), settings);
    assert.equal(nothing.action?.result, 'Rejected');
    assert.match(nothing.action!.message, /no closed change window and no stopped line holds it/);
  });
});

describe('fast rollback', () => {
  const history = (...images: string[]) =>
    images.map((image, i) => ({ revision: rev(image), at: new Date(T0.getTime() - (i + 1) * 3_600_000).toISOString() }));

  it('releases a change back to a recent release at once, with no canary and no traffic split', () => {
    const canary = released('podinfo:6.0.1', { releases: history('podinfo:6.0.1', 'podinfo:6.0.0') });
    const o = { ...pushed('podinfo:6.0.0', 'podinfo:6.0.1'), fastRollbackRevisions: 1 };
    const d = decide(canary, o, undefined, T0, settings);
    assert.equal(d.status.phase, 'Promoting');
    assert.equal(d.status.canaryWeight, 0);
    assert.equal(d.status.lastAppliedSpec, rev('podinfo:6.0.0'));
    assert.deepEqual(d.status.fastRollback, { revision: rev('podinfo:6.0.0'), releasedAt: '2026-12-01T08:00:00.000Z' });
    assert.match(
      d.events[0]!.message,
      /^Fast rollback of podinfo\.test to revision \S+, last released 2026-12-01T08:00:00\.000Z: releasing it to podinfo\.test without analysis$/,
    );
    assert.equal(d.events[0]!.type, 'Normal');
    const want = deploymentDriver.desired(seedCanary({ status: d.status }), d.status, o.target!, o.canaryCopy, undefined, undefined);
    assert.equal(want.copy?.replicas, 0, 'the canary copy stays at zero');
    assert.equal(want.canaryWeight, 0);
    assert.equal(want.target?.paused, false, 'the primary pods roll onto it');
    // The target rolled: the release completes and is recorded first in the history.
    const rolled = { ...o, target: deployment('podinfo:6.0.0'), revision: o.revision };
    const done = decide(seedCanary({ status: d.status }), rolled, undefined, after(5000), settings);
    assert.equal(done.status.phase, 'Succeeded');
    assert.equal(done.status.fastRollback, undefined);
    assert.equal(done.status.lastPromotedSpec, rev('podinfo:6.0.0'));
    assert.deepEqual(
      done.status.releases?.map((r) => r.revision),
      [rev('podinfo:6.0.0'), rev('podinfo:6.0.1')],
    );
    assert.match(done.events[0]!.message, /^Fast rollback completed! podinfo\.test runs revision \S+ again$/);
  });

  it('analyses a revision outside the last N, and everything when it is off', () => {
    const canary = released('podinfo:6.0.2', { releases: history('podinfo:6.0.2', 'podinfo:6.0.1', 'podinfo:6.0.0') });
    const outside = decide(canary, { ...pushed('podinfo:6.0.0'), fastRollbackRevisions: 1 }, undefined, T0, settings);
    assert.equal(outside.status.phase, 'Progressing');
    const inside = decide(canary, { ...pushed('podinfo:6.0.0'), fastRollbackRevisions: 2 }, undefined, T0, settings);
    assert.equal(inside.status.phase, 'Promoting');
    const off = decide(canary, pushed('podinfo:6.0.1'), undefined, T0, settings);
    assert.equal(off.status.phase, 'Progressing');
  });

  it('is never held by a closed window or a stopped line, and cuts an analysis short', () => {
    const canary = released('podinfo:6.0.1', { releases: history('podinfo:6.0.1', 'podinfo:6.0.0') });
    const held = { ...pushed('podinfo:6.0.0'), fastRollbackRevisions: 3, window: closed, lineStop: { policy: 'p', reason: 'r' } };
    assert.equal(decide(canary, held, undefined, T0, settings).status.phase, 'Promoting');
    const analysing = seedCanary({
      status: analysingStatus(T0, {
        phase: 'Progressing',
        lastPromotedSpec: rev('podinfo:6.0.1'),
        lastAppliedSpec: rev('podinfo:6.0.2'),
        releases: history('podinfo:6.0.1', 'podinfo:6.0.0'),
      }),
    });
    const d = decide(analysing, { ...held, canaryCopy: copyOf('podinfo:6.0.2', 2) }, undefined, after(1000), settings);
    assert.equal(d.status.phase, 'Promoting');
    assert.equal(d.status.canaryWeight, 0, 'traffic back on the primary at once');
  });

  it('keeps the ten latest releases, newest first, each once', () => {
    const images = Array.from({ length: 10 }, (_, i) => `podinfo:6.0.${i}`);
    const promoting = seedCanary({
      status: analysingStatus(T0, {
        phase: 'Finalising',
        canaryWeight: 0,
        lastAppliedSpec: rev('podinfo:6.0.3'),
        releases: history(...images),
      }),
    });
    const d = decide(promoting, observed(deployment('podinfo:6.0.3'), copyOf('podinfo:6.0.3', 0)), undefined, after(60_000), settings);
    assert.equal(d.status.phase, 'Succeeded');
    const kept = d.status.releases!.map((r) => r.revision);
    assert.equal(kept.length, 10);
    assert.equal(kept[0], rev('podinfo:6.0.3'));
    assert.equal(new Set(kept).size, 10);
    assert.deepEqual(
      kept.slice(1),
      [0, 1, 2, 4, 5, 6, 7, 8, 9].map((i) => rev(`podinfo:6.0.${i}`)),
    );
    // A revision not released before pushes the oldest out.
    const fresh = seedCanary({
      status: analysingStatus(T0, {
        phase: 'Finalising',
        canaryWeight: 0,
        lastAppliedSpec: rev('podinfo:6.1.0'),
        releases: history(...images),
      }),
    });
    const next = decide(fresh, observed(deployment('podinfo:6.1.0'), copyOf('podinfo:6.1.0', 0)), undefined, after(60_000), settings);
    assert.deepEqual(
      next.status.releases!.map((r) => r.revision),
      ['podinfo:6.1.0', ...images.slice(0, 9)].map(rev),
    );
  });

  it('records the revision found at initialization as released', () => {
    const fresh = seedCanary({ status: { phase: 'Initializing' } });
    const d = decide(fresh, observed(deployment('podinfo:6.0.0'), copyOf('podinfo:6.0.0', 0)), undefined, T0, settings);
    assert.deepEqual(d.status.releases, [{ revision: rev('podinfo:6.0.0'), at: T0.toISOString() }]);
  });
});
