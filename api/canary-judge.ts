// sluice.dev/v1alpha1 CanaryJudge: a comparison of the candidate with a fresh baseline of the
// stable revision, judged as Kayenta judges (docs/analysis.md). It sits beside the Canary it
// judges and carries the Canary's name, as CanaryAction sits beside it, so a Flagger manifest
// stays exactly as Flagger accepts it and the judge can be added or removed without touching it.
// This module resolves what the object leaves out and refuses what cannot be judged, with a
// message naming the field; the controller and `kubectl sluice` read it alike.
import type { KubeObject } from '../lib/kube/client.js';
import { maxWeight, nextWeight, strategyOf } from './canary-analysis.js';
import { GROUP } from './contract.js';
import { parseDuration } from './duration.js';
import type { Canary } from './flagger-types.js';

export const JUDGE_VERSION = 'v1alpha1';
export const JUDGE_KIND = 'CanaryJudge';
export const JUDGE_REF = { group: GROUP, version: JUDGE_VERSION, plural: 'canaryjudges' } as const;

export type Direction = 'increase' | 'decrease' | 'either';
export type EffectSizeMeasure = 'meanRatio' | 'cles';

export interface JudgeMetricSpec {
  name: string;
  /** A MetricTemplate whose query reads `{{ variant }}` (canary or baseline). */
  templateRef?: { name: string; namespace?: string };
  query?: string;
  templateVariables?: Record<string, string>;
  /** Groups this metric scores in; default: one group named after the metric. */
  groups?: string[];
  direction?: Direction;
  critical?: boolean;
  mustHaveData?: boolean;
  nanStrategy?: 'remove' | 'replace';
  outliers?: { strategy?: 'remove' | 'keep'; factor?: number };
  effectSize?: {
    measure?: EffectSizeMeasure;
    allowedIncrease?: number;
    allowedDecrease?: number;
    criticalIncrease?: number;
    criticalDecrease?: number;
  };
}

export interface CanaryJudgeSpec {
  /** `fresh` (default): a new copy of the stable revision beside the canary; `primary`: the primary pods. */
  baseline?: 'fresh' | 'primary';
  /** How often a rollout of this Canary may fail on the judge when nothing changed (per rollout, all metrics together). */
  falseAlarmRate?: number;
  /** Kayenta's tolerance: the interval must clear this share of the estimate (default 0; Kayenta's 0.25 costs power, docs/analysis.md). */
  tolerance?: number;
  /** The time between two samples; never shorter than the query's own range window. */
  sampleStep?: string;
  scoreThresholds?: { pass?: number; marginal?: number };
  groupWeights?: Record<string, number>;
  /** Judged and reported at every step, but never failing or holding one (docs/analysis.md). */
  dryRun?: boolean;
  metrics: JudgeMetricSpec[];
}

export interface JudgeMetricReport {
  name: string;
  label: string;
  critical?: boolean;
  /** Samples on each side after NaN and outlier handling. */
  canaryN: number;
  baselineN: number;
  /** The shift canary − baseline: estimate and interval; absent when not computed. */
  estimate?: number;
  lower?: number;
  upper?: number;
  ratio?: number;
  reason?: string;
}

/** What one judgement found, kept in the Canary's status (`status.judgement`) and its Events. */
export interface JudgementReport {
  verdict: 'Pass' | 'Marginal' | 'Fail';
  score: number;
  reason?: string;
  /** Two-sided confidence each metric's interval was computed at (after the false-alarm split). */
  confidence: number;
  baseline: 'fresh' | 'primary';
  /** Why the judge compared with the primary though a fresh baseline was asked for. */
  fallback?: string;
  /** Seconds between samples: the judge's sampleStep, or the query's range window when that is longer (samples never overlap). */
  sampleStepSeconds?: number;
  metrics: JudgeMetricReport[];
  at: string;
  /** When the step first came out Marginal, while it still is. */
  marginalSince?: string;
}

/** The longest range window (`[5m]`, a subquery's `[5m:1m]`) a PromQL query reads, in ms; 0 for none. */
export function longestRangeWindow(promql: string): number {
  let longest = 0;
  for (const m of promql.matchAll(/\[\s*((?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w|y))+)\s*(?::[^\]]*)?\]/g)) {
    const text = m[1]!;
    // d, w and y are Prometheus's, not Go's: read as hours.
    const ms = text.replace(
      /(\d+(?:\.\d+)?)(d|w|y)/g,
      (_a, n: string, u: string) => `${Number(n) * { d: 24, w: 168, y: 8760 }[u as 'd' | 'w' | 'y']}h`,
    );
    try {
      longest = Math.max(longest, parseDuration(ms, 0));
    } catch {
      // Not a range window (a label matcher's text, say): nothing to widen for.
    }
  }
  return longest;
}

export type CanaryJudge = KubeObject & { spec: CanaryJudgeSpec };

export const JUDGE_DEFAULTS = {
  falseAlarmRate: 0.01,
  tolerance: 0,
  sampleStepMs: 5_000,
  pass: 95,
  marginal: 75,
  outlierFactor: 3,
};

export interface ResolvedMetric {
  name: string;
  templateRef?: { name: string; namespace?: string };
  query?: string;
  templateVariables: Record<string, string>;
  groups: string[];
  direction: Direction;
  critical: boolean;
  mustHaveData: boolean;
  nanStrategy: 'remove' | 'replace';
  outlierFactor?: number;
  measure: EffectSizeMeasure;
  allowedIncrease: number;
  allowedDecrease: number;
  criticalIncrease: number;
  criticalDecrease: number;
}

export interface ResolvedJudge {
  baseline: 'fresh' | 'primary';
  falseAlarmRate: number;
  tolerance: number;
  sampleStepMs: number;
  pass: number;
  marginal: number;
  groupWeights: Record<string, number>;
  dryRun: boolean;
  metrics: ResolvedMetric[];
}

const DIRECTIONS = ['increase', 'decrease', 'either'];
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The judge with every default filled in, or the first thing wrong with it (naming the field and what to do). */
export function resolveJudge(judge: CanaryJudge): ResolvedJudge | { error: string } {
  const where = `CanaryJudge ${judge.metadata.namespace ?? ''}/${judge.metadata.name}`;
  const s = (judge.spec ?? {}) as Partial<CanaryJudgeSpec>;
  const fail = (what: string) => ({ error: `${where}: ${what}` });
  if (!Array.isArray(s.metrics) || s.metrics.length === 0) return fail('spec.metrics is empty; name at least one metric to compare');
  if (s.metrics.length > 20) return fail(`spec.metrics has ${s.metrics.length} metrics; at most 20`);
  const falseAlarmRate = s.falseAlarmRate ?? JUDGE_DEFAULTS.falseAlarmRate;
  if (!isNum(falseAlarmRate) || falseAlarmRate <= 0 || falseAlarmRate >= 0.5)
    return fail(`spec.falseAlarmRate must be a number above 0 and below 0.5, got ${JSON.stringify(s.falseAlarmRate)}`);
  const tolerance = s.tolerance ?? JUDGE_DEFAULTS.tolerance;
  if (!isNum(tolerance) || tolerance < 0 || tolerance > 10)
    return fail(`spec.tolerance must be from 0 to 10, got ${JSON.stringify(s.tolerance)}`);
  let sampleStepMs = Number.NaN;
  try {
    sampleStepMs = s.sampleStep === undefined ? JUDGE_DEFAULTS.sampleStepMs : parseDuration(s.sampleStep, Number.NaN);
  } catch {
    // Said below, naming the field.
  }
  if (!(sampleStepMs >= 1000)) return fail(`spec.sampleStep must be a duration of at least 1s, got ${JSON.stringify(s.sampleStep)}`);
  const pass = s.scoreThresholds?.pass ?? JUDGE_DEFAULTS.pass;
  const marginal = s.scoreThresholds?.marginal ?? JUDGE_DEFAULTS.marginal;
  if (!isNum(pass) || !isNum(marginal) || marginal < 0 || pass > 100 || marginal > pass)
    return fail('spec.scoreThresholds needs 0 <= marginal <= pass <= 100');
  const groupWeights = s.groupWeights ?? {};
  if (typeof groupWeights !== 'object' || Array.isArray(groupWeights) || Object.values(groupWeights).some((w) => !isNum(w) || w < 0))
    return fail('spec.groupWeights must map group names to weights of 0 or more');
  if (Object.values(groupWeights).reduce((a, w) => a + w, 0) > 100) return fail('spec.groupWeights add up to more than 100');
  const baseline = s.baseline ?? 'fresh';
  if (baseline !== 'fresh' && baseline !== 'primary')
    return fail(`spec.baseline must be fresh or primary, got ${JSON.stringify(s.baseline)}`);
  const metrics: ResolvedMetric[] = [];
  const seen = new Set<string>();
  for (const [i, m] of s.metrics.entries()) {
    const at = `spec.metrics[${i}]`;
    if (!m || typeof m.name !== 'string' || m.name === '') return fail(`${at}.name is missing`);
    if (seen.has(m.name)) return fail(`${at}: a second metric named ${m.name}`);
    seen.add(m.name);
    if ((m.query === undefined) === (m.templateRef === undefined))
      return fail(`${at} (${m.name}) needs exactly one of query and templateRef`);
    const direction = m.direction ?? 'either';
    if (!DIRECTIONS.includes(direction)) return fail(`${at}.direction must be increase, decrease or either`);
    const measure = m.effectSize?.measure ?? 'meanRatio';
    if (measure !== 'meanRatio' && measure !== 'cles') return fail(`${at}.effectSize.measure must be meanRatio or cles`);
    const neutral = measure === 'cles' ? 0.5 : 1;
    const effect = { ...m.effectSize };
    for (const k of ['allowedIncrease', 'allowedDecrease', 'criticalIncrease', 'criticalDecrease'] as const)
      if (effect[k] !== undefined && (!isNum(effect[k]) || effect[k] < 0))
        return fail(`${at}.effectSize.${k} must be a number of 0 or more`);
    const factor = m.outliers?.factor ?? JUDGE_DEFAULTS.outlierFactor;
    if (!isNum(factor) || factor <= 0) return fail(`${at}.outliers.factor must be above 0`);
    const groups = m.groups && m.groups.length > 0 ? m.groups : [m.name];
    metrics.push({
      name: m.name,
      ...(m.templateRef ? { templateRef: m.templateRef } : {}),
      ...(m.query !== undefined ? { query: m.query } : {}),
      templateVariables: m.templateVariables ?? {},
      groups,
      direction,
      critical: m.critical === true,
      mustHaveData: m.mustHaveData === true,
      nanStrategy: m.nanStrategy === 'replace' ? 'replace' : 'remove',
      ...(m.outliers?.strategy === 'remove' ? { outlierFactor: factor } : {}),
      measure,
      allowedIncrease: effect.allowedIncrease ?? neutral,
      allowedDecrease: effect.allowedDecrease ?? neutral,
      criticalIncrease: effect.criticalIncrease ?? neutral,
      criticalDecrease: effect.criticalDecrease ?? neutral,
    });
  }
  return { baseline, falseAlarmRate, tolerance, sampleStepMs, pass, marginal, groupWeights, dryRun: s.dryRun === true, metrics };
}

/** How many judgements a rollout of this Canary makes when every step passes: one per step. */
export function plannedJudgements(canary: Canary): number {
  if (strategyOf(canary) !== 'canary') return Math.max(1, canary.spec.analysis?.iterations ?? 1);
  const max = maxWeight(canary.spec);
  let steps = 0;
  for (let w = 0; w < max && steps < 1000; steps++) {
    const next = nextWeight(canary.spec, w);
    if (next <= w) break;
    w = next;
  }
  return Math.max(1, steps);
}

/**
 * The two-sided confidence of each metric's interval, so that a rollout with nothing changed
 * fails on the judge at most `falseAlarmRate` of the time: the rate split evenly over the
 * rollout's judgements and metrics (a union bound, which holds whatever the dependence between
 * them), and over one tail for a metric that judges one direction only.
 */
export function intervalConfidence(falseAlarmRate: number, judgements: number, metrics: number, direction: Direction): number {
  const perTest = falseAlarmRate / (Math.max(1, judgements) * Math.max(1, metrics));
  return 1 - (direction === 'either' ? perTest : 2 * perTest);
}

// How a judgement reads in Events, `kubectl sluice get` and `why`: one line per metric.
function num(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 0.001 || a >= 1e6) ? v.toExponential(2) : Number(v.toPrecision(3)).toString();
}

/** One metric for Events and `kubectl sluice why`: "latency High: shift +3.1 [+2.2, +4.0], ratio 1.27, n 12/12". */
export function describeMetric(m: JudgeMetricReport): string {
  const sign = (v: number) => (v > 0 ? `+${num(v)}` : num(v));
  const parts: string[] = [];
  if (m.estimate !== undefined && m.lower !== undefined && m.upper !== undefined)
    parts.push(`shift ${sign(m.estimate)} [${sign(m.lower)}, ${sign(m.upper)}]`);
  if (m.ratio !== undefined) parts.push(`ratio ${num(m.ratio)}`);
  parts.push(`n ${m.canaryN}/${m.baselineN}`);
  if (m.label !== 'Pass' && m.reason && !m.reason.includes(`classified as ${m.label}`)) parts.push(m.reason);
  return `${m.name} ${m.label}${m.critical ? ' (critical)' : ''}: ${parts.join(', ')}`;
}

/** The judgement in one line: "judge Fail, score 0: latency High: shift +3.1 [...] ...". */
export function describeJudgement(r: Pick<JudgementReport, 'verdict' | 'score' | 'reason' | 'metrics' | 'fallback'>): string {
  const against = r.fallback ? ` against the primary, not a fresh baseline (${r.fallback})` : '';
  const head = `judge ${r.verdict}, score ${num(r.score)}${r.reason ? ` (${r.reason})` : ''}${against}`;
  return `${head}: ${r.metrics.map(describeMetric).join('; ')}`;
}
