// The stable template for a frozen DaemonSet's pods off its canary nodes (docs/workloads.md,
// "DaemonSets"). A frozen DaemonSet updates OnDelete, but any pod it creates (a node that joins,
// an evicted pod, a canary node rolled back) is created from its template, the candidate. Here
// such a pod gets the stable template instead, unless it is for a canary node. The change is the
// difference between the two templates as the DaemonSet controller recorded them, applied to the
// pod: what the controller adds to every pod (node affinity, tolerations) and what admission
// added before this webhook (service account volumes) stays as it is.
import jsonPatch from 'fast-json-patch';
import { annotations as A, objectName, shortRevision } from '../api/contract.js';
import { canaryNodesOf, type DaemonSetRevision, nodeOfPod, REVISION_LABEL, TEMPLATE_GENERATION_LABEL } from '../api/daemonset.js';
import { templatePart, templateRevision } from '../api/revision.js';
import { labelSelectorOf } from '../api/workload.js';
import type { AdmissionRequest } from './admission-types.js';

/** What the webhook keeps of a managed DaemonSet (admission-cache.ts). */
export interface DaemonSetFacts {
  uid?: string;
  /** The stable-revision annotation (template part). */
  stable?: string;
  /** templateRevision of its template now. */
  template: string;
  canaryNodes: string[];
  /** Its selector's matchLabels as a label selector (its ControllerRevisions carry them too). */
  selector: string;
}

export interface DaemonPodSources {
  /** From the cache: undefined when it is not a managed DaemonSet. */
  managed(namespace: string, name: string): DaemonSetFacts | undefined;
  /** From the apiserver: the canary nodes as last written (the cache may not have seen a new one yet). */
  fresh(namespace: string, name: string): Promise<DaemonSetFacts | undefined>;
  /** Its ControllerRevisions; `need` is a hash that must be among them (a cached list without it is read again). */
  revisions(namespace: string, uid: string, need: string, selector: string): Promise<DaemonSetRevision[]>;
}

export type DaemonPodDecision =
  | { swapped: false; reason: string }
  | { swapped: true; pod: Record<string, unknown>; note: string }
  | { refused: true; code: number; message: string };

interface Pod {
  metadata?: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; uid?: string; controller?: boolean }[];
  };
  spec?: unknown;
}

const pass = (reason: string): DaemonPodDecision => ({ swapped: false, reason });

const frozen = (d: DaemonSetFacts) => d.stable !== undefined && templatePart(d.stable) !== d.template;

export async function decideDaemonPod(req: AdmissionRequest, sources: DaemonPodSources): Promise<DaemonPodDecision> {
  if (req.operation !== 'CREATE' || req.kind.kind !== 'Pod' || (req.subResource ?? '') !== '') return pass('not a pod creation');
  const pod = req.object as Pod | undefined;
  if (typeof pod !== 'object' || pod === null) throw new Error('the request carries no Pod');
  // Read as it comes: the apiserver has decoded it, but a field of the wrong shape is still "none", not a crash.
  const refs: unknown = pod.metadata?.ownerReferences;
  const owner = (Array.isArray(refs) ? (refs as NonNullable<Pod['metadata']>['ownerReferences']) : [])?.find(
    (o) => typeof o === 'object' && o !== null && o.kind === 'DaemonSet' && o.controller === true,
  );
  if (!owner?.name) return pass('not created by a DaemonSet');
  const ns = req.namespace ?? '';
  const cached = sources.managed(ns, owner.name);
  if (!cached || (cached.uid !== undefined && owner.uid !== undefined && cached.uid !== owner.uid))
    return pass(`DaemonSet ${owner.name} is not managed by sluice`);
  if (!frozen(cached)) return pass(`DaemonSet ${owner.name} runs its stable revision`);
  const node = nodeOfPod(pod);
  if (node === undefined) return pass('the pod names no node');
  if (cached.canaryNodes.includes(node)) return pass(`${node} is a canary node of DaemonSet ${owner.name}`);
  // The cache may lag the controller's choice of a new canary node by a moment: ask once more.
  const ds = await sources.fresh(ns, owner.name);
  if (!ds || !frozen(ds)) return pass(`DaemonSet ${owner.name} runs its stable revision`);
  if (ds.canaryNodes.includes(node)) return pass(`${node} is a canary node of DaemonSet ${owner.name}`);

  const name = objectName(owner.name, ns);
  const podHash = pod.metadata?.labels?.[REVISION_LABEL];
  if (!podHash) return pass('the pod carries no revision hash');
  const revisions = await sources.revisions(ns, ds.uid ?? owner.uid ?? '', podHash, ds.selector);
  const stable = revisions.find((r) => templateRevision(r.template) === templatePart(ds.stable));
  if (!stable) {
    return {
      refused: true,
      code: 503,
      message: `sluice: DaemonSet ${name} is frozen at revision ${shortRevision(ds.stable)}, but none of its ControllerRevisions holds that template, so this pod for ${node} cannot be given it; the DaemonSet controller retries. If it persists, restore the template or delete Canary ${name}'s hold (kubectl sluice why daemonset/${owner.name})`,
    };
  }
  if (podHash === stable.hash) return pass('the pod runs the stable revision');
  const source = revisions.find((r) => r.hash === podHash);
  if (!source) {
    return {
      refused: true,
      code: 503,
      message: `sluice: DaemonSet ${name} has no ControllerRevision for the hash ${podHash} this pod for ${node} carries; the DaemonSet controller retries`,
    };
  }
  // The pod as its template made it, with what others added: the templates' difference applies.
  const part = { metadata: { labels: { ...pod.metadata?.labels }, annotations: { ...pod.metadata?.annotations } }, spec: pod.spec };
  const from = { metadata: { labels: {}, annotations: {}, ...source.template.metadata }, spec: source.template.spec };
  const to = { metadata: { labels: {}, annotations: {}, ...stable.template.metadata }, spec: stable.template.spec };
  let swapped: typeof part;
  try {
    swapped = jsonPatch.applyPatch(jsonPatch.deepClone(part), jsonPatch.compare(from, to), true, false).newDocument;
  } catch (err) {
    // fast-json-patch's message carries the whole document after its first line: not for a refusal.
    return {
      refused: true,
      code: 500,
      message: `sluice: could not give this pod of DaemonSet ${name} for ${node} its stable template: ${(err as Error).message.split('\n')[0]}; the DaemonSet controller retries`,
    };
  }
  const labels: Record<string, string> = { ...swapped.metadata.labels, [REVISION_LABEL]: stable.hash };
  // The DaemonSet controller counts a pod as updated by its hash or by this generation: both must
  // say stable, or a release would leave the pod on the stable template for ever.
  if (stable.generation !== undefined) labels[TEMPLATE_GENERATION_LABEL] = stable.generation;
  else delete labels[TEMPLATE_GENERATION_LABEL];
  const annotations = swapped.metadata.annotations;
  const meta: Record<string, unknown> = { ...pod.metadata, labels };
  if (Object.keys(annotations).length > 0) meta.annotations = annotations;
  else delete meta.annotations;
  return {
    swapped: true,
    pod: { ...(pod as Record<string, unknown>), metadata: meta, spec: swapped.spec },
    note: `given the stable template ${shortRevision(ds.stable)} of DaemonSet ${name}: ${node} is not one of its canary nodes (${ds.canaryNodes.join(', ') || 'none'})`,
  };
}

/** The facts of a DaemonSet object (from the cache's transform, or a fresh read). */
export function daemonSetFacts(d: {
  metadata: { uid?: string; annotations?: Record<string, string> };
  spec?: { template?: unknown; selector?: { matchLabels?: Record<string, string> } };
}): DaemonSetFacts {
  return {
    ...(d.metadata.uid ? { uid: d.metadata.uid } : {}),
    ...(d.metadata.annotations?.[A.stableRevision] ? { stable: d.metadata.annotations[A.stableRevision] } : {}),
    template: templateRevision(d.spec?.template),
    canaryNodes: canaryNodesOf(d),
    selector: labelSelectorOf(d.spec?.selector?.matchLabels),
  };
}
