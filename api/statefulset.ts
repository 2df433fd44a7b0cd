// Facts about StatefulSets (docs/workloads.md): the freeze is the rolling update's partition. Pods
// with an ordinal at or above it run the template (updateRevision), the others keep the revision
// they had (currentRevision), and a pod below it that is recreated comes back on currentRevision.
// So the canary is the highest ordinals, released by lowering the partition to 0, and rolled back
// by raising it again and recreating the ordinals that took the candidate.
import { canaryShare } from './canary-share.js';
import { type RolloutProgress, type StatefulSet, statusIsCurrent } from './workload.js';

/**
 * The partition of a frozen StatefulSet: the largest the API takes, so no ordinal takes the new
 * template whatever its replica count becomes (an HPA scaling it up mid-freeze included).
 */
export const FROZEN_PARTITION = 2_147_483_647;

/** The label the StatefulSet controller puts on every pod: the ControllerRevision it runs. */
export const REVISION_LABEL = 'controller-revision-hash';

export const replicasOf = (s: StatefulSet) => s.spec.replicas ?? 1;
export const partitionOf = (s: StatefulSet) => s.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
export const usesOnDelete = (s: { spec: { updateStrategy?: { type?: string } } }) => s.spec.updateStrategy?.type === 'OnDelete';

/** How many of the highest ordinals run the candidate at a traffic weight (api/canary-share.ts). */
export const canaryOrdinals = (replicas: number, weight: number) => canaryShare(replicas, weight);

/** The partition that puts `canary` ordinals on the candidate. */
export const partitionFor = (replicas: number, canary: number) => Math.max(0, replicas - canary);

/** Its own rollout of the current template: every ordinal on it and enough of them ready. */
export function statefulSetProgress(s: StatefulSet, thresholdPercent = 100): RolloutProgress {
  const desired = replicasOf(s);
  const st = s.status ?? {};
  const updated = st.updatedReplicas ?? 0;
  const available = Math.min(st.readyReplicas ?? 0, updated);
  const complete = st.currentRevision !== undefined && st.currentRevision === st.updateRevision;
  const enough = desired === 0 ? true : (available * 100) / desired >= thresholdPercent;
  const done = statusIsCurrent(s) && partitionOf(s) === 0 && complete && updated >= desired && enough;
  return { done, updated, available, desired };
}

/**
 * The canary's readiness: `want` of the highest ordinals on the template (the partition lowered
 * to them, the controller's status current) and every pod ready, primary and canary alike.
 */
export function canaryOrdinalsProgress(s: StatefulSet, want: number, thresholdPercent = 100): RolloutProgress {
  const replicas = replicasOf(s);
  const st = s.status ?? {};
  const updated = st.updateRevision === st.currentRevision ? replicas : (st.updatedReplicas ?? 0);
  const ready = st.readyReplicas ?? 0;
  const available = Math.max(0, Math.min(want, updated, ready - (replicas - want)));
  const enough = want === 0 ? true : (available * 100) / want >= thresholdPercent;
  const lowered = partitionOf(s) <= partitionFor(replicas, want);
  return { done: statusIsCurrent(s) && lowered && updated >= want && enough, updated, available, desired: want };
}
