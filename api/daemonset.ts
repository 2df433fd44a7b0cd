// Facts about DaemonSets (docs/workloads.md). A DaemonSet has no partition: sluice freezes it with
// `updateStrategy: OnDelete` (the user's own strategy set aside in an annotation, restored at the
// release), picks a share of its nodes as the canary and has their pods recreated on the
// candidate. A pod the DaemonSet creates anywhere else while it is frozen (a new node, an evicted
// pod, a rolled-back canary node) is given the stable template at admission (webhook/daemon-pod.ts).

import type { KubeObject } from '../lib/kube/client.js';
import { canaryShare } from './canary-share.js';
import { annotations as A } from './contract.js';
import { REVISION_LABEL } from './statefulset.js';
import { type DaemonSet, type DaemonSetUpdateStrategy, type PodTemplate, type RolloutProgress, statusIsCurrent } from './workload.js';

/** The label the DaemonSet controller puts on every pod, as the StatefulSet controller does: the hash of the ControllerRevision it runs. */
export { REVISION_LABEL };
/** A second, older way the DaemonSet controller tells a pod's template (by the DaemonSet's generation). */
export const TEMPLATE_GENERATION_LABEL = 'pod-template-generation';
/** The DaemonSet's annotation holding that generation; a ControllerRevision keeps a copy of it. */
export const TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';

/** The strategy of a frozen DaemonSet: no pod is replaced unless deleted. */
export const FROZEN_STRATEGY: DaemonSetUpdateStrategy = { type: 'OnDelete' };

interface HasStrategy {
  metadata: { annotations?: Record<string, string> };
  spec: { [k: string]: unknown };
}

const typeOf = (o: HasStrategy) => (o.spec.updateStrategy as DaemonSetUpdateStrategy | undefined)?.type;

/** sluice holds it: OnDelete, with the user's own strategy set aside. */
export const heldBySluice = (o: HasStrategy) => typeOf(o) === 'OnDelete' && o.metadata.annotations?.[A.heldStrategy] !== undefined;

/** Its owner chose OnDelete: there is nothing of its own to restore at a release, and nothing rolls then. */
export const ownOnDelete = (o: HasStrategy) => typeOf(o) === 'OnDelete' && o.metadata.annotations?.[A.heldStrategy] === undefined;

/**
 * The strategy set aside at the freeze. An annotation anyone could have edited: anything but an
 * object with a string type other than OnDelete reads as the API's default (RollingUpdate).
 */
export function heldStrategyOf(o: HasStrategy): DaemonSetUpdateStrategy | undefined {
  const raw = o.metadata.annotations?.[A.heldStrategy];
  if (raw === undefined) return undefined;
  try {
    const v = JSON.parse(raw) as DaemonSetUpdateStrategy;
    if (typeof v === 'object' && v !== null && typeof v.type === 'string' && v.type !== 'OnDelete') return v;
  } catch {
    // fall through: the default
  }
  return { type: 'RollingUpdate' };
}

/** The nodes the controller chose as the canary (annotation canaryNodes), sorted. */
export function canaryNodesOf(o: { metadata: { annotations?: Record<string, string> } }): string[] {
  const raw = o.metadata.annotations?.[A.canaryNodes] ?? '';
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .sort();
}

/** How many nodes run the candidate at a weight, of `nodes` that run the DaemonSet (api/canary-share.ts). */
export const canaryNodeCount = (nodes: number, weight: number) => canaryShare(nodes, weight);

/** Nodes that should run it, as its controller counts them. */
export const nodesOf = (d: DaemonSet) => d.status?.desiredNumberScheduled ?? 0;

/** Its own rollout of its template: every node's pod on it and enough of them available, not held. */
export function daemonSetProgress(d: DaemonSet, thresholdPercent = 100): RolloutProgress {
  const desired = nodesOf(d);
  const st = d.status ?? {};
  const updated = st.updatedNumberScheduled ?? 0;
  const available = Math.min(st.numberAvailable ?? 0, updated);
  const enough = desired === 0 ? true : (available * 100) / desired >= thresholdPercent;
  const done = statusIsCurrent(d) && !heldBySluice(d) && updated >= desired && enough;
  return { done, updated, available, desired };
}

/**
 * The canary's readiness: exactly `want` nodes run the template (more would be a pod that slipped
 * past the webhook, which the controller recreates first), the chosen nodes are recorded, and
 * every pod is ready, primary and canary alike.
 */
export function canaryNodesProgress(d: DaemonSet, want: number, thresholdPercent = 100): RolloutProgress {
  const nodes = nodesOf(d);
  const st = d.status ?? {};
  const updated = st.updatedNumberScheduled ?? 0;
  const ready = st.numberReady ?? 0;
  const available = Math.max(0, Math.min(want, updated, ready - (nodes - want)));
  const enough = want === 0 ? true : (available * 100) / want >= thresholdPercent;
  const chosen = canaryNodesOf(d).length === want;
  return { done: statusIsCurrent(d) && chosen && updated === want && enough, updated, available, desired: want };
}

type Affinity = {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: {
      nodeSelectorTerms?: { matchFields?: { key?: string; operator?: string; values?: string[] }[] }[];
    };
  };
};

/**
 * The node a DaemonSet's pod is for: its nodeName once bound, else the one node its required
 * affinity names (the DaemonSet controller places each pod with a `metadata.name In [node]` field
 * term and leaves the binding to the scheduler).
 */
export function nodeOfPod(pod: { spec?: unknown }): string | undefined {
  const spec = (pod.spec ?? {}) as { nodeName?: unknown; affinity?: Affinity };
  if (typeof spec.nodeName === 'string' && spec.nodeName !== '') return spec.nodeName;
  for (const term of spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? []) {
    for (const f of term.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1 && typeof f.values[0] === 'string') return f.values[0];
    }
  }
  return undefined;
}

export type ControllerRevision = KubeObject & { data?: unknown; revision?: number };

/** One revision of a DaemonSet as its controller recorded it. */
export interface DaemonSetRevision {
  /** The ControllerRevision's name. */
  name: string;
  /** Its hash: the pods that run it carry it as REVISION_LABEL. */
  hash: string;
  template: PodTemplate;
  /** The DaemonSet's template generation when it was recorded, if it says. */
  generation?: string;
}

/**
 * A ControllerRevision of this DaemonSet read as a revision: owned by it (by uid), hashed, and
 * holding the template (the controller stores `{"spec":{"template":{..., "$patch":"replace"}}}`).
 */
export function daemonSetRevision(cr: ControllerRevision, ownerUid: string | undefined): DaemonSetRevision | undefined {
  const owned = cr.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.uid === ownerUid && o.controller !== false);
  const hash = cr.metadata.labels?.[REVISION_LABEL];
  const template = (cr.data as { spec?: { template?: Record<string, unknown> } } | undefined)?.spec?.template;
  if (!owned || !hash || typeof template !== 'object' || template === null) return undefined;
  const { $patch: _directive, ...rest } = template;
  const generation = cr.metadata.annotations?.[TEMPLATE_GENERATION_ANNOTATION];
  return { name: cr.metadata.name, hash, template: rest as PodTemplate, ...(generation ? { generation } : {}) };
}
