// The statistics under the judge, against published reference values (ClickHouse's Mann–Whitney
// test, R's wilcox.test as Kayenta ties out with it, Kayenta's own classifier and scorer cases as
// tables), and properties any correct implementation has.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import {
  type ClassifierSettings,
  classifyMetric,
  type Direction,
  type EffectSizeMeasure,
  neutralEffect,
} from '../../controller/judge/classify-metric.js';
import { removeOutliers } from '../../controller/judge/prepare-samples.js';
import { type Classified, scoreJudgement } from '../../controller/judge/score.js';
import { cles, meanRatio, percentile } from '../../lib/stats/effect-size.js';
import { mannWhitneyUTest, shiftInterval, shiftStatistic } from '../../lib/stats/mann-whitney.js';
import { erfc, normalCdf, normalQuantile } from '../../lib/stats/normal.js';
import { root } from '../world/layout.js';
import { runs } from './runs.js';

interface ClassifierCase {
  name: string;
  canary?: (number | null)[];
  baseline?: (number | null)[];
  tolerance: number;
  confidence: number;
  direction: Direction;
  effectSize?: [number, number];
  criticalEffectSize?: [number, number];
  effectSizeMeasure?: EffectSizeMeasure;
  nanStrategy?: 'remove' | 'replace';
  critical?: boolean;
  expect?: string;
  expectCritical?: boolean;
  expectRatio?: number | 'NaN';
  expectReason?: boolean;
}
interface ShiftCase {
  name: string;
  x: number[];
  y: number[];
  confidence?: number;
  lower?: number;
  upper?: number;
  estimate?: number;
  statistic?: { shift: number; value: number }[];
}
const kayenta = JSON.parse(fs.readFileSync(path.join(root, 'test/fixtures/kayenta-cases.json'), 'utf8')) as {
  classifier: ClassifierCase[];
  shift: ShiftCase[];
};
// JSON has no NaN: the ported samples carry null where Kayenta's held Double.NaN.
const values = (xs: (number | null)[] | undefined) => (xs ?? []).map((v) => (v === null ? Number.NaN : v));

describe('judge statistics: the normal distribution', () => {
  it('gives the published quantiles and tail probabilities to the last digits', () => {
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959963984540054) < 1e-15);
    assert.ok(Math.abs(normalQuantile(0.01) - -2.326347874040841) < 1e-15);
    assert.ok(Math.abs(normalCdf(-1.96) - 0.024997895148220435) < 1e-16);
    // erfc(5) = 1.5374597944280349e-12: a CDF built as 1 − erf would have no digit of it left.
    assert.ok(Math.abs(erfc(5) / 1.5374597944280349e-12 - 1) < 1e-13);
    assert.equal(normalQuantile(0), Number.NEGATIVE_INFINITY);
    assert.ok(Number.isNaN(normalQuantile(1.5)));
  });

  it('has a quantile that inverts its CDF and a CDF symmetric about 0', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 1 - 1e-16, noNaN: true }), (p) => {
        const z = normalQuantile(p);
        const back = normalCdf(z);
        assert.ok(Math.abs(back - p) <= 1e-13 * Math.max(p, 1e-300) + 1e-16, `${p} → ${z} → ${back}`);
      }),
      { numRuns: runs(2000) },
    );
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), (z) => {
        assert.ok(Math.abs(normalCdf(z) + normalCdf(-z) - 1) < 1e-15);
      }),
      { numRuns: runs(2000) },
    );
  });
});

describe('judge statistics: Mann–Whitney U', () => {
  // ClickHouse tests/queries/0_stateless/01560_mann_whitney.sql: sample 0 and sample 1.
  const first = [310, 195, 530, 155, 530, 245, 385, 450, 465, 545, 170, 180, 125, 180, 230, 75, 430, 480, 495, 295];
  const second = [116, 171, 176, 421, 111, 326, 481, 111, 346, 441, 261, 411, 206, 521, 456, 446, 296, 51, 426, 261];

  it("reproduces ClickHouse's reference U = 223, p = 0.5426959774289482 to 1e-12", () => {
    const r = mannWhitneyUTest(first, second);
    assert.equal(r.u, 223);
    assert.ok(Math.abs(r.p - 0.5426959774289482) < 1e-12, String(r.p));
  });

  it('computes the rank statistic of Kayenta’s R tie-out to its six digits', () => {
    const c = kayenta.shift.find((s) => s.statistic)!;
    const xs = Float64Array.from(c.x).sort();
    const ys = Float64Array.from(c.y).sort();
    for (const { shift, value } of c.statistic!) assert.ok(Math.abs(shiftStatistic(shift, 0, xs, ys) - value) < 1e-6);
  });

  it('finds the interval and Hodges–Lehmann estimate R finds, within R’s own root-finding tolerance', () => {
    const exact = shiftInterval([10, 20, 30, 40], [1, 2, 3, 4]);
    assert.deepEqual(exact, { lower: 6, upper: 39, estimate: 22.5 });
    // R's uniroot (and Kayenta's port of it) stops within 1e-4 of the jump; sluice names the jump.
    for (const c of kayenta.shift.filter((s) => s.lower !== undefined)) {
      const r = shiftInterval(c.x, c.y, c.confidence);
      for (const k of ['lower', 'upper', 'estimate'] as const)
        assert.ok(Math.abs(r[k] - c[k]!) <= 1e-4, `${c.name} ${k}: ${r[k]} against R's ${c[k]}`);
    }
  });

  it('answers the same test when the samples are swapped, and mirrors the interval', () => {
    const sample = fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 2, maxLength: 30 });
    fc.assert(
      fc.property(sample, sample, (x, y) => {
        fc.pre(new Set([...x, ...y]).size > 1);
        const a = mannWhitneyUTest(x, y);
        const b = mannWhitneyUTest(y, x);
        assert.equal(a.u + b.u, x.length * y.length);
        assert.ok(Math.abs(a.p - b.p) < 1e-12 && a.p >= 0 && a.p <= 1);
        const i = shiftInterval(x, y, 0.9);
        const j = shiftInterval(y, x, 0.9);
        assert.deepEqual(
          [j.lower, j.upper, j.estimate],
          [-i.upper, -i.lower, -i.estimate].map((v) => v + 0),
        );
      }),
      { numRuns: runs(300) },
    );
  });

  it('moves the interval with the data and keeps the estimate inside it', () => {
    const sample = fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 3, maxLength: 40 });
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: -100, max: 100 }), (x, y, d) => {
        fc.pre(new Set([...x, ...y]).size > 1);
        const i = shiftInterval(x, y, 0.95);
        assert.ok(i.lower <= i.estimate && i.estimate <= i.upper, JSON.stringify(i));
        const moved = shiftInterval(
          x.map((v) => v + d),
          y,
          0.95,
        );
        assert.deepEqual([moved.lower, moved.upper, moved.estimate], [i.lower + d, i.upper + d, i.estimate + d]);
      }),
      { numRuns: runs(300) },
    );
  });

  it('refuses an empty sample or a non-finite value, naming it', () => {
    assert.throws(() => mannWhitneyUTest([], [1]), /first sample is empty/);
    assert.throws(() => shiftInterval([1, Number.NaN], [1, 2]), /first sample holds NaN/);
    assert.throws(() => shiftInterval([1, 2], [3, 4], 1), /confidence must be between 0 and 1/);
  });
});

describe("judge statistics: Kayenta's classifier cases, as a table", () => {
  for (const c of kayenta.classifier) {
    it(c.name, () => {
      const measure = c.effectSizeMeasure ?? 'meanRatio';
      const neutral = neutralEffect(measure);
      const r = classifyMetric('m', values(c.baseline), values(c.canary), {
        tolerance: c.tolerance,
        confidence: c.confidence,
        direction: c.direction,
        nanStrategy: c.nanStrategy ?? 'remove',
        critical: c.critical === true,
        mustHaveData: false,
        measure,
        allowedDecrease: c.effectSize?.[0] ?? neutral,
        allowedIncrease: c.effectSize?.[1] ?? neutral,
        criticalDecrease: c.criticalEffectSize?.[0] ?? neutral,
        criticalIncrease: c.criticalEffectSize?.[1] ?? neutral,
      });
      if (c.expect !== undefined) assert.equal(r.label, c.expect);
      if (c.expectCritical !== undefined) assert.equal(r.critical, c.expectCritical);
      if (c.expectRatio === 'NaN') assert.ok(Number.isNaN(r.ratio));
      else if (c.expectRatio !== undefined) assert.equal(r.ratio, c.expectRatio);
      if (c.expectReason) assert.ok(r.reason && r.reason.length > 0);
    });
  }

  const settings: ClassifierSettings = {
    tolerance: 0,
    confidence: 0.95,
    direction: 'either',
    nanStrategy: 'remove',
    critical: false,
    mustHaveData: false,
    measure: 'meanRatio',
    allowedIncrease: 1,
    allowedDecrease: 1,
    criticalIncrease: 1,
    criticalDecrease: 1,
  };

  it('turns missing data required of a non-critical metric into NodataFail', () => {
    const base = { ...settings, mustHaveData: true };
    assert.equal(classifyMetric('m', [1, 2], [], base).label, 'NodataFail');
    assert.match(classifyMetric('m', [1, 2], [], base).reason ?? '', /no samples from the canary/);
    assert.deepEqual(
      [classifyMetric('m', [], [1], { ...base, critical: true }).label, classifyMetric('m', [], [1], { ...base, critical: true }).critical],
      ['Nodata', true],
    );
  });

  it('gives the same verdict for the same data every time, even where it breaks ties with noise', () => {
    const s = { ...settings, tolerance: 0.1 };
    const a = classifyMetric('m', [1, 1, 1, 1, 1], [10, 10, 10, 10, 10], s);
    const b = classifyMetric('m', [1, 1, 1, 1, 1], [10, 10, 10, 10, 10], s);
    assert.deepEqual(a, b);
    assert.equal(a.label, 'High');
  });
});

describe("judge statistics: Kayenta's scorer cases, as a table", () => {
  const m = (name: string, label: Classified['label'], groups: string[], critical = false): Classified => ({
    name,
    label,
    groups,
    critical,
  });
  const cases: { name: string; results: Classified[]; weights?: Record<string, number>; score: number }[] = [
    { name: 'single metric Pass', results: [m('a', 'Pass', ['g'])], score: 100 },
    { name: 'single metric High', results: [m('a', 'High', ['g'])], score: 0 },
    { name: 'single group Nodata (half or more Nodata)', results: [m('a', 'Nodata', ['g'])], score: 0 },
    {
      name: 'two groups, one Pass, one Nodata: a group without data counts as 100',
      results: [m('a', 'Pass', ['p']), m('b', 'Pass', ['p']), m('c', 'Nodata', ['n'])],
      score: 100,
    },
    { name: 'one group, two metrics', results: [m('a', 'Pass', ['g']), m('b', 'High', ['g'])], score: 50 },
    { name: 'one group, three metrics', results: [m('a', 'Pass', ['g']), m('b', 'High', ['g']), m('c', 'Low', ['g'])], score: 33.33 },
    {
      name: 'two weighted groups, three metrics',
      results: [m('a', 'Pass', ['g1']), m('b', 'Pass', ['g1']), m('c', 'High', ['g2'])],
      weights: { g1: 75, g2: 25 },
      score: 75,
    },
    {
      name: 'two equally weighted groups',
      results: [m('a', 'Pass', ['g1']), m('b', 'High', ['g1']), m('c', 'High', ['g2'])],
      weights: { g1: 50, g2: 50 },
      score: 25,
    },
    {
      name: 'an unweighted group shares what the weighted ones leave',
      results: [m('a', 'Pass', ['g1']), m('b', 'High', ['g2']), m('c', 'Pass', ['g3'])],
      weights: { g1: 50 },
      score: 75,
    },
    { name: 'a critical metric that did not pass forces 0', results: [m('a', 'Pass', ['g']), m('b', 'High', ['h'], true)], score: 0 },
    { name: 'NodataFail counts against its group', results: [m('a', 'Pass', ['g']), m('b', 'NodataFail', ['g'])], score: 50 },
    // sluice's one departure from Kayenta (controller/judge/score.ts): a query that failed is not left out.
    { name: 'an Error counts against its group', results: [m('a', 'Pass', ['g']), m('b', 'Error', ['g'])], score: 50 },
    { name: 'a group of Errors alone scores 0, not 100', results: [m('a', 'Error', ['g'])], score: 0 },
  ];
  for (const c of cases)
    it(c.name, () => assert.equal(scoreJudgement(c.results, c.weights ?? {}, { pass: 95, marginal: 75 }).score, c.score));

  it('classifies the score by its thresholds: Pass, Marginal, Fail', () => {
    const r = [m('a', 'Pass', ['g']), m('b', 'Pass', ['g']), m('c', 'Pass', ['g']), m('d', 'High', ['g'])];
    assert.equal(scoreJudgement(r, {}, { pass: 75, marginal: 50 }).verdict, 'Pass');
    assert.equal(scoreJudgement(r, {}, { pass: 80, marginal: 75 }).verdict, 'Marginal');
    assert.equal(scoreJudgement(r, {}, { pass: 90, marginal: 80 }).verdict, 'Fail');
  });
});

describe('judge statistics: effect sizes and outliers', () => {
  it('measures the mean ratio, CLES and R-7 percentiles', () => {
    assert.equal(meanRatio([1, 3], [4, 4]), 2);
    assert.ok(Number.isNaN(meanRatio([0, 0], [1, 2])));
    assert.equal(cles([1, 2], [2, 3]), 0.875);
    assert.equal(percentile([1, 2, 3, 4], 25), 1.75);
  });

  it("removes only what lies beyond both Tukey's fences and the 1st/99th percentiles", () => {
    const data = [10, 11, 12, 11, 10, 12, 11, 500];
    assert.deepEqual(removeOutliers(data, 3), [10, 11, 12, 11, 10, 12, 11]);
    assert.deepEqual(removeOutliers([1, 2, 3, 4, 5], 3), [1, 2, 3, 4, 5]);
  });
});
