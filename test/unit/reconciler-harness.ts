// The reconciler's unit harness: an in-memory apiserver (test/fixtures/memory-cluster.ts), a
// Prometheus stub and a clock the test moves; each pass driven and inspected one at a time.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { ACTION_REF } from '../../api/canary-action.js';
import { JUDGE_REF } from '../../api/canary-judge.js';
import { labels as L } from '../../api/contract.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import type { Deployment, HorizontalPodAutoscaler } from '../../api/workload.js';
import { ChecksInFlight, DEFAULT_CHECK_LIMITS } from '../../controller/checks-in-flight.js';
import { ControllerMetrics } from '../../controller/controller-metrics.js';
import { EventRecorder } from '../../controller/event-recorder.js';
import type { DriverTable } from '../../controller/kinds/index.js';
import { leaderGuarded } from '../../controller/leader-guarded-client.js';
import { Reconciler } from '../../controller/reconciler.js';
import type { ReconcilerDeps } from '../../controller/reconciler-deps.js';
import { at, type KubeObject, R, type ResourceRef } from '../../lib/kube/client.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';
import { deployment, seedCanary } from './controller-fixtures.js';

export const NS = 'test';
export const KEY = `${NS}/podinfo`;
export const V0 = 'podinfo:6.0.0';
export const V1 = 'podinfo:6.0.1';
export type Route = KubeObject & { spec: { rules: { backendRefs?: { name: string; weight?: number }[] }[] } };

/** A Prometheus that answers every query with the success rate the test sets. */
export async function prometheusStub(): Promise<{ url: string; setRate: (v: number) => void; queries: () => number; close: () => void }> {
  let rate = 100;
  let queries = 0;
  const server = http.createServer((_req, res) => {
    queries++;
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, String(rate)] }] },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, setRate: (v) => void (rate = v), queries: () => queries, close: () => server.close() };
}

export class Harness {
  readonly cluster = new MemoryCluster();
  now = new Date('2026-01-01T00:00:00Z');
  private wakeUp: (() => void) | undefined;
  readonly checks = new ChecksInFlight(
    () => this.wakeUp?.(),
    undefined,
    DEFAULT_CHECK_LIMITS,
    () => this.now.getTime(),
  );
  readonly reconciler: Reconciler;
  readonly recorder = new EventRecorder(this.cluster, { minGapMs: 0 });
  /** While set, the Canary cache answers with this copy, however old: an informer whose watch lags. */
  lagging: Canary | undefined;
  /** Whether this controller holds the Lease: its writes go through the leader-guarded client, as main.ts wires them. */
  leading = true;

  constructor(
    prometheus: string,
    /**
     * Another kind's driver, and where its targets live: a kind registered only in a test; and
     * routers beside the HTTPRoute router: a route kind registered only in a test.
     */
    readonly kind: { drivers?: DriverTable; targets: ResourceRef; routers?: ReconcilerDeps['routers'] } = { targets: R.deployments },
    /** The controller's --drain-delay, in ms (0: pods go as soon as the gateways report the route). */
    drainDelayMs = 0,
  ) {
    const c = this.cluster;
    const sluiceRoutes = (o: KubeObject) => o.metadata.labels?.[L.managedBy] === 'sluice';
    const tracked = (o: KubeObject) => o.metadata.labels?.[L.tracked] !== undefined;
    this.cluster.clock = () => this.now;
    const canaries = c.cache<Canary>(CR.canaries);
    this.reconciler = new Reconciler({
      client: leaderGuarded(c, () => this.leading),
      caches: {
        deployments: c.cache(R.deployments),
        statefulsets: c.cache(R.statefulsets),
        daemonsets: c.cache(R.daemonsets),
        services: c.cache(R.services),
        routes: c.cache(R.httproutes, sluiceRoutes),
        hpas: c.cache(R.hpas),
        templates: c.cache(CR.metrictemplates),
        namespaces: c.cache(R.namespaces),
        policies: c.cache({ group: 'sluice.dev', version: 'v1alpha1', plural: 'clustercanarypolicies' }),
        canaries: {
          get: (ns, name) => (this.lagging ? structuredClone(this.lagging) : canaries.get(ns, name)),
          items: () => (this.lagging ? [structuredClone(this.lagging)] : canaries.items()),
        },
        configmaps: c.cache(R.configmaps, tracked),
        secrets: c.cache(R.secrets, tracked),
        actions: c.cache(ACTION_REF),
        judges: c.cache(JUDGE_REF),
      },
      events: this.recorder,
      metrics: new ControllerMetrics(false),
      logger: winston.createLogger({ silent: true }),
      settings: { minIntervalMs: 1000, pollMs: 1000, prometheus, prometheusTimeoutMs: 2000, drainDelayMs },
      checks: this.checks,
      clock: () => this.now,
      drivers: kind.drivers,
      routers: kind.routers,
    });
  }

  tick(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }

  /**
   * One pass. A pass that started a check returns once the check has ended (its result waits for
   * the next pass); `checked` says so.
   */
  async pass(): Promise<{ requeueAfterMs?: number; checked: boolean }> {
    const ended = new Promise<void>((resolve) => {
      this.wakeUp = resolve;
    });
    const result = (await this.reconciler.reconcile(KEY)) ?? {};
    await this.recorder.drained();
    const checked = this.checks.running > 0;
    if (checked) await ended;
    return { ...result, checked };
  }

  /** Passes until nothing is due at once: a pass that asks to run again immediately, or started a check, is followed by another. */
  async settle(): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const r = await this.pass();
      if (r.requeueAfterMs !== 0 && !r.checked) return;
    }
    throw new Error('the reconciler did not settle in 20 passes');
  }

  canary(): Promise<Canary> {
    return this.cluster.get<Canary>(at(CR.canaries, NS, 'podinfo'));
  }

  target(): Promise<Deployment> {
    return this.cluster.get<Deployment>(at(this.kind.targets, NS, 'podinfo'));
  }

  copy(): Promise<Deployment | undefined> {
    return this.cluster.find<Deployment>(at(R.deployments, NS, 'podinfo-canary'));
  }

  async weights(): Promise<Record<string, number>> {
    const route = await this.cluster.get<Route>(at(R.httproutes, NS, 'podinfo'));
    return Object.fromEntries(route.spec.rules.at(-1)!.backendRefs!.map((b) => [b.name, b.weight ?? 1]));
  }

  events(): string[] {
    return this.cluster
      .list<KubeObject & { message: string }>(R.events, NS)
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
      .map((e) => e.message);
  }

  /** kube-controller-manager's part: a Deployment that is not paused rolls its template out. */
  rollOut(name: string): void {
    const ref = name === 'podinfo' ? this.kind.targets : R.deployments;
    const d = this.cluster.list<Deployment>(ref, NS).find((x) => x.metadata.name === name)!;
    if (d.spec.paused === true) return;
    const replicas = d.spec.replicas ?? 1;
    this.cluster.setStatus(at(ref, NS, name), {
      observedGeneration: d.metadata.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
    });
  }

  /** What the webhook does to a template change: the new template is kept, the Deployment paused. */
  async pushImage(image: string): Promise<void> {
    const d = await this.target();
    await this.cluster.patch(at(this.kind.targets, NS, 'podinfo'), {
      spec: { paused: true, template: { spec: { containers: [{ name: 'podinfod', image }] } } },
      metadata: { resourceVersion: d.metadata.resourceVersion },
    });
  }
}

export async function bootstrapped(
  prometheus: string,
  analysis: NonNullable<Parameters<typeof seedCanary>[0]>['analysis'] = {},
  drainDelayMs = 0,
): Promise<Harness> {
  const h = new Harness(prometheus, undefined, drainDelayMs);
  const target = deployment(V0);
  delete target.status;
  await h.cluster.create(at(R.deployments, NS), target);
  h.rollOut('podinfo');
  const hpa: HorizontalPodAutoscaler = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: 'podinfo', namespace: NS },
    spec: { minReplicas: 2, maxReplicas: 4, scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' } },
  };
  await h.cluster.create(at(R.hpas, NS), hpa);
  const canary = seedCanary({ analysis: { interval: '1m', ...analysis } });
  delete canary.status;
  await h.cluster.create(at(CR.canaries, NS), canary);
  await h.settle();
  return h;
}

/** A new revision pushed and its canary copy rolled out: the analysis at its first weight. */
export async function analysing(h: Harness): Promise<void> {
  await h.pushImage(V1);
  await h.settle();
  h.rollOut('podinfo-canary');
  await h.settle();
}

/** Moves the clock past the interval and runs the step that is then due. */
export async function step(h: Harness): Promise<Canary> {
  h.tick(61_000);
  await h.settle();
  return h.canary();
}
