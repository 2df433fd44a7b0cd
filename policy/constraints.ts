// A ClusterCanaryPolicy's constraints against one Canary spec. Two uses of the same rules:
// `violations` lists every broken rule (the validating webhook refuses with all of them at once);
// `enforce` returns the spec tightened to the rules (the controller analyses a Canary that existed
// before the policy, or was admitted while the webhook was down, within the platform's limits).

import { type ActionVerb, VERBS } from '../api/canary-action.js';
import { DEFAULTS, maxWeight } from '../api/canary-analysis.js';
import { parseDuration } from '../api/duration.js';
import type { CanaryMetric, CanarySpec, CanaryWebhook } from '../api/flagger-types.js';
import type { ClusterCanaryPolicy, PolicyConstraints } from '../api/policy-types.js';

const unsetNote = (value: unknown, dflt: unknown) => (value === undefined ? ` (unset, so ${dflt})` : '');

/** The increments of stepWeights, starting from 0: [10, 30] climbs by 10 then 20. */
function increments(steps: number[]): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  let prev = 0;
  for (const w of [...steps].sort((x, y) => x - y)) {
    out.push({ from: prev, to: w });
    prev = w;
  }
  return out;
}

const metricNamed = (spec: CanarySpec, name: string | undefined) => (spec.analysis?.metrics ?? []).find((m) => m.name === name);

function boundsLooser(have: CanaryMetric, want: CanaryMetric): string[] {
  const out: string[] = [];
  const h = have.thresholdRange ?? {};
  const w = want.thresholdRange ?? {};
  if (w.min !== undefined && (h.min === undefined || h.min < w.min))
    out.push(`thresholdRange.min ${h.min ?? 'unset'} is looser than ${w.min}`);
  if (w.max !== undefined && (h.max === undefined || h.max > w.max))
    out.push(`thresholdRange.max ${h.max ?? 'unset'} is looser than ${w.max}`);
  return out;
}

/**
 * How a metric is computed: a builtin (by its name), a MetricTemplate with its variables, or an
 * inline query. A required metric must be computed the policy's way, or a Canary could keep the
 * name and bounds and measure anything (`query: vector(100)` under "request-success-rate").
 */
function computation(m: CanaryMetric): string {
  if (m.query !== undefined) return `query ${JSON.stringify(m.query)}`;
  if (m.templateRef) {
    const vars = Object.entries(m.templateVariables ?? {}).sort(([x], [y]) => (x < y ? -1 : 1));
    return `templateRef ${m.templateRef.namespace ? `${m.templateRef.namespace}/` : ''}${m.templateRef.name}${vars.length ? ` with templateVariables ${vars.map(([k, v]) => `${k}=${v}`).join(', ')}` : ''}`;
  }
  return 'the builtin query';
}

/** The metric with its computation (query, templateRef, templateVariables) replaced by `want`'s. */
function computedAs(have: CanaryMetric, want: CanaryMetric): void {
  delete have.query;
  delete have.templateRef;
  delete have.templateVariables;
  if (want.query !== undefined) have.query = want.query;
  if (want.templateRef) have.templateRef = structuredClone(want.templateRef);
  if (want.templateVariables) have.templateVariables = structuredClone(want.templateVariables);
}

// A required hook is the policy's own: same type, name and address (a Canary could otherwise keep
// the name and point the gate at an endpoint that always says yes).
const hookMatches = (have: CanaryWebhook, want: Partial<CanaryWebhook>) =>
  (want.type === undefined || (have.type ?? 'rollout') === want.type) &&
  (want.name === undefined || have.name === want.name) &&
  (want.url === undefined || have.url === want.url);
const hookLabel = (w: Partial<CanaryWebhook>) =>
  [w.type ?? 'any-type', w.name ? `"${w.name}"` : '', w.url ? `at ${w.url}` : ''].filter(Boolean).join(' ');

/** Flagger's default range of a metric's query (`{{ interval }}`) when the metric gives none. */
export const DEFAULT_METRIC_INTERVAL = '1m';

/** Whether a metric's interval is longer than `ceiling`; one that is not a duration counts as longer. */
function longerThan(interval: string | undefined, ceiling: string): boolean {
  try {
    return parseDuration(interval, 60_000) > parseDuration(ceiling, 60_000);
  } catch {
    return true;
  }
}

/** The gates a promote would walk past. */
const GATES = new Set(['confirm-rollout', 'confirm-traffic-increase', 'confirm-promotion']);

/** The actions a policy allows (api/policy-types.ts, allowedActions). */
export function allowedActions(c: PolicyConstraints): ActionVerb[] {
  if (c.allowedActions) return c.allowedActions;
  const guarded = c.forbidSkipAnalysis === true || (c.requiredWebhooks ?? []).some((w) => w.type !== undefined && GATES.has(w.type));
  return VERBS.filter((v) => v !== 'promote' || !guarded);
}

/** Why `verb` is refused under `policies` (naming the policy), or undefined when every one allows it. */
export function actionRefusal(verb: string, policies: ClusterCanaryPolicy[]): string | undefined {
  for (const p of policies) {
    const allowed = allowedActions(p.spec.constraints ?? {});
    if (!(allowed as string[]).includes(verb)) {
      const why = p.spec.constraints?.allowedActions
        ? `it allows only ${allowed.join(', ') || 'no action'}`
        : 'it forbids skipping analysis or requires a gate, which a promote would walk past';
      return `ClusterCanaryPolicy ${p.metadata.name} does not allow ${verb} here (${why}); ask a platform owner, or let the analysis finish`;
    }
  }
  return undefined;
}

/** The namespaces other than the Canary's own that its metrics and alerts read from. */
export function crossNamespaceRefs(spec: CanarySpec, namespace: string): string[] {
  const a = spec.analysis ?? {};
  const out: string[] = [];
  for (const m of a.metrics ?? [])
    if (m.templateRef?.namespace && m.templateRef.namespace !== namespace)
      out.push(`analysis.metrics "${m.name}" uses MetricTemplate ${m.templateRef.namespace}/${m.templateRef.name}`);
  for (const al of (a.alerts ?? []) as { name?: string; providerRef?: { name?: string; namespace?: string } }[])
    if (al?.providerRef?.namespace && al.providerRef.namespace !== namespace)
      out.push(`analysis.alerts "${al.name}" uses AlertProvider ${al.providerRef.namespace}/${al.providerRef.name}`);
  return out;
}

/** Every rule of `c` that `spec` breaks, worded for a person; empty when it complies. */
export function violations(spec: CanarySpec, c: PolicyConstraints, namespace?: string): string[] {
  const out: string[] = [];
  if (c.forbidCrossNamespaceRefs && namespace !== undefined)
    for (const r of crossNamespaceRefs(spec, namespace)) out.push(`${r}: another namespace's objects are forbidden`);
  const a = spec.analysis ?? {};
  if (c.forbidSkipAnalysis && spec.skipAnalysis === true) out.push('skipAnalysis: true is forbidden');
  // A dry run of the whole analysis decides nothing: skipping it by another name.
  if (c.forbidSkipAnalysis && a.dryRun === true) out.push('analysis.dryRun: true is forbidden (a dry run decides nothing)');
  if (c.maxWeight !== undefined) {
    const mw = maxWeight(spec);
    // Without maxWeight, stepWeights' largest entry is the ceiling: the entries below name it.
    const fromSteps = a.maxWeight === undefined && (a.stepWeights ?? []).length > 0;
    if (mw > c.maxWeight && !fromSteps)
      out.push(`analysis.maxWeight ${mw}${unsetNote(a.maxWeight, 'the default')} is above the ceiling ${c.maxWeight}`);
    for (const w of a.stepWeights ?? [])
      if (w > c.maxWeight) out.push(`analysis.stepWeights entry ${w} is above the ceiling ${c.maxWeight}`);
  }
  if (c.maxStepWeight !== undefined) {
    if (a.stepWeights && a.stepWeights.length > 0) {
      for (const s of increments(a.stepWeights))
        if (s.to - s.from > c.maxStepWeight)
          out.push(`analysis.stepWeights step ${s.from}→${s.to} is above the ceiling ${c.maxStepWeight} per step`);
    } else {
      const sw = a.stepWeight ?? DEFAULTS.stepWeight;
      if (sw > c.maxStepWeight)
        out.push(`analysis.stepWeight ${sw}${unsetNote(a.stepWeight, 'the default')} is above the ceiling ${c.maxStepWeight}`);
    }
  }
  if (c.minInterval !== undefined) {
    const floor = parseDuration(c.minInterval, 0);
    const have = parseDuration(a.interval, DEFAULTS.intervalMs);
    if (have < floor) out.push(`analysis.interval ${a.interval ?? '1m (unset)'} is below the floor ${c.minInterval}`);
  }
  if (c.maxThreshold !== undefined) {
    const t = a.threshold ?? DEFAULTS.threshold;
    if (t > c.maxThreshold)
      out.push(`analysis.threshold ${t}${unsetNote(a.threshold, 'the default')} is above the ceiling ${c.maxThreshold}`);
  }
  for (const want of c.requiredMetrics ?? []) {
    const have = metricNamed(spec, want.name);
    if (!have) {
      out.push(`analysis.metrics has no "${want.name}", which is required`);
      continue;
    }
    if (computation(have) !== computation(want)) {
      out.push(`analysis.metrics "${want.name}" must be computed by ${computation(want)}, not ${computation(have)}`);
    }
    for (const b of boundsLooser(have, want)) out.push(`analysis.metrics "${want.name}" ${b}`);
    if (have.dryRun === true && want.dryRun !== true) out.push(`analysis.metrics "${want.name}" is required, so it may not be a dry run`);
    // The query's range: a longer one averages a bad revision's errors away (8760h hides them all).
    const ceiling = want.interval ?? DEFAULT_METRIC_INTERVAL;
    if (longerThan(have.interval, ceiling))
      out.push(`analysis.metrics "${want.name}" interval ${have.interval} is longer than the ceiling ${ceiling}`);
  }
  for (const want of c.requiredWebhooks ?? []) {
    if (!(a.webhooks ?? []).some((h) => hookMatches(h, want)))
      out.push(`analysis.webhooks has no ${hookLabel(want)} hook, which is required`);
  }
  return out;
}

/** Violations of every policy, each prefixed with the policy that sets the rule. */
export function policyViolations(spec: CanarySpec, policies: ClusterCanaryPolicy[], namespace?: string): string[] {
  return policies.flatMap((p) =>
    violations(spec, p.spec.constraints ?? {}, namespace).map((v) => `${v} (ClusterCanaryPolicy ${p.metadata.name})`),
  );
}

/** stepWeights with steps no larger than `maxStep` and entries no larger than `ceiling`. */
function tightenSteps(steps: number[], maxStep: number | undefined, ceiling: number | undefined): number[] {
  const out: number[] = [];
  let prev = 0;
  for (const raw of [...steps].sort((x, y) => x - y)) {
    const w = ceiling === undefined ? raw : Math.min(raw, ceiling);
    if (maxStep !== undefined) for (let mid = prev + maxStep; mid < w; mid += maxStep) out.push(mid);
    if (w > prev) out.push(w);
    prev = Math.max(prev, w);
  }
  return out;
}

/** `spec` tightened to every policy's rules. Rules it cannot satisfy (a required hook without a URL) stay violations. */
export function enforce(spec: CanarySpec, policies: ClusterCanaryPolicy[]): CanarySpec {
  if (policies.length === 0) return spec;
  const out: CanarySpec = structuredClone(spec);
  const a = (out.analysis ??= {});
  for (const p of policies) {
    const c = p.spec.constraints ?? {};
    if (c.forbidSkipAnalysis && out.skipAnalysis) out.skipAnalysis = false;
    if (c.forbidSkipAnalysis && a.dryRun) delete a.dryRun;
    if (a.stepWeights && a.stepWeights.length > 0) a.stepWeights = tightenSteps(a.stepWeights, c.maxStepWeight, c.maxWeight);
    else if (c.maxStepWeight !== undefined) a.stepWeight = Math.min(a.stepWeight ?? DEFAULTS.stepWeight, c.maxStepWeight);
    if (c.maxWeight !== undefined) a.maxWeight = Math.min(maxWeight(out), c.maxWeight);
    if (c.minInterval !== undefined && parseDuration(a.interval, DEFAULTS.intervalMs) < parseDuration(c.minInterval, 0))
      a.interval = c.minInterval;
    if (c.maxThreshold !== undefined) a.threshold = Math.min(a.threshold ?? DEFAULTS.threshold, c.maxThreshold);
    for (const want of c.requiredMetrics ?? []) {
      const have = (a.metrics ??= []).find((m) => m.name === want.name);
      if (!have) {
        a.metrics.push(structuredClone(want));
        continue;
      }
      computedAs(have, want);
      // A required metric decides as the policy says: a dry run only where the policy's own is one.
      if (want.dryRun === true) have.dryRun = true;
      else delete have.dryRun;
      const ceiling = want.interval ?? DEFAULT_METRIC_INTERVAL;
      if (longerThan(have.interval, ceiling)) have.interval = ceiling;
      const r = (have.thresholdRange ??= {});
      const w = want.thresholdRange ?? {};
      if (w.min !== undefined) r.min = Math.max(r.min ?? -Infinity, w.min);
      if (w.max !== undefined) r.max = Math.min(r.max ?? Infinity, w.max);
    }
    for (const want of c.requiredWebhooks ?? []) {
      if (want.url && want.name && !(a.webhooks ?? []).some((h) => hookMatches(h, want)))
        (a.webhooks ??= []).push(structuredClone(want) as CanaryWebhook);
    }
  }
  return out;
}
