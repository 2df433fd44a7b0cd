// The kstatus conditions (controller/readiness.ts) as kstatus's generic rules read them:
// Reconciling True → InProgress, Stalled True → Failed, neither → Current.
import assert from 'node:assert/strict';
import type { CanaryStatus, Phase } from '../../api/flagger-types.js';
import { PHASES } from '../../api/phases.js';
import { withReadiness } from '../../controller/readiness.js';

const NOW = '2026-11-28T10:00:00.000Z';
const kstatus = (st: CanaryStatus) => {
  const c = (t: string) => st.conditions?.find((x) => x.type === t)?.status;
  if (c('Reconciling') === 'True') return 'InProgress';
  if (c('Stalled') === 'True') return 'Failed';
  return 'Current';
};
const of = (phase: Phase, over: Partial<CanaryStatus> = {}) =>
  withReadiness({ phase, lastPromotedSpec: 'a', lastAppliedSpec: 'b', ...over }, false, NOW);

describe('kstatus conditions', () => {
  it('every phase maps to the kstatus meaning of a rollout', () => {
    const want: Record<string, string> = {
      '': 'InProgress',
      Initializing: 'InProgress',
      Initialized: 'Current',
      Waiting: 'InProgress',
      Progressing: 'InProgress',
      WaitingPromotion: 'InProgress',
      Promoting: 'InProgress',
      Finalising: 'InProgress',
      Succeeded: 'Current',
      Failed: 'Failed',
    };
    for (const p of Object.keys(PHASES) as Phase[]) {
      const st = of(p);
      assert.equal(kstatus(st), want[p], p || '(none)');
      const ready = st.conditions!.find((c) => c.type === 'Ready')!;
      assert.equal(ready.status, want[p] === 'Current' ? 'True' : 'False', `Ready in ${p}`);
    }
  });

  it('a paused rollout is in progress with reason Paused and who paused it', () => {
    const st = of('Progressing', { analysisPaused: { by: 'alice', at: NOW } });
    const r = st.conditions!.find((c) => c.type === 'Reconciling')!;
    assert.equal(r.reason, 'Paused');
    assert.match(r.message ?? '', /paused by alice/);
  });

  it('a target that cannot be managed is Stalled with its reason', () => {
    const st = withReadiness(
      { phase: 'Initializing', conditions: [{ type: 'Promoted', status: 'Unknown', reason: 'TargetNotFound', message: 'gone' }] },
      false,
      NOW,
    );
    assert.equal(kstatus(st), 'Failed');
    assert.equal(st.conditions!.find((c) => c.type === 'Stalled')!.reason, 'TargetNotFound');
    assert.ok(
      st.conditions!.some((c) => c.type === 'Promoted'),
      'Flagger’s condition kept',
    );
  });

  it('recomputing an unchanged status changes nothing (no write), and a change moves only what changed', () => {
    const a = of('Succeeded');
    const b = withReadiness(a, false, '2026-11-28T11:00:00.000Z');
    assert.deepEqual(b, a);
    const c = withReadiness({ ...a, phase: 'Progressing' }, false, '2026-11-28T12:00:00.000Z');
    const ready = c.conditions!.find((x) => x.type === 'Ready')!;
    assert.equal(ready.status, 'False');
    assert.equal(ready.lastTransitionTime, '2026-11-28T12:00:00.000Z');
  });
});
