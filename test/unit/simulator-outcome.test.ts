import assert from 'node:assert/strict';
import { seededRandom as seeded } from '../../lib/stats/seeded-random.js';
import { BASE_LATENCY_MEDIAN_MS, logNormal, requestOutcome, validateFault } from '../world/simulator/outcome.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('simulator request outcome', () => {
  const healthy = { exists: true, readyEndpoints: 2 };

  it('answers 503 without reaching a workload when the Service has no ready endpoint', () => {
    const o = requestOutcome({ exists: true, readyEndpoints: 0 }, undefined, seeded(1));
    assert.deepEqual([o.code, o.reachedWorkload], [503, false]);
  });

  it('answers 500 when the Service does not exist', () => {
    assert.equal(requestOutcome({ exists: false, readyEndpoints: 0 }, undefined, seeded(1)).code, 500);
  });

  it('fails about the injected share of requests', () => {
    const rnd = seeded(7);
    let errors = 0;
    const n = 20_000;
    for (let i = 0; i < n; i++) if (requestOutcome(healthy, { errorRatio: 0.5, latencyMs: 0 }, rnd).code === 500) errors++;
    assert.ok(Math.abs(errors / n - 0.5) < 0.02, `error share ${errors / n}`);
  });

  it('never fails without a fault', () => {
    const rnd = seeded(3);
    for (let i = 0; i < 5000; i++) assert.equal(requestOutcome(healthy, undefined, rnd).code, 200);
  });

  it('adds latency around the injected median, with spread', () => {
    const rnd = seeded(11);
    const samples = Array.from({ length: 5000 }, () => requestOutcome(healthy, { errorRatio: 0, latencyMs: 800 }, rnd).latencyMs);
    const m = median(samples);
    assert.ok(m > 780 && m < 850, `median ${m}`);
    assert.ok(Math.max(...samples) - Math.min(...samples) > 200, 'latency must not be a constant');
  });

  it('has a log-normal base latency with the documented median and a right tail', () => {
    const rnd = seeded(5);
    const samples = Array.from({ length: 5000 }, () => logNormal(rnd, BASE_LATENCY_MEDIAN_MS, 0.45));
    const m = median(samples);
    assert.ok(Math.abs(m - BASE_LATENCY_MEDIAN_MS) < 1, `median ${m}`);
    const p99 = [...samples].sort((a, b) => a - b)[Math.floor(samples.length * 0.99)] ?? 0;
    assert.ok(p99 > 2 * m, `p99 ${p99} should be well above the median ${m}`);
  });

  describe('validateFault', () => {
    it('accepts a ratio and a latency', () =>
      assert.deepEqual(validateFault({ errorRatio: 0.25, latencyMs: 100 }), { errorRatio: 0.25, latencyMs: 100 }));
    it('defaults missing fields to no fault', () => assert.deepEqual(validateFault({}), { errorRatio: 0, latencyMs: 0 }));
    for (const bad of [{ errorRatio: 1.5 }, { errorRatio: -0.1 }, { errorRatio: '0.5' }, { latencyMs: -1 }, { latencyMs: 'slow' }]) {
      it(`rejects ${JSON.stringify(bad)} with a message naming the field`, () => {
        assert.throws(() => validateFault(bad), new RegExp(Object.keys(bad)[0] ?? ''));
      });
    }
  });
});
