// One reconcile pass for one Canary: read (the newest Canary known, newest-canary.ts, the rest
// from informer caches), decide (pure), record the decision in status, then make the objects match it.
// Level-triggered and idempotent: a pass interrupted anywhere is finished by the next one.
import { Announcer } from './announcer.js';
import { GeneratedOwnership } from './generated-ownership.js';
import { phase as facts } from '../api/phases.js';
import { annotations as A, labels as L, names, objectName, shortRevision, FINALIZER } from '../api/contract.js';
import { CR, type Canary, type CanaryStatus, type MetricTemplate } from '../api/flagger-types.js';
import { R, at, type ObjectClient, type KubeObject, type ResourceRef, isConflict, isAlreadyExists } from '../lib/kube/client.js';
import type { ObjectCache } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { runAnalysis } from './analysis/run-analysis.js';
import type { ControllerMetrics } from './controller-metrics.js';
import { type Desired, desiredState, targetPatch } from './desired-state.js';
import type { EventRecorder } from './event-recorder.js';
import { HttpRouteRouter } from './router/http-route.js';
import type { Router } from './router/router.js';
import { NameClashError, apexName, canaryDeployment, canaryHpa, generatedServices } from './generated-objects.js';
import { providerProblem, unsupportedFields } from './spec-check.js';
import type { ClusterCanaryPolicy } from '../api/policy-types.js';
import { enforce, policyViolations } from '../policy/constraints.js';
import { isGenerated, policiesForNamespace } from '../policy/selection.js';
import { decide, type Decision, type Settings } from './state-machine.js';
import { hooksOf, type HookType } from '../api/canary-analysis.js';
import type { HookResult, HookResults, MetricResult } from './check-results.js';
import { MAX_HOOK_TIMEOUT_MS, callHook, hookPayload } from './hooks/call-hook.js';
import type { ChecksInFlight } from './checks-in-flight.js';
import { egress } from '../lib/egress-guard.js';
import type { Notifier } from './alerts/notifier.js';
import {
  revisionOf,
  targetKind,
  type DaemonSet,
  type Deployment,
  type HorizontalPodAutoscaler,
  type StatefulSet,
  type Workload,
} from '../api/workload.js';
import { heldBySluice, heldStrategyOf } from '../api/daemonset.js';
import { kindFacts } from '../api/workload-kinds.js';
import { partitionOf } from '../api/statefulset.js';
import { type PodLister, StatefulSetOrdinals } from './statefulset-ordinals.js';
import { DaemonSetNodes, type DaemonSetHashes } from './daemonset-nodes.js';
import type { RevisionLister } from '../api/daemonset-revisions.js';
import { ConfigTracker, type ConfigObject, type Tracked } from './config-tracker.js';
import type { Revision } from '../api/revision.js';
import type { CanaryAction } from '../api/canary-action.js';
import { ActionInbox } from './action-inbox.js';
import { withReadiness } from './readiness.js';
import { NewestCanary } from './newest-canary.js';
import { type SlimEndpointSlice, readyEndpoints } from './canary-endpoints.js';

/** How soon a Canary that found every check slot taken tries again. */
const NO_SLOT_RETRY_MS = 1000;

/**
 * What a check's result is valid for: the Canary's spec and step as last written, and the target
 * revision it saw. Any of them changing means the next pass decides a different step.
 */
function stepOf(canary: Canary, revision: Revision | undefined): string {
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

export interface Caches {
  deployments: ObjectCache<Deployment>;
  statefulsets: ObjectCache<StatefulSet>;
  daemonsets: ObjectCache<DaemonSet>;
  services: ObjectCache<KubeObject & { spec?: Record<string, unknown> }>;
  routes: ObjectCache<KubeObject & { spec?: Record<string, unknown> }>;
  hpas: ObjectCache<HorizontalPodAutoscaler>;
  templates: ObjectCache<MetricTemplate>;
  namespaces: ObjectCache<KubeObject>;
  policies: ObjectCache<ClusterCanaryPolicy>;
  canaries: ObjectCache<Canary>;
  /** Tracked ConfigMaps and Secrets and sluice's snapshots of them (label sluice.dev/tracked). */
  configmaps: ObjectCache<ConfigObject>;
  secrets: ObjectCache<ConfigObject>;
  /** CanaryActions (api/canary-action.ts), in every namespace. */
  actions: ObjectCache<CanaryAction>;
  /** The EndpointSlices of sluice's Services, slim (canary-endpoints.ts); without it, traffic is not held for them. */
  endpointSlices?: ObjectCache<SlimEndpointSlice>;
}

export interface ReconcilerDeps {
  client: ObjectClient;
  caches: Caches;
  events: EventRecorder;
  metrics: ControllerMetrics;
  logger: Logger;
  settings: Settings & { prometheus: string; prometheusTimeoutMs: number };
  /** Checked before every write: a controller that lost its Lease must not act. */
  isLeader: () => boolean;
  notifier?: Notifier;
  /** Where hooks and metric queries run (never on the reconcile worker). */
  checks: ChecksInFlight;
  /** The time decisions are made at (tests move it; the controller uses the wall clock). */
  clock?: () => Date;
  /** Reads a StatefulSet's pods when one of its ordinals may need recreating (statefulset-ordinals.ts). */
  listPods?: PodLister;
  /** Reads a DaemonSet's ControllerRevisions when its revisions' hashes are not known yet (daemonset-nodes.ts). */
  listRevisions?: RevisionLister;
}

class NotLeader extends Error {}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class Reconciler {
  private readonly started = new Map<string, number>();

  private readonly tracker: ConfigTracker;
  private readonly ownership: GeneratedOwnership;
  private readonly announcer: Announcer;
  private readonly inbox: ActionInbox;
  private readonly ordinals: StatefulSetOrdinals;
  private readonly daemonNodes: DaemonSetNodes;
  /** The only writer of the Canary's route (one implementation per route kind). */
  private readonly router: Router;
  /** Which copy of a Canary a pass reads: the cache's, or a newer one this controller wrote. */
  private readonly newest: NewestCanary;

  constructor(private readonly d: ReconcilerDeps) {
    this.tracker = new ConfigTracker(d.client, d.caches, () => this.guard());
    this.newest = new NewestCanary(d.client, d.caches.canaries);
    this.router = new HttpRouteRouter(d.client, d.caches.routes, () => this.guard());
    this.ownership = new GeneratedOwnership(d.client, d.caches, d.logger, () => this.guard());
    this.announcer = new Announcer(d.logger, d.notifier);
    this.inbox = new ActionInbox(d.client, d.caches.actions, d.events, d.logger, () => this.guard());
    this.ordinals = new StatefulSetOrdinals(d.client, d.listPods, d.logger, () => this.guard());
    this.daemonNodes = new DaemonSetNodes(d.client, d.listPods, d.listRevisions, d.logger, () => this.guard());
  }

  private now(): Date {
    return this.d.clock?.() ?? new Date();
  }

  private guard(): void {
    if (!this.d.isLeader()) throw new NotLeader('not the leader');
  }

  /**
   * Creates an object the cache says is missing. "Already exists" means the cache is behind (we
   * or another pass created it moments ago): not an error; answers whether this call created it.
   */
  private async createMissing(ref: ResourceRef, body: unknown): Promise<boolean> {
    this.guard();
    try {
      await this.d.client.create(ref, body);
      return true;
    } catch (err) {
      if (isAlreadyExists(err)) return false;
      throw err;
    }
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const canary = await this.newest.read(namespace, name);
    if (!canary) {
      this.started.delete(key);
      this.d.checks.forget(key);
      this.d.metrics.forget(namespace, name);
      if (this.d.isLeader()) await this.inbox.orphaned(namespace, name, this.now());
      return;
    }
    try {
      if (canary.metadata.deletionTimestamp) return await this.finalize(canary);
      return await this.sync(canary, key);
    } catch (err) {
      if (err instanceof NotLeader) return;
      if (err instanceof NameClashError) return this.reportClash(canary, err);
      throw err;
    }
  }

  private async sync(stored: Canary, key: string): Promise<{ requeueAfterMs?: number }> {
    const ns = stored.metadata.namespace!;
    // A Canary that predates a policy (or was admitted while the webhook was down) is analysed
    // within the policy's limits: decisions use the tightened spec, the stored one is untouched.
    const policies = policiesForNamespace(this.d.caches.policies.items(), this.d.caches.namespaces.get(undefined, ns));
    const canary: Canary = policies.length > 0 ? { ...stored, spec: enforce(stored.spec, policies) } : stored;
    if (!(canary.metadata as { finalizers?: string[] }).finalizers?.includes(FINALIZER)) {
      this.guard();
      const fins = (canary.metadata as { finalizers?: string[] }).finalizers;
      const { body } = await this.d.client.patch<Canary>(
        at(CR.canaries, ns, canary.metadata.name),
        fins
          ? [{ op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }]
          : [{ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] }],
        'json',
      );
      this.newest.remember(body);
      return { requeueAfterMs: 0 };
    }
    // A policy's Canary gives way to an explicit one for the same Deployment (the policy pass
    // deletes it); acting meanwhile would fight the explicit Canary over the same objects.
    if (
      isGenerated(canary) &&
      this.d.caches.canaries
        .items()
        .some(
          (c) =>
            c.metadata.namespace === ns &&
            !isGenerated(c) &&
            c.spec.targetRef?.name === canary.spec.targetRef.name &&
            !c.metadata.deletionTimestamp,
        )
    ) {
      return {};
    }
    const { deployments, hpas } = this.d.caches;
    const target = this.targetOf(canary);
    const isDeployment = targetKind(canary.spec.targetRef) === 'Deployment';
    // The revision covers the ConfigMaps and Secrets the template reads (docs/tracked-configs.md);
    // a StatefulSet's canary ordinals read the live ones, so its revision is its template alone.
    const tracked = target && isDeployment ? await this.tracker.track(target as Deployment) : undefined;
    const revision = target ? revisionOf(target, tracked?.hash) : undefined;
    const copy = isDeployment ? deployments.get(ns, names.canaryDeployment(canary.spec.targetRef.name)) : undefined;
    // A StatefulSet's autoscaler scales it as it is: there is no copy to give one.
    const autoscaler = canary.spec.autoscalerRef && isDeployment ? hpas.get(ns, canary.spec.autoscalerRef.name) : undefined;
    const now = this.now();
    // A person's action is decided before anything else (state-machine.ts, act()).
    const action = await this.inbox.next(canary, now, policies);
    // Read only while a candidate runs: that is when the canary Service gets traffic.
    const slices = this.d.caches.endpointSlices;
    const canaryEndpoints =
      slices && facts(canary.status?.phase).copyActive ? readyEndpoints(slices, ns, names.canaryService(apexName(canary))) : undefined;
    const observed = { target, revision, canaryDeployment: copy, autoscaler, action, canaryEndpoints };

    // decide() asks for what the step needs, one kind at a time and in Flagger's order (rollback
    // hooks, rollout hooks, metrics, gates), so nothing is called that the step would not use.
    // Checks run beside the workers: a pass that needs one starts it and ends; the pass after it
    // ends finds its result (checks-in-flight.ts).
    const checks = this.d.checks;
    const known = checks.known(key, stepOf(canary, revision));
    const hookResults: HookResults = {};
    const metricResults = known.get('metrics') as MetricResult[] | undefined;
    for (const [kind, value] of known) if (kind !== 'metrics') hookResults[kind] = value as HookResult[];
    const decision: Decision = decide(canary, observed, metricResults, now, this.d.settings, hookResults);
    const need = decision.needHooks ?? (decision.needMetrics ? 'metrics' : undefined);
    if (need) {
      // decide() asks only for what it was not given; asking again would start the same check for ever.
      if (known.has(need)) throw new Error(`the state machine asked again for the ${need} results it was given (a bug: please report it)`);
      const outcome = checks.start(key, need, (signal) =>
        need === 'metrics' ? this.runMetrics(canary) : this.runHooks(canary, need, signal),
      );
      // Queued again when the check ends; the fallback only covers a lost wake-up.
      return { requeueAfterMs: outcome === 'no-slot' ? NO_SLOT_RETRY_MS : MAX_HOOK_TIMEOUT_MS };
    }
    checks.settle(key);
    const status: CanaryStatus = withReadiness(
      { ...decision.status, observedGeneration: canary.metadata.generation },
      canary.spec.suspend === true,
      now.toISOString(),
    );
    const bootstrapping = facts(canary.status?.phase).bootstrapping;

    // Bootstrap creates the objects before saying "Initialization done!"; and a Deployment's new
    // revision gets its canary copy scaled up before "Progressing" is written, as Flagger does
    // (scale from zero, then the phase): one write sooner (docs/controller.md). The copy takes no
    // traffic until a weight is written, and weights are written status first; a pass that dies
    // between the two is finished by the next, which decides the same start, or scales the copy
    // back down if the template was reverted meanwhile. Every other step records its decision
    // first, so objects always converge to a status that was durably written.
    const startingAnalysis = isDeployment && status.phase === 'Progressing' && !facts(canary.status?.phase).copyActive && !bootstrapping;
    const convergedFirst = target !== undefined && ((bootstrapping && status.phase === 'Initialized') || startingAnalysis);
    // A converge that must come back sooner than the decision says (daemonset-nodes.ts) says when.
    let retryMs: number | undefined;
    if (convergedFirst) retryMs = await this.converge(canary, status, target, copy, autoscaler, tracked);
    const written = await this.writeStatus(canary, status);
    if (!written) return { requeueAfterMs: 0 };
    if (canary.metadata.generation !== canary.status?.observedGeneration) this.reportSpecProblems(stored, policies);
    for (const ev of decision.events) this.d.events.record(canary, ev);
    this.announcer.announce(canary, status, decision.events);
    this.observeTransitions(canary, key, status);
    if (target && !convergedFirst && !facts(status.phase).bootstrapping)
      retryMs = await this.converge(canary, status, target, copy, autoscaler, tracked);
    if (decision.action) {
      const { name: actionName, result, message } = decision.action;
      await this.inbox.completeNamed(ns, actionName, result, message, status.phase, now);
    }
    const apex = apexName(canary);
    this.d.metrics.observe(canary, status.phase, status.canaryWeight ?? 0, names.primaryService(apex), names.canaryService(apex));
    if (facts(status.phase).idle) await this.inbox.prune(ns, canary.metadata.name, now);
    // One action per pass; the next one at once. (An action a blocked Canary cannot take yet waits
    // for the pass that can, or for its expiry: no spinning on it.)
    if (decision.action && this.inbox.waiting(ns, canary.metadata.name)) return { requeueAfterMs: 0 };
    const after = [decision.requeueAfterMs, retryMs].filter((x): x is number => x !== undefined);
    return after.length === 0 ? {} : { requeueAfterMs: after.reduce((m, x) => Math.min(m, x), Infinity) };
  }

  /** The Deployment, StatefulSet or DaemonSet the Canary targets, from the cache of its kind. */
  private targetOf(canary: Canary): Workload | undefined {
    const ns = canary.metadata.namespace;
    const name = canary.spec.targetRef.name;
    switch (targetKind(canary.spec.targetRef)) {
      case 'Deployment':
        return this.d.caches.deployments.get(ns, name);
      case 'StatefulSet':
        return this.d.caches.statefulsets.get(ns, name);
      case 'DaemonSet':
        return this.d.caches.daemonsets.get(ns, name);
      default:
        return undefined;
    }
  }

  /** All of a type's hooks at once (their timeouts overlap rather than add up). */
  private async runHooks(canary: Canary, type: HookType, signal: AbortSignal): Promise<HookResult[]> {
    const results = await Promise.all(
      hooksOf(canary, type).map((h) => callHook(h, hookPayload(canary, h, canary.status?.phase), fetch, signal)),
    );
    for (const r of results)
      if (!r.ok) this.d.logger.info(`${type} hook ${r.name} ${r.message}`, { key: `${canary.metadata.namespace}/${canary.metadata.name}` });
    return results;
  }

  private async runMetrics(canary: Canary): Promise<MetricResult[]> {
    const results = await runAnalysis(canary, {
      metricTemplate: (tns, tname) => this.d.caches.templates.get(tns, tname),
      secret: async (sns, sname) => {
        const s = await this.d.client.find<KubeObject & { data?: Record<string, string> }>(at(R.secrets, sns, sname));
        return s
          ? Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
          : undefined;
      },
      defaultPrometheus: this.d.settings.prometheus,
      timeoutMs: this.d.settings.prometheusTimeoutMs,
      egress,
    });
    this.d.metrics.metricResults(canary, results);
    return results;
  }

  private observeTransitions(canary: Canary, key: string, next: CanaryStatus): void {
    const prev = canary.status?.phase;
    if (next.phase === prev) return;
    this.d.logger.info(`phase ${prev ?? '(none)'} → ${next.phase}`, { key, weight: next.canaryWeight, revision: next.lastAppliedSpec });
    if (next.phase === 'Progressing' && !this.started.has(key)) this.started.set(key, Date.now());
    if (facts(next.phase).outcome) {
      const t0 = this.started.get(key);
      if (t0 !== undefined) this.d.metrics.finished(canary, next.phase as 'Succeeded' | 'Failed', (Date.now() - t0) / 1000);
      this.started.delete(key);
    }
  }

  /** Status through the status subresource, conditional on the resourceVersion we read. */
  private async writeStatus(canary: Canary, status: CanaryStatus): Promise<boolean> {
    if (same(status, canary.status ?? {})) return true;
    this.guard();
    // A merge patch keeps what it does not name: a field the decision dropped (a lifted pause) is
    // removed with null.
    const removed = Object.keys(canary.status ?? {}).filter((k) => (status as Record<string, unknown>)[k] === undefined);
    try {
      const { body } = await this.d.client.patch<Canary>(at(CR.canaries, canary.metadata.namespace, canary.metadata.name, 'status'), {
        metadata: { resourceVersion: canary.metadata.resourceVersion },
        status: { ...status, ...Object.fromEntries(removed.map((k) => [k, null])) },
      });
      this.newest.remember(body);
      return true;
    } catch (err) {
      if (!isConflict(err)) throw err;
      // Someone wrote it meanwhile: the next pass starts from their version, not the cache's.
      await this.newest.fetch(canary.metadata.namespace!, canary.metadata.name);
      return false;
    }
  }

  private reportSpecProblems(canary: Canary, policies: ClusterCanaryPolicy[]): void {
    const fields = unsupportedFields(canary.spec as Record<string, unknown>);
    if (fields.length > 0)
      this.d.events.record(canary, { type: 'Warning', message: `Unsupported by sluice, ignored: spec.${fields.join(', spec.')}` });
    const provider = providerProblem(canary.spec as Record<string, unknown>);
    if (provider) this.d.events.record(canary, { type: 'Warning', message: provider });
    const broken = policyViolations(canary.spec, policies);
    if (broken.length > 0)
      this.d.events.record(canary, {
        type: 'Warning',
        message: `Breaks cluster policy, analysed within its limits instead: ${broken.join('; ')}`,
      });
  }

  /** Makes the generated objects and the target match the status. */
  private async converge(
    canary: Canary,
    status: CanaryStatus,
    target: Workload,
    copy: Deployment | undefined,
    autoscaler: HorizontalPodAutoscaler | undefined,
    tracked: Tracked | undefined,
  ): Promise<number | undefined> {
    const kind = targetKind(canary.spec.targetRef);
    const ns = canary.metadata.namespace!;
    const want = desiredState(canary, status, target, copy, autoscaler, tracked);
    // Snapshots first: the copy and the primary's pods must never name one that does not exist.
    if (tracked) await this.tracker.label(ns, tracked);
    if (tracked && tracked.objects.size > 0) await this.tracker.ensureSnapshots(canary, tracked);
    await this.ownership.refuseForeign(canary, target, autoscaler, kind === 'Deployment');
    await this.ownership.adoptGenerated(canary);
    if (want.copy) await this.ensureCopy(canary, target as Deployment, copy, want.copy);
    // A frozen DaemonSet's primary and canary pods are told apart by their revisions' hashes.
    const daemonSet = kind === 'DaemonSet' ? (target as DaemonSet) : undefined;
    const hashes =
      daemonSet && want.target?.paused
        ? await this.daemonNodes.hashes(daemonSet, want.target.annotations[A.stableRevision] ?? undefined)
        : undefined;
    await this.ensureServices(canary, target, hashes);
    if (autoscaler) await this.ensureHpa(canary, autoscaler);
    await this.router.ensure(canary, status, want.canaryWeight);
    const idle = facts(status.phase).idle;
    if (idle && tracked) await this.tracker.collect(canary, target as Deployment, tracked);
    if (want.target) {
      const patch = targetPatch(target, want.target);
      if (patch) {
        this.guard();
        const pausingBehindOurBack =
          want.target.paused &&
          !kindFacts(kind)!.held(target) &&
          status.phase !== 'Promoting' &&
          !revisionOf(target).isReleased(target.metadata.annotations?.[A.stableRevision]);
        await this.d.client.patch(at(kindFacts(kind)!.ref, ns, target.metadata.name), patch);
        if (pausingBehindOurBack && target.metadata.labels?.[L.managed] === 'true') {
          // The webhook would have paused this write; reaching here means it was bypassed.
          const paused = kind === 'Deployment';
          this.d.events.record(canary, {
            type: 'Warning',
            message: `${objectName(target.metadata.name, ns)} changed to revision ${shortRevision(revisionOf(target, tracked?.hash).id)} without being ${paused ? 'paused' : 'frozen'} (was the webhook bypassed?); ${paused ? 'paused' : 'froze'} it until analysis releases the revision`,
          });
        }
      }
    }
    // Ordinals below the partition that run neither the stable revision nor (released) the
    // template: a rolled-back canary, a revert, a newer revision mid-analysis. Recreated, they
    // come back on the stable revision.
    if (kind === 'StatefulSet' && want.target?.partition !== undefined)
      await this.ordinals.recreateStrays(target as StatefulSet, want.target.partition);
    // A DaemonSet's canary nodes, and any pod on the wrong revision for its node: the canary nodes
    // of a rolled-back revision, a pod admitted while the webhook was down.
    if (daemonSet && want.target) {
      if (hashes) return await this.daemonNodes.converge(daemonSet, want.target.canaryNodes ?? 0, hashes);
      await this.daemonNodes.clear(daemonSet);
    }
    return undefined;
  }

  /** A name clash: said on the Canary (a Warning event, and its Promoted condition), retried calmly. */
  private async reportClash(canary: Canary, err: NameClashError): Promise<{ requeueAfterMs: number }> {
    const key = `${canary.metadata.namespace}/${canary.metadata.name}`;
    this.d.logger.warn(err.message, { key });
    this.d.events.record(canary, { type: 'Warning', message: err.message });
    const now = this.now().toISOString();
    const others = (canary.status?.conditions ?? []).filter((x) => x.type !== 'Promoted');
    const prev = canary.status?.conditions?.find((x) => x.type === 'Promoted');
    if (prev?.reason !== 'NameClash' || prev.message !== err.message) {
      const condition = {
        type: 'Promoted' as const,
        status: 'False' as const,
        reason: 'NameClash',
        message: err.message,
        lastUpdateTime: now,
        lastTransitionTime: now,
      };
      await this.writeStatus(
        canary,
        withReadiness(
          { ...(canary.status ?? {}), phase: canary.status?.phase ?? 'Initializing', conditions: [...others, condition] },
          canary.spec.suspend === true,
          now,
        ),
      );
    }
    return { requeueAfterMs: 30_000 };
  }

  private async ensureCopy(
    canary: Canary,
    target: Deployment,
    copy: Deployment | undefined,
    want: NonNullable<Desired['copy']>,
  ): Promise<void> {
    const ns = canary.metadata.namespace!;
    if (!copy) {
      // desiredState always says what a missing copy starts from.
      await this.createMissing(at(R.deployments, ns), canaryDeployment(canary, target, want.template!, want.revision!, want.replicas));
      return;
    }
    const ops: unknown[] = [];
    if (want.template && want.revision && copy.metadata.annotations?.[A.revision] !== want.revision) {
      const fresh = canaryDeployment(canary, target, want.template, want.revision, want.replicas);
      ops.push({ op: 'replace', path: '/spec/template', value: fresh.spec.template });
      ops.push({ op: 'add', path: `/metadata/annotations`, value: { ...(copy.metadata.annotations ?? {}), [A.revision]: want.revision } });
    }
    if ((copy.spec.replicas ?? 1) !== want.replicas) ops.push({ op: 'replace', path: '/spec/replicas', value: want.replicas });
    if (ops.length === 0) return;
    this.guard();
    await this.d.client.patch(at(R.deployments, ns, copy.metadata.name), ops, 'json');
  }

  private async ensureServices(canary: Canary, target: Workload, hashes?: DaemonSetHashes): Promise<void> {
    const ns = canary.metadata.namespace!;
    const svcs = generatedServices(canary, target, targetKind(canary.spec.targetRef), hashes);
    // A StatefulSet's Services select by revision: until its controller has seen the template, the
    // revisions it reports are not the ones to select (the selectors then stay as they are).
    if (!svcs) return;
    for (const [role, want] of Object.entries(svcs)) {
      const have = this.d.caches.services.get(ns, want.metadata.name);
      if (!have) {
        await this.createMissing(at(R.services, ns), want);
        continue;
      }
      // The apex Service, when it is the user's, is theirs to keep as it is.
      if (role === 'apex' && !have.metadata.labels?.[L.canaryName]) continue;
      const spec = have.spec as { selector?: unknown; ports?: { name?: string; port?: number; targetPort?: unknown }[] } | undefined;
      const ports = (spec?.ports ?? []).map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: 'TCP' }));
      if (same(spec?.selector, want.spec.selector) && same(ports, want.spec.ports)) continue;
      this.guard();
      await this.d.client.patch(at(R.services, ns, want.metadata.name), { spec: { selector: want.spec.selector, ports: want.spec.ports } });
    }
  }

  private async ensureHpa(canary: Canary, source: HorizontalPodAutoscaler): Promise<void> {
    const ns = canary.metadata.namespace!;
    const want = canaryHpa(canary, source, canary.spec.targetRef.name);
    const have = this.d.caches.hpas.get(ns, want.metadata.name);
    if (!have) {
      await this.createMissing(at(R.hpas, ns), want);
      return;
    }
    const pick = (h: HorizontalPodAutoscaler) => [h.spec.minReplicas ?? 1, h.spec.maxReplicas, h.spec.metrics, h.spec.scaleTargetRef.name];
    if (same(pick(have), pick(want))) return;
    this.guard();
    await this.d.client.patch(at(R.hpas, ns, want.metadata.name), { spec: want.spec });
  }

  /** Canary deleted: hand the target back to its owner, then let garbage collection do the rest. */
  private async finalize(canary: Canary): Promise<void> {
    const ns = canary.metadata.namespace!;
    const fins = (canary.metadata as { finalizers?: string[] }).finalizers ?? [];
    if (!fins.includes(FINALIZER)) return;
    this.guard();
    // Handing over to a Canary that replaces this one (an explicit Canary taking a policy's
    // place): its objects change owner before this one disappears, so none is deleted under traffic.
    const successor = this.ownership.successorOf(canary);
    if (successor) {
      for (const [ref, obj] of this.ownership.objectsNamedFor(canary))
        if (obj.metadata.labels![L.canaryName] === canary.metadata.name) await this.ownership.takeOver(ref, obj, successor);
    }
    const kind = targetKind(canary.spec.targetRef);
    const facts = kindFacts(kind);
    const target = facts ? await this.d.client.find<Workload>(at(facts.ref, ns, canary.spec.targetRef.name)) : undefined;
    if (facts && target && target.metadata.annotations?.[A.canary] === canary.metadata.name) {
      const stable = canary.status?.lastPromotedSpec;
      const tested = revisionOf(target).isReleased(stable);
      // Conditional on what was read: a successor's bootstrap writing the same annotations
      // meanwhile makes this a conflict and a retry, never a lost write.
      await this.d.client.patch(at(facts.ref, ns, target.metadata.name), handBackPatch(target, tested, kind));
      if (!tested && facts.held(target)) {
        const how =
          kind === 'StatefulSet'
            ? `run "kubectl patch statefulset/${target.metadata.name} -n ${ns} -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}'"`
            : kind === 'DaemonSet'
              ? `run "kubectl patch daemonset/${target.metadata.name} -n ${ns} -p '{"spec":{"updateStrategy":{"type":"RollingUpdate"}}}'" (it updates OnDelete until then: a pod recreated anywhere starts that revision)`
              : `run "kubectl rollout resume deployment/${target.metadata.name} -n ${ns}"`;
        const warning = {
          type: 'Warning' as const,
          message: `${objectName(target.metadata.name, ns)} stays ${kind === 'Deployment' ? 'paused' : 'frozen'} on revision ${shortRevision(revisionOf(target).id)}, which never passed analysis; ${how} to release it unanalysed, or revert its template`,
        };
        // On the Deployment too: the Canary is about to disappear, the Deployment stays paused.
        this.d.events.record(canary, warning);
        this.d.events.record(target, warning);
      }
    }
    const idx = fins.indexOf(FINALIZER);
    await this.d.client.patch(
      at(CR.canaries, ns, canary.metadata.name),
      [
        { op: 'test', path: `/metadata/finalizers/${idx}`, value: FINALIZER },
        { op: 'remove', path: `/metadata/finalizers/${idx}` },
      ],
      'json',
    );
  }
}

/**
 * The merge patch that hands a target back when its Canary goes: the contract's label and
 * annotations removed, the config pin removed (its pods roll back onto the live ConfigMaps and
 * Secrets before the snapshots are collected), and unpaused only if it holds a tested template.
 * Conditional on the resourceVersion read, so a concurrent writer makes it a retry.
 */
export function handBackPatch(target: Workload, tested: boolean, kind: string = 'Deployment'): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  const annotations: Record<string, null> = { [A.stableRevision]: null, [A.canary]: null, [A.promoting]: null, [A.stableConfigs]: null };
  // Only a Deployment's template carries a config revision (tracked configs are a Deployment's);
  // a StatefulSet's or DaemonSet's template is never the controller's to write, and its admission
  // policy refuses it, so a patch touching it would wedge the finalizer and the namespace's deletion.
  if (kind === 'Deployment' && target.spec.template.metadata?.annotations?.[A.configRevision] !== undefined)
    spec.template = { metadata: { annotations: { [A.configRevision]: null } } };
  // A StatefulSet's partition is sluice's while it manages it: handed back at 0 (every ordinal on
  // the template) once tested, left frozen otherwise.
  if (kind === 'StatefulSet') {
    if (tested && partitionOf(target as StatefulSet) !== 0) spec.updateStrategy = { rollingUpdate: { partition: 0 } };
  } else if (kind === 'DaemonSet') {
    // Its own strategy back once tested; its canary nodes mean nothing without sluice's webhook.
    annotations[A.canaryNodes] = null;
    if (tested && heldBySluice(target)) {
      spec.updateStrategy = { rollingUpdate: null, ...heldStrategyOf(target) };
      annotations[A.heldStrategy] = null;
    }
  } else if (tested) spec.paused = false;
  return {
    metadata: {
      resourceVersion: target.metadata.resourceVersion,
      labels: { [L.managed]: null },
      annotations,
    },
    ...(Object.keys(spec).length > 0 ? { spec } : {}),
  };
}
