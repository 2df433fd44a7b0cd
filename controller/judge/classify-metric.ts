// One metric of the candidate against the same metric of the baseline, classified as Kayenta's
// MannWhitneyClassifier classifies it: High or Low when the confidence interval of the shift
// lies beyond a tolerance around zero that scales with the estimate itself, in a direction the
// metric cares about, and the effect size (mean ratio or CLES) is past its allowed limit; Nodata
// when a side has no samples; critical High/Low when the effect also passes the critical limit.
import { cles, meanRatio } from '../../lib/stats/effect-size.js';
import { type ShiftTest, shiftTest } from '../../lib/stats/mann-whitney.js';
import { gaussian, seededRandom } from '../../lib/stats/seeded-random.js';
import type { NanStrategy } from './prepare-samples.js';

export type Direction = 'increase' | 'decrease' | 'either';
export type MetricLabel = 'Pass' | 'High' | 'Low' | 'Nodata' | 'NodataFail' | 'Error';
export type EffectSizeMeasure = 'meanRatio' | 'cles';

export interface ClassifierSettings {
  /** The interval must clear ±tolerance × |estimate| (Kayenta's 0.25). */
  tolerance: number;
  /** Two-sided confidence of the shift's interval. */
  confidence: number;
  direction: Direction;
  nanStrategy: NanStrategy;
  critical: boolean;
  mustHaveData: boolean;
  measure: EffectSizeMeasure;
  /** High needs effect >= allowedIncrease; Low needs effect <= allowedDecrease. */
  allowedIncrease: number;
  allowedDecrease: number;
  criticalIncrease: number;
  criticalDecrease: number;
}

export interface MetricClassification {
  label: MetricLabel;
  reason?: string;
  critical: boolean;
  /** Mean ratio canary / baseline: how the report says "how much". NaN when a mean is 0. */
  ratio: number;
  effectSize?: number;
  interval?: { lower: number; upper: number; estimate: number };
}

/** Kayenta's defaults: the effect-size limits that never stop a verdict (1.0 for the ratio, 0.5 for CLES). */
export function neutralEffect(measure: EffectSizeMeasure): number {
  return measure === 'cles' ? 0.5 : 1;
}

/**
 * Each side constant, the two different: the rank statistic has no spread, so (as Kayenta does)
 * a relative 1e-5 of Gaussian noise breaks the ties; seeded, so it is repeatable.
 */
function jitter(values: readonly number[], seed: number): number[] {
  const scale = (values[0] ?? 0) * 1e-5;
  const random = seededRandom(seed);
  return values.map((v) => v + scale * gaussian(random));
}

const distinct = (values: readonly number[]) => new Set(values).size;

function sameSamples(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  return x.every((v, i) => v === y[i]);
}

export function classifyMetric(
  name: string,
  baseline: readonly number[],
  canary: readonly number[],
  s: ClassifierSettings,
): MetricClassification {
  if (canary.length === 0 || baseline.length === 0) {
    const which = canary.length === 0 && baseline.length === 0 ? 'either side' : canary.length === 0 ? 'the canary' : 'the baseline';
    if (s.nanStrategy === 'replace') return { label: 'Pass', critical: false, ratio: 1 };
    const reason = `${name}: no samples from ${which}`;
    if (s.mustHaveData && !s.critical) return { label: 'NodataFail', reason, critical: false, ratio: 1 };
    return { label: 'Nodata', reason, critical: s.critical, ratio: 1 };
  }
  if (sameSamples(canary, baseline))
    return { label: 'Pass', reason: `${name}: the canary and baseline samples are identical`, critical: false, ratio: 1 };
  if (distinct([...canary, ...baseline]) === 1) return { label: 'Pass', critical: false, ratio: 1 };

  const noisy = distinct(canary) === 1 && distinct(baseline) === 1;
  const c = noisy ? jitter(canary, canary.length * 31 + 7) : canary;
  const b = noisy ? jitter(baseline, baseline.length * 17 + 3) : baseline;
  let test: ShiftTest;
  try {
    test = shiftTest(c, b, s.confidence);
  } catch (err) {
    return { label: 'Error', reason: `${name}: ${(err as Error).message}`, critical: s.critical, ratio: Number.NaN };
  }
  const { interval } = test;
  const ratio = meanRatio(b, c);
  const effectSize = s.measure === 'cles' ? cles(b, c) : ratio;
  const bound = s.tolerance * Math.abs(interval.estimate);
  // An effect size that cannot be computed (a mean of 0) does not stop a verdict.
  // "The interval lies above +bound", asked of the test the interval inverts, so that a sample
  // mostly of ties (error ratios that are 0 most of the time) is still judged.
  const high =
    (s.direction === 'increase' || s.direction === 'either') &&
    test.rejects(bound, true) &&
    (Number.isNaN(effectSize) || effectSize >= s.allowedIncrease);
  const low =
    !high &&
    (s.direction === 'decrease' || s.direction === 'either') &&
    test.rejects(-bound, false) &&
    (Number.isNaN(effectSize) || effectSize <= s.allowedDecrease);
  const label: MetricLabel = high ? 'High' : low ? 'Low' : 'Pass';
  const critical =
    s.critical &&
    ((high && (Number.isNaN(effectSize) || effectSize >= s.criticalIncrease)) ||
      (low && (Number.isNaN(effectSize) || effectSize <= s.criticalDecrease)));
  const base = { ratio, effectSize, interval, critical };
  if (label === 'Pass') return { label, ...base };
  return { label, reason: `${name} was classified as ${label}${critical ? ' (critical)' : ''}`, ...base };
}
