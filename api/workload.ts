// Facts about Deployments that the state machine reads: revision, readiness, replica counts.
import type { KubeObject } from '../lib/kube/client.js';
import { Revision } from './revision.js';

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
}

export type Deployment = KubeObject & {
  spec: {
    replicas?: number;
    paused?: boolean;
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    template: PodTemplate;
    [k: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    unavailableReplicas?: number;
  };
};

/** The update strategy fields sluice reads and writes (the freeze is the partition). */
export interface StatefulSetUpdateStrategy {
  type?: string;
  rollingUpdate?: { partition?: number; maxUnavailable?: number | string };
}

export type StatefulSet = KubeObject & {
  spec: {
    replicas?: number;
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    template: PodTemplate;
    updateStrategy?: StatefulSetUpdateStrategy;
    [k: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    currentReplicas?: number;
    updatedReplicas?: number;
    /** ControllerRevision names (`<name>-<hash>`): the one ordinals below the partition run, and the template's. */
    currentRevision?: string;
    updateRevision?: string;
  };
};

/** A DaemonSet's update strategy: RollingUpdate (its own rollout) or OnDelete (sluice's freeze). */
export interface DaemonSetUpdateStrategy {
  type?: string;
  rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } | null;
}

export type DaemonSet = KubeObject & {
  spec: {
    selector: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
    template: PodTemplate;
    updateStrategy?: DaemonSetUpdateStrategy;
    [k: string]: unknown;
  };
  status?: {
    observedGeneration?: number;
    /** Nodes that should run a pod of it. */
    desiredNumberScheduled?: number;
    currentNumberScheduled?: number;
    /** Nodes whose pod runs the current template (its revision hash). */
    updatedNumberScheduled?: number;
    numberReady?: number;
    numberAvailable?: number;
    numberMisscheduled?: number;
  };
};

/** The kinds a Canary's targetRef may name. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
export type Workload = Deployment | StatefulSet | DaemonSet;

/** The kinds sluice manages, as a person reads them: "Deployments, StatefulSets and DaemonSets". */
export const MANAGED_KINDS = `${WORKLOAD_KINDS.slice(0, -1)
  .map((k) => `${k}s`)
  .join(', ')} and ${WORKLOAD_KINDS.at(-1)}s`;

export const isWorkloadKind = (k: string | undefined): k is WorkloadKind => (WORKLOAD_KINDS as readonly string[]).includes(k ?? '');

/** Its controller has seen this generation: its status speaks of the current spec. */
export const statusIsCurrent = (w: { metadata: { generation?: number }; status?: { observedGeneration?: number } }) =>
  (w.status?.observedGeneration ?? 0) >= (w.metadata.generation ?? 0);

/** matchLabels as a label selector query (`k=v,k2=v2`); empty when there are none. */
export const labelSelectorOf = (matchLabels: Record<string, string> | undefined): string =>
  Object.entries(matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/** The kind a targetRef names, as written (Flagger's default: Deployment): how messages name it. */
export const targetKindName = (ref: { kind?: string }): string => ref.kind ?? 'Deployment';

/** The kind a Canary targets, or undefined for a kind sluice does not manage. */
export const targetKind = (ref: { kind?: string }): WorkloadKind | undefined => {
  const kind = targetKindName(ref);
  return isWorkloadKind(kind) ? kind : undefined;
};

export type HorizontalPodAutoscaler = KubeObject & {
  spec: {
    minReplicas?: number;
    maxReplicas: number;
    scaleTargetRef: { apiVersion?: string; kind: string; name: string };
    [k: string]: unknown;
  };
};

/** The Deployment's revision; `configs`: the hash of the tracked configs its template reads now. */
export const revisionOf = (d: Workload, configs?: string) => Revision.of(d.spec.template, configs);

export interface RolloutProgress {
  done: boolean;
  updated: number;
  available: number;
  desired: number;
}

/**
 * Whether a Deployment's current template is rolled out: the controller has seen this
 * generation, every replica is updated, and at least `thresholdPercent` of them are available.
 */
export function rolloutProgress(d: Deployment, thresholdPercent = 100): RolloutProgress {
  const desired = d.spec.replicas ?? 1;
  const s = d.status ?? {};
  const updated = s.updatedReplicas ?? 0;
  const available = Math.min(s.availableReplicas ?? 0, updated);
  const seen = (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
  const noOld = (s.replicas ?? 0) <= updated;
  const enough = desired === 0 ? true : (available * 100) / desired >= thresholdPercent;
  return { done: seen && updated >= desired && noOld && enough, updated, available, desired };
}

/**
 * A workload (Deployment, StatefulSet or DaemonSet) as an admission request carries it: only what webhook/admission-schema.ts checked
 * (the webhook reads the template as an opaque value and hashes it). The controller's `Deployment`
 * above is what the apiserver stores.
 */
export interface AdmittedWorkload {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  spec: {
    paused?: boolean;
    replicas?: number;
    template: unknown;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}
