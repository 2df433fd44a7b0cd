// How each workload kind is held at admission (docs/workloads.md): what "frozen" means for it,
// and which write would loosen the hold. webhook/freeze-decision.ts decides when; this says how.
import { annotations as A } from '../api/contract.js';
import { FROZEN_STRATEGY, heldBySluice, ownOnDelete } from '../api/daemonset.js';
import { FROZEN_PARTITION, usesOnDelete } from '../api/statefulset.js';
import type { AdmittedWorkload, StatefulSetUpdateStrategy, WorkloadKind } from '../api/workload.js';

export interface FreezeHold {
  kind: WorkloadKind;
  /**
   * Recreated, it adopts its predecessor's ReplicaSets, which the webhook can count: created with
   * none of them serving it starts as it is (freezing would hold it at zero pods). A kind that
   * adopts pods themselves (the webhook keeps no cache of pods) is always created frozen.
   */
  countsPredecessorPods: boolean;
  /** The object as admitted when its template changes to an untested revision (`prev`: the stored one, on an UPDATE). */
  freeze(next: AdmittedWorkload, prev?: AdmittedWorkload): AdmittedWorkload;
  /** This write would let the untested template reach more pods than the stored object does. */
  loosens(next: AdmittedWorkload, prev: AdmittedWorkload): boolean;
  /** `next`, held as the stored object holds it. */
  hold(next: AdmittedWorkload, prev: AdmittedWorkload): AdmittedWorkload;
  /** Why a template change of this object cannot be frozen at all (undefined: it can). */
  unfreezable?(next: AdmittedWorkload, prev?: AdmittedWorkload): string | undefined;
  /** What a person runs to release it unanalysed, for the re-pause warning. */
  verb: string;
}

const withSpec = (o: AdmittedWorkload, spec: Record<string, unknown>): AdmittedWorkload => ({ ...o, spec: { ...o.spec, ...spec } });

const updateStrategyOf = (o: AdmittedWorkload) => o.spec.updateStrategy as StatefulSetUpdateStrategy | undefined;
const onDelete = (o: AdmittedWorkload) => usesOnDelete({ spec: { updateStrategy: updateStrategyOf(o) } });
const partitionOf = (o: AdmittedWorkload) => {
  const p = updateStrategyOf(o)?.rollingUpdate?.partition;
  return typeof p === 'number' ? p : 0;
};

const DEPLOYMENT: FreezeHold = {
  kind: 'Deployment',
  countsPredecessorPods: true,
  freeze: (next) => withSpec(next, { paused: true }),
  loosens: (next) => next.spec.paused !== true,
  hold: (next) => withSpec(next, { paused: true }),
  verb: 'unpausing',
};

/**
 * A StatefulSet is frozen by its rolling update's partition: at FROZEN_PARTITION no ordinal takes
 * the template; the controller lowers it to expose the canary ordinals and to release.
 */
const STATEFUL_SET: FreezeHold = {
  kind: 'StatefulSet',
  countsPredecessorPods: false,
  freeze: (next) => {
    const s = updateStrategyOf(next);
    return withSpec(next, {
      updateStrategy: { ...s, type: 'RollingUpdate', rollingUpdate: { ...s?.rollingUpdate, partition: FROZEN_PARTITION } },
    });
  },
  loosens: (next, prev) => onDelete(next) || partitionOf(next) < partitionOf(prev),
  hold: (next, prev) => withSpec(next, { updateStrategy: prev.spec.updateStrategy }),
  unfreezable: (next) =>
    onDelete(next)
      ? 'it updates OnDelete, which has no partition to hold the template back (a pod deleted for any reason would come back on it unanalysed); set spec.updateStrategy.type to RollingUpdate'
      : undefined,
  verb: 'lowering the partition',
};

const typeOf = (o: AdmittedWorkload) => (o.spec.updateStrategy as { type?: string } | undefined)?.type;

const withAnnotation = (o: AdmittedWorkload, key: string, value: string | undefined): AdmittedWorkload => {
  const { [key]: _old, ...rest } = o.metadata.annotations ?? {};
  return { ...o, metadata: { ...o.metadata, annotations: value === undefined ? rest : { ...rest, [key]: value } } };
};

/**
 * A DaemonSet is frozen by `updateStrategy: OnDelete`: no pod is replaced unless deleted, and a pod
 * it creates on a node that is not a canary node gets the stable template at admission
 * (daemon-pod-decision.ts). The user's own strategy is set aside in an annotation and restored at
 * the release; a write that is already held keeps what was set aside.
 */
const DAEMON_SET: FreezeHold = {
  kind: 'DaemonSet',
  countsPredecessorPods: false,
  freeze: (next, prev) => {
    if (heldBySluice(next)) return next;
    const setAside =
      typeOf(next) === 'OnDelete'
        ? prev?.metadata.annotations?.[A.heldStrategy]
        : JSON.stringify(next.spec.updateStrategy ?? { type: 'RollingUpdate' });
    return withSpec(withAnnotation(next, A.heldStrategy, setAside), { updateStrategy: FROZEN_STRATEGY });
  },
  loosens: (next) => !heldBySluice(next),
  // As the stored object holds it; one that was not held (the webhook bypassed, a damaged object)
  // is frozen now, as a Deployment in that state is paused: never as loose as it was.
  hold: (next, prev) =>
    heldBySluice(prev)
      ? withSpec(withAnnotation(next, A.heldStrategy, prev.metadata.annotations?.[A.heldStrategy]), {
          updateStrategy: prev.spec.updateStrategy,
        })
      : DAEMON_SET.freeze(withSpec(next, { updateStrategy: prev.spec.updateStrategy ?? next.spec.updateStrategy }), prev),
  unfreezable: (next, prev) =>
    ownOnDelete(next) && (prev === undefined || ownOnDelete(prev))
      ? 'it updates OnDelete by its own choice, so a release could not roll the tested template onto its nodes; set spec.updateStrategy.type to RollingUpdate'
      : undefined,
  verb: 'restoring its update strategy',
};

/** A kind missing here fails to compile (Record over the WorkloadKind union). */
const BY_KIND: Record<WorkloadKind, FreezeHold> = { Deployment: DEPLOYMENT, StatefulSet: STATEFUL_SET, DaemonSet: DAEMON_SET };

// Looked up through a Map, not the object: a review naming kind "constructor" must find nothing.
export const HOLDS: ReadonlyMap<string, FreezeHold> = new Map(Object.entries(BY_KIND));
