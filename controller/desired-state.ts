// What the world should look like for a Canary's status: the canary copy, the route weight and
// the target's pause and annotations. Pure; the reconciler makes the live objects match it, so
// after a crash between a status write and an object write, the next pass finishes the job.
import { annotations as A, labels as L, values } from '../api/contract.js';
import type { Canary, CanaryStatus } from '../api/flagger-types.js';
import { releasedRevision } from './state-machine.js';
import { phase as facts } from '../api/phases.js';
import { rewriteRefs } from '../api/tracked-configs.js';
import { templatePart } from '../api/revision.js';
import {
  revisionOf,
  targetKind,
  type Deployment,
  type HorizontalPodAutoscaler,
  type PodTemplate,
  type StatefulSet,
  type Workload,
  type DaemonSet,
  type DaemonSetUpdateStrategy,
} from '../api/workload.js';
import { FROZEN_STRATEGY, canaryNodeCount, heldBySluice, heldStrategyOf, nodesOf } from '../api/daemonset.js';
import { FROZEN_PARTITION, canaryOrdinals, partitionFor, partitionOf, replicasOf } from '../api/statefulset.js';

export interface DesiredTarget {
  /** Frozen: a Deployment paused, a StatefulSet's partition above the canary ordinals. */
  paused: boolean;
  /** A StatefulSet's partition: 0 released, the canary's ordinals while analysed, FROZEN_PARTITION otherwise. */
  partition?: number;
  /** A DaemonSet's update strategy when it must change: OnDelete frozen, its own strategy restored at the release. */
  updateStrategy?: DaemonSetUpdateStrategy;
  /** A DaemonSet's canary: how many of its nodes run the candidate (0 unless it is analysed); controller/daemonset-nodes.ts picks them. */
  canaryNodes?: number;
  labels: Record<string, string>;
  /** null: the annotation must be absent. */
  annotations: Record<string, string | null>;
  /** On the pod template (the config revision that rolls primary pods onto released configs); null: absent. */
  templateAnnotations?: Record<string, string | null>;
}

/** The target's tracked configs now (controller/config-tracker.ts): snapshot per reference, and their hash. */
export interface TrackedNow {
  snapshots: Record<string, string>;
  hash: string | undefined;
}

export interface Desired {
  /** template undefined: leave the copy's template as it is (only its replicas matter then). Undefined: no copy (a StatefulSet). */
  copy?: { template?: PodTemplate; revision?: string; replicas: number };
  canaryWeight: number;
  target: DesiredTarget | undefined;
}

export function primaryReplicas(target: Deployment, autoscaler: HorizontalPodAutoscaler | undefined): number {
  return Math.max(target.spec.replicas ?? 1, autoscaler?.spec.minReplicas ?? 1, 1);
}

/** The template the canary copy runs: the target's, reading the snapshots of the configs under test, never the live objects. */
export function copyTemplate(target: Deployment, snapshots: Record<string, string>): PodTemplate {
  const t = target.spec.template;
  return Object.keys(snapshots).length > 0 ? { ...t, spec: rewriteRefs(t.spec, snapshots) } : t;
}

export function desiredState(
  canary: Canary,
  status: CanaryStatus,
  target: Workload,
  copy: Deployment | undefined,
  autoscaler: HorizontalPodAutoscaler | undefined,
  tracked: TrackedNow = { snapshots: {}, hash: undefined },
): Desired {
  if (targetKind(canary.spec.targetRef) === 'StatefulSet') return statefulSetDesired(canary, status, target as StatefulSet);
  if (targetKind(canary.spec.targetRef) === 'DaemonSet') return daemonSetDesired(canary, status, target as DaemonSet);
  const phase = status.phase ?? '';
  const active = facts(phase).copyActive;
  const revision = revisionOf(target, tracked.hash).id;
  // The copy runs the revision under test while a rollout is active; otherwise it keeps what it
  // had (at zero replicas), or the stable template when it is first created.
  const testing = active && revision === status.lastAppliedSpec;
  const fromTarget = testing || copy?.metadata.annotations?.[A.revision] === undefined;
  // decide() records 100 on entering Promoting, so the status weight is the route weight throughout.
  const canaryWeight = active ? (status.canaryWeight ?? 0) : 0;

  let desiredTarget: DesiredTarget | undefined;
  const released = releasedRevision(status);
  if (released !== undefined && !facts(phase).bootstrapping) {
    desiredTarget = {
      // Unpaused exactly when its template is the released revision: that is the whole freeze.
      paused: revision !== released,
      labels: { [L.managed]: values.managed },
      annotations: {
        // The template part only: the webhook compares it with what it can hash itself.
        [A.stableRevision]: templatePart(released)!,
        [A.canary]: canary.metadata.name,
        [A.promoting]: phase === 'Promoting' ? (status.lastAppliedSpec ?? null) : null,
      },
    };
    // Once the configs the template reads now are the released ones, the primary pods are pinned
    // to their snapshots (the webhook reads the annotation when it admits a primary pod) and rolled
    // onto them by the config revision on the template.
    if (released === revision) {
      desiredTarget.annotations[A.stableConfigs] = tracked.hash ? JSON.stringify(tracked.snapshots) : null;
      desiredTarget.templateAnnotations = { [A.configRevision]: tracked.hash ?? null };
    }
  }
  const deployment = target as Deployment;
  return {
    copy: {
      template: fromTarget ? copyTemplate(deployment, tracked.snapshots) : undefined,
      revision: fromTarget ? revision : undefined,
      replicas: active ? primaryReplicas(deployment, autoscaler) : 0,
    },
    canaryWeight,
    target: desiredTarget,
  };
}

/**
 * What a target that is its own canary (a StatefulSet, a DaemonSet) wants whatever its kind:
 * whether its template is held back, whether the revision under test is being analysed, the
 * route's weight, and the contract's label and annotations. Undefined target: not bootstrapped.
 */
function ownCanary(canary: Canary, status: CanaryStatus, target: Workload) {
  const phase = status.phase ?? '';
  const revision = revisionOf(target).id;
  const released = releasedRevision(status);
  const canaryWeight = facts(phase).copyActive ? (status.canaryWeight ?? 0) : 0;
  if (released === undefined || facts(phase).bootstrapping) return { canaryWeight, want: undefined };
  return {
    canaryWeight,
    want: {
      held: revision !== released,
      testing: facts(phase).copyActive && revision === status.lastAppliedSpec,
      labels: { [L.managed]: values.managed },
      annotations: {
        [A.stableRevision]: templatePart(released)!,
        [A.canary]: canary.metadata.name,
        [A.promoting]: phase === 'Promoting' ? (status.lastAppliedSpec ?? null) : null,
      } as Record<string, string | null>,
    },
  };
}

/**
 * A StatefulSet's canary is its own highest ordinals (api/statefulset.ts): while the revision
 * under test is analysed, the partition exposes as many of them as the weight asks for; released,
 * it is 0; otherwise (waiting, rolled back, abandoned) it is FROZEN_PARTITION, and the reconciler
 * recreates any ordinal below it that runs another revision than the stable one.
 */
function statefulSetDesired(canary: Canary, status: CanaryStatus, target: StatefulSet): Desired {
  const { canaryWeight, want } = ownCanary(canary, status, target);
  if (!want) return { canaryWeight, target: undefined };
  const { held, testing, labels, annotations } = want;
  const replicas = replicasOf(target);
  const partition = !held ? 0 : testing ? partitionFor(replicas, canaryOrdinals(replicas, canaryWeight)) : FROZEN_PARTITION;
  return { canaryWeight, target: { paused: held, partition, labels, annotations } };
}

/**
 * A DaemonSet's canary is its own pods on a share of its nodes (api/daemonset.ts): while the
 * revision under test is analysed, as many nodes as the weight asks for; otherwise none. Frozen
 * (its template not the released revision), it updates OnDelete, its own strategy set aside in an
 * annotation (the webhook does this at admission; here it is done again should the webhook have
 * been bypassed); released, its own strategy is back and its controller rolls every node.
 */
function daemonSetDesired(canary: Canary, status: CanaryStatus, target: DaemonSet): Desired {
  const { canaryWeight, want } = ownCanary(canary, status, target);
  if (!want) return { canaryWeight, target: undefined };
  const { held, testing, labels, annotations } = want;
  const sluiceHolds = heldBySluice(target);
  let updateStrategy: DaemonSetUpdateStrategy | undefined;
  if (held && !sluiceHolds) {
    updateStrategy = FROZEN_STRATEGY;
    annotations[A.heldStrategy] = JSON.stringify(target.spec.updateStrategy ?? { type: 'RollingUpdate' });
  } else if (!held && sluiceHolds) {
    updateStrategy = heldStrategyOf(target);
    annotations[A.heldStrategy] = null;
  }
  return {
    canaryWeight,
    target: {
      paused: held,
      ...(updateStrategy ? { updateStrategy } : {}),
      canaryNodes: held && testing ? canaryNodeCount(nodesOf(target), canaryWeight) : 0,
      labels,
      annotations,
    },
  };
}

/** The merge patch that brings the target to `want`, or undefined when it already matches. */
export function targetPatch(target: Workload, want: DesiredTarget): Record<string, unknown> | undefined {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(want.labels)) if (target.metadata.labels?.[k] !== v) labels[k] = v;
  const anns: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(want.annotations)) {
    const have = target.metadata.annotations?.[k];
    if (v === null ? have !== undefined : have !== v) anns[k] = v;
  }
  const tanns: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(want.templateAnnotations ?? {})) {
    const have = target.spec.template.metadata?.annotations?.[k];
    if (v === null ? have !== undefined : have !== v) tanns[k] = v;
  }
  const pausedNow = target.spec.paused === true;
  const partition = want.partition;
  const meta: Record<string, unknown> = {};
  if (Object.keys(labels).length) meta.labels = labels;
  if (Object.keys(anns).length) meta.annotations = anns;
  const patch: Record<string, unknown> = {};
  if (Object.keys(meta).length) patch.metadata = meta;
  const spec: Record<string, unknown> = {};
  if (partition !== undefined) {
    if (partitionOf(target as StatefulSet) !== partition) spec.updateStrategy = { rollingUpdate: { partition } };
  } else if (want.updateStrategy !== undefined) {
    // Replaced whole: OnDelete takes no rollingUpdate, and a restored strategy is exactly the one set aside.
    spec.updateStrategy = { rollingUpdate: null, ...want.updateStrategy };
  } else if (want.canaryNodes === undefined && pausedNow !== want.paused) spec.paused = want.paused;
  if (Object.keys(tanns).length) spec.template = { metadata: { annotations: tanns } };
  if (Object.keys(spec).length) patch.spec = spec;
  return Object.keys(patch).length ? patch : undefined;
}
