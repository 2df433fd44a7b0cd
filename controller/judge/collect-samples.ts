// The samples a judgement compares: each judge metric's query rendered once for the canary and
// once for the baseline (or the primary), read from Prometheus as a range over the step, one
// point per sample step. Points never overlap: the step is widened to the query's own range
// window (a rate over [1m] read every 10s would give six correlated copies of each minute, and
// correlated samples make a rank test see differences that are not there).
import { longestRangeWindow, type ResolvedJudge } from '../../api/canary-judge.js';
import { promDuration } from '../../api/duration.js';
import type { Canary } from '../../api/flagger-types.js';
import { renderQuery } from '../analysis/render.js';
import { type AnalysisDeps, clientOf, explain, querySource } from '../analysis/run-analysis.js';
import { apexName } from '../generated-objects.js';
import type { MetricSamples } from './judge.js';

/** At most this many points a side: a judgement stays within milliseconds, an answer within bounds. */
export const MAX_SAMPLES = 1000;

export interface Collected {
  samples: Map<string, MetricSamples>;
  /** The widest sample step used, in seconds. */
  stepSeconds: number;
}

export async function collectSamples(
  canary: Canary,
  judge: ResolvedJudge,
  reference: 'baseline' | 'primary',
  window: { start: Date; end: Date },
  deps: AnalysisDeps,
): Promise<Collected> {
  const samples = new Map<string, MetricSamples>();
  let widest = judge.sampleStepMs / 1000;
  const interval = promDuration(judge.sampleStepMs);
  await Promise.all(
    judge.metrics.map(async (m) => {
      const source = await querySource(m, canary, deps);
      if ('failure' in source) {
        samples.set(m.name, { canary: [], baseline: [], error: source.failure });
        return;
      }
      try {
        const render = (variant: string) =>
          renderQuery(source.query, {
            name: canary.metadata.name,
            namespace: canary.metadata.namespace ?? 'default',
            target: canary.spec.targetRef.name,
            service: apexName(canary),
            interval,
            variables: m.templateVariables,
            variant,
          });
        const forCanary = render('canary');
        const forReference = render(reference);
        const spanMs = Math.max(0, window.end.getTime() - window.start.getTime());
        const stepMs = Math.max(judge.sampleStepMs, longestRangeWindow(forCanary), longestRangeWindow(forReference), spanMs / MAX_SAMPLES);
        widest = Math.max(widest, stepMs / 1000);
        // The first point sits one step after the start, so its window holds only this step's traffic.
        const start = new Date(window.start.getTime() + stepMs);
        if (start > window.end) {
          samples.set(m.name, { canary: [], baseline: [] });
          return;
        }
        const client = clientOf(source, deps);
        const [c, b] = await Promise.all([
          client.range(forCanary, start, window.end, stepMs / 1000),
          client.range(forReference, start, window.end, stepMs / 1000),
        ]);
        samples.set(m.name, { canary: c, baseline: b });
      } catch (err) {
        samples.set(m.name, { canary: [], baseline: [], error: explain(err, canary) });
      }
    }),
  );
  return { samples, stepSeconds: widest };
}

/** The judged window: from when the step began (its weight was set) to now, at most one interval back when that is unknown. */
export function stepWindow(canary: Canary, now: Date, intervalMs: number): { start: Date; end: Date } {
  const began = Date.parse(canary.status?.lastTransitionTime ?? '');
  const start = Number.isFinite(began) && began <= now.getTime() ? began : now.getTime() - intervalMs;
  return { start: new Date(start), end: now };
}
