// Which Canaries a change of another object concerns, so the work queue wakes exactly those.
// Generated objects carry their Canary's name in a label; targets and autoscalers are found
// through the Canaries that reference them. A change that touched only the status of a generated
// object or an autoscaler (a gateway's route status, an HPA's metrics) cannot change a decision
// and wakes nobody; a target's status can (its rollout), so it always wakes
// its Canary.
import { labels as L } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import type { KubeObject } from '../lib/kube/client.js';
import { type ChangeType, changedBeyondStatus } from '../lib/kube/informer.js';

export type WatchedKind = 'deployment' | 'statefulset' | 'daemonset' | 'service' | 'endpointslice' | 'route' | 'hpa';

const keyOf = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;

/** What in a Canary's spec names an object of this kind. */
const REFERENCE: Partial<Record<WatchedKind, (c: Canary) => string | undefined>> = {
  deployment: (c) => ((c.spec.targetRef?.kind ?? 'Deployment') === 'Deployment' ? c.spec.targetRef?.name : undefined),
  statefulset: (c) => (c.spec.targetRef?.kind === 'StatefulSet' ? c.spec.targetRef.name : undefined),
  daemonset: (c) => (c.spec.targetRef?.kind === 'DaemonSet' ? c.spec.targetRef.name : undefined),
  hpa: (c) => c.spec.autoscalerRef?.name,
};

/** Kinds a Canary targets: their status is their rollout, so a status change wakes the Canary. */
const TARGETS: ReadonlySet<WatchedKind> = new Set(['deployment', 'statefulset', 'daemonset']);

export function canariesConcerned(
  kind: WatchedKind,
  type: ChangeType,
  obj: KubeObject,
  old: KubeObject | undefined,
  canaries: Canary[],
): string[] {
  if (!TARGETS.has(kind) && type === 'MODIFIED' && !changedBeyondStatus(old, obj)) return [];
  const owner = obj.metadata.labels?.[L.canaryName];
  const byLabel = owner ? [`${obj.metadata.namespace}/${owner}`] : [];
  const refOf = REFERENCE[kind];
  const referencing = refOf
    ? canaries.filter((c) => c.metadata.namespace === obj.metadata.namespace && refOf(c) === obj.metadata.name).map(keyOf)
    : [];
  return [...new Set([...byLabel, ...referencing])];
}
