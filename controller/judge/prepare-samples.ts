// What happens to a metric's samples before they are compared, as Kayenta's judge does it: NaN
// (a query's 0/0 at an instant with no requests) removed or read as 0, and outliers beyond
// Tukey's fences removed on request, the fences widened to the 1st and 99th percentiles so that
// a long but ordinary tail is not cut.
import { percentile } from '../../lib/stats/effect-size.js';

export type NanStrategy = 'remove' | 'replace';

export function handleNaNs(values: readonly number[], strategy: NanStrategy): number[] {
  return strategy === 'remove' ? values.filter((v) => !Number.isNaN(v)) : values.map((v) => (Number.isNaN(v) ? 0 : v));
}

export function removeOutliers(values: readonly number[], factor: number): number[] {
  if (values.length === 0) return [];
  const p25 = percentile(values, 25);
  const p75 = percentile(values, 75);
  const iqr = p75 - p25;
  const low = Math.min(percentile(values, 1), p25 - factor * iqr);
  const high = Math.max(percentile(values, 99), p75 + factor * iqr);
  return values.filter((v) => v >= low && v <= high);
}

export interface Preparation {
  nanStrategy: NanStrategy;
  outliers?: { factor: number };
}

export function prepareSamples(values: readonly number[], how: Preparation): number[] {
  const clean = handleNaNs(values, how.nanStrategy);
  return how.outliers ? removeOutliers(clean, how.outliers.factor) : clean;
}
