// Which Canaries a change of another object concerns, so the work queue wakes exactly those.
// Generated objects carry their Canary's name in a label; targets and autoscalers are found
// through the Canaries that reference them. A change that touched only the status of a generated
// object or an autoscaler (a gateway's route status, an HPA's metrics) cannot change a decision
// and wakes nobody; a target's status can (its rollout), so it always wakes
// its Canary.

import { type CanaryAction, isPending } from '../api/canary-action.js';
import { labels as L } from '../api/contract.js';
import type { Canary, MetricTemplate } from '../api/flagger-types.js';
import { targetKind, type WorkloadKind } from '../api/workload.js';
import type { KubeObject } from '../lib/kube/client.js';
import { type ChangeType, changedBeyondStatus } from '../lib/kube/informer.js';

export type WatchedKind = 'deployment' | 'statefulset' | 'daemonset' | 'service' | 'endpointslice' | 'route' | 'hpa';

const keyOf = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;

/** What in a Canary's spec names an object of this kind. */
const targetOfKind = (kind: WorkloadKind) => (c: Canary) =>
  c.spec.targetRef && targetKind(c.spec.targetRef) === kind ? c.spec.targetRef.name : undefined;
const REFERENCE: Partial<Record<WatchedKind, (c: Canary) => string | undefined>> = {
  deployment: targetOfKind('Deployment'),
  statefulset: targetOfKind('StatefulSet'),
  daemonset: targetOfKind('DaemonSet'),
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

/** Every Canary in a namespace (undefined: everywhere): what a policy or namespace change concerns. */
export function canariesIn(canaries: Canary[], namespace: string | undefined): string[] {
  return canaries.filter((c) => namespace === undefined || c.metadata.namespace === namespace).map(keyOf);
}

/** A new action wakes its Canary; the controller's own status write on it (no longer pending) wakes nobody. */
export function actionFor(a: CanaryAction): string[] {
  return isPending(a) && typeof a.spec?.canary === 'string' ? [`${a.metadata.namespace}/${a.spec.canary}`] : [];
}

/**
 * A tracked ConfigMap or Secret edited in place is a new revision of the workloads reading it:
 * the Canaries of its namespace look (a snapshot, labelled otherwise, concerns nobody).
 */
export function readersOf(config: KubeObject, canaries: Canary[]): string[] {
  if (config.metadata.labels?.[L.tracked] !== 'true') return [];
  return canariesIn(canaries, config.metadata.namespace);
}

/** The Canaries whose metrics use this MetricTemplate (a templateRef without a namespace means the Canary's own). */
export function usersOf(template: MetricTemplate, canaries: Canary[]): string[] {
  return canaries
    .filter((c) =>
      (c.spec.analysis?.metrics ?? []).some(
        (m) =>
          m.templateRef?.name === template.metadata.name &&
          (m.templateRef.namespace ?? c.metadata.namespace) === template.metadata.namespace,
      ),
    )
    .map(keyOf);
}
