// A DaemonSet's canary (docs/workloads.md, "DaemonSets"): its own pods on a share of its nodes.
// Frozen, it updates OnDelete, so a pod changes revision only when deleted; this module chooses
// the canary nodes, records them on the DaemonSet (the webhook reads them when it admits the
// recreated pods) and deletes the pods that run the wrong revision for their node: on a canary
// node anything but the candidate, elsewhere anything but the stable revision. Recreated, each
// comes back as it should (the webhook gives pods off the canary nodes the stable template).
import { annotations as A, objectName } from '../api/contract.js';
import { canaryNodesOf, type DaemonSetRevision, nodeOfPod, REVISION_LABEL } from '../api/daemonset.js';
import { DaemonSetRevisions, type RevisionLister } from '../api/daemonset-revisions.js';
import { templatePart, templateRevision } from '../api/revision.js';
import { type DaemonSet, labelSelectorOf, statusIsCurrent } from '../api/workload.js';
import { at, type KubeObject, type ObjectClient, R } from '../lib/kube/client.js';
import type { Logger } from '../lib/logger.js';
import type { PodLister } from './statefulset-ordinals.js';

/** The ControllerRevision hashes of the stable revision and of the template now (undefined until its controller has recorded it). */
export interface DaemonSetHashes {
  stable?: string;
  candidate?: string;
}

type Pod = KubeObject & { spec?: unknown; metadata: { deletionTimestamp?: string } };

/** DaemonSets whose revisions are kept in memory (they never change once written). */
const MAX_KEPT = 1000;

/**
 * How long a node's pod, recreated because it ran the candidate off the canary nodes, is left as
 * it comes back before it is recreated again. It comes back stable through the webhook; when it
 * does not (the webhook unreachable: its failurePolicy is Ignore), recreating it at once would only
 * churn the node's daemon.
 */
export const RETRY_OFF_CANARY_MS = 30_000;

/**
 * The canary nodes for `count`: the recorded ones that still run the DaemonSet first (a step adds
 * nodes, it never moves the canary), then the others in name order, so every pass agrees.
 */
export function chooseCanaryNodes(recorded: string[], eligible: string[], count: number): string[] {
  const chosen = recorded.filter((n) => eligible.includes(n)).slice(0, count);
  for (const n of [...eligible].sort()) {
    if (chosen.length >= count) break;
    if (!chosen.includes(n)) chosen.push(n);
  }
  return chosen.sort();
}

/** The pods to recreate: on a canary node, not the candidate; on any other node, not the stable revision. */
export function wrongRevision(pods: Pod[], canaryNodes: string[], hashes: DaemonSetHashes): Pod[] {
  return pods.filter((p) => {
    const node = nodeOfPod(p);
    const hash = p.metadata.labels?.[REVISION_LABEL];
    if (node === undefined || hash === undefined) return false;
    const want = canaryNodes.includes(node) ? hashes.candidate : hashes.stable;
    return want !== undefined && hash !== want;
  });
}

const selectorOf = (ds: DaemonSet) => labelSelectorOf(ds.spec.selector.matchLabels);

export class DaemonSetNodes {
  private readonly revisions: DaemonSetRevisions | undefined;
  /** `<DaemonSet uid>/<node>` → when its pod was last recreated for running the candidate off the canary nodes. */
  private readonly recreatedOff = new Map<string, number>();

  constructor(
    private readonly client: ObjectClient,
    private readonly listPods: PodLister | undefined,
    listRevisions: RevisionLister | undefined,
    private readonly logger: Logger,
  ) {
    this.revisions = listRevisions ? new DaemonSetRevisions(listRevisions, MAX_KEPT) : undefined;
  }

  /** The hashes of the stable revision and of the template now, read from its ControllerRevisions when not known. */
  async hashes(ds: DaemonSet, stable: string | undefined): Promise<DaemonSetHashes> {
    const uid = ds.metadata.uid ?? '';
    const stableTemplate = templatePart(stable);
    const now = templateRevision(ds.spec.template);
    const find = (revs: DaemonSetRevision[] | undefined) => ({
      stable: revs?.find((r) => templateRevision(r.template) === stableTemplate)?.hash,
      candidate: revs?.find((r) => templateRevision(r.template) === now)?.hash,
    });
    if (!this.revisions)
      throw new Error(`no ControllerRevision lister: the controller cannot tell the revisions of DaemonSet ${ds.metadata.name}`);
    const revs = await this.revisions.of(ds.metadata.namespace!, uid, selectorOf(ds), (kept) => {
      const f = find(kept);
      return (f.stable !== undefined || stableTemplate === undefined) && f.candidate !== undefined;
    });
    const found = find(revs);
    return found;
  }

  /** Released or handed back: no node is a canary node any more (its status is not read: a released DaemonSet rolls every node itself). */
  async clear(ds: DaemonSet): Promise<void> {
    if (canaryNodesOf(ds).length === 0) return;
    await this.client.patch(at(R.daemonsets, ds.metadata.namespace!, ds.metadata.name), {
      metadata: { annotations: { [A.canaryNodes]: null } },
    });
  }

  /**
   * Brings the DaemonSet's canary to `count` nodes: chosen, recorded, and their pods (and the
   * others) on the right revision. Its status says when nothing is to do (as many pods run the
   * template as there are recorded canary nodes, and that is `count`), so a DaemonSet at rest
   * costs no request. Answers how soon to come back when a pod was left as it is for now.
   */
  async converge(ds: DaemonSet, count: number, hashes: DaemonSetHashes, now = Date.now()): Promise<number | undefined> {
    const recorded = canaryNodesOf(ds);
    const updated = ds.status?.updatedNumberScheduled ?? 0;
    if (statusIsCurrent(ds) && recorded.length === count && updated === count) return undefined;
    if (!this.listPods) throw new Error(`no pod lister: the controller cannot choose the canary nodes of DaemonSet ${ds.metadata.name}`);
    const ns = ds.metadata.namespace!;
    const selector = selectorOf(ds);
    if (selector === '') return undefined;
    const owned = ((await this.listPods(ns, selector)) as Pod[]).filter(
      (p) => p.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet' && o.uid === ds.metadata.uid) ?? false,
    );
    // The nodes it runs on: a pod being replaced still counts for its node, and so does a
    // recorded canary node between a pod's deletion and its successor (the canary never moves
    // because a pod is briefly missing); only a node that is gone leaves the canary.
    const eligible = new Set(owned.flatMap((p) => nodeOfPod(p) ?? []));
    for (const n of recorded) if (!eligible.has(n) && (await this.client.find(at(R.nodes, undefined, n)))) eligible.add(n);
    const chosen = chooseCanaryNodes(recorded, [...eligible], count);
    const pods = owned.filter((p) => p.metadata.deletionTimestamp === undefined);
    const key = `${ns}/${ds.metadata.name}`;
    if (chosen.join(',') !== recorded.join(',')) {
      // Recorded before any pod is deleted: the webhook reads it when it admits the recreated pods.
      await this.client.patch(at(R.daemonsets, ns, ds.metadata.name), {
        metadata: { annotations: { [A.canaryNodes]: chosen.length > 0 ? chosen.join(',') : null } },
      });
      this.logger.info(`canary nodes of ${objectName(ds.metadata.name, ns)}: ${chosen.join(', ') || 'none'}`, { key });
    }
    for (const [k, at_] of this.recreatedOff) if (now - at_ >= RETRY_OFF_CANARY_MS) this.recreatedOff.delete(k);
    // A canary node's pod runs the candidate by design: what happened to it before says nothing.
    for (const n of chosen) this.recreatedOff.delete(`${ds.metadata.uid}/${n}`);
    let retry: number | undefined;
    for (const pod of wrongRevision(pods, chosen, hashes)) {
      const node = nodeOfPod(pod)!;
      const canaryNode = chosen.includes(node);
      const mark = `${ds.metadata.uid}/${node}`;
      const last = this.recreatedOff.get(mark);
      // Only the pod that came back after that deletion (creation times have whole seconds).
      const cameBack = last !== undefined && Date.parse(pod.metadata.creationTimestamp ?? '') >= last - 1000;
      if (!canaryNode && last !== undefined && cameBack) {
        const wait = RETRY_OFF_CANARY_MS - (now - last);
        retry = Math.min(retry ?? wait, wait);
        this.logger.warn(
          `${pod.metadata.name} on ${node} came back on the candidate ${pod.metadata.labels?.[REVISION_LABEL]} although ${node} is not a canary node of ${objectName(ds.metadata.name, ns)}: the webhook did not give it the stable template (is sluice-webhook's /mutate-daemon-pod reachable?); recreating it again in ${Math.ceil(wait / 1000)} s`,
          { key },
        );
        continue;
      }
      await this.client.delete(at(R.pods, ns, pod.metadata.name));
      if (!canaryNode) this.recreatedOff.set(mark, now);
      this.logger.info(
        `recreating ${pod.metadata.name} on ${node}: it runs ${pod.metadata.labels?.[REVISION_LABEL]}, ${canaryNode ? `a canary node, whose pod must run the candidate ${hashes.candidate}` : `not a canary node, whose pod must run the stable ${hashes.stable}`}`,
        { key },
      );
    }
    return retry;
  }
}
