// The Mann–Whitney U test (Wilcoxon rank-sum) for two independent samples, with the normal
// approximation corrected for ties and for continuity, and the confidence interval of the
// location shift x − y found as R's wilcox.test (and Kayenta's MannWhitney) find it: the shifts
// at which the standardized rank statistic crosses the normal quantiles. Its point estimate is
// the Hodges–Lehmann estimate in the asymptotic form (the shift where the statistic crosses 0).
import { normalCdf, normalQuantile } from './normal.js';

export type Alternative = 'two-sided' | 'less' | 'greater';

export interface UTestResult {
  /** U of the first sample: the number of pairs (x, y) with x > y, ties counting a half. */
  u: number;
  /** The standardized statistic. */
  z: number;
  p: number;
}

export interface ShiftInterval {
  lower: number;
  upper: number;
  /** The shift at which the rank statistic is centred (the Hodges–Lehmann estimate). */
  estimate: number;
}

/** Rank sum of the first `m` (sorted) values merged with the sorted `y`, average ranks for ties, and Σ(t³ − t) over tie groups. */
function rankSum(xs: Float64Array, shift: number, ys: Float64Array): { sumX: number; ties: number } {
  const m = xs.length;
  const n = ys.length;
  let i = 0;
  let j = 0;
  let rank = 0;
  let sumX = 0;
  let ties = 0;
  while (i < m || j < n) {
    // The next value in the merged order, and every value equal to it on both sides.
    const v = j >= n || (i < m && (xs[i] as number) - shift <= (ys[j] as number)) ? (xs[i] as number) - shift : (ys[j] as number);
    let cx = 0;
    let cy = 0;
    while (i < m && (xs[i] as number) - shift === v) {
      i++;
      cx++;
    }
    while (j < n && ys[j] === v) {
      j++;
      cy++;
    }
    const t = cx + cy;
    const average = rank + (t + 1) / 2;
    sumX += cx * average;
    rank += t;
    if (t > 1) ties += t * t * t - t;
  }
  return { sumX, ties };
}

function sorted(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

function checkSample(values: readonly number[], which: string): void {
  if (values.length === 0) throw new RangeError(`the ${which} sample is empty`);
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`the ${which} sample holds ${v}; remove or replace it first`);
}

/** The tie-corrected standard deviation of U under the null hypothesis. */
function sigmaU(m: number, n: number, ties: number): number {
  return Math.sqrt(((m * n) / 12) * (m + n + 1 - ties / ((m + n) * (m + n - 1))));
}

/** The test of "x and y come from the same distribution" against a shift, as scipy and ClickHouse compute it. */
export function mannWhitneyUTest(
  x: readonly number[],
  y: readonly number[],
  alternative: Alternative = 'two-sided',
  continuityCorrection = true,
): UTestResult {
  checkSample(x, 'first');
  checkSample(y, 'second');
  const m = x.length;
  const n = y.length;
  const { sumX, ties } = rankSum(sorted(x), 0, sorted(y));
  const u = sumX - (m * (m + 1)) / 2;
  const sigma = sigmaU(m, n, ties);
  if (sigma === 0) return { u, z: 0, p: 1 };
  const centred = u - (m * n) / 2;
  let z: number;
  let p: number;
  const cc = continuityCorrection ? 0.5 : 0;
  if (alternative === 'two-sided') {
    z = (Math.abs(centred) - cc) / sigma;
    p = Math.min(1, 2 * normalCdf(-z));
  } else if (alternative === 'greater') {
    z = (centred - cc) / sigma;
    p = normalCdf(-z);
  } else {
    z = (centred + cc) / sigma;
    p = normalCdf(z);
  }
  return { u, z, p };
}

/**
 * The standardized rank statistic of x − shift against y, minus `quantile`; decreasing in
 * `shift`. R's `wdiff` with `correct = TRUE`.
 */
export function shiftStatistic(shift: number, quantile: number, xs: Float64Array, ys: Float64Array): number {
  const m = xs.length;
  const n = ys.length;
  const { sumX, ties } = rankSum(xs, shift, ys);
  const dz = sumX - (m * (m + 1)) / 2 - (m * n) / 2;
  const sigma = sigmaU(m, n, ties);
  if (sigma === 0) throw new RangeError('every observation is tied; no interval can be computed');
  return (dz - Math.sign(dz) * 0.5) / sigma - quantile;
}

/** The distinct pairwise differences x − y within [a, b], ascending; undefined past `cap` of them. */
function differencesWithin(a: number, b: number, xs: Float64Array, ys: Float64Array, cap: number): number[] | undefined {
  const found = new Set<number>();
  for (const x of xs) {
    // y in [x − b, x − a], by binary search for the first y >= x − b.
    let lo = 0;
    let hi = ys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((ys[mid] as number) < x - b) lo = mid + 1;
      else hi = mid;
    }
    for (let j = lo; j < ys.length && x - (ys[j] as number) >= a; j++) {
      found.add(x - (ys[j] as number));
      if (found.size > cap) return undefined;
    }
  }
  return [...found].sort((p, q) => p - q);
}

/**
 * The last shift in [lo, hi] where the statistic (decreasing) is above 0 (`strict`) or at least
 * 0. The statistic changes only at pairwise differences x − y, so the answer is one of them: a
 * bisection narrows the bracket to a 1e-13 of the range, then the differences left inside it are
 * tried one by one, which names the jump exactly (0, not some -1e-14 beside it).
 */
function boundary(quantile: number, xs: Float64Array, ys: Float64Array, lo: number, hi: number, strict: boolean): number {
  const above = (s: number) => {
    const f = shiftStatistic(s, quantile, xs, ys);
    return strict ? f > 0 : f >= 0;
  };
  if (!above(lo)) return lo;
  if (above(hi)) return hi;
  let a = lo;
  let b = hi;
  const enough = (hi - lo) * 1e-13;
  for (let k = 0; k < 2000; k++) {
    if (b - a <= enough) {
      const inside = differencesWithin(a, b, xs, ys, 64);
      if (inside) {
        // above(a) holds and above(b) does not: the first difference, or gap after one, where it
        // stops holding ends the stretch.
        let last = a;
        for (const d of inside) {
          if (d > last && !above(last + (d - last) / 2)) return last;
          if (!above(d)) return d;
          last = d;
        }
        return last;
      }
    }
    const mid = a + (b - a) / 2;
    if (mid <= a || mid >= b) break;
    if (above(mid)) a = mid;
    else b = mid;
  }
  return a + (b - a) / 2;
}

/**
 * Where the statistic crosses `quantile`. It is a step function of the shift, so where it sits at
 * exactly zero over a stretch (the estimate, with an even number of pairs) the middle of that
 * stretch is the answer: the Hodges–Lehmann median of the pairwise differences.
 */
function crossing(quantile: number, xs: Float64Array, ys: Float64Array, lo: number, hi: number): number {
  const from = boundary(quantile, xs, ys, lo, hi, true);
  const to = boundary(quantile, xs, ys, lo, hi, false);
  return from + (to - from) / 2;
}

/** The shift's interval, and the test it inverts, over samples sorted once. */
export interface ShiftTest {
  interval: ShiftInterval;
  /**
   * Whether the data reject "the shift x − y is `shift`" in favour of a larger shift (`above`) or
   * a smaller one. For continuous data this is "the interval lies wholly above (below) `shift`";
   * it stays right where ties make the statistic jump across both quantiles at one point and the
   * interval collapses to that point.
   */
  rejects(shift: number, above: boolean): boolean;
}

/** The confidence interval and estimate of the location shift x − y at `confidence` (two-sided), and its test. */
export function shiftTest(x: readonly number[], y: readonly number[], confidence = 0.95): ShiftTest {
  checkSample(x, 'first');
  checkSample(y, 'second');
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be between 0 and 1, got ${confidence}`);
  const xs = sorted(x);
  const ys = sorted(y);
  const lo = (xs[0] as number) - (ys[ys.length - 1] as number);
  const hi = (xs[xs.length - 1] as number) - (ys[0] as number);
  const q = normalQuantile(1 - (1 - confidence) / 2);
  return {
    interval: {
      lower: crossing(q, xs, ys, lo, hi),
      upper: crossing(-q, xs, ys, lo, hi),
      estimate: crossing(0, xs, ys, lo, hi),
    },
    rejects: (shift, above) => (above ? shiftStatistic(shift, q, xs, ys) > 0 : shiftStatistic(shift, -q, xs, ys) < 0),
  };
}

/** The confidence interval and estimate of the location shift x − y at `confidence` (two-sided). */
export function shiftInterval(x: readonly number[], y: readonly number[], confidence = 0.95): ShiftInterval {
  return shiftTest(x, y, confidence).interval;
}
