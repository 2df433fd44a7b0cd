// The checks a step asks for, run beside the reconcile workers (checks-in-flight.ts): one type of
// a Canary's hooks at once (their timeouts overlap rather than add up), or its metric queries.
import { analysisInterval, type HookType, hooksOf } from '../api/canary-analysis.js';
import { type CanaryJudge, describeJudgement, type JudgementReport, plannedJudgements } from '../api/canary-judge.js';
import { annotations as A, labels as L, names, objectName, shortRevision } from '../api/contract.js';
import type { Canary, MetricTemplate } from '../api/flagger-types.js';
import type { Revision } from '../api/revision.js';
import type { Deployment } from '../api/workload.js';
import { egress } from '../lib/egress-guard.js';
import { at, type KubeObject, type ObjectClient, R } from '../lib/kube/client.js';
import type { ObjectCache } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { type AnalysisDeps, runAnalysis } from './analysis/run-analysis.js';
import { isReady, judgeOf, noBaselineBecause } from './baseline.js';
import type { HookResult, MetricResult } from './check-results.js';
import type { ControllerMetrics } from './controller-metrics.js';
import { callHook, hookPayload } from './hooks/call-hook.js';
import { collectSamples, stepWindow } from './judge/collect-samples.js';
import { judgeSamples } from './judge/judge.js';
import { driverOf } from './kinds/index.js';

/** How soon a Canary that found every check slot taken tries again. */
export const NO_SLOT_RETRY_MS = 1000;

/**
 * What a check's result is valid for: the Canary's spec and step as last written, and the target
 * revision it saw. Any of them changing means the next pass decides a different step.
 */
export function stepOf(canary: Canary, revision: Revision | undefined): string {
  const st = canary.status;
  return JSON.stringify([
    canary.metadata.generation,
    st?.phase,
    st?.lastAppliedSpec,
    st?.canaryWeight,
    st?.iterations,
    st?.failedChecks,
    st?.lastTransitionTime,
    revision?.id ?? null,
  ]);
}

export interface CheckRunnerDeps {
  client: ObjectClient;
  templates: ObjectCache<MetricTemplate>;
  metrics: ControllerMetrics;
  logger: Logger;
  prometheus: string;
  prometheusTimeoutMs: number;
  /** CanaryJudges and the Deployments their baselines are (docs/analysis.md); without them no judge runs. */
  judges?: ObjectCache<CanaryJudge>;
  deployments?: ObjectCache<Deployment>;
  /** The floor of a Canary's interval (the controller's --min-interval), for the judged window. */
  minIntervalMs?: number;
  clock?: () => Date;
}

export class CheckRunner {
  constructor(private readonly d: CheckRunnerDeps) {}

  run(canary: Canary, need: HookType | 'metrics', signal: AbortSignal): Promise<HookResult[] | MetricResult[]> {
    return need === 'metrics' ? this.metrics(canary) : this.hooks(canary, need, signal);
  }

  private async hooks(canary: Canary, type: HookType, signal: AbortSignal): Promise<HookResult[]> {
    const results = await Promise.all(
      hooksOf(canary, type).map((h) => callHook(h, hookPayload(canary, h, canary.status?.phase), fetch, signal)),
    );
    for (const r of results)
      if (!r.ok) this.d.logger.info(`${type} hook ${r.name} ${r.message}`, { key: `${canary.metadata.namespace}/${canary.metadata.name}` });
    return results;
  }

  private analysisDeps(): AnalysisDeps {
    return {
      metricTemplate: (tns, tname) => this.d.templates.get(tns, tname),
      secret: async (sns, sname) => {
        const s = await this.d.client.find<KubeObject & { data?: Record<string, string> }>(at(R.secrets, sns, sname));
        return s
          ? Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
          : undefined;
      },
      defaultPrometheus: this.d.prometheus,
      timeoutMs: this.d.prometheusTimeoutMs,
      egress,
    };
  }

  private async metrics(canary: Canary): Promise<MetricResult[]> {
    const deps = this.analysisDeps();
    const results = await runAnalysis(canary, deps);
    const judged = await this.judge(canary, deps);
    if (judged) results.push(judged);
    this.d.metrics.metricResults(canary, results);
    return results;
  }

  /**
   * The Canary's statistical judge, when it has one: the candidate against a fresh baseline (or
   * the primary, saying why), as one more check named `judge`. A judge that cannot be read is a
   * failed check naming what to fix: a revision is never released on a judgement that was not made.
   */
  private async judge(canary: Canary, deps: AnalysisDeps): Promise<MetricResult | undefined> {
    const resolved = judgeOf(canary, this.d.judges);
    if (!resolved) return undefined;
    // An unreadable judge fails the step even in a dry run: what it would decide cannot be known.
    if ('error' in resolved) return { name: 'judge', ok: false, message: `judge check failed: ${resolved.error}` };
    const ns = canary.metadata.namespace;
    const driver = driverOf(canary);
    let fallback = noBaselineBecause(canary, resolved, driver?.hasCopy === true);
    if (fallback === undefined) {
      const name = names.baselineCopy(canary.spec.targetRef.name);
      const baseline = this.d.deployments?.get(ns, name);
      if (!baseline || baseline.metadata.labels?.[L.canaryName] !== canary.metadata.name)
        fallback = `${objectName(name, ns)} is not running (its stable template is taken while the target runs its released revision: a judge added mid-rollout takes effect at the next one)`;
      else if (!isReady(baseline)) fallback = `${objectName(name, ns)} has no ready pod yet`;
      else if (baseline.metadata.annotations?.[A.revision] !== canary.status?.lastPromotedSpec)
        fallback = `${objectName(name, ns)} runs revision ${shortRevision(baseline.metadata.annotations?.[A.revision])}, not the released ${shortRevision(canary.status?.lastPromotedSpec)}`;
    }
    const now = this.d.clock?.() ?? new Date();
    const window = stepWindow(canary, now, analysisInterval(canary, this.d.minIntervalMs ?? 0));
    const { samples, stepSeconds } = await collectSamples(canary, resolved, fallback ? 'primary' : 'baseline', window, deps);
    const report: JudgementReport = {
      ...judgeSamples(resolved, samples, plannedJudgements(canary), now),
      baseline: fallback ? 'primary' : 'fresh',
      ...(fallback ? { fallback } : {}),
      sampleStepSeconds: stepSeconds,
    };
    const line = describeJudgement(report);
    const dryRun = resolved.dryRun || canary.spec.analysis?.dryRun === true ? { dryRun: true } : {};
    if (report.verdict === 'Pass') return { name: 'judge', ok: true, message: '', value: report.score, judgement: report, ...dryRun };
    return {
      name: 'judge',
      ok: report.verdict === 'Marginal',
      hold: report.verdict === 'Marginal',
      message: line,
      value: report.score,
      judgement: report,
      ...dryRun,
    };
  }
}
