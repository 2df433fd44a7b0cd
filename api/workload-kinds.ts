// What differs between the kinds a Canary can target, as one table of pure facts shared by the
// webhook, the controller and kubectl-sluice: how each shows its own rollout, whether it is held,
// what runs its candidate and how ready that is, what it cannot be managed with, and the words
// and commands people are told. The controller's drivers (controller/kinds/) add what it does
// with each kind; everything else (the state machine, analysis, hooks, alerts, status) is the
// same for every kind (docs/workloads.md, docs/architecture.md "Adding a workload kind").
import { R, type ResourceRef } from '../lib/kube/client.js';
import { LIMITS } from './canary-limits.js';
import { annotations as A, names, objectName } from './contract.js';
import { canaryNodeCount, canaryNodesProgress, daemonSetProgress, heldBySluice, nodesOf, ownOnDelete } from './daemonset.js';
import type { CanaryStatus } from './flagger-types.js';
import { canaryOrdinals, canaryOrdinalsProgress, partitionOf, statefulSetProgress, usesOnDelete } from './statefulset.js';
import {
  type DaemonSet,
  type Deployment,
  isWorkloadKind,
  type RolloutProgress,
  rolloutProgress,
  type StatefulSet,
  statusIsCurrent,
  type Workload,
  type WorkloadKind,
} from './workload.js';

/** What runs the revision under test: whether it runs it at all, and how far its rollout is. */
export interface Candidate {
  runs: boolean;
  progress: RolloutProgress | undefined;
}

/** Why a target of this kind cannot be managed as it is: a status condition's reason and message. */
export interface TargetProblem {
  reason: 'TargetNotSupported' | 'TargetInvalid';
  message: string;
}

export interface KindFacts {
  readonly kind: WorkloadKind;
  /** Where the apiserver serves it. */
  readonly ref: ResourceRef;
  /**
   * Runs its candidate in a copy: a canary Deployment, with its own autoscaler, whose template
   * reads snapshots of the tracked configs. A kind without one is its own canary (some of its
   * pods run the candidate) and has neither copy, nor canary autoscaler, nor tracked configs.
   */
  readonly hasCopy: boolean;
  /** How a held template is described: a Deployment is paused, the others are frozen. */
  readonly heldWord: 'paused' | 'frozen';
  /** Its own rollout of its current template is done (bootstrap waits for it; the release is it). */
  progress(w: Workload, thresholdPercent?: number): RolloutProgress;
  /** Held: its template is not rolling onto its pods. */
  held(w: Workload): boolean;
  /** How messages name what runs the candidate. */
  candidateName(target: string, namespace: string | undefined): string;
  /**
   * What runs the revision under test for this status, and how ready it is. `copy`: the canary
   * Deployment, for a kind that runs its candidate in one.
   */
  candidate(target: Workload, copy: Deployment | undefined, status: CanaryStatus, thresholdPercent: number): Candidate;
  /** Why sluice cannot manage this target as it is (`tname`: how messages name it), or undefined. */
  problem(target: Workload, tname: string): TargetProblem | undefined;
  /** The names kubectl accepts for it (`deploy`, `sts`, ...), lower case. */
  readonly kubectlNames: readonly string[];
  /** Where a held revision waits and what holds it, for people (after "in the <kind>'s spec, "). */
  readonly waitsWhere: string;
  /** The command that releases a held revision by hand, unanalysed. */
  releaseByHand(name: string, namespace: string | undefined): string;
  /** What a held target does until then, when people need telling. */
  readonly whileHeld?: string;
}

/** The facts of a kind a Canary may name, or undefined for any other. */
export const kindFacts = (kind: string | undefined): KindFacts | undefined => (isWorkloadKind(kind) ? KINDS[kind] : undefined);

const DEPLOYMENT: KindFacts = {
  kind: 'Deployment',
  ref: R.deployments,
  hasCopy: true,
  heldWord: 'paused',
  progress: (w, t) => rolloutProgress(w as Deployment, t),
  held: (w) => (w as Deployment).spec.paused === true,
  candidateName: (target, ns) => objectName(names.canaryCopy(target), ns),
  // The copy must run this revision, not merely be ready.
  candidate: (_target, copy, status, threshold) => ({
    runs: copy !== undefined && copy.metadata.annotations?.[A.revision] === status.lastAppliedSpec && (copy.spec.replicas ?? 0) > 0,
    progress: copy ? rolloutProgress(copy, threshold) : undefined,
  }),
  problem: (target, tname) => {
    // The copy's selector gives every value a -canary suffix; a label value is at most 63 characters.
    const tooLong = Object.entries(target.spec.selector.matchLabels ?? {}).find(([, v]) => `${v}-canary`.length > LIMITS.labelValue);
    if (!tooLong) return undefined;
    return {
      reason: 'TargetInvalid',
      message: `${tname}'s selector label ${tooLong[0]}=${tooLong[1]} leaves no room for the canary copy's suffix -canary (label values are at most ${LIMITS.labelValue} characters); shorten it to ${LIMITS.labelValue - 7}`,
    };
  },
  kubectlNames: ['deployment', 'deployments', 'deploy'],
  waitsWhere: 'kept off the primary pods',
  releaseByHand: (name, ns) => `kubectl rollout resume deployment/${name} -n ${ns}`,
};

const STATEFULSET: KindFacts = {
  kind: 'StatefulSet',
  ref: R.statefulsets,
  hasCopy: false,
  heldWord: 'frozen',
  progress: (w, t) => statefulSetProgress(w as StatefulSet, t),
  held: (w) => partitionOf(w as StatefulSet) > 0,
  candidateName: (target, ns) => `the canary ordinals of ${objectName(target, ns)}`,
  // Its highest ordinals, as many as the weight asks for, on the template its controller has seen.
  candidate: (target, _copy, status, threshold) => {
    const sts = target as StatefulSet;
    const want = canaryOrdinals(sts.spec.replicas ?? 1, status.canaryWeight ?? 0);
    return { runs: statusIsCurrent(sts), progress: canaryOrdinalsProgress(sts, want, threshold) };
  },
  problem: (target, tname) =>
    usesOnDelete(target as StatefulSet)
      ? {
          reason: 'TargetNotSupported',
          message: `${tname} updates OnDelete: sluice freezes a StatefulSet with its rolling update partition; set spec.updateStrategy.type to RollingUpdate`,
        }
      : undefined,
  kubectlNames: ['statefulset', 'statefulsets', 'sts'],
  waitsWhere: 'on its canary ordinals only (the partition holds the rest)',
  releaseByHand: (name, ns) =>
    `kubectl patch statefulset/${name} -n ${ns} -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}'`,
};

const DAEMONSET: KindFacts = {
  kind: 'DaemonSet',
  ref: R.daemonsets,
  hasCopy: false,
  heldWord: 'frozen',
  progress: (w, t) => daemonSetProgress(w as DaemonSet, t),
  held: (w) => heldBySluice(w as DaemonSet),
  candidateName: (target, ns) => `the pods on the canary nodes of ${objectName(target, ns)}`,
  // Its own pods on as many nodes as the weight asks for.
  candidate: (target, _copy, status, threshold) => {
    const ds = target as DaemonSet;
    const want = canaryNodeCount(nodesOf(ds), status.canaryWeight ?? 0);
    return { runs: statusIsCurrent(ds), progress: canaryNodesProgress(ds, want, threshold) };
  },
  problem: (target, tname) =>
    ownOnDelete(target as DaemonSet)
      ? {
          reason: 'TargetNotSupported',
          message: `${tname} updates OnDelete: a release could not roll the tested template onto its nodes; set spec.updateStrategy.type to RollingUpdate`,
        }
      : undefined,
  kubectlNames: ['daemonset', 'daemonsets', 'ds'],
  waitsWhere: 'on its canary nodes only (OnDelete holds the rest, and sluice gives pods created elsewhere the stable template)',
  releaseByHand: (name, ns) => `kubectl patch daemonset/${name} -n ${ns} -p '{"spec":{"updateStrategy":{"type":"RollingUpdate"}}}'`,
  whileHeld: 'it updates OnDelete until then: a pod recreated anywhere starts that revision',
};

export const KINDS: Record<WorkloadKind, KindFacts> = { Deployment: DEPLOYMENT, StatefulSet: STATEFULSET, DaemonSet: DAEMONSET };
