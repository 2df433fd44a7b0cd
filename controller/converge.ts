// Makes the generated objects and the target match a Canary's status, in an order that never
// leaves traffic or pods pointing at something missing: snapshots, ownership, the copy, the
// Services, the autoscaler, the route, then the target and what its kind does after that write.
import { annotations as A, labels as L, objectName, shortRevision } from '../api/contract.js';
import type { Canary, CanaryStatus } from '../api/flagger-types.js';
import { phase as phaseFacts } from '../api/phases.js';
import { type Deployment, type HorizontalPodAutoscaler, revisionOf, type Workload } from '../api/workload.js';
import { at, type ObjectClient } from '../lib/kube/client.js';
import type { ConfigTracker, Tracked } from './config-tracker.js';
import { targetPatch } from './desired-state.js';
import type { EventRecorder } from './event-recorder.js';
import type { GeneratedOwnership } from './generated-ownership.js';
import type { GeneratedWrites } from './generated-writes.js';
import { servicesFor } from './kinds/index.js';
import type { KindWriters, WorkloadDriver } from './kinds/workload-driver.js';
import type { RouterChoice } from './router/router-choice.js';

/** What one pass read about the target, as converge needs it. */
export interface TargetView {
  target: Workload;
  driver: WorkloadDriver;
  copy: Deployment | undefined;
  autoscaler: HorizontalPodAutoscaler | undefined;
  tracked: Tracked | undefined;
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
}

export class Converger {
  constructor(private readonly d: ConvergeDeps) {}

  /** Returns a delay when the pass must come back sooner than its decision says (daemonset-nodes.ts). */
  async converge(canary: Canary, status: CanaryStatus, view: TargetView): Promise<number | undefined> {
    const { target, driver, copy, autoscaler, tracked } = view;
    const ns = canary.metadata.namespace!;
    const want = driver.desired(canary, status, target, copy, autoscaler, tracked);
    // Snapshots first: the copy and the primary's pods must never name one that does not exist.
    if (tracked) await this.d.tracker.label(ns, tracked);
    if (tracked && tracked.objects.size > 0) await this.d.tracker.ensureSnapshots(canary, tracked);
    await this.d.ownership.refuseForeign(canary, target, autoscaler, driver.hasCopy);
    await this.d.ownership.adoptGenerated(canary);
    if (want.copy) await this.d.writes.ensureCopy(canary, target as Deployment, copy, want.copy);
    const hashes = await driver.revisionHashes(this.d.writers, target, want.target);
    await this.d.writes.ensureServices(canary, servicesFor(canary, target, hashes, driver));
    if (autoscaler) await this.d.writes.ensureHpa(canary, autoscaler);
    await this.d.routers.for(canary).ensure(canary, status, want.canaryWeight);
    if (phaseFacts(status.phase).idle && tracked) await this.d.tracker.collect(canary, target as Deployment, tracked);
    if (want.target) {
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
    return await driver.afterTargetWrite(this.d.writers, target, want.target, hashes);
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
