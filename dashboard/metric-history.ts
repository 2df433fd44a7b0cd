// Each analysis metric of one Canary over the last minutes, for its chart: a Prometheus range
// query of the gauge the controller already exports at every check
// (flagger_canary_metric_analysis{namespace,name,metric}). Kept in Prometheus, the history outlives
// a restart of the controller and of the dashboard. Asked only for a Canary the person has just
// read with their own credentials, so it shows nothing their RBAC hides.

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

  private async query(canary: Canary, now: number): Promise<History> {
    const to = Math.floor(now / 1000);
    const from = to - this.windowSeconds;
    const step = Math.max(1, Math.ceil(this.windowSeconds / MAX_POINTS));
    const metrics = canary.spec.analysis?.metrics ?? [];
    const empty = (problem?: string): History => ({
      from,
      to,
      step,
      series: metrics.map((m) => ({ metric: m.name, points: [], ...band(m) })),
      ...(problem ? { problem } : {}),
    });
    if (metrics.length === 0) return empty();
    const url = new URL('api/v1/query_range', this.base);
    url.searchParams.set(
      'query',
      `flagger_canary_metric_analysis{namespace=${quoted(canary.metadata.namespace ?? '')},name=${quoted(canary.metadata.name)}}`,
    );
    url.searchParams.set('start', String(from));
    url.searchParams.set('end', String(to));
    url.searchParams.set('step', String(step));
    let answer: RangeAnswer;
    try {
      const res = await this.send(url, { signal: AbortSignal.timeout(this.timeoutMs) });
      answer = JSON.parse(await readBounded(res, MAX_BODY)) as RangeAnswer;
      if (!res.ok || answer.status !== 'success') return empty(`Prometheus answered ${res.status}: ${answer.error ?? 'no data'}`);
    } catch (err) {
      return empty(`Prometheus at ${this.base.host} did not answer: ${(err as Error).message}`);
    }
    const byMetric = new Map<string, Map<number, number>>();
    for (const r of answer.data?.result ?? []) {
      const name = r.metric?.metric;
      if (!name || !Array.isArray(r.values)) continue;
      const m = new Map<number, number>();
      for (const v of r.values) {
        const t = Number(v[0]);
        const x = Number(v[1]);
        if (Number.isFinite(t) && Number.isFinite(x)) m.set(t, x);
      }
      byMetric.set(name, m);
    }
    const steps: number[] = [];
    for (let t = from; t <= to; t += step) steps.push(t);
    return {
      from,
      to,
      step,
      series: metrics.map((m) => {
        const samples = byMetric.get(m.name);
        // From the first sample on (the chart spans what there is), every step, with null where
        // Prometheus had no sample: the chart shows the gap.
        const first = samples ? steps.findIndex((t) => samples.has(t)) : -1;
        return {
          metric: m.name,
          points: samples && first >= 0 ? steps.slice(first).map((t): [number, number | null] => [t, samples.get(t) ?? null]) : [],
          ...band(m),
        };
      }),
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
