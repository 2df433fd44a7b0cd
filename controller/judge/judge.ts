// One judgement: each metric's canary and baseline samples prepared, classified and scored into a
// verdict with everything the report needs (n on each side, estimate, interval, ratio). Pure:
// the samples come from the caller (collect-samples.ts reads them from Prometheus).
import type { JudgeMetricReport, JudgementReport, ResolvedJudge } from '../../api/canary-judge.js';
import { intervalConfidence } from '../../api/canary-judge.js';
import { classifyMetric } from './classify-metric.js';
import { prepareSamples } from './prepare-samples.js';
import { scoreJudgement } from './score.js';

export interface MetricSamples {
  canary: readonly number[];
  baseline: readonly number[];
  /** The samples could not be read at all (the query failed): the metric is an Error. */
  error?: string;
}

const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : undefined);

export function judgeSamples(
  judge: ResolvedJudge,
  samples: ReadonlyMap<string, MetricSamples>,
  judgements: number,
  now: Date,
): Omit<JudgementReport, 'baseline'> {
  const reports: JudgeMetricReport[] = [];
  const classified = judge.metrics.map((m) => {
    const got = samples.get(m.name) ?? { canary: [], baseline: [], error: 'not queried' };
    const confidence = intervalConfidence(judge.falseAlarmRate, judgements, judge.metrics.length, m.direction);
    if (got.error !== undefined) {
      reports.push({
        name: m.name,
        label: 'Error',
        canaryN: 0,
        baselineN: 0,
        reason: got.error,
        ...(m.critical ? { critical: true } : {}),
      });
      return { name: m.name, label: 'Error' as const, critical: m.critical, groups: m.groups, reason: got.error };
    }
    const how = { nanStrategy: m.nanStrategy, ...(m.outlierFactor !== undefined ? { outliers: { factor: m.outlierFactor } } : {}) };
    const canary = prepareSamples(got.canary, how);
    const baseline = prepareSamples(got.baseline, how);
    const c = classifyMetric(m.name, baseline, canary, { ...m, tolerance: judge.tolerance, confidence });
    const estimate = finite(c.interval?.estimate);
    const lower = finite(c.interval?.lower);
    const upper = finite(c.interval?.upper);
    const ratio = finite(c.ratio);
    reports.push({
      name: m.name,
      label: c.label,
      canaryN: canary.length,
      baselineN: baseline.length,
      ...(estimate !== undefined ? { estimate } : {}),
      ...(lower !== undefined ? { lower } : {}),
      ...(upper !== undefined ? { upper } : {}),
      ...(ratio !== undefined ? { ratio } : {}),
      ...(c.critical ? { critical: true } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
    });
    return { name: m.name, label: c.label, critical: c.critical, groups: m.groups, ...(c.reason ? { reason: c.reason } : {}) };
  });
  const score = scoreJudgement(classified, judge.groupWeights, { pass: judge.pass, marginal: judge.marginal });
  const confidence = intervalConfidence(judge.falseAlarmRate, judgements, judge.metrics.length, 'either');
  return {
    verdict: score.verdict,
    score: score.score,
    ...(score.reason ? { reason: score.reason } : {}),
    confidence,
    metrics: reports,
    at: now.toISOString(),
  };
}
