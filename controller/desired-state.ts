// What the world should look like for a Canary's status: the canary copy, the route weight and
// the target's hold and annotations, as each kind's driver says (controller/kinds/). Pure; the
// reconciler makes the live objects match it, so after a crash between a status write and an
// object write, the next pass finishes the job.

import { partitionOf } from '../api/statefulset.js';
import { rewriteRefs } from '../api/tracked-configs.js';
import type { DaemonSetUpdateStrategy, Deployment, HorizontalPodAutoscaler, PodTemplate, StatefulSet, Workload } from '../api/workload.js';

export interface DesiredTarget {
  /** Held: a Deployment paused, a StatefulSet's partition above the canary ordinals, a DaemonSet updating OnDelete. */
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
  /** template undefined: leave the copy's template as it is (only its replicas matter then). Undefined: the kind runs no copy. */
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
