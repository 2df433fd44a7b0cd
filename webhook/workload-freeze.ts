// How each workload kind is held at admission (docs/workloads.md): what "frozen" means for it,
// and which write would loosen the hold. webhook/freeze-decision.ts decides when; this says how.
import { FROZEN_PARTITION, usesOnDelete } from '../api/statefulset.js';
import type { AdmittedDeployment, StatefulSetUpdateStrategy } from '../api/workload.js';

export interface FreezeHold {
  /** How messages name the kind. */
  kind: string;
  /** The object as admitted when its template changes to an untested revision. */
  freeze(next: AdmittedDeployment): AdmittedDeployment;
  /** This write would let the untested template reach more pods than the stored object does. */
  loosens(next: AdmittedDeployment, prev: AdmittedDeployment): boolean;
  /** `next`, held as the stored object holds it. */
  hold(next: AdmittedDeployment, prev: AdmittedDeployment): AdmittedDeployment;
  /** Why a template change of this object cannot be frozen at all (undefined: it can). */
  unfreezable?(next: AdmittedDeployment): string | undefined;
  /** What a person runs to release it unanalysed, for the re-pause warning. */
  verb: string;
}

const withSpec = (o: AdmittedDeployment, spec: Record<string, unknown>): AdmittedDeployment => ({ ...o, spec: { ...o.spec, ...spec } });

const strategyOf = (o: AdmittedDeployment) => o.spec.updateStrategy as StatefulSetUpdateStrategy | undefined;
const onDelete = (o: AdmittedDeployment) => usesOnDelete({ spec: { updateStrategy: strategyOf(o) } });
const partitionOf = (o: AdmittedDeployment) => {
  const p = strategyOf(o)?.rollingUpdate?.partition;
  return typeof p === 'number' ? p : 0;
};

const DEPLOYMENT: FreezeHold = {
  kind: 'Deployment',
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
  freeze: (next) => {
    const s = strategyOf(next);
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

// A Map, not an object literal: a review naming kind "constructor" must find nothing.
export const HOLDS: ReadonlyMap<string, FreezeHold> = new Map([
  ['Deployment', DEPLOYMENT],
  ['StatefulSet', STATEFUL_SET],
]);
