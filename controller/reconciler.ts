// One reconcile pass for one Canary, in three parts: observe (the newest Canary known,
// newest-canary.ts, the rest from informer caches, through its kind's driver, controller/kinds/),
// decide with checks (pure, state-machine.ts; a step that needs hook or metric results starts
// them beside the workers and ends), then commit (record the decision in status, then make the
// objects match it, converge.ts). Level-triggered and idempotent: a pass interrupted anywhere is
// finished by the next one. Deleted Canaries are hand-back.ts's.

import { FINALIZER, names } from '../api/contract.js';
import { type Canary, type CanaryStatus, CR } from '../api/flagger-types.js';
import { phase as phaseFacts } from '../api/phases.js';
import type { ClusterCanaryPolicy } from '../api/policy-types.js';
import type { RouteKindFacts } from '../api/route-kinds.js';
import { type Deployment, revisionOf } from '../api/workload.js';
import { at } from '../lib/kube/client.js';
import { namespaced } from '../lib/kube/informer.js';
import { closedWindowFor } from '../policy/change-windows.js';
import { enforce } from '../policy/constraints.js';
import { fastRollbackRevisions, isGenerated, linesStopped, policiesForNamespace } from '../policy/selection.js';
import { ActionInbox } from './action-inbox.js';
import { Announcer } from './announcer.js';
import { readyEndpoints } from './canary-endpoints.js';
import { CanaryStatusWriter } from './canary-status-writer.js';
import type { HookResult, HookResults, MetricResult } from './check-results.js';
import { CheckRunner, NO_SLOT_RETRY_MS, stepOf } from './check-runner.js';
import type { ReconcilerDeps } from './reconciler-deps.js';
import { specWarnings } from './spec-check.js';

export type { Caches, ReconcilerDeps } from './reconciler-deps.js';

import { ConfigTracker } from './config-tracker.js';
import { Converger, type TargetView } from './converge.js';
import { DaemonSetNodes } from './daemonset-nodes.js';
import { apexName, NameClashError } from './generated-objects.js';
import { GeneratedOwnership } from './generated-ownership.js';
import { GeneratedWrites } from './generated-writes.js';
import { HandBack } from './hand-back.js';
import { MAX_HOOK_TIMEOUT_MS } from './hooks/call-hook.js';
import { DRIVERS, type DriverTable, driverOf } from './kinds/index.js';
import { NotLeader } from './leader-guarded-client.js';
import { NewestCanary } from './newest-canary.js';
import { withReadiness } from './readiness.js';
import { HttpRouteRouter } from './router/http-route.js';
import { RouterChoice } from './router/router-choice.js';
import { type Decision, decide, type Observed } from './state-machine.js';
import { StatefulSetOrdinals } from './statefulset-ordinals.js';

/** What a pass observed: the state machine's input, and the target as converge needs it. */
interface Seen {
  observed: Observed;
  view: TargetView | undefined;
}

type PassResult = { requeueAfterMs?: number };

export class Reconciler {
  private readonly started = new Map<string, number>();
  private readonly tracker: ConfigTracker;
  private readonly ownership: GeneratedOwnership;
  private readonly announcer: Announcer;
  private readonly inbox: ActionInbox;
  private readonly converger: Converger;
  private readonly handBack: HandBack;
  private readonly checkRunner: CheckRunner;
  private readonly status: CanaryStatusWriter;
  /** Which copy of a Canary a pass reads: the cache's, or a newer one this controller wrote. */
  private readonly newest: NewestCanary;

  private readonly drivers: DriverTable;
  /** The route kinds this controller has a router for, the default first. */
  private readonly routeKinds: readonly RouteKindFacts[];

  constructor(private readonly d: ReconcilerDeps) {
    this.drivers = d.drivers ?? DRIVERS;
    const { client, caches, logger } = d;
    this.tracker = new ConfigTracker(client, caches);
    this.newest = new NewestCanary(client, caches.canaries);
    // The HTTPRoute router first: it serves Canaries without a provider (router/router-choice.ts).
    const routers = new RouterChoice([new HttpRouteRouter(client, caches.routes), ...(d.routers?.(client) ?? [])]);
    this.routeKinds = routers.all().map((r) => r.facts);
    this.ownership = new GeneratedOwnership(client, caches, logger, routers);
    this.announcer = new Announcer(logger, d.notifier);
    this.inbox = new ActionInbox(client, caches.actions, d.events, logger);
    const writers = {
      ordinals: new StatefulSetOrdinals(client, d.listPods, logger),
      daemonNodes: new DaemonSetNodes(client, d.listPods, d.listRevisions, logger),
    };
    const writes = new GeneratedWrites(client, caches);
    this.converger = new Converger({
      client,
      events: d.events,
      tracker: this.tracker,
      ownership: this.ownership,
      routers,
      writes,
      writers,
      drainDelayMs: d.settings.drainDelayMs ?? 0,
      ...(caches.judges ? { judges: caches.judges } : {}),
    });
    this.handBack = new HandBack(client, this.ownership, d.events, this.drivers);
    this.checkRunner = new CheckRunner({
      client,
      templates: caches.templates,
      metrics: d.metrics,
      logger,
      ...d.settings,
      judges: caches.judges,
      deployments: caches.deployments,
      ...(d.clock ? { clock: d.clock } : {}),
    });
    this.status = new CanaryStatusWriter(client, this.newest);
  }

  private now(): Date {
    return this.d.clock?.() ?? new Date();
  }

  async reconcile(key: string): Promise<PassResult | void> {
    const [namespace, name] = key.split('/') as [string, string];
    const canary = await this.newest.read(namespace, name);
    try {
      if (!canary) return await this.forget(key, namespace, name);
      if (canary.metadata.deletionTimestamp) return await this.handBack.finalize(canary);
      return await this.sync(canary, key);
    } catch (err) {
      if (err instanceof NotLeader) return;
      if (err instanceof NameClashError && canary) return this.reportClash(canary, err);
      throw err;
    }
  }

  private async forget(key: string, namespace: string, name: string): Promise<void> {
    this.started.delete(key);
    this.d.checks.forget(key);
    this.d.metrics.forget(namespace, name);
    await this.inbox.orphaned(namespace, name, this.now());
  }

  private async sync(stored: Canary, key: string): Promise<PassResult> {
    // A Canary that predates a policy (or was admitted while the webhook was down) is analysed
    // within the policy's limits: decisions use the tightened spec, the stored one is untouched.
    const policies = policiesForNamespace(
      this.d.caches.policies.items(),
      this.d.caches.namespaces.get(undefined, stored.metadata.namespace!),
    );
    const canary: Canary = policies.length > 0 ? { ...stored, spec: enforce(stored.spec, policies) } : stored;
    if (!(canary.metadata as { finalizers?: string[] }).finalizers?.includes(FINALIZER)) return this.addFinalizer(canary);
    if (this.givesWayToExplicit(canary)) return {};
    const now = this.now();
    const seen = await this.observe(canary, policies, now);
    const decided = this.decideWithChecks(canary, key, seen.observed, now);
    if (!('decision' in decided)) return decided;
    return this.commit(stored, canary, key, seen, decided.decision, policies, now);
  }

  private async addFinalizer(canary: Canary): Promise<PassResult> {
    const fins = (canary.metadata as { finalizers?: string[] }).finalizers;
    const { body } = await this.d.client.patch<Canary>(
      at(CR.canaries, canary.metadata.namespace, canary.metadata.name),
      fins
        ? [{ op: 'add', path: '/metadata/finalizers/-', value: FINALIZER }]
        : [{ op: 'add', path: '/metadata/finalizers', value: [FINALIZER] }],
      'json',
    );
    this.newest.remember(body);
    return { requeueAfterMs: 0 };
  }

  /**
   * A policy's Canary gives way to an explicit one for the same workload (the policy pass deletes
   * it); acting meanwhile would fight the explicit Canary over the same objects.
   */
  private givesWayToExplicit(canary: Canary): boolean {
    if (!isGenerated(canary)) return false;
    return namespaced(this.d.caches.canaries, canary.metadata.namespace!).some(
      (c) => !isGenerated(c) && c.spec.targetRef?.name === canary.spec.targetRef.name && !c.metadata.deletionTimestamp,
    );
  }

  private async observe(canary: Canary, policies: ClusterCanaryPolicy[], now: Date): Promise<Seen> {
    const ns = canary.metadata.namespace!;
    const driver = driverOf(canary, this.drivers);
    const target = driver?.read(this.d.caches, ns, canary.spec.targetRef.name);
    const hasCopy = driver?.hasCopy === true;
    // The revision covers the ConfigMaps and Secrets the template reads (docs/tracked-configs.md);
    // a kind that is its own canary reads the live ones, so its revision is its template alone.
    const tracked = target && hasCopy ? await this.tracker.track(target as Deployment) : undefined;
    const copy = hasCopy ? this.d.caches.deployments.get(ns, names.canaryCopy(canary.spec.targetRef.name)) : undefined;
    // A kind without a copy is scaled by its autoscaler as it is: there is no copy to give one.
    const autoscaler = canary.spec.autoscalerRef && hasCopy ? this.d.caches.hpas.get(ns, canary.spec.autoscalerRef.name) : undefined;
    // A person's action is decided before anything else (state-machine.ts, act()).
    const action = await this.inbox.next(canary, now, policies);
    // Read only while a candidate runs: that is when the canary Service gets traffic.
    const slices = this.d.caches.endpointSlices;
    const canaryEndpoints =
      slices && phaseFacts(canary.status?.phase).copyActive ? readyEndpoints(slices, ns, names.canaryService(apexName(canary))) : undefined;
    const revision = target ? revisionOf(target, tracked?.hash) : undefined;
    // Stop the line (docs/policy.md): the first policy, by name, that stops it in this namespace.
    const [stopping] = linesStopped(this.d.caches.policies.items(), this.d.caches.namespaces.get(undefined, ns));
    const lineStop = stopping?.spec.stopTheLine
      ? {
          policy: stopping.metadata.name,
          reason: stopping.spec.stopTheLine.reason,
          ...(stopping.spec.stopTheLine.by ? { by: stopping.spec.stopTheLine.by } : {}),
        }
      : undefined;
    const window = closedWindowFor(
      this.d.caches.policies.items(),
      this.d.caches.namespaces.get(undefined, ns),
      target?.metadata.labels,
      now,
    );
    return {
      observed: {
        kind: driver,
        target,
        revision,
        canaryCopy: copy,
        autoscaler,
        action,
        canaryEndpoints,
        ...(lineStop ? { lineStop } : {}),
        ...(window ? { window } : {}),
        fastRollbackRevisions: fastRollbackRevisions(canary, policies),
      },
      view:
        target && driver
          ? {
              target,
              driver,
              copy,
              autoscaler,
              tracked,
              baseline: this.d.caches.deployments.get(ns, names.baselineCopy(target.metadata.name)),
            }
          : undefined,
    };
  }

  /**
   * decide() asks for what the step needs, one kind at a time and in Flagger's order (rollback
   * hooks, rollout hooks, metrics, gates), so nothing is called that the step would not use.
   * Checks run beside the workers: a pass that needs one starts it and ends; the pass after it
   * ends finds its result (checks-in-flight.ts).
   */
  private decideWithChecks(canary: Canary, key: string, observed: Observed, now: Date): { decision: Decision } | PassResult {
    const checks = this.d.checks;
    const known = checks.known(key, stepOf(canary, observed.revision));
    const hookResults: HookResults = {};
    const metricResults = known.get('metrics') as MetricResult[] | undefined;
    for (const [kind, value] of known) if (kind !== 'metrics') hookResults[kind] = value as HookResult[];
    const decision = decide(canary, observed, metricResults, now, this.d.settings, hookResults);
    const need = decision.needHooks ?? (decision.needMetrics ? 'metrics' : undefined);
    if (!need) {
      checks.settle(key);
      return { decision };
    }
    // decide() asks only for what it was not given; asking again would start the same check for ever.
    if (known.has(need)) throw new Error(`the state machine asked again for the ${need} results it was given (a bug: please report it)`);
    const outcome = checks.start(key, need, (signal) => this.checkRunner.run(canary, need, signal));
    // Queued again when the check ends; the fallback only covers a lost wake-up.
    return { requeueAfterMs: outcome === 'no-slot' ? NO_SLOT_RETRY_MS : MAX_HOOK_TIMEOUT_MS };
  }

  /**
   * Bootstrap creates the objects before saying "Initialization done!"; and a new revision gets
   * its canary copy scaled up before "Progressing" is written, as Flagger does (scale from zero,
   * then the phase): one write sooner (docs/controller.md). The copy takes no traffic until a
   * weight is written, and weights are written status first; a pass that dies between the two is
   * finished by the next, which decides the same start, or scales the copy back down if the
   * template was reverted meanwhile. Every other step records its decision first, so objects
   * always converge to a status that was durably written.
   */
  private async commit(
    stored: Canary,
    canary: Canary,
    key: string,
    { view }: Seen,
    decision: Decision,
    policies: ClusterCanaryPolicy[],
    now: Date,
  ): Promise<PassResult> {
    const status: CanaryStatus = withReadiness(
      { ...decision.status, observedGeneration: canary.metadata.generation },
      canary.spec.suspend === true,
      now.toISOString(),
    );
    const was = phaseFacts(canary.status?.phase);
    const startingAnalysis = view?.driver.hasCopy === true && status.phase === 'Progressing' && !was.copyActive && !was.bootstrapping;
    const convergedFirst = view !== undefined && ((was.bootstrapping && status.phase === 'Initialized') || startingAnalysis);
    // A converge that must come back sooner than the decision says (daemonset-nodes.ts) says when.
    let retryMs = convergedFirst ? await this.converger.converge(canary, status, view, now) : undefined;
    if (!(await this.status.write(canary, status))) return { requeueAfterMs: 0 };
    if (canary.metadata.generation !== canary.status?.observedGeneration)
      for (const w of specWarnings(stored.spec, policies, this.routeKinds)) this.d.events.record(canary, w);
    for (const ev of decision.events) this.d.events.record(canary, ev);
    this.announcer.announce(canary, status, decision.events);
    this.observeTransitions(canary, key, status);
    if (view && !convergedFirst && !phaseFacts(status.phase).bootstrapping)
      retryMs = await this.converger.converge(canary, status, view, now);
    return this.afterCommit(canary, status, decision, retryMs, now);
  }

  /** The action's outcome, the Canary's metrics, and when to come back. */
  private async afterCommit(canary: Canary, status: CanaryStatus, decision: Decision, retryMs: number | undefined, now: Date) {
    const ns = canary.metadata.namespace!;
    if (decision.action) {
      const { name: actionName, result, message } = decision.action;
      await this.inbox.completeNamed(ns, actionName, result, message, status.phase, now);
      const glass = status.breakGlass;
      if (result === 'Applied' && glass && status.lastAction?.action === 'break-glass')
        this.d.metrics.breakGlass.inc({ name: canary.metadata.name, namespace: ns, user: glass.by });
    }
    const apex = apexName(canary);
    this.d.metrics.observe(canary, status.phase, status.canaryWeight ?? 0, names.primaryService(apex), names.canaryService(apex));
    if (phaseFacts(status.phase).idle) await this.inbox.prune(ns, canary.metadata.name, now);
    // One action per pass; the next one at once. (An action a blocked Canary cannot take yet waits
    // for the pass that can, or for its expiry: no spinning on it.)
    if (decision.action && this.inbox.waiting(ns, canary.metadata.name)) return { requeueAfterMs: 0 };
    const after = [decision.requeueAfterMs, retryMs].filter((x): x is number => x !== undefined);
    return after.length === 0 ? {} : { requeueAfterMs: after.reduce((m, x) => Math.min(m, x), Infinity) };
  }

  /** A name clash: said on the Canary (a Warning event, and its Promoted condition), retried calmly. */
  private async reportClash(canary: Canary, err: NameClashError): Promise<PassResult> {
    this.d.logger.warn(err.message, { key: `${canary.metadata.namespace}/${canary.metadata.name}` });
    this.d.events.record(canary, { type: 'Warning', message: err.message });
    await this.status.nameClash(canary, err.message, this.now().toISOString());
    return { requeueAfterMs: 30_000 };
  }

  private observeTransitions(canary: Canary, key: string, next: CanaryStatus): void {
    const prev = canary.status?.phase;
    if (next.phase === prev) return;
    this.d.logger.info(`phase ${prev ?? '(none)'} → ${next.phase}`, { key, weight: next.canaryWeight, revision: next.lastAppliedSpec });
    if (next.phase === 'Progressing' && !this.started.has(key)) this.started.set(key, Date.now());
    if (phaseFacts(next.phase).outcome) {
      const t0 = this.started.get(key);
      if (t0 !== undefined) this.d.metrics.finished(canary, next.phase as 'Succeeded' | 'Failed', (Date.now() - t0) / 1000);
      this.started.delete(key);
    }
  }
}
