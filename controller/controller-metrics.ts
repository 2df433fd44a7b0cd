// The controller's Prometheus metrics, under Flagger's names so existing dashboards and alerts work.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../lib/process-metrics.js';
import type { Canary, Phase } from '../api/flagger-types.js';
import type { MetricResult } from './check-results.js';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly total = new Gauge({
    name: 'flagger_canary_total',
    help: 'Canaries known, by namespace',
    labelNames: ['namespace'],
    registers: [this.registry],
  });
  readonly status = new Gauge({
    name: 'flagger_canary_status',
    help: 'Canary status: 0 running, 1 successful, 2 failed',
    labelNames: ['name', 'namespace'],
    registers: [this.registry],
  });
  readonly weight = new Gauge({
    name: 'flagger_canary_weight',
    help: 'Share of gateway traffic, per workload (primary and canary)',
    labelNames: ['workload', 'namespace'],
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'flagger_canary_duration_seconds',
    help: 'Time from a new revision to its release or rollback',
    labelNames: ['name', 'namespace'],
    buckets: [10, 30, 60, 120, 300, 600, 1200, 3600],
    registers: [this.registry],
  });
  readonly analysis = new Gauge({
    name: 'flagger_canary_metric_analysis',
    help: 'Last value of each analysis metric',
    labelNames: ['name', 'namespace', 'metric'],
    registers: [this.registry],
  });
  readonly successes = new Counter({
    name: 'flagger_canary_successes_total',
    help: 'Rollouts that passed analysis and were released',
    labelNames: ['name', 'namespace', 'deployment_strategy', 'analysis_status'],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'flagger_canary_failures_total',
    help: 'Rollouts that failed analysis and were rolled back',
    labelNames: ['name', 'namespace', 'deployment_strategy', 'analysis_status'],
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: 'sluice_controller_apiserver_requests_total',
    help: 'Requests this controller sent to the apiserver, by verb (WATCH: a watch opened) and resource',
    labelNames: ['verb', 'resource'],
    registers: [this.registry],
  });
  readonly reconciles = new Counter({
    name: 'sluice_controller_reconciles_total',
    help: 'Reconcile passes, by result',
    labelNames: ['result'],
    registers: [this.registry],
  });

  /** Per Canary, the label values of its series, so they can all be removed with it. */
  private readonly seriesOf = new Map<string, { workloads: Set<string>; metrics: Set<string>; ended: Set<string> }>();

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectProcessMetrics(this.registry);
  }

  private series(canary: Canary) {
    const key = `${canary.metadata.namespace ?? ''}/${canary.metadata.name}`;
    let s = this.seriesOf.get(key);
    if (!s) this.seriesOf.set(key, (s = { workloads: new Set(), metrics: new Set(), ended: new Set() }));
    return s;
  }

  observe(canary: Canary, phase: Phase | undefined, weight: number, primaryName: string, canaryName: string): void {
    const labels = { name: canary.metadata.name, namespace: canary.metadata.namespace ?? '' };
    const s = this.series(canary);
    s.workloads.add(primaryName).add(canaryName);
    this.status.set(labels, phase === 'Succeeded' || phase === 'Initialized' ? 1 : phase === 'Failed' ? 2 : 0);
    this.weight.set({ workload: primaryName, namespace: labels.namespace }, 100 - weight);
    this.weight.set({ workload: canaryName, namespace: labels.namespace }, weight);
  }

  metricResults(canary: Canary, results: MetricResult[]): void {
    for (const r of results) {
      if (r.value === undefined) continue;
      this.series(canary).metrics.add(r.name);
      this.analysis.set({ name: canary.metadata.name, namespace: canary.metadata.namespace ?? '', metric: r.name }, r.value);
    }
  }

  /**
   * A deleted Canary's series go with it: label values come from objects anyone with a namespace
   * can create, and series kept for every Canary that ever existed would grow without end.
   */
  forget(namespace: string, name: string): void {
    const s = this.seriesOf.get(`${namespace}/${name}`);
    this.status.remove({ name, namespace });
    this.duration.remove({ name, namespace });
    if (!s) return;
    for (const workload of s.workloads) this.weight.remove({ workload, namespace });
    for (const metric of s.metrics) this.analysis.remove({ name, namespace, metric });
    for (const status of s.ended) {
      const labels = { name, namespace, deployment_strategy: 'canary', analysis_status: status };
      this.successes.remove(labels);
      this.failures.remove(labels);
    }
    this.seriesOf.delete(`${namespace}/${name}`);
  }

  finished(canary: Canary, outcome: 'Succeeded' | 'Failed', seconds: number): void {
    const labels = {
      name: canary.metadata.name,
      namespace: canary.metadata.namespace ?? '',
      deployment_strategy: 'canary',
      analysis_status: outcome === 'Succeeded' ? 'completed' : 'failed',
    };
    this.series(canary).ended.add(labels.analysis_status);
    (outcome === 'Succeeded' ? this.successes : this.failures).inc(labels);
    this.duration.observe({ name: labels.name, namespace: labels.namespace }, seconds);
  }
}
