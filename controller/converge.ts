// Makes the generated objects and the target match a Canary's status, in an order that never
// leaves traffic or pods pointing at something missing: snapshots, ownership, the copy, the
// Services, the autoscaler, the route, then the target and what its kind does after that write.
import type { CanaryJudge } from '../api/canary-judge.js';
import { annotations as A, labels as L, names, objectName, shortRevision } from '../api/contract.js';
import type { Canary, CanaryStatus } from '../api/flagger-types.js';
import { phase as phaseFacts } from '../api/phases.js';
import { type Deployment, type HorizontalPodAutoscaler, revisionOf, type Workload } from '../api/workload.js';
import { at, type ObjectClient } from '../lib/kube/client.js';
import type { ObjectCache } from '../lib/kube/informer.js';
import { baselineWeight, desiredBaseline, isReady, judgeOf, noBaselineBecause } from './baseline.js';
import type { ConfigTracker, Tracked } from './config-tracker.js';
import { targetPatch } from './desired-state.js';
import type { EventRecorder } from './event-recorder.js';
import { apexName, baselineSelector, service } from './generated-objects.js';
import type { GeneratedOwnership } from './generated-ownership.js';
import type { GeneratedWrites } from './generated-writes.js';
import { servicesFor } from './kinds/index.js';
import type { KindWriters, WorkloadDriver } from './kinds/workload-driver.js';
import type { RouterChoice } from './router/router-choice.js';

/** How often a pass looks again while the gateways take up a route, and how long it waits at most. */
const DRAIN_POLL_MS = 250;
const DRAIN_CEILING_MS = 30_000;

/** The sooner of two look-again delays, either of which may be absent. */
const sooner = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

/** What one pass read about the target, as converge needs it. */
export interface TargetView {
  target: Workload;
  driver: WorkloadDriver;
  copy: Deployment | undefined;
  autoscaler: HorizontalPodAutoscaler | undefined;
  tracked: Tracked | undefined;
  /** `<target>-baseline`, when it exists (controller/baseline.ts). */
  baseline?: Deployment;
}

export interface ConvergeDeps {
  /** Leader-guarded (leader-guarded-client.ts). */
  client: ObjectClient;
  events: EventRecorder;
  tracker: ConfigTracker;
  ownership: GeneratedOwnership;
  routers: RouterChoice;
  writes: GeneratedWrites;
  writers: KindWriters;
  /** CanaryJudges (api/canary-judge.ts); without it no baseline is ever run. */
  judges?: ObjectCache<CanaryJudge>;
  /** How long after a route change pods it no longer routes to are kept (controller-flags.ts --drain-delay). */
  drainDelayMs: number;
}

export class Converger {
  constructor(private readonly d: ConvergeDeps) {}

  /** Returns a delay when the pass must come back sooner than its decision says (daemonset-nodes.ts). */
  async converge(canary: Canary, status: CanaryStatus, view: TargetView, now = new Date()): Promise<number | undefined> {
    const { target, driver, copy, autoscaler, tracked } = view;
    const ns = canary.metadata.namespace!;
    const want = driver.desired(canary, status, target, copy, autoscaler, tracked);
    // Fewer canary pods only once the gateways no longer send them traffic (see drainWait()).
    const shrinkCopy = want.copy !== undefined && copy !== undefined && want.copy.replicas < (copy.spec.replicas ?? 1);
    // Snapshots first: the copy and the primary's pods must never name one that does not exist.
    if (tracked) await this.d.tracker.label(ns, tracked);
    if (tracked && tracked.objects.size > 0) await this.d.tracker.ensureSnapshots(canary, tracked);
    await this.d.ownership.refuseForeign(canary, target, autoscaler, driver.hasCopy);
    await this.d.ownership.adoptGenerated(canary);
    if (want.copy && !shrinkCopy) await this.d.writes.ensureCopy(canary, target as Deployment, copy, want.copy);
    const baseline = await this.ensureBaseline(canary, status, view, want.copy?.replicas ?? 0, want.canaryWeight);
    const baselineShare = baseline?.share;
    const hashes = await driver.revisionHashes(this.d.writers, target, want.target);
    const services = servicesFor(canary, target, hashes, driver);
    await this.d.writes.ensureServices(
      canary,
      services && baselineShare !== undefined
        ? {
            ...services,
            baseline: service(canary, names.baselineService(apexName(canary)), baselineSelector(services.primary.spec.selector)),
          }
        : services,
    );
    if (autoscaler) await this.d.writes.ensureHpa(canary, autoscaler);
    await this.d.routers.for(canary).ensure(canary, status, want.canaryWeight, baselineShare ?? 0);
    // Fewer canary or baseline pods only once the route no longer sends them their share.
    let retryMs: number | undefined;
    if (shrinkCopy || baseline?.scaleDown) {
      retryMs = this.drainWait(canary, status, want.canaryWeight, baselineShare ?? 0, now);
      if (retryMs === undefined) {
        if (shrinkCopy) await this.d.writes.ensureCopy(canary, target as Deployment, copy, want.copy!);
        await baseline?.scaleDown?.();
      }
    }
    if (phaseFacts(status.phase).idle && tracked) await this.d.tracker.collect(canary, target as Deployment, tracked);
    // At the release the route sends everything to the canary first; the primary's pods roll only
    // once the gateways serve that, or requests still sent to them would meet pods already gone.
    // A fast rollback sends nothing to the canary: its primary rolls under traffic at once, as any
    // rolling update does (its pods leave the Service's endpoints as they go).
    const releasing =
      status.phase === 'Promoting' &&
      want.canaryWeight > 0 &&
      want.target !== undefined &&
      !want.target.paused &&
      target.spec.paused === true;
    const releaseWait = releasing ? this.drainWait(canary, status, want.canaryWeight, baselineShare ?? 0, now) : undefined;
    if (releaseWait !== undefined) retryMs = sooner(retryMs, releaseWait);
    else if (want.target) {
      const patch = targetPatch(target, want.target);
      if (patch) {
        const behindOurBack =
          want.target.paused &&
          !driver.held(target) &&
          status.phase !== 'Promoting' &&
          !revisionOf(target).isReleased(target.metadata.annotations?.[A.stableRevision]);
        await this.d.client.patch(at(driver.ref, ns, target.metadata.name), patch);
        if (behindOurBack && target.metadata.labels?.[L.managed] === 'true') this.reportBypass(canary, view);
      }
    }
    return sooner(retryMs, await driver.afterTargetWrite(this.d.writers, target, want.target, hashes));
  }

  /**
   * How long pods the route no longer sends traffic to must still stay, or undefined when they may
   * go: once the drain delay has passed since the phase (and so the route) changed, and the
   * gateways report the route as written, or none reports status, or DRAIN_CEILING_MS has passed,
   * for a gateway that never reports must not keep pods for ever (said in a Warning event). A real
   * gateway serves a write a little after it reports it, and a request sent meanwhile to a pod
   * already gone is a 502 (docs/real-gateway.md). The answer is when to look again: the rest of
   * the delay in one wait (not a pass every poll at 1,000 Canaries), then a short poll, since a
   * gateway's status write does not wake the Canary.
   */
  private drainWait(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight: number, now: Date): number | undefined {
    // The phase's write and the route's are one pass apart: the phase's time is the route's.
    const since = Date.parse(status.lastTransitionTime ?? '');
    const elapsed = Number.isFinite(since) ? now.getTime() - since : Number.POSITIVE_INFINITY;
    if (elapsed < this.d.drainDelayMs) return this.d.drainDelayMs - elapsed;
    const served = this.d.routers.for(canary).served(canary, status, canaryWeight, baselineWeight);
    if (served !== false) return undefined;
    if (elapsed < DRAIN_CEILING_MS) return DRAIN_POLL_MS;
    this.d.events.record(canary, {
      type: 'Warning',
      message: `the gateways have not reported the route of ${objectName(canary.metadata.name, canary.metadata.namespace)} as applied within ${DRAIN_CEILING_MS / 1000} s; scaling pods it no longer routes to down anyway`,
    });
    return undefined;
  }

  /**
   * A CanaryJudge's fresh baseline (controller/baseline.ts): created while the target runs its
   * released revision, scaled with the canary while it is analysed, to zero otherwise or when the
   * judge goes. Answers its share of traffic (undefined: this Canary runs no baseline) and, when it
   * must shrink, the write that does it, for after the route has stopped sending it traffic.
   */
  private async ensureBaseline(
    canary: Canary,
    status: CanaryStatus,
    { target, driver, baseline, tracked }: TargetView,
    copyReplicas: number,
    canaryWeight: number,
  ): Promise<{ share?: number; scaleDown?: () => Promise<void> } | undefined> {
    // A Deployment of that name that sluice did not generate is someone else's: never touched.
    if (baseline !== undefined && baseline.metadata.labels?.[L.canaryName] !== canary.metadata.name) return undefined;
    const judge = judgeOf(canary, this.d.judges);
    const wanted = judge !== undefined && !('error' in judge) && noBaselineBecause(canary, judge, driver.hasCopy) === undefined;
    const deployment = target as Deployment;
    const want = wanted ? desiredBaseline(status, deployment, baseline, tracked, copyReplicas) : baseline ? { replicas: 0 } : undefined;
    if (!want) return undefined;
    const have = baseline?.spec.replicas ?? 0;
    const write = (w: typeof want) => this.d.writes.ensureCopy(canary, deployment, baseline, w, 'baseline');
    const scaleDown = baseline && want.replicas < have ? () => write(want) : undefined;
    // A new template, or more pods, now; fewer pods later (scaleDown keeps the template write with it).
    if (!scaleDown) await write(want);
    if (!wanted) return { scaleDown };
    return { share: scaleDown ? 0 : baselineWeight(status, canaryWeight, isReady(baseline)), scaleDown };
  }

  /** The webhook would have held this template; reaching here means it was bypassed. */
  private reportBypass(canary: Canary, { target, driver, tracked }: TargetView): void {
    const word = driver.heldWord;
    const did = word === 'paused' ? 'paused' : 'froze';
    this.d.events.record(canary, {
      type: 'Warning',
      message: `${objectName(target.metadata.name, canary.metadata.namespace)} changed to revision ${shortRevision(revisionOf(target, tracked?.hash).id)} without being ${word} (was the webhook bypassed?); ${did} it until analysis releases the revision`,
    });
  }
}
