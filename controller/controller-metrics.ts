// The controller's Prometheus metrics, under Flagger's names so existing dashboards and alerts work.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JudgementReport } from '../api/canary-judge.js';
import type { Canary, Phase } from '../api/flagger-types.js';
import { KeptPart, type Rendered, rendered } from '../lib/metrics-exposition.js';
import { keptProcessMetrics } from '../lib/process-metrics.js';
import type { MetricResult } from './check-results.js';

export class ControllerMetrics {
  /**
   * Flagger's series, one or more per Canary. Rendering them is what a scrape of a large controller
   * costs (about 8 ms for 1,000 Canaries, and some 240 KB to send; at one scrape a second, most
   * of the controller's idle CPU), and they change only when a Canary does, so they are rendered
   * again only after a change, and kept as bytes and gzipped (lib/metrics-exposition.ts).
   */
  private readonly canaryRegistry = new Registry();
  /** The reconciler's own series: few, and they move all the time. */
  readonly registry = new Registry();
  private version = 0;
  private readonly flaggerPart = new KeptPart(() => this.canaryRegistry.metrics(), { version: () => this.version });
  /** The process's series (CPU, memory, event loop): read from /proc, so rendered at most every 5 s. */
  private readonly processPart: KeptPart;
  private readonly total = new Gauge({
    name: 'flagger_canary_total',
    help: 'Canaries known, by namespace',
    labelNames: ['namespace'],
    registers: [this.canaryRegistry],
  });
  private readonly status = new Gauge({
    name: 'flagger_canary_status',
    help: 'Canary status: 0 running, 1 successful, 2 failed',
    labelNames: ['name', 'namespace'],
    registers: [this.canaryRegistry],
  });
  private readonly weight = new Gauge({
    name: 'flagger_canary_weight',
    help: 'Share of gateway traffic, per workload (primary and canary)',
    labelNames: ['workload', 'namespace'],
    registers: [this.canaryRegistry],
  });
  private readonly duration = new Histogram({
    name: 'flagger_canary_duration_seconds',
    help: 'Time from a new revision to its release or rollback',
    labelNames: ['name', 'namespace'],
    buckets: [10, 30, 60, 120, 300, 600, 1200, 3600],
    registers: [this.canaryRegistry],
  });
  private readonly analysis = new Gauge({
    name: 'flagger_canary_metric_analysis',
    help: 'Last value of each analysis metric',
    labelNames: ['name', 'namespace', 'metric'],
    registers: [this.canaryRegistry],
  });
  private readonly judge = new Gauge({
    name: 'sluice_canary_judge',
    help: 'The statistical judge\'s last judgement (docs/analysis.md): stat score (metric ""), verdict (1 Pass, 0.5 Marginal, 0 Fail), and per metric estimate, lower, upper (shift canary − baseline), ratio, canary_n, baseline_n',
    labelNames: ['name', 'namespace', 'metric', 'stat'],
    registers: [this.canaryRegistry],
  });
  private readonly successes = new Counter({
    name: 'flagger_canary_successes_total',
    help: 'Rollouts that passed analysis and were released',
    labelNames: ['name', 'namespace', 'deployment_strategy', 'analysis_status'],
    registers: [this.canaryRegistry],
  });
  private readonly failures = new Counter({
    name: 'flagger_canary_failures_total',
    help: 'Rollouts that failed analysis and were rolled back',
    labelNames: ['name', 'namespace', 'deployment_strategy', 'analysis_status'],
    registers: [this.canaryRegistry],
  });
  /** Break-glass actions taken (docs/operating.md): by whom, for which Canary; the CanaryAction and an Event say why. */
  readonly breakGlass = new Counter({
    name: 'sluice_break_glass_total',
    help: 'Break-glass CanaryActions taken: a revision let through a closed change window or a stopped line',
    labelNames: ['name', 'namespace', 'user'],
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

  // Where a pass's time goes (issue 31): waiting for a worker, then the pass itself. Buckets from
  // 5 ms to 30 s, as client-go's workqueue metrics span.
  readonly queueWait = new Histogram({
    name: 'sluice_controller_queue_wait_seconds',
    help: 'How long a Canary waited in the work queue, from being added to a worker taking it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'sluice_controller_reconcile_duration_seconds',
    help: 'How long a reconcile pass took, by result',
    labelNames: ['result'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly queueDepth = new Gauge({
    name: 'sluice_controller_queue_depth',
    help: 'Canaries waiting in the work queue for a worker',
    registers: [this.registry],
    collect: () => {
      this.queueDepth.set(this.depth());
    },
  });
  /** Set by whoever owns the queue: its length now. */
  depth: () => number = () => 0;

  /** Per Canary, the label values of its series, so they can all be removed with it. */
  private readonly seriesOf = new Map<string, { workloads: Set<string>; metrics: Set<string>; ended: Set<string>; judged: Set<string> }>();

  constructor(withProcessMetrics = true) {
    this.processPart = keptProcessMetrics(withProcessMetrics);
  }

  readonly contentType = this.registry.contentType;

  /** What a scrape gets, in parts: Flagger's series as last rendered unless one changed since, the process's, and the live ones. */
  async parts(): Promise<Rendered[]> {
    return [await this.flaggerPart.get(), await this.processPart.get(), rendered(await this.registry.metrics())];
  }

  /** The same as text. */
  async exposition(): Promise<string> {
    return (await this.parts()).map((p) => p.raw.toString('utf8')).join('');
  }

  private changed(): void {
    this.version++;
  }

  /** Canaries per namespace, as the cache holds them now. */
  totals(perNamespace: ReadonlyMap<string, number>): void {
    this.total.reset();
    for (const [namespace, n] of perNamespace) this.total.set({ namespace }, n);
    this.changed();
  }

  private series(canary: Canary) {
    const key = `${canary.metadata.namespace ?? ''}/${canary.metadata.name}`;
    let s = this.seriesOf.get(key);
    if (!s) this.seriesOf.set(key, (s = { workloads: new Set(), metrics: new Set(), ended: new Set(), judged: new Set() }));
    return s;
  }

  observe(canary: Canary, phase: Phase | undefined, weight: number, primaryName: string, canaryName: string): void {
    this.changed();
    const labels = { name: canary.metadata.name, namespace: canary.metadata.namespace ?? '' };
    const s = this.series(canary);
    s.workloads.add(primaryName).add(canaryName);
    this.status.set(labels, phase === 'Succeeded' || phase === 'Initialized' ? 1 : phase === 'Failed' ? 2 : 0);
    this.weight.set({ workload: primaryName, namespace: labels.namespace }, 100 - weight);
    this.weight.set({ workload: canaryName, namespace: labels.namespace }, weight);
  }

  metricResults(canary: Canary, results: MetricResult[]): void {
    this.changed();
    for (const r of results) {
      if (r.judgement) this.judgement(canary, r.judgement);
      if (r.value === undefined) continue;
      this.series(canary).metrics.add(r.name);
      this.analysis.set({ name: canary.metadata.name, namespace: canary.metadata.namespace ?? '', metric: r.name }, r.value);
    }
  }

  private judgement(canary: Canary, j: JudgementReport): void {
    const s = this.series(canary);
    const base = { name: canary.metadata.name, namespace: canary.metadata.namespace ?? '' };
    const set = (metric: string, stat: string, v: number | undefined) => {
      if (v === undefined || !Number.isFinite(v)) return;
      s.judged.add(JSON.stringify([metric, stat]));
      this.judge.set({ ...base, metric, stat }, v);
    };
    set('', 'score', j.score);
    set('', 'verdict', j.verdict === 'Pass' ? 1 : j.verdict === 'Marginal' ? 0.5 : 0);
    for (const m of j.metrics) {
      set(m.name, 'estimate', m.estimate);
      set(m.name, 'lower', m.lower);
      set(m.name, 'upper', m.upper);
      set(m.name, 'ratio', m.ratio);
      set(m.name, 'canary_n', m.canaryN);
      set(m.name, 'baseline_n', m.baselineN);
    }
  }

  /**
   * A deleted Canary's series go with it: label values come from objects anyone with a namespace
   * can create, and series kept for every Canary that ever existed would grow without end.
   */
  forget(namespace: string, name: string): void {
    this.changed();
    const s = this.seriesOf.get(`${namespace}/${name}`);
    this.status.remove({ name, namespace });
    this.duration.remove({ name, namespace });
    if (!s) return;
    for (const workload of s.workloads) this.weight.remove({ workload, namespace });
    for (const metric of s.metrics) this.analysis.remove({ name, namespace, metric });
    for (const k of s.judged) {
      const [metric, stat] = JSON.parse(k) as [string, string];
      this.judge.remove({ name, namespace, metric, stat });
    }
    for (const status of s.ended) {
      const labels = { name, namespace, deployment_strategy: 'canary', analysis_status: status };
      this.successes.remove(labels);
      this.failures.remove(labels);
    }
    this.seriesOf.delete(`${namespace}/${name}`);
  }

  finished(canary: Canary, outcome: 'Succeeded' | 'Failed', seconds: number): void {
    this.changed();
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
