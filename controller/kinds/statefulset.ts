// A StatefulSet is its own canary: its highest ordinals run the candidate (api/statefulset.ts).
// While the revision under test is analysed, the partition exposes as many of them as the weight
// asks for; released, it is 0; otherwise (waiting, rolled back, abandoned) it is FROZEN_PARTITION,
// and any ordinal below it that runs another revision than the stable one is recreated.

import { canaryOrdinals, FROZEN_PARTITION, partitionFor, partitionOf, REVISION_LABEL, replicasOf } from '../../api/statefulset.js';
import { type StatefulSet, statusIsCurrent } from '../../api/workload.js';
import { KINDS } from '../../api/workload-kinds.js';
import { ownPodsWant } from './own-pods.js';
import type { WorkloadDriver } from './workload-driver.js';

export const statefulSetDriver: WorkloadDriver = {
  ...KINDS.StatefulSet,
  read: (caches, ns, name) => caches.statefulsets.get(ns, name),
  desired(canary, status, target) {
    const { canaryWeight, want } = ownPodsWant(canary, status, target);
    if (!want) return { canaryWeight, target: undefined };
    const { held, testing, labels, annotations } = want;
    const replicas = replicasOf(target as StatefulSet);
    const partition = !held ? 0 : testing ? partitionFor(replicas, canaryOrdinals(replicas, canaryWeight)) : FROZEN_PARTITION;
    return { canaryWeight, target: { paused: held, partition, labels, annotations } };
  },
  // Told apart by the revision its controller labels each pod with: undefined until its status
  // speaks of the current template (selecting by a stale revision would send traffic to the wrong pods).
  selectors: (target) => {
    const selector = target.spec.selector.matchLabels ?? {};
    const st = (target as StatefulSet).status;
    if (!statusIsCurrent(target as StatefulSet) || !st?.currentRevision || !st.updateRevision) return undefined;
    return { primary: { ...selector, [REVISION_LABEL]: st.currentRevision }, canary: { ...selector, [REVISION_LABEL]: st.updateRevision } };
  },
  revisionHashes: async () => undefined,
  // Ordinals below the partition that run neither the stable revision nor (released) the
  // template: a rolled-back canary, a revert, a newer revision mid-analysis. Recreated, they come
  // back on the stable revision.
  async afterTargetWrite(writers, target, want) {
    if (want?.partition !== undefined) await writers.ordinals.recreateStrays(target as StatefulSet, want.partition);
    return undefined;
  },
  // Its partition is sluice's while it manages it: handed back at 0 (every ordinal on the
  // template) once tested, left frozen otherwise. Its template is never the controller's to write.
  handBack: (target, tested) => ({
    spec: tested && partitionOf(target as StatefulSet) !== 0 ? { updateStrategy: { rollingUpdate: { partition: 0 } } } : {},
    annotations: {},
  }),
};
