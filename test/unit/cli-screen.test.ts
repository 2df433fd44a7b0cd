// kubectl sluice's screen and table from a Canary (cli/rollout-view.ts canaryView, cli/screen.ts).
import assert from 'node:assert/strict';
import { canaryView } from '../../cli/rollout-view.js';
import { COLOURS, PLAIN, screen, table } from '../../cli/screen.js';
import { analysingStatus, seedCanary } from './controller-fixtures.js';

const T0 = new Date('2026-11-28T10:00:00Z');

describe('kubectl sluice screen', () => {
  it('shows the step, failed checks against the threshold, the revisions, each metric against its bounds and who paused it', () => {
    const c = seedCanary({
      status: {
        ...analysingStatus(T0, { phase: 'Progressing', canaryWeight: 30, failedChecks: 2 }),
        analysisPaused: { by: 'alice', at: T0.toISOString() },
        lastChecks: [
          { name: 'request-success-rate', ok: false, value: 97.5, min: 99, message: 'success rate 97.50% < 99%', at: T0.toISOString() },
          { name: 'latency', ok: true, value: 120, max: 500, at: T0.toISOString() },
        ],
      },
    });
    const v = canaryView(c);
    const text = screen(v, PLAIN);
    assert.match(text, /^Status: +Progressing {2}paused by alice since 2026-11-28T10:00:00\.000Z$/m);
    assert.match(text, /^Strategy: +canary, weight 30\/50$/m);
    assert.match(text, /^Failed checks: 2\/5$/m);
    assert.match(text, /^ {2}FAIL request-success-rate {2}97\.50 >= 99 {2}success rate 97\.50% < 99%$/m);
    assert.match(text, /^ {2}ok {3}latency +120 <= 500$/m);
    assert.match(text, /^Stable: +[0-9a-f]{10}…/m);
    assert.match(text, /^Candidate: +[0-9a-f]{10}…/m);
    const ESC = String.fromCharCode(27);
    assert.ok(!text.includes(`${ESC}[`), 'plain output has no escape codes');
    assert.ok(screen(v, COLOURS).includes(`${ESC}[31mFAIL`), 'a terminal gets colours');
  });

  it('an idle Canary has no candidate; the table gives one line per Canary', () => {
    const idle = seedCanary({ status: { phase: 'Succeeded', lastPromotedSpec: 'abcdef0123456789', lastAppliedSpec: 'abcdef0123456789' } });
    const v = canaryView(idle);
    assert.equal(v.candidate, undefined);
    assert.match(screen(v), /^Candidate: +none$/m);
    const t = table([v, canaryView(seedCanary())], true)
      .trimEnd()
      .split('\n');
    assert.equal(t.length, 3);
    assert.match(t[0]!, /^NAMESPACE +NAME +STATUS +STEP +FAILED +STABLE +CANDIDATE$/);
    assert.match(t[1]!, /^test +podinfo +Succeeded +weight 0\/50 +0\/5 +abcdef0123… +-$/);
    assert.match(t[2]!, /Initializing/);
  });

  it("shows a CanaryJudge's last judgement: the verdict, the reference, and each metric's shift, interval, ratio and n", () => {
    const c = seedCanary({
      status: {
        ...analysingStatus(T0, { phase: 'Progressing', canaryWeight: 20 }),
        judgement: {
          verdict: 'Fail',
          score: 0,
          confidence: 0.998,
          baseline: 'primary',
          fallback: 'podinfo-baseline.test has no ready pod yet',
          metrics: [
            { name: 'latency', label: 'High', canaryN: 12, baselineN: 11, estimate: 3.13579, lower: 1.5, upper: 4.75, ratio: 1.3 },
            { name: 'errors', label: 'Nodata', canaryN: 0, baselineN: 12, reason: 'errors: no samples from the canary' },
          ],
          at: T0.toISOString(),
        },
      },
    });
    const text = screen(canaryView(c), PLAIN);
    assert.match(text, /^Judge: +Fail, score 0, against the primary \(podinfo-baseline\.test has no ready pod yet\)$/m);
    assert.match(text, /^ {2}FAIL latency High: shift \+3\.14 \[\+1\.5, \+4\.75\], ratio 1\.3, n 12\/11$/m);
    assert.match(text, /^ {2}none errors Nodata: n 0\/12, errors: no samples from the canary$/m);
    const shares = canaryView(c);
    shares.route = { primary: 60, canary: 20, baseline: 20 };
    assert.match(screen(shares), /^Route: +primary 60%, canary 20%, baseline 20%$/m);
  });
});
