// How large a difference is, as opposed to whether it is there: the ratio of the means, and the
// common-language effect size (the share of pairs in which the first sample's value is larger).

export function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length === 0 ? Number.NaN : s / values.length;
}

/** mean(experiment) / mean(control); NaN when either mean is 0, where a ratio says nothing. */
export function meanRatio(control: readonly number[], experiment: readonly number[]): number {
  const c = mean(control);
  const e = mean(experiment);
  return c === 0 || e === 0 ? Number.NaN : e / c;
}

/** P(experiment > control) + P(tie)/2 over all pairs (Vargha and Delaney's A). */
export function cles(control: readonly number[], experiment: readonly number[]): number {
  const c = Float64Array.from(control).sort();
  let greater = 0;
  for (const e of experiment) {
    // Values of control below e, and equal to it, by binary search.
    let lo = 0;
    let hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((c[mid] as number) < e) lo = mid + 1;
      else hi = mid;
    }
    let eq = lo;
    while (eq < c.length && c[eq] === e) eq++;
    greater += lo + (eq - lo) / 2;
  }
  return greater / (c.length * experiment.length);
}

/** The p-th percentile (0..100) by R's type 7 (linear between order statistics). NaN for no data. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = Float64Array.from(values).sort();
  const h = ((s.length - 1) * p) / 100;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return (s[lo] as number) + (h - lo) * ((s[hi] as number) - (s[lo] as number));
}
