// The checks a step asks for, run beside the reconcile workers (checks-in-flight.ts): one type of
// a Canary's hooks at once (their timeouts overlap rather than add up), or its metric queries.
import { type HookType, hooksOf } from '../api/canary-analysis.js';
import type { Canary, MetricTemplate } from '../api/flagger-types.js';
import type { Revision } from '../api/revision.js';
import { egress } from '../lib/egress-guard.js';
import { at, type KubeObject, type ObjectClient, R } from '../lib/kube/client.js';
import type { ObjectCache } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { runAnalysis } from './analysis/run-analysis.js';
import type { HookResult, MetricResult } from './check-results.js';
import type { ControllerMetrics } from './controller-metrics.js';
import { callHook, hookPayload } from './hooks/call-hook.js';

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

  private async metrics(canary: Canary): Promise<MetricResult[]> {
    const results = await runAnalysis(canary, {
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
    });
    this.d.metrics.metricResults(canary, results);
    return results;
  }
}
