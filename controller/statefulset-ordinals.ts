// The one write a StatefulSet's partition cannot make: an ordinal below the partition that runs
// another revision than the stable one (the canary of a rolled-back or abandoned revision, or of
// one replaced mid-analysis) stays as it is until its pod is recreated; the StatefulSet controller
// then creates it from the stable revision. So those pods are deleted, and only those.
import { objectName } from '../api/contract.js';
import { REVISION_LABEL, replicasOf } from '../api/statefulset.js';
import { labelSelectorOf, type StatefulSet, statusIsCurrent } from '../api/workload.js';
import { at, type KubeObject, type ObjectClient, R } from '../lib/kube/client.js';
import type { Logger } from '../lib/logger.js';

/** Pods of a namespace matching a label selector (`k=v,k2=v2`), read from the apiserver. */
export type PodLister = (namespace: string, labelSelector: string) => Promise<KubeObject[]>;

type Pod = KubeObject & { metadata: { deletionTimestamp?: string } };

/** The ordinal in a StatefulSet pod's name (`<set>-<ordinal>`), or undefined for any other name. */
export function ordinalOf(setName: string, podName: string): number | undefined {
  if (!podName.startsWith(`${setName}-`)) return undefined;
  const rest = podName.slice(setName.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}

/**
 * The pods to recreate: owned by this StatefulSet, below the partition, not being deleted, and
 * labelled with another revision than currentRevision.
 */
export function strayOrdinals(set: StatefulSet, partition: number, pods: Pod[]): Pod[] {
  const current = set.status?.currentRevision;
  if (!current) return [];
  return pods.filter((p) => {
    const ordinal = ordinalOf(set.metadata.name, p.metadata.name);
    const owned = p.metadata.ownerReferences?.some((o) => o.kind === 'StatefulSet' && o.uid === set.metadata.uid) ?? false;
    return (
      owned &&
      ordinal !== undefined &&
      ordinal < partition &&
      p.metadata.deletionTimestamp === undefined &&
      p.metadata.labels?.[REVISION_LABEL] !== current
    );
  });
}

export class StatefulSetOrdinals {
  constructor(
    private readonly client: ObjectClient,
    private readonly listPods: PodLister | undefined,
    private readonly logger: Logger,
  ) {}

  /**
   * Recreates the ordinals below `partition` that run another revision. The StatefulSet's status
   * says when there may be one (fewer pods on currentRevision than ordinals below the partition),
   * so a set at rest costs no request.
   */
  async recreateStrays(set: StatefulSet, partition: number): Promise<number> {
    if (!statusIsCurrent(set) || !set.status?.currentRevision) return 0;
    const below = Math.min(partition, replicasOf(set));
    if ((set.status.currentReplicas ?? 0) >= below) return 0;
    if (!this.listPods) throw new Error('no pod lister: the controller cannot recreate the canary ordinals of a StatefulSet');
    const ns = set.metadata.namespace!;
    const selector = labelSelectorOf(set.spec.selector.matchLabels);
    if (selector === '') return 0;
    const strays = strayOrdinals(set, partition, (await this.listPods(ns, selector)) as Pod[]);
    for (const pod of strays) {
      await this.client.delete(at(R.pods, ns, pod.metadata.name));
      this.logger.info(
        `recreating ${pod.metadata.name}: it runs ${pod.metadata.labels?.[REVISION_LABEL]}, below the partition (${partition}) of ${objectName(set.metadata.name, ns)} whose stable revision is ${set.status.currentRevision}`,
        { key: `${ns}/${set.metadata.name}` },
      );
    }
    return strays.length;
  }
}
