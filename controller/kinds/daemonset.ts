// A DaemonSet is its own canary: its pods on a share of its nodes run the candidate
// (api/daemonset.ts). Frozen (its template not the released revision), it updates OnDelete, its
// own strategy set aside in an annotation (the webhook does this at admission; done again here
// should the webhook have been bypassed); while analysed, controller/daemonset-nodes.ts moves the
// candidate onto as many nodes as the weight asks for; released, its own strategy is back.
import { annotations as A } from '../../api/contract.js';
import { canaryNodeCount, FROZEN_STRATEGY, heldBySluice, heldStrategyOf, nodesOf } from '../../api/daemonset.js';
import { REVISION_LABEL } from '../../api/statefulset.js';
import type { DaemonSet, DaemonSetUpdateStrategy } from '../../api/workload.js';
import { KINDS } from '../../api/workload-kinds.js';
import { ownPodsWant } from './own-pods.js';
import type { WorkloadDriver } from './workload-driver.js';

export const daemonSetDriver: WorkloadDriver = {
  ...KINDS.DaemonSet,
  read: (caches, ns, name) => caches.daemonsets.get(ns, name),
  desired(canary, status, target) {
    const ds = target as DaemonSet;
    const { canaryWeight, want } = ownPodsWant(canary, status, target);
    if (!want) return { canaryWeight, target: undefined };
    const { held, testing, labels, annotations } = want;
    const sluiceHolds = heldBySluice(ds);
    let updateStrategy: DaemonSetUpdateStrategy | undefined;
    if (held && !sluiceHolds) {
      updateStrategy = FROZEN_STRATEGY;
      annotations[A.heldStrategy] = JSON.stringify(ds.spec.updateStrategy ?? { type: 'RollingUpdate' });
    } else if (!held && sluiceHolds) {
      updateStrategy = heldStrategyOf(ds);
      annotations[A.heldStrategy] = null;
    }
    return {
      canaryWeight,
      target: {
        paused: held,
        ...(updateStrategy ? { updateStrategy } : {}),
        canaryNodes: held && testing ? canaryNodeCount(nodesOf(ds), canaryWeight) : 0,
        labels,
        annotations,
      },
    };
  },
  // Frozen (hashes given): by revision hash, once both revisions are recorded. At rest every pod
  // runs the one revision: both select them all, as a StatefulSet's do.
  selectors: (target, hashes) => {
    const selector = target.spec.selector.matchLabels ?? {};
    if (!hashes) return { primary: selector, canary: selector };
    if (!hashes.stable || !hashes.candidate) return undefined;
    return { primary: { ...selector, [REVISION_LABEL]: hashes.stable }, canary: { ...selector, [REVISION_LABEL]: hashes.candidate } };
  },
  // A frozen DaemonSet's primary and canary pods are told apart by their revisions' hashes.
  revisionHashes: async (writers, target, want) =>
    want?.paused ? await writers.daemonNodes.hashes(target as DaemonSet, want.annotations[A.stableRevision] ?? undefined) : undefined,
  // Its canary nodes, and any pod on the wrong revision for its node: the canary nodes of a
  // rolled-back revision, a pod admitted while the webhook was down.
  async afterTargetWrite(writers, target, want, hashes) {
    if (!want) return undefined;
    if (hashes) return await writers.daemonNodes.converge(target as DaemonSet, want.canaryNodes ?? 0, hashes);
    await writers.daemonNodes.clear(target as DaemonSet);
    return undefined;
  },
  // Its own strategy back once tested; its canary nodes mean nothing without sluice's webhook.
  handBack: (target, tested) => {
    const annotations: Record<string, null> = { [A.canaryNodes]: null };
    const spec: Record<string, unknown> = {};
    if (tested && heldBySluice(target as DaemonSet)) {
      spec.updateStrategy = { rollingUpdate: null, ...heldStrategyOf(target as DaemonSet) };
      annotations[A.heldStrategy] = null;
    }
    return { spec, annotations };
  },
};
