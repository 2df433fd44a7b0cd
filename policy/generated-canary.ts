// The Canary a ClusterCanaryPolicy generates for one Deployment. Pure; the namespace pass compares
// its template hash with the live one and writes only when they differ.
import crypto from 'node:crypto';
import { GROUP, labels as L, MANAGED_BY } from '../api/contract.js';
import { type Canary, type CanarySpec, FLAGGER_GROUP, FLAGGER_VERSION } from '../api/flagger-types.js';
import { type ClusterCanaryPolicy, POLICY_KIND, POLICY_VERSION } from '../api/policy-types.js';
import type { HorizontalPodAutoscaler, Workload, WorkloadKind } from '../api/workload.js';
import { KINDS } from '../api/workload-kinds.js';

/** Hash of the generated spec and ownership: equal hashes mean nothing to write. */
export const TEMPLATE_HASH = `${GROUP}/template-hash`;

export function policyOwnerReference(policy: ClusterCanaryPolicy) {
  // blockOwnerDeletion false: the policy's deletion is never held up by its Canaries' finalizers.
  return {
    apiVersion: `${GROUP}/${POLICY_VERSION}`,
    kind: POLICY_KIND,
    name: policy.metadata.name,
    uid: policy.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: false,
  };
}

function firstContainerPort(d: Workload): number | undefined {
  const containers = (d.spec.template.spec as { containers?: { ports?: { containerPort?: number }[] }[] } | undefined)?.containers ?? [];
  for (const c of containers) for (const p of c.ports ?? []) if (typeof p.containerPort === 'number') return p.containerPort;
  return undefined;
}

const expandHost = (pattern: string, d: Workload) =>
  pattern.replaceAll('{name}', d.metadata.name).replaceAll('{namespace}', d.metadata.namespace ?? '');

export type GeneratedCanary = { canary: Canary } | { problem: string };

export function generatedCanary(
  policy: ClusterCanaryPolicy,
  d: Workload,
  hpas: HorizontalPodAutoscaler[],
  kind: WorkloadKind = 'Deployment',
): GeneratedCanary {
  const tpl = policy.spec.canaryTemplate ?? {};
  const { hostPattern, ...service } = structuredClone(tpl.service ?? {});
  const port = service.port ?? firstContainerPort(d);
  if (port === undefined) {
    return { problem: `no containerPort in the pod template and no canaryTemplate.service.port in the policy; add a port to one of them` };
  }
  const hosts = [...(service.hosts ?? []), ...(hostPattern ? [expandHost(hostPattern, d)] : [])];
  // The target's own autoscaler keeps working on the primary; the canary copy gets a copy of it.
  // A kind without a copy is scaled as it is by its autoscaler (a DaemonSet has none).
  const hpa = hpas.find(
    (h) =>
      KINDS[kind].hasCopy &&
      h.metadata.namespace === d.metadata.namespace &&
      h.spec.scaleTargetRef.kind === kind &&
      h.spec.scaleTargetRef.name === d.metadata.name,
  );
  const spec: CanarySpec = {
    targetRef: { apiVersion: 'apps/v1', kind, name: d.metadata.name },
    ...(hpa ? { autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: hpa.metadata.name } } : {}),
    service: { ...service, port, ...(hosts.length > 0 ? { hosts } : {}) },
    ...(tpl.analysis ? { analysis: structuredClone(tpl.analysis) } : {}),
    ...(tpl.progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds: tpl.progressDeadlineSeconds } : {}),
  };
  const owner = policyOwnerReference(policy);
  const hash = crypto
    .createHash('sha256')
    .update(JSON.stringify([spec, owner.uid, policy.metadata.name]))
    .digest('hex')
    .slice(0, 16);
  return {
    canary: {
      apiVersion: `${FLAGGER_GROUP}/${FLAGGER_VERSION}`,
      kind: 'Canary',
      metadata: {
        name: d.metadata.name,
        namespace: d.metadata.namespace,
        labels: { ...MANAGED_BY, [L.policy]: policy.metadata.name },
        annotations: { [TEMPLATE_HASH]: hash },
        ownerReferences: [owner],
      },
      spec,
    },
  };
}
