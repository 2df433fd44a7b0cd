// What differs between the kinds a Canary can target, as one table: how each shows its own
// rollout, whether it is frozen, and what its candidate is called. Everything else (the state
// machine, analysis, hooks, alerts, status) is the same for every kind (docs/workloads.md).
import { R, type ResourceRef } from '../lib/kube/client.js';
import { names, objectName } from './contract.js';
import { daemonSetProgress, heldBySluice } from './daemonset.js';
import { partitionOf, statefulSetProgress } from './statefulset.js';
import {
  type DaemonSet,
  type Deployment,
  type RolloutProgress,
  type StatefulSet,
  type Workload,
  type WorkloadKind,
  isWorkloadKind,
  rolloutProgress,
} from './workload.js';

export interface KindFacts {
  /** Where the apiserver serves it. */
  ref: ResourceRef;
  /** Its own rollout of its current template is done (bootstrap waits for it; the release is it). */
  progress(w: Workload, thresholdPercent?: number): RolloutProgress;
  /** Frozen: its template is not rolling onto its pods. */
  held(w: Workload): boolean;
  /** How messages name what runs the candidate. */
  candidateName(target: string, namespace: string | undefined): string;
}

/** The facts of a kind a Canary may name, or undefined for any other. */
export const kindFacts = (kind: string): KindFacts | undefined => (isWorkloadKind(kind) ? KINDS[kind] : undefined);

export const KINDS: Record<WorkloadKind, KindFacts> = {
  Deployment: {
    ref: R.deployments,
    progress: (w, t) => rolloutProgress(w as Deployment, t),
    held: (w) => (w as Deployment).spec.paused === true,
    candidateName: (target, ns) => objectName(names.canaryDeployment(target), ns),
  },
  StatefulSet: {
    ref: R.statefulsets,
    progress: (w, t) => statefulSetProgress(w as StatefulSet, t),
    held: (w) => partitionOf(w as StatefulSet) > 0,
    candidateName: (target, ns) => `the canary ordinals of ${objectName(target, ns)}`,
  },
  DaemonSet: {
    ref: R.daemonsets,
    progress: (w, t) => daemonSetProgress(w as DaemonSet, t),
    held: (w) => heldBySluice(w as DaemonSet),
    candidateName: (target, ns) => `the pods on the canary nodes of ${objectName(target, ns)}`,
  },
};
