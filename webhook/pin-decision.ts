// Pinning a primary pod to its Deployment's config snapshots (docs/tracked-configs.md): a pod a
// managed Deployment's ReplicaSet creates reads the snapshots of the released ConfigMaps and
// Secrets, not the live objects, so an in-place edit cannot reach it before analysis. Pure.
import { labels as L, values } from '../api/contract.js';
import { rewriteRefs } from '../api/tracked-configs.js';
import type { AdmissionRequest } from './admission-types.js';

export type PinDecision =
  | { pinned: false; reason: string }
  | { pinned: true; pod: Record<string, unknown>; deployment: string; renamed: number };

interface Pod {
  metadata?: { labels?: Record<string, string>; ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] };
  spec?: unknown;
}

/** The Deployment behind a ReplicaSet-owned pod: the ReplicaSet is named `<deployment>-<pod-template-hash>`. */
export function deploymentOf(pod: Pod): string | undefined {
  const rs = pod.metadata?.ownerReferences?.find((o) => o.kind === 'ReplicaSet' && o.controller !== false)?.name;
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (!rs || !hash || !rs.endsWith(`-${hash}`)) return undefined;
  return rs.slice(0, -(hash.length + 1));
}

export function decidePin(
  req: AdmissionRequest,
  pins: (namespace: string, deployment: string) => Record<string, string> | undefined,
): PinDecision {
  if (req.operation !== 'CREATE' || req.kind.kind !== 'Pod' || (req.subResource ?? '') !== '')
    return { pinned: false, reason: 'not a pod creation' };
  const pod = req.object as Pod | undefined;
  if (typeof pod !== 'object' || pod === null) throw new Error('the request carries no Pod');
  // Canary and baseline pods come from sluice's copies, whose templates name the snapshots already.
  const role = pod.metadata?.labels?.[L.role];
  if (role === values.canaryRole || role === values.baselineRole) return { pinned: false, reason: `a ${role} pod` };
  const deployment = deploymentOf(pod);
  if (!deployment) return { pinned: false, reason: 'not created by a Deployment' };
  const map = pins(req.namespace ?? '', deployment);
  if (!map || Object.keys(map).length === 0) return { pinned: false, reason: `Deployment ${deployment} has no tracked configs` };
  const spec = rewriteRefs(pod.spec, map);
  const renamed = Object.keys(map).length;
  return { pinned: true, pod: { ...(pod as Record<string, unknown>), spec }, deployment, renamed };
}
