// Each analysis metric of one Canary over the last minutes, for its chart: a Prometheus range
// query of the gauge the controller already exports at every check
// (flagger_canary_metric_analysis{namespace,name,metric}). Kept in Prometheus, the history outlives
// a restart of the controller and of the dashboard. Asked only for a Canary the person has just
// read with their own credentials, so it shows nothing their RBAC hides.

import { apexName } from '../api/canary-analysis.js';
import { names } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import { readBounded } from '../lib/bounded-body.js';
import { egress, guardedFetch } from '../lib/egress-guard.js';

export interface MetricSeries {
  metric: string;
  /** [unix seconds, value or null for no sample at that step: a gap]. */
  points: [number, number | null][];
  min?: number;
  max?: number;
  dryRun?: boolean;
}

export interface History {
  from: number;
  to: number;
  step: number;
  series: MetricSeries[];
  /** The canary's weight at each step (flagger_canary_weight of its canary workload): the rollout's steps as a timeline. */
  weight: [number, number | null][];
  /** Why there is no history (no Prometheus configured, or it did not answer). */
  problem?: string;
}

const MAX_BODY = 2 * 1024 * 1024;
/** At most this many steps per series: enough for a chart, small enough for a page. */
const MAX_POINTS = 300;

type RangeAnswer = {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: { metric?: Record<string, string>; values?: [number, string][] }[] };
};

/** A PromQL label value: backslashes and quotes escaped (names are DNS labels, but this is a query). */
const quoted = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export class MetricHistory {
  private readonly base: URL;
  private readonly send = guardedFetch(fetch, egress);
  private readonly kept = new Map<string, { at: number; history: Promise<History> }>();

  constructor(
    address: string,
    private readonly windowSeconds = 15 * 60,
    private readonly timeoutMs = 5000,
    /** An open page refreshes every few seconds; Prometheus is asked at most this often per Canary. */
    private readonly cacheMs = 4000,
  ) {
    this.base = new URL(address.endsWith('/') ? address : `${address}/`);
  }

  of(canary: Canary, now = Date.now()): Promise<History> {
    const key = `${canary.metadata.namespace}/${canary.metadata.name}`;
    const hit = this.kept.get(key);
    if (hit && now - hit.at < this.cacheMs) return hit.history;
    const history = this.query(canary, now);
    this.kept.set(key, { at: now, history });
    // Pages of Canaries nobody looks at any more are forgotten.
    for (const [k, v] of this.kept) if (now - v.at > 60_000) this.kept.delete(k);
    return history;
  }

  /** One range query: label value (of `by`) → timestamp → value; or why there is none. */
  private async range(
    promql: string,
    by: string,
    from: number,
    to: number,
    step: number,
  ): Promise<Map<string, Map<number, number>> | string> {
    const url = new URL('api/v1/query_range', this.base);
    url.searchParams.set('query', promql);
    url.searchParams.set('start', String(from));
    url.searchParams.set('end', String(to));
    url.searchParams.set('step', String(step));
    let answer: RangeAnswer;
    try {
      const res = await this.send(url, { signal: AbortSignal.timeout(this.timeoutMs) });
      answer = JSON.parse(await readBounded(res, MAX_BODY)) as RangeAnswer;
      if (!res.ok || answer.status !== 'success') return `Prometheus answered ${res.status}: ${answer.error ?? 'no data'}`;
    } catch (err) {
      return `Prometheus at ${this.base.host} did not answer: ${(err as Error).message}`;
    }
    const out = new Map<string, Map<number, number>>();
    for (const r of answer.data?.result ?? []) {
      const key = r.metric?.[by] ?? '';
      if (!Array.isArray(r.values)) continue;
      const m = new Map<number, number>();
      for (const v of r.values) {
        const t = Number(v[0]);
        const x = Number(v[1]);
        if (Number.isFinite(t) && Number.isFinite(x)) m.set(t, x);
      }
      out.set(key, m);
    }
    return out;
  }

  private async query(canary: Canary, now: number): Promise<History> {
    const to = Math.floor(now / 1000);
    const from = to - this.windowSeconds;
    const step = Math.max(1, Math.ceil(this.windowSeconds / MAX_POINTS));
    const metrics = canary.spec.analysis?.metrics ?? [];
    const canaryWorkload = names.canaryService(apexName(canary));
    const selector = `{namespace=${quoted(canary.metadata.namespace ?? '')},name=${quoted(canary.metadata.name)}}`;
    const [analysis, weight] = await Promise.all([
      metrics.length > 0
        ? this.range(`flagger_canary_metric_analysis${selector}`, 'metric', from, to, step)
        : new Map<string, Map<number, number>>(),
      // Flagger's weight gauge is per workload: the canary's is named after its canary Service.
      this.range(
        `flagger_canary_weight{namespace=${quoted(canary.metadata.namespace ?? '')},workload=${quoted(canaryWorkload)}}`,
        'workload',
        from,
        to,
        step,
      ),
    ]);
    const steps: number[] = [];
    for (let t = from; t <= to; t += step) steps.push(t);
    // From the first sample on (the chart spans what there is), every step, with null where
    // Prometheus had no sample: the chart shows the gap.
    const points = (samples: Map<number, number> | undefined): [number, number | null][] => {
      const first = samples ? steps.findIndex((t) => samples.has(t)) : -1;
      return samples && first >= 0 ? steps.slice(first).map((t): [number, number | null] => [t, samples.get(t) ?? null]) : [];
    };
    const problem = typeof analysis === 'string' ? analysis : typeof weight === 'string' ? weight : undefined;
    return {
      from,
      to,
      step,
      series: metrics.map((m) => ({
        metric: m.name,
        points: typeof analysis === 'string' ? [] : points(analysis.get(m.name)),
        ...band(m),
      })),
      weight: typeof weight === 'string' ? [] : points(weight.get(canaryWorkload)),
      ...(problem ? { problem } : {}),
    };
  }
}

function band(m: NonNullable<NonNullable<Canary['spec']['analysis']>['metrics']>[number]): Pick<MetricSeries, 'min' | 'max' | 'dryRun'> {
  const r = m.thresholdRange ?? {};
  return {
    ...(typeof r.min === 'number' ? { min: r.min } : {}),
    ...(typeof r.max === 'number' ? { max: r.max } : {}),
    ...((m as { dryRun?: boolean }).dryRun ? { dryRun: true } : {}),
  };
}
