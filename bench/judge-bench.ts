// The statistical judge on samples shaped like the world's (log-normal, about 10 % spread from one
// sample to the next), seeded so every run sees the same data: how often it fails a candidate that
// is the stable revision itself (per judgement and per 10-step rollout), how often it catches a
// real shift (power), what a fresh-pod warm-up does when the comparison is with the long-running
// primary rather than a fresh baseline, and how long one judgement takes at n = 500.
import { type CanaryJudge, type ResolvedJudge, resolveJudge } from '../api/canary-judge.js';
import { judgeSamples } from '../controller/judge/judge.js';
import { gaussian, type Random, seededRandom } from '../lib/stats/seeded-random.js';
import { type Figure, percentile, round } from './results.js';

const SPREAD = 0.1;
const MEDIAN_MS = 12;
const STEPS = 10;

/** The judge a latency metric gets with every default (direction: increase, as latency is judged). */
function latencyJudge(overrides: Partial<CanaryJudge['spec']> = {}): ResolvedJudge {
  const r = resolveJudge({
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'CanaryJudge',
    metadata: { name: 'bench', namespace: 'bench' },
    spec: { metrics: [{ name: 'latency', query: 'q', direction: 'increase' }], ...overrides },
  });
  if ('error' in r) throw new Error(r.error);
  return r;
}

/** n samples of a median-`median` log-normal latency, each multiplied by `factor(i)`. */
function samples(random: Random, n: number, median: number, factor: (i: number) => number = () => 1): number[] {
  return Array.from({ length: n }, (_, i) => median * factor(i) * Math.exp(SPREAD * gaussian(random)));
}

function verdictOf(judge: ResolvedJudge, canary: number[], baseline: number[]): string {
  return judgeSamples(judge, new Map([['latency', { canary, baseline }]]), STEPS, new Date(0)).verdict;
}

/** Share of judgements (or of rollouts of STEPS judgements) that did not pass, same revision on both sides. */
function falseAlarms(judge: ResolvedJudge, n: number, rollouts: number, seed: number) {
  const random = seededRandom(seed);
  let judgementFails = 0;
  let rolloutFails = 0;
  for (let r = 0; r < rollouts; r++) {
    let failed = false;
    for (let s = 0; s < STEPS; s++) {
      if (verdictOf(judge, samples(random, n, MEDIAN_MS), samples(random, n, MEDIAN_MS)) !== 'Pass') {
        judgementFails++;
        failed = true;
      }
    }
    if (failed) rolloutFails++;
  }
  return { perJudgement: judgementFails / (rollouts * STEPS), perRollout: rolloutFails / rollouts };
}

function power(judge: ResolvedJudge, n: number, shift: number, trials: number, seed: number): number {
  const random = seededRandom(seed);
  let caught = 0;
  for (let t = 0; t < trials; t++)
    if (verdictOf(judge, samples(random, n, MEDIAN_MS * (1 + shift)), samples(random, n, MEDIAN_MS)) === 'Fail') caught++;
  return caught / trials;
}

/**
 * Fresh pods are slower at first (cold caches, JIT, connection pools): +25 % at start, halving
 * every 5 samples. The candidate is the stable revision, on fresh pods; the reference is either
 * the long-running primary (warm) or a fresh baseline (warming up alike). Share of first-step
 * judgements that fail.
 */
function warmUp(judge: ResolvedJudge, n: number, trials: number, seed: number) {
  const random = seededRandom(seed);
  const cold = (i: number) => 1 + 0.25 * 0.5 ** (i / 5);
  let againstPrimary = 0;
  let againstBaseline = 0;
  for (let t = 0; t < trials; t++) {
    const canary = samples(random, n, MEDIAN_MS, cold);
    if (verdictOf(judge, canary, samples(random, n, MEDIAN_MS)) !== 'Pass') againstPrimary++;
    if (verdictOf(judge, canary, samples(random, n, MEDIAN_MS, cold)) !== 'Pass') againstBaseline++;
  }
  return { againstPrimary: againstPrimary / trials, againstBaseline: againstBaseline / trials };
}

function timing(judge: ResolvedJudge, n: number, runs: number, seed: number): number[] {
  const random = seededRandom(seed);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c = samples(random, n, MEDIAN_MS * 1.02);
    const b = samples(random, n, MEDIAN_MS);
    const t = process.hrtime.bigint();
    verdictOf(judge, c, b);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return times.sort((a, b) => a - b);
}

export function judgeBench(): Figure[] {
  const judge = latencyJudge();
  const either = resolveJudge({
    metadata: { name: 'bench', namespace: 'bench' },
    spec: { metrics: [{ name: 'latency', query: 'q', direction: 'either' }] },
  } as CanaryJudge) as ResolvedJudge;
  // Three seeds each, pooled: one seed's figure moves by about a fifth of a point from the next's,
  // so the note gives each seed's value beside the pooled one.
  const SEEDS = [1, 2, 3];
  const rollouts = 4000;
  const pooled = <T extends Record<string, number>>(runs: T[], key: keyof T) => runs.reduce((a, r) => a + r[key]!, 0) / runs.length;
  const faRuns = SEEDS.map((s) => falseAlarms(judge, 20, rollouts, s));
  const fa = { perJudgement: pooled(faRuns, 'perJudgement'), perRollout: pooled(faRuns, 'perRollout') };
  const faEitherRuns = SEEDS.map((s) => falseAlarms(either, 20, rollouts, s + 10));
  const faEither = { perJudgement: pooled(faEitherRuns, 'perJudgement'), perRollout: pooled(faEitherRuns, 'perRollout') };
  const trials = 2000;
  const p20Runs = SEEDS.map((s) => power(judge, 20, 0.2, trials, s + 20));
  const p10Runs = SEEDS.map((s) => power(judge, 50, 0.1, trials, s + 30));
  const p20 = p20Runs.reduce((a, b) => a + b, 0) / SEEDS.length;
  const p10 = p10Runs.reduce((a, b) => a + b, 0) / SEEDS.length;
  const each = (vs: number[]) => `seeds ${SEEDS.join(', ')}: ${vs.map((v) => `${round(v * 100, 2)} %`).join(', ')}`;
  const warm = warmUp(judge, 20, trials, 5);
  const times = timing(judge, 500, 200, 6);
  const kayenta = latencyJudge({ tolerance: 0.25 });
  const p10Kayenta = power(kayenta, 50, 0.1, trials, 31);
  const how = `the default judge (falseAlarmRate 0.01 split over ${STEPS} judgements: one-sided ${round(0.01 / STEPS, 4)} each; tolerance 0), log-normal samples with ${SPREAD * 100} % spread, seeded`;
  const pct = (v: number) => round(v * 100, 2);
  return [
    {
      name: 'judge_false_alarms_per_judgement',
      value: pct(fa.perJudgement),
      unit: '%',
      target: '<= 0.5 %',
      note: `same revision on both sides, n = 20 a side, ${SEEDS.length * rollouts * STEPS} judgements (${each(faRuns.map((r) => r.perJudgement))}); direction increase. ${how}`,
    },
    {
      name: 'judge_false_alarms_per_rollout',
      value: pct(fa.perRollout),
      unit: '%',
      target: '<= 1 %',
      note: `rollouts with any judgement not passing, of ${SEEDS.length * rollouts} (${each(faRuns.map((r) => r.perRollout))}); direction increase. ${how}`,
    },
    {
      name: 'judge_false_alarms_per_rollout_either_direction',
      value: pct(faEither.perRollout),
      unit: '%',
      target: '<= 1 %',
      note: `as judge_false_alarms_per_rollout with direction either (both tails; ${pct(faEither.perJudgement)} % per judgement; ${each(faEitherRuns.map((r) => r.perRollout))})`,
    },
    {
      name: 'judge_power_20pct_n20',
      value: pct(p20),
      unit: '%',
      target: '>= 95 %',
      note: `candidate's mean +20 %, n = 20 a side, ${SEEDS.length * trials} judgements judged Fail (${each(p20Runs)}). ${how}`,
    },
    {
      name: 'judge_power_10pct_n50',
      value: pct(p10),
      unit: '%',
      target: '>= 90 %',
      note: `candidate's mean +10 %, n = 50 a side, ${SEEDS.length * trials} judgements judged Fail (${each(p10Runs)}). ${how}`,
    },
    {
      name: 'judge_power_10pct_n50_tolerance_025',
      value: pct(p10Kayenta),
      unit: '%',
      note: "as judge_power_10pct_n50 with Kayenta's tolerance 0.25 (the interval must clear a quarter of the estimate besides 0): why sluice's default is 0",
    },
    {
      name: 'judge_warmup_false_alarms_vs_primary',
      value: pct(warm.againstPrimary),
      unit: '%',
      note: `the stable revision on fresh pods (+25 % at start, halving every 5 samples) judged against the warm primary, n = 20, ${trials} first-step judgements not passing`,
    },
    {
      name: 'judge_warmup_false_alarms_vs_baseline',
      value: pct(warm.againstBaseline),
      unit: '%',
      note: 'the same, judged against a fresh baseline that warms up alike: what the baseline design neutralises',
    },
    {
      name: 'judge_time_per_metric_n500_p99',
      value: round(percentile(times, 99), 2),
      unit: 'ms',
      target: '<= 10 ms',
      note: `one metric judged at n = 500 a side (+2 % shift), ${times.length} judgements, p99 (median ${round(percentile(times, 50), 2)} ms), one core`,
    },
  ];
}
