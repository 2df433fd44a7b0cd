// From the metrics' classifications to one score and a verdict, as Kayenta's WeightedSumScorer
// and ThresholdScoreClassifier do: each group scores the share of its metrics that passed; the
// summary is the groups' scores weighted (groups without a weight share what the weighted ones
// leave of 100; a group with nothing to judge counts as 100); a critical metric that did not pass,
// or Nodata on half the metrics or more, forces the score to 0. One departure: Kayenta leaves a
// metric whose classification failed (Error: its query could not be answered) out of its group,
// so a group of broken queries scores 100; here it counts against its group as NodataFail does,
// because a rollout must never pass on a judgement that could not be made.
import type { MetricLabel } from './classify-metric.js';

export type Verdict = 'Pass' | 'Marginal' | 'Fail';

export interface Classified {
  name: string;
  label: MetricLabel;
  critical: boolean;
  groups: string[];
  reason?: string;
}

export interface GroupScore {
  name: string;
  score: number;
  noData: boolean;
}

export interface Score {
  score: number;
  verdict: Verdict;
  groups: GroupScore[];
  /** Why the score was forced to 0, when it was. */
  reason?: string;
}

/** At this share of Nodata metrics (percent) the judgement fails outright. */
export const NODATA_THRESHOLD = 50;

function groupScores(results: readonly Classified[]): GroupScore[] {
  const byGroup = new Map<string, MetricLabel[]>();
  for (const r of results) for (const g of r.groups) byGroup.set(g, [...(byGroup.get(g) ?? []), r.label]);
  return [...byGroup].map(([name, labels]) => {
    const counted = labels.filter((l) => l === 'Pass' || l === 'High' || l === 'Low' || l === 'NodataFail' || l === 'Error');
    const pass = counted.filter((l) => l === 'Pass').length;
    return counted.length === 0 ? { name, score: 0, noData: true } : { name, score: (pass / counted.length) * 100, noData: false };
  });
}

function weighted(groups: readonly GroupScore[], weights: Readonly<Record<string, number>>): number {
  const weightSum = Object.values(weights).reduce((a, w) => a + w, 0);
  const unweighted = groups.filter((g) => !Object.hasOwn(weights, g.name));
  const share = unweighted.length > 0 ? (100 - weightSum) / unweighted.length : 0;
  let sum = 0;
  for (const g of groups)
    sum += (g.noData ? 100 : g.score) * ((Object.hasOwn(weights, g.name) ? (weights[g.name] as number) : share) / 100);
  return Math.round(sum * 100) / 100;
}

export function scoreJudgement(
  results: readonly Classified[],
  weights: Readonly<Record<string, number>>,
  thresholds: { pass: number; marginal: number },
): Score {
  const groups = groupScores(results);
  const criticalFailure = results.find((r) => r.critical && r.label !== 'Pass');
  const nodata = results.filter((r) => r.label === 'Nodata').length;
  let score: number;
  let reason: string | undefined;
  if (criticalFailure) {
    score = 0;
    reason = `critical metric failed: ${criticalFailure.reason ?? `${criticalFailure.name} ${criticalFailure.label}`}`;
  } else if (results.length > 0 && (nodata / results.length) * 100 >= NODATA_THRESHOLD) {
    score = 0;
    reason = `${nodata} of ${results.length} metrics had no data (${NODATA_THRESHOLD}% or more)`;
  } else score = weighted(groups, weights);
  const verdict: Verdict = score >= thresholds.pass ? 'Pass' : score >= thresholds.marginal ? 'Marginal' : 'Fail';
  return { score, verdict, groups, ...(reason ? { reason } : {}) };
}
