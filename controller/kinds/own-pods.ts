// What a target that is its own canary (a StatefulSet, a DaemonSet: some of its own pods run the
// candidate) wants whatever its kind: whether its template is held back, whether the revision
// under test is being analysed, the route's weight, and the contract's label and annotations.
import { annotations as A, labels as L, values } from '../../api/contract.js';
import type { Canary, CanaryStatus } from '../../api/flagger-types.js';
import { phase as phaseFacts } from '../../api/phases.js';
import { templatePart } from '../../api/revision.js';
import { revisionOf, type Workload } from '../../api/workload.js';
import { releasedRevision } from '../state-machine.js';

export interface OwnPodsWant {
  held: boolean;
  testing: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string | null>;
}

/** `want` undefined: not bootstrapped, the target is left as it is. */
export function ownPodsWant(canary: Canary, status: CanaryStatus, target: Workload): { canaryWeight: number; want?: OwnPodsWant } {
  const phase = status.phase ?? '';
  const revision = revisionOf(target).id;
  const released = releasedRevision(status);
  const canaryWeight = phaseFacts(phase).copyActive ? (status.canaryWeight ?? 0) : 0;
  if (released === undefined || phaseFacts(phase).bootstrapping) return { canaryWeight };
  return {
    canaryWeight,
    want: {
      held: revision !== released,
      testing: phaseFacts(phase).copyActive && revision === status.lastAppliedSpec,
      labels: { [L.managed]: values.managed },
      annotations: {
        [A.stableRevision]: templatePart(released)!,
        [A.canary]: canary.metadata.name,
        [A.promoting]: phase === 'Promoting' ? (status.lastAppliedSpec ?? null) : null,
      },
    },
  };
}
