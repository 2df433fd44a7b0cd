// Scale figures on the local world with sluice running (issue 14): N Canaries in M namespaces (one
// Deployment of one replica each, kwok's pods), a builtin and a MetricTemplate metric against the
// world's Prometheus; then a wave of simultaneous rollouts. Measured:
// - from the first object applied to every Canary Initialized;
// - the controller's and webhook's resident memory and CPU seconds, idle and during the wave
//   (/proc of the running processes);
// - the controller's apiserver requests per minute at idle, beyond watches and its Lease, and
//   during the wave (its own counter); Prometheus queries per minute (Prometheus's own counter);
// - for the wave: every analysis step's lateness against its interval, `set image` to canary
//   copy scaled up, and the time to all Succeeded, from watches (no polling of 1,000 objects).
// The traffic simulator gives traffic only to the routes of the wave (`ratePerRoute` requests/s
// each); every other route is set to 0, so the simulator and Prometheus carry what the analysis
// reads and no more.
import { performance } from 'node:perf_hooks';
import { labels as L, names, values } from '../api/contract.js';
import { type Canary, CR } from '../api/flagger-types.js';
import type { Deployment } from '../api/workload.js';
import { at, KubeClient, R, type ResourceRef } from '../lib/kube/client.js';
import { Informer } from '../lib/kube/informer.js';
import { delay, waitFor } from '../lib/wait.js';
import { paths, urls } from '../test/world/layout.js';
import { readyNamespace } from '../test/world/namespaces.js';
import { CONTROLLER, WEBHOOK } from '../test/world/sluice.js';
import { simulator } from '../test/world/test-clients.js';
import { type Quiet, worldQuiet } from '../test/world/world-quiet.js';
import { controllerQuiet, controllerRequests, requestsBetween } from './controller-probe.js';
import { anyControllerInit, type InitFloor, removeFloor } from './init-floor.js';
import { cpuNow, cpuSaid, inBatches, sample } from './process-sample.js';
import { type Figure, percentile, round } from './results.js';

export interface FloorOptions {
  concurrency: number;
  stopController: () => Promise<void>;
}

export interface ScaleOptions {
  namespaces: number;
  perNamespace: number;
  /** Simultaneous rollouts (at most one per namespace is picked first, then more). */
  wave: number;
  /** The Canaries' analysis interval, in seconds. */
  intervalSeconds: number;
  /** How long idle is measured. */
  idleSeconds: number;
  /** How long the benchmark's objects must go unchanged before idle is measured (default 10). */
  settleSeconds?: number;
  /** Requests a second the simulator sends through each route of the wave (the others get none). */
  ratePerRoute: number;
  /** Figure names get this prefix (the smoke run in make test records nothing). */
  prefix: string;
  /**
   * Measured runs on the same world (default 1): the Deployments are created once, then each run
   * applies the Canaries, measures init, idle and a wave, and deletes them again. Every figure is
   * recorded as the median of the runs, with each run's value and the spread in its note.
   */
  runs?: number;
  /**
   * Before every run but the first, once the last run's Canaries are gone, and after a floor: e.g.
   * restart sluice, as a fresh install would be.
   */
  betweenRuns?: () => Promise<void>;
  /**
   * The floor for init, measured before every run (bench/init-floor.ts) with the controller
   * stopped by `stopController`; `betweenRuns` must start sluice again. `concurrency`: the
   * controller's workers.
   */
  floor?: FloorOptions;
  /**
   * Before each run and the floor, the world must answer at most `perSecond` requests a second
   * (default 5) over 10 s, within `timeoutMs` (default 20 minutes): see worldQuiet.
   */
  quiet?: { perSecond?: number; timeoutMs?: number };
}

const BENCH_LABEL = 'sluice-bench';
const nsName = (i: number) => `bench-scale-${i}`;
/** The benchmark's own objects, not other Canaries' in a shared world (make test's smoke run). */
const mine = (o: { metadata: { namespace?: string } }) => o.metadata.namespace?.startsWith('bench-scale-') === true;
const appName = (i: number) => `app${i}`;

/** How long the world may take to finish cleaning up after a run (minutes, at its own pace). */
const QUIET_TIMEOUT_MS = 20 * 60_000;
const quietFor = (o: ScaleOptions) => ({ perSecond: o.quiet?.perSecond, timeoutMs: o.quiet?.timeoutMs ?? QUIET_TIMEOUT_MS });
const quietSaid = (q: Quiet) => `the world quiet (${q.perSecond} apiserver requests a second; waited ${q.waitedSeconds} s for it)`;

function deployment(ns: string, name: string) {
  const app = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns, labels: { [BENCH_LABEL]: 'scale' } },
    spec: {
      replicas: 1,
      selector: { matchLabels: app },
      template: { metadata: { labels: app }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
    },
  };
}

function canary(ns: string, name: string, intervalSeconds: number) {
  // Long enough that a canary at 10% of a few requests a second has samples in every window.
  const window = `${Math.max(intervalSeconds * 3, 12)}s`;
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace: ns, labels: { [BENCH_LABEL]: 'scale' } },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: { port: 9898, gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
      analysis: {
        interval: `${intervalSeconds}s`,
        threshold: 5,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [
          { name: 'request-success-rate', interval: window, thresholdRange: { min: 99 } },
          { name: 'error-ratio', interval: window, thresholdRange: { max: 1 }, templateRef: { name: 'error-ratio', namespace: ns } },
        ],
      },
    },
  };
}

/** A MetricTemplate per namespace: the canary's 5xx share, from the simulator's Envoy metrics. */
function template(ns: string) {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: 'error-ratio', namespace: ns },
    spec: {
      provider: { type: 'prometheus', address: urls.prometheus },
      query:
        'sum(rate(envoy_cluster_upstream_rq{envoy_cluster_name=~"{{ namespace }}_{{ target }}-canary_[0-9]+",envoy_response_code=~"5.*"}[{{ interval }}])) ' +
        'or vector(0)',
    },
  };
}

/** Requests beyond watches and the Lease between two readings. */
function beyondWatches(before: Map<string, number>, after: Map<string, number>): number {
  return requestsBetween(before, after).reduce((n, [, k]) => n + k, 0);
}

/** Which requests there were between two readings, by verb and resource, if any. */
function requestsSaid(before: Map<string, number>, after: Map<string, number>): string {
  const seen = requestsBetween(before, after);
  return seen.length === 0 ? '' : `; in the window: ${seen.map(([k, n]) => `${n} ${k}`).join(', ')}`;
}

/** Instant queries Prometheus has answered (its own counter). */
async function prometheusQueries(): Promise<number> {
  const text = await (await fetch(`${urls.prometheus}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^prometheus_http_requests_total\{[^}]*handler="\/api\/v1\/query(?:_range)?"[^}]*\} (\S+)/gm))
    n += Number(m[1]);
  return n;
}

export interface ScaleResult {
  figures: Figure[];
  /** Per run: Canaries Initialized, and rollouts of the wave Succeeded. */
  initialized: number[];
  succeeded: number[];
  /** Runs in which every figure with a limit was within it. */
  runsMeetingTargets: number;
}

/** One run's figure, with the bound its target sets (a figure must stay below it) if any. */
interface RunFigure extends Figure {
  limit?: number;
}

/**
 * The runs' figures as one each: the median, with every run's value and the spread in the note,
 * and the median run's own note after it (its breakdowns belong to a value near the median).
 */
export function combineRuns(runs: RunFigure[][]): Figure[] {
  if (runs.length === 1) return runs[0]!.map(({ limit: _l, ...f }) => f);
  const out: Figure[] = [];
  for (const first of runs[0]!) {
    const all = runs.map((r) => r.find((f) => f.name === first.name)).filter((f): f is RunFigure => f !== undefined);
    const byValue = [...all].sort((a, b) => a.value - b.value);
    const median = byValue[Math.floor((byValue.length - 1) / 2)]!;
    const met =
      first.limit === undefined ? '' : `; within the target in ${all.filter((f) => f.value < first.limit!).length} of ${all.length}`;
    out.push({
      name: first.name,
      value: median.value,
      unit: first.unit,
      ...(first.target ? { target: first.target } : {}),
      note: `median of ${all.length} runs (in order: ${all.map((f) => f.value).join(', ')} ${first.unit}; spread ${byValue[0]!.value}–${byValue.at(-1)!.value}${met}). ${median.note ?? ''}`,
    });
  }
  return out;
}

/** Whether a run's figures with a limit were all within it. */
const meetsTargets = (run: RunFigure[]) => run.every((f) => f.limit === undefined || f.value < f.limit);

/** The benchmark's world: namespaces, MetricTemplates, and Deployments available, created once for every run. */
interface Layout {
  namespaces: string[];
  pairs: { ns: string; name: string }[];
  waveSet: { ns: string; name: string }[];
  inWave: Set<string>;
}

/** Watches of the benchmark's own objects, and what each run listens for. */
class Watching {
  readonly canaries: Informer<Canary>;
  readonly copies: Informer<Deployment>;
  readonly targets: Informer<Deployment>;
  /** When the benchmark's own objects last changed: idle starts once they have settled. */
  lastChange = Date.now();
  /** The running wave's listeners, if a wave is running. */
  wave: { onCanary(c: Canary): void; onCopy(d: Deployment): void } | undefined;

  constructor(client: KubeClient) {
    this.canaries = new Informer<Canary>(client, CR.canaries, { labelSelector: `${BENCH_LABEL}=scale` });
    this.copies = new Informer<Deployment>(client, R.deployments, { labelSelector: `${L.role}=canary` });
    this.targets = new Informer<Deployment>(client, R.deployments, { labelSelector: `${BENCH_LABEL}=scale` });
    // Other Canaries in a shared world do not hold idle up.
    this.canaries.onChange((_t, c) => {
      if (mine(c)) this.lastChange = Date.now();
      this.wave?.onCanary(c);
    });
    this.copies.onChange((_t, d) => {
      if (mine(d)) this.lastChange = Date.now();
      this.wave?.onCopy(d);
    });
    this.targets.onChange((_t, d) => {
      if (mine(d)) this.lastChange = Date.now();
    });
  }

  start = () => Promise.all([this.canaries.start(), this.copies.start(), this.targets.start()]);
  stop = () => Promise.all([this.canaries.stop(), this.copies.stop(), this.targets.stop()]);
  initialized = () => this.canaries.items().filter((c) => c.status?.phase === 'Initialized').length;
}

export async function scaleBench(o: ScaleOptions): Promise<ScaleResult> {
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-bench');
  const namespaces = Array.from({ length: o.namespaces }, (_, i) => nsName(i));
  const pairs = namespaces.flatMap((ns) => Array.from({ length: o.perNamespace }, (_, j) => ({ ns, name: appName(j) })));
  // At most one per namespace first, then more.
  const waveSet = pairs
    .filter((_, i) => i % o.perNamespace === 0)
    .concat(pairs.filter((_, i) => i % o.perNamespace !== 0))
    .slice(0, o.wave);
  const layout: Layout = { namespaces, pairs, waveSet, inWave: new Set(waveSet.map((p) => `${p.ns}/${p.name}`)) };
  const w = new Watching(client);
  try {
    await w.start();
    const figures: Figure[] = [await worldPart(client, o, layout, w)];

    const runs: RunFigure[][] = [];
    const initialized: number[] = [];
    const succeeded: number[] = [];
    const count = o.runs ?? 1;
    for (let r = 0; r < count; r++) {
      if (r > 0) await removeCanaries(client, layout, w);
      const floor = o.floor ? await floorBeside(client, o, layout, w, o.floor) : undefined;
      if (r > 0 || floor) await o.betweenRuns?.();
      const quiet = await worldQuiet(client, quietFor(o));
      const run = await oneRun(client, o, layout, w, r, quiet);
      if (floor) run.figures.push(...floorFigures(o, floor, run.figures));
      const said = run.figures.map((f) => `${f.name} ${f.value} ${f.unit}`).join(', ');
      console.log(`scale run ${r + 1} of ${count}: ${meetsTargets(run.figures) ? 'every target met' : 'a target missed'}; ${said}`);
      runs.push(run.figures);
      initialized.push(run.initialized);
      succeeded.push(run.succeeded);
    }
    const runsMeetingTargets = runs.filter(meetsTargets).length;
    figures.push(...combineRuns(runs));
    if (count > 1)
      figures.push({
        name: `${o.prefix}scale_runs_meeting_every_target`,
        value: runsMeetingTargets,
        unit: 'runs',
        target: `${count} of ${count}`,
        note: `of ${count} consecutive runs on one world, those in which init, idle CPU, set image → canary p99, step lateness p99 and both processes' memory were all within their targets`,
      });
    return { figures, initialized, succeeded, runsMeetingTargets };
  } finally {
    await w.stop();
    await inBatches(namespaces, 20, (ns) => client.delete(at(R.namespaces, undefined, ns)).catch(() => undefined));
    client.close();
  }
}

/**
 * The world's part, timed on its own: the Deployments, until each has its pod available. On these
 * two cores the controller-manager, scheduler and kwok take minutes over 1,000 of them; timed
 * together with the Canaries, that was most of what was measured.
 */
async function worldPart(client: KubeClient, o: ScaleOptions, { namespaces, pairs, inWave }: Layout, w: Watching): Promise<Figure> {
  const available = () =>
    w.targets
      .items()
      .filter(
        (d) =>
          d.metadata.labels?.[L.role] !== 'canary' &&
          d.metadata.generation === d.status?.observedGeneration &&
          (d.status?.availableReplicas ?? 0) >= 1,
      ).length;
  const t0 = performance.now();
  await inBatches(namespaces, 10, async (ns) => {
    await readyNamespace(client, ns);
    await client.create(at(CR.metrictemplates, ns), template(ns));
  });
  await inBatches(pairs, 20, ({ ns, name }) => client.create(at(R.deployments, ns), deployment(ns, name)));
  await waitFor(() => available() === pairs.length || undefined, {
    timeoutMs: 900_000,
    intervalMs: 250,
    what: `${pairs.length} Deployments available`,
  });
  const seconds = round((performance.now() - t0) / 1000, 1);
  // Traffic only where the analysis will read it, set before the routes exist: the simulator's
  // default of 20 requests a second through each new route came to 20,000 a second over 1,000
  // routes, and took the simulator 44 CPU seconds of the 200 the two cores had while the
  // Canaries initialised (a real gateway carries what clients send, not a test's default).
  await inBatches(pairs, 50, ({ ns, name }) =>
    simulator('PUT', `/traffic/${ns}/${names.httpRoute(name)}`, { ratePerSecond: inWave.has(`${ns}/${name}`) ? o.ratePerRoute : 0 }),
  );
  return {
    name: `${o.prefix}scale_world_deployments_available`,
    value: seconds,
    unit: 's',
    note: `the world alone, before any Canary: ${pairs.length} Deployments (1 replica) in ${o.namespaces} namespaces, from the first created (20 at a time) to every one available (controller-manager, scheduler and kwok on the same cores as everything else); once, before the runs`,
  };
}

/**
 * The floor beside a run (bench/init-floor.ts): sluice's controller stopped, the world quiet, the
 * minimum any controller writes for the run's Canaries, timed; then all of it removed again.
 */
async function floorBeside(client: KubeClient, o: ScaleOptions, { pairs, namespaces }: Layout, w: Watching, floor: FloorOptions) {
  await floor.stopController();
  const quiet = await worldQuiet(client, quietFor(o));
  const measured = await anyControllerInit(client, pairs, floor.concurrency, (ns, name) => canary(ns, name, o.intervalSeconds));
  await removeFloor(client, pairs, namespaces);
  await waitFor(() => !w.canaries.items().some(mine) || undefined, {
    timeoutMs: 600_000,
    intervalMs: 500,
    what: "the floor's Canaries to be gone from the benchmark's watch",
  });
  return { ...measured, quiet, concurrency: floor.concurrency };
}

/** The floor as a run's figure, and how much longer the run's init took than it. */
function floorFigures(o: ScaleOptions, floor: InitFloor & { quiet: Quiet; concurrency: number }, run: RunFigure[]): RunFigure[] {
  const init = run.find((f) => f.name === `${o.prefix}scale_apply_to_all_initialized`)!.value;
  return [
    {
      name: `${o.prefix}scale_init_floor_any_controller`,
      value: floor.seconds,
      unit: 's',
      note: `just before the run, sluice's controller stopped: the writes any controller that hands Deployments back makes for these Canaries (each created, 20 at a time; then ${floor.concurrency} at a time a finalizer, 3 Services, a copy at 0 replicas, an HTTPRoute, a mark on the target, an Event and the Initialized status) by a plain client, from ${quietSaid(floor.quiet)}; CPU seconds meanwhile: ${floor.cpu}`,
    },
    {
      name: `${o.prefix}scale_init_beyond_floor`,
      value: round(init - floor.seconds, 1),
      unit: 's',
      note: "the run's init less the floor measured just before it: what sluice took beyond the minimum writes (its reads, the copy's admission, its own work)",
    },
  ];
}

/**
 * Between runs: every Canary deleted (sluice hands each Deployment back and removes its
 * finalizer; garbage collection takes the copies, Services and routes), until none is left and
 * the controller is quiet, so the next run starts from Deployments without Canaries.
 */
async function removeCanaries(client: KubeClient, { pairs, namespaces }: Layout, w: Watching): Promise<void> {
  // What the Canaries own is deleted by the benchmark, by label, while they are being deleted,
  // and not left to the world's controller-manager: at its client's default 20 requests a second,
  // its garbage collector checked each of the 5,000 dependents (a GET, then a DELETE) and its
  // endpoints controller deleted the 3,000 Endpoints, for 4 to 9 minutes after each run.
  // (EndpointSlices and Endpoints carry their Service's labels; a copy's ReplicaSets its pods' role label.)
  const generated = `${L.managedBy}=${values.managedBy}`;
  const deletions: [ResourceRef, string][] = [
    [R.deployments, generated],
    [R.services, generated],
    [R.httproutes, generated],
    [R.hpas, generated],
    [R.endpointslices, generated],
    [R.endpoints, generated],
    [R.replicasets, L.role],
  ];
  const deleteGenerated = () =>
    inBatches(namespaces, 10, (ns) => Promise.all(deletions.map(([ref, labelSelector]) => client.delete(at(ref, ns), { labelSelector }))));
  await inBatches(pairs, 20, ({ ns, name }) => client.delete(at(CR.canaries, ns, name)));
  await deleteGenerated();
  await waitFor(() => w.canaries.items().length === 0 || undefined, {
    timeoutMs: 600_000,
    intervalMs: 500,
    what: "the benchmark's Canaries to be gone",
  });
  // Again, for anything written while the Canaries were handed back.
  await deleteGenerated();
  await waitFor(() => !w.copies.items().some(mine) || undefined, {
    timeoutMs: 600_000,
    intervalMs: 500,
    what: "the benchmark's canary copies to be gone",
  });
  await controllerQuiet(600_000, 5_000);
}

async function oneRun(
  client: KubeClient,
  o: ScaleOptions,
  { pairs, waveSet, inWave }: Layout,
  w: Watching,
  runIndex: number,
  quiet: Quiet,
): Promise<{ figures: RunFigure[]; initialized: number; succeeded: number }> {
  const total = pairs.length;
  const figures: RunFigure[] = [];
  const fig = (name: string, value: number, unit: string, note: string, target?: string, limit?: number) =>
    figures.push({
      name: `${o.prefix}${name}`,
      value,
      unit,
      note,
      ...(target ? { target } : {}),
      ...(limit !== undefined ? { limit } : {}),
    });

  // 1. sluice's part: Canaries for the running Deployments, as a team adopting sluice applies
  // them, timed to every one Initialized.
  const t1 = performance.now();
  const cpuBefore = cpuNow();
  await inBatches(pairs, 20, ({ ns, name }) => client.create(at(CR.canaries, ns), canary(ns, name, o.intervalSeconds)));
  const applied = (performance.now() - t1) / 1000;
  await waitFor(() => w.initialized() === total || undefined, {
    timeoutMs: 600_000,
    intervalMs: 250,
    what: `${total} Canaries Initialized`,
  });
  const toInitialized = (performance.now() - t1) / 1000;
  const initCpu = cpuSaid(cpuBefore, cpuNow());
  const initializedCount = w.initialized();
  fig(
    'scale_apply_to_all_initialized',
    round(toInitialized, 1),
    's',
    `${total} Canaries, a builtin and a MetricTemplate metric each, for ${total} running Deployments (1 replica) in ${o.namespaces} namespaces; from the first Canary created to every one Initialized (creating them took ${round(applied, 1)} s, 20 at a time), started with ${quietSaid(quiet)}; CPU seconds meanwhile: ${initCpu}`,
    '< 60 s at 1,000',
    60,
  );

  // 2. Idle: once the aftermath of bootstrap has settled (no change of the benchmark's
  // Deployments, Canaries or copies, and no reconcile, for settleSeconds), measure. At 1,000 the
  // world's controller-manager is what takes longest: with its client's default limits it wrote
  // the 1,000 new copies' status at 4 to 10 a second for minutes after the last Canary was
  // Initialized, and each write wakes the copy's Canary; idle is what sluice costs once the world
  // is quiet.
  const settleMs = (o.settleSeconds ?? 10) * 1000;
  await waitFor(() => Date.now() - w.lastChange >= settleMs || undefined, {
    timeoutMs: 600_000,
    intervalMs: 500,
    what: "the benchmark's Canaries and canary copies to settle after bootstrap",
  });
  // And sluice itself: the last passes and the Events they queued (sent beside the reconciles).
  await controllerQuiet(600_000, settleMs);
  const idleBefore = { c: sample(CONTROLLER), w: sample(WEBHOOK), req: await controllerRequests(), q: await prometheusQueries() };
  await delay(o.idleSeconds * 1000); // the measurement window itself, not synchronisation
  const idleAfter = { c: sample(CONTROLLER), w: sample(WEBHOOK), req: await controllerRequests(), q: await prometheusQueries() };
  const perMinute = 60 / o.idleSeconds;
  fig('scale_controller_rss_idle', round(idleAfter.c.rssMiB, 0), 'MiB', `controller VmRSS with ${total} idle Canaries`, '< 256 MiB', 256);
  fig(
    'scale_webhook_rss_idle',
    round(idleAfter.w.rssMiB, 0),
    'MiB',
    `webhook VmRSS with ${total} Canaries (its caches hold them)`,
    '< 80 MiB',
    80,
  );
  fig(
    'scale_idle_cpu_seconds_per_minute',
    round((idleAfter.c.cpuSeconds - idleBefore.c.cpuSeconds + idleAfter.w.cpuSeconds - idleBefore.w.cpuSeconds) * perMinute, 2),
    's',
    `controller + webhook CPU seconds per idle minute with ${total} Canaries (over ${o.idleSeconds} s; controller ${round((idleAfter.c.cpuSeconds - idleBefore.c.cpuSeconds) * perMinute, 2)}, webhook ${round((idleAfter.w.cpuSeconds - idleBefore.w.cpuSeconds) * perMinute, 2)})`,
    '< 1 s (Flagger at 100: 3.1)',
    1,
  );
  fig(
    'scale_idle_apiserver_requests_per_minute',
    round(beyondWatches(idleBefore.req, idleAfter.req) * perMinute, 1),
    'req',
    `the controller's requests per idle minute with ${total} Canaries, beyond watches and its Lease (its own counter)${requestsSaid(idleBefore.req, idleAfter.req)}`,
    '0',
  );
  fig(
    'scale_idle_prometheus_queries_per_minute',
    round((idleAfter.q - idleBefore.q) * perMinute, 1),
    'queries',
    'Prometheus instant and range queries answered per idle minute',
    '0',
  );

  // 3. The wave: every Deployment of the wave gets a new image at once (a new one each run).
  // A step is a status write that moves the weight or counts a failed check; its time is the
  // lastTransitionTime the controller stamped on it. Lateness: the gap since the step before,
  // less the interval (the first weight follows the copy's readiness, not an interval: skipped).
  const lateness: number[] = [];
  const lastStep = new Map<string, { weight: number; failed: number; at: number }>();
  const scaledUp = new Map<string, number>();
  const setAt = new Map<string, number>();
  w.wave = {
    onCanary: (c) => {
      const key = `${c.metadata.namespace}/${c.metadata.name}`;
      if (!inWave.has(key) || c.status?.phase !== 'Progressing') return;
      const now = {
        weight: c.status.canaryWeight ?? 0,
        failed: c.status.failedChecks ?? 0,
        at: Date.parse(c.status.lastTransitionTime ?? ''),
      };
      const prev = lastStep.get(key);
      const stepped = prev && (now.weight > prev.weight || now.failed > prev.failed);
      if (stepped && prev.weight > 0) lateness.push(now.at - prev.at - o.intervalSeconds * 1000);
      if (!prev || stepped || now.weight < prev.weight) lastStep.set(key, now);
    },
    onCopy: (d) => {
      const key = `${d.metadata.namespace}/${d.metadata.name.replace(/-canary$/, '')}`;
      const t = setAt.get(key);
      if (t !== undefined && !scaledUp.has(key) && (d.spec.replicas ?? 0) > 0) scaledUp.set(key, performance.now() - t);
    },
  };
  const waveBefore = { c: sample(CONTROLLER), w: sample(WEBHOOK), req: await controllerRequests(), q: await prometheusQueries() };
  const w0 = performance.now();
  const image = `app:${runIndex + 2}`;
  // Each PATCH's own round trip too: what one Deployment write (admission included) takes under
  // this load, the copy's write that ends `set image → canary` being one more of them.
  const patchMs: number[] = [];
  await inBatches(waveSet, 25, async ({ ns, name }) => {
    const sent = performance.now();
    await client.patch(at(R.deployments, ns, name), { spec: { template: { spec: { containers: [{ name: 'app', image }] } } } });
    setAt.set(`${ns}/${name}`, performance.now());
    patchMs.push(performance.now() - sent);
  });
  patchMs.sort((a, b) => a - b);
  const inPhase = (...phases: string[]) =>
    waveSet.filter(({ ns, name }) => phases.includes(w.canaries.get(ns, name)?.status?.phase ?? '')).length;
  const succeededCount = () => inPhase('Succeeded');
  let peakRss = 0;
  await waitFor(
    () => {
      peakRss = Math.max(peakRss, sample(CONTROLLER).rssMiB);
      // Every rollout ended (a rolled-back one is counted, not waited for).
      return inPhase('Succeeded', 'Failed') === waveSet.length || undefined;
    },
    { timeoutMs: Math.max(300_000, o.intervalSeconds * 40_000), intervalMs: 500, what: `${waveSet.length} rollouts to end` },
  );
  w.wave = undefined;
  const waveSeconds = (performance.now() - w0) / 1000;
  const waveAfter = { c: sample(CONTROLLER), w: sample(WEBHOOK), req: await controllerRequests(), q: await prometheusQueries() };
  lateness.sort((a, b) => a - b);
  const toCopy = [...scaledUp.values()].sort((a, b) => a - b);
  const ideal = 5 * o.intervalSeconds;
  fig(
    'scale_wave_step_lateness_p50',
    round(percentile(lateness, 50), 0),
    'ms',
    `${waveSet.length} simultaneous rollouts among ${total} Canaries (interval ${o.intervalSeconds} s): each step's lastTransitionTime after the one before, less the interval; ${lateness.length} steps (weights and failed checks), seen by a watch`,
  );
  fig('scale_wave_step_lateness_p99', round(percentile(lateness, 99), 0), 'ms', 'as above, 99th percentile', '< 1000 ms', 1000);
  fig('scale_wave_step_lateness_max', round(lateness.at(-1) ?? NaN, 0), 'ms', 'as above, the latest step');
  fig(
    'scale_wave_set_image_to_canary_p99',
    round(percentile(toCopy, 99), 0),
    'ms',
    `from each template PATCH returning to its canary copy's spec.replicas > 0 seen by a watch; ${toCopy.length} rollouts, median ${round(percentile(toCopy, 50), 0)} ms`,
    '< 1000 ms',
    1000,
  );
  fig(
    'scale_wave_set_image_patch_p99',
    round(percentile(patchMs, 99), 0),
    'ms',
    `each template PATCH's own round trip, 25 at a time, the freeze webhook's admission included, while the wave runs: what one Deployment write takes under this load; ${patchMs.length} PATCHes, median ${round(percentile(patchMs, 50), 0)} ms`,
  );
  fig(
    'scale_wave_to_all_succeeded',
    round(waveSeconds, 1),
    's',
    `from the first PATCH to all ${waveSet.length} ended (${succeededCount()} Succeeded, ${inPhase('Failed')} rolled back); the schedule alone takes about ${ideal} s (5 steps of ${o.intervalSeconds} s) plus the release`,
  );
  fig('scale_controller_rss_wave_peak', round(peakRss, 0), 'MiB', 'controller VmRSS, highest seen every 500 ms during the wave');
  fig(
    'scale_wave_cpu_seconds',
    round(waveAfter.c.cpuSeconds - waveBefore.c.cpuSeconds + waveAfter.w.cpuSeconds - waveBefore.w.cpuSeconds, 1),
    's',
    `controller + webhook CPU seconds over the whole wave (controller ${round(waveAfter.c.cpuSeconds - waveBefore.c.cpuSeconds, 1)})`,
  );
  fig(
    'scale_wave_apiserver_requests_per_minute',
    round((beyondWatches(waveBefore.req, waveAfter.req) / waveSeconds) * 60, 0),
    'req',
    `the controller's requests per minute during the wave, beyond watches and its Lease${requestsSaid(waveBefore.req, waveAfter.req)}`,
  );
  fig(
    'scale_wave_prometheus_queries_per_minute',
    round(((waveAfter.q - waveBefore.q) / waveSeconds) * 60, 0),
    'queries',
    'Prometheus queries per minute during the wave',
  );
  return { figures, initialized: initializedCount, succeeded: succeededCount() };
}
