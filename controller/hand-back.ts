// A Canary deleted: its objects pass to a successor if one replaces it, its target is handed back
// to its owner (released only if it holds a tested template, with a Warning saying how to release
// it otherwise), then its finalizer goes and garbage collection does the rest.
import { annotations as A, FINALIZER, labels as L, objectName, shortRevision } from '../api/contract.js';
import { type Canary, CR } from '../api/flagger-types.js';
import { revisionOf, type Workload } from '../api/workload.js';
import { at, isNotFound, type ObjectClient } from '../lib/kube/client.js';
import type { EventRecorder } from './event-recorder.js';
import type { GeneratedOwnership } from './generated-ownership.js';
import { type DriverTable, driverOf, handBackPatch } from './kinds/index.js';

export class HandBack {
  constructor(
    /** Leader-guarded (leader-guarded-client.ts). */
    private readonly client: ObjectClient,
    private readonly ownership: GeneratedOwnership,
    private readonly events: EventRecorder,
    private readonly drivers: DriverTable,
  ) {}

  async finalize(canary: Canary): Promise<void> {
    const ns = canary.metadata.namespace!;
    const fins = (canary.metadata as { finalizers?: string[] }).finalizers ?? [];
    if (!fins.includes(FINALIZER)) return;
    // Handing over to a Canary that replaces this one (an explicit Canary taking a policy's
    // place): its objects change owner before this one disappears, so none is deleted under traffic.
    const successor = this.ownership.successorOf(canary);
    if (successor) {
      for (const [ref, obj] of this.ownership.objectsNamedFor(canary))
        if (obj.metadata.labels![L.canaryName] === canary.metadata.name) await this.ownership.takeOver(ref, obj, successor);
    }
    await this.handBackTarget(canary);
    const idx = fins.indexOf(FINALIZER);
    try {
      await this.client.patch(
        at(CR.canaries, ns, canary.metadata.name),
        [
          { op: 'test', path: `/metadata/finalizers/${idx}`, value: FINALIZER },
          { op: 'remove', path: `/metadata/finalizers/${idx}` },
        ],
        'json',
      );
    } catch (err) {
      // Gone already: a pass before this one (its answer lost, or read from a cache one event
      // behind) removed the finalizer, and the Canary went with it. Nothing is left to do.
      if (!isNotFound(err)) throw err;
    }
  }

  private async handBackTarget(canary: Canary): Promise<void> {
    const ns = canary.metadata.namespace!;
    const driver = driverOf(canary, this.drivers);
    const target = driver ? await this.client.find<Workload>(at(driver.ref, ns, canary.spec.targetRef.name)) : undefined;
    if (!driver || !target || target.metadata.annotations?.[A.canary] !== canary.metadata.name) return;
    // Tested: its template is the revision last promoted. Anything else stays held.
    const tested = revisionOf(target).isReleased(canary.status?.lastPromotedSpec);
    // Conditional on what was read: a successor's bootstrap writing the same annotations
    // meanwhile makes this a conflict and a retry, never a lost write.
    await this.client.patch(at(driver.ref, ns, target.metadata.name), handBackPatch(target, tested, driver));
    if (tested || !driver.held(target)) return;
    const warning = {
      type: 'Warning' as const,
      message: `${objectName(target.metadata.name, ns)} stays ${driver.heldWord} on revision ${shortRevision(revisionOf(target).id)}, which never passed analysis; run "${driver.releaseByHand(target.metadata.name, ns)}"${driver.whileHeld ? ` (${driver.whileHeld})` : ''} to release it unanalysed, or revert its template`,
    };
    // On the target too: the Canary is about to disappear, the target stays held.
    this.events.record(canary, warning);
    this.events.record(target, warning);
  }
}
