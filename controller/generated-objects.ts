// The objects a Canary generates (docs/design.md, "Objects"), built as plain manifests.
// Pure: the reconciler compares them with what exists and writes only differences.
import { apexName } from '../api/canary-analysis.js';
import { annotations as A, labels as L, MANAGED_BY, names, values } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import { FLAGGER_GROUP, FLAGGER_VERSION } from '../api/flagger-types.js';
import type { Deployment, HorizontalPodAutoscaler, PodTemplate } from '../api/workload.js';
import type { KubeObject } from '../lib/kube/client.js';

export function ownerReference(canary: Canary) {
  return {
    apiVersion: `${FLAGGER_GROUP}/${FLAGGER_VERSION}`,
    kind: 'Canary',
    name: canary.metadata.name,
    uid: canary.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Metadata every generated object carries: sluice's labels and the Canary as controlling owner. */
export function generatedMeta(canary: Canary, name: string, extraLabels: Record<string, string> = {}) {
  return {
    name,
    namespace: canary.metadata.namespace,
    labels: { ...MANAGED_BY, [L.canaryName]: canary.metadata.name, ...extraLabels },
    ownerReferences: [ownerReference(canary)],
  };
}

export { apexName };

const suffixed = (selector: Record<string, string>, suffix: string) =>
  Object.fromEntries(Object.entries(selector).map(([k, v]) => [k, `${v}${suffix}`]));

/** Every value of the primary's selector labels gets `-canary`, so no canary pod is ever selected by the primary's selector (or the user's Services). */
export function canarySelector(primarySelector: Record<string, string>): Record<string, string> {
  return suffixed(primarySelector, '-canary');
}

/** The baseline's pods: `-baseline` on every selector value, as canarySelector does with `-canary`. */
export function baselineSelector(primarySelector: Record<string, string>): Record<string, string> {
  return suffixed(primarySelector, '-baseline');
}

/** Which generated workload a copy is: the candidate's (`-canary`) or the stable revision's fresh baseline (`-baseline`). */
export type CopyRole = 'canary' | 'baseline';

const ROLE = {
  canary: { selector: canarySelector, label: values.canaryRole, name: names.canaryCopy },
  baseline: { selector: baselineSelector, label: values.baselineRole, name: names.baselineCopy },
} as const;

export function canaryTemplate(template: PodTemplate, primarySelector: Record<string, string>, role: CopyRole = 'canary'): PodTemplate {
  const r = ROLE[role];
  const podLabels = { ...(template.metadata?.labels ?? {}), ...r.selector(primarySelector), [L.role]: r.label };
  return { ...template, metadata: { ...template.metadata, labels: podLabels } };
}

export function buildCanaryCopy(
  canary: Canary,
  target: Deployment,
  template: PodTemplate,
  revision: string,
  replicas: number,
  role: CopyRole = 'canary',
): Deployment {
  const r = ROLE[role];
  const selector = target.spec.selector.matchLabels ?? {};
  // Copy what shapes the rollout of the canary's own pods; never the target's paused flag.
  const { minReadySeconds, strategy, revisionHistoryLimit, progressDeadlineSeconds } = target.spec as Record<string, unknown>;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      ...generatedMeta(canary, r.name(target.metadata.name), { [L.role]: r.label }),
      annotations: { [A.revision]: revision },
    },
    spec: {
      replicas,
      selector: { matchLabels: r.selector(selector) },
      template: canaryTemplate(template, selector, role),
      ...(minReadySeconds !== undefined ? { minReadySeconds } : {}),
      ...(strategy !== undefined ? { strategy } : {}),
      ...(revisionHistoryLimit !== undefined ? { revisionHistoryLimit } : {}),
      ...(progressDeadlineSeconds !== undefined ? { progressDeadlineSeconds } : {}),
    },
  };
}

function servicePort(canary: Canary) {
  const s = canary.spec.service;
  return { name: s.portName ?? 'http', port: s.port, targetPort: s.targetPort ?? s.port, protocol: 'TCP' };
}

type ObjectMeta = { labels?: Record<string, string>; annotations?: Record<string, string> };

export function service(canary: Canary, name: string, selector: Record<string, string>, extra: ObjectMeta | undefined = undefined) {
  const m = generatedMeta(canary, name);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    // The Canary's service.apex / primary / canary metadata, under sluice's own labels.
    metadata: {
      ...m,
      labels: { ...(extra?.labels ?? {}), ...m.labels },
      ...(extra?.annotations ? { annotations: extra.annotations } : {}),
    },
    spec: { type: 'ClusterIP', selector, ports: [servicePort(canary)] },
  };
}

/**
 * The primary, canary and apex Services, selecting pods as the target's kind says
 * (controller/kinds/: a Deployment's canary pods carry the copy's selector, a StatefulSet's and a
 * frozen DaemonSet's are told apart by revision).
 */
export function generatedServices(canary: Canary, selectors: { primary: Record<string, string>; canary: Record<string, string> }) {
  const apex = apexName(canary);
  const primarySelector = selectors.primary;
  const candidateSelector = selectors.canary;
  return {
    primary: service(canary, names.primaryService(apex), primarySelector, canary.spec.service.primary as ObjectMeta | undefined),
    canary: service(canary, names.canaryService(apex), candidateSelector, canary.spec.service.canary as ObjectMeta | undefined),
    // Created only when absent (an existing apex Service is the user's, used as it is); sluice's
    // own selects the primary pods only, for a StatefulSet as for a Deployment.
    apex: service(canary, names.apexService(apex), primarySelector, canary.spec.service.apex as ObjectMeta | undefined),
  };
}

export function canaryHpa(canary: Canary, source: HorizontalPodAutoscaler, targetName: string): HorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: generatedMeta(canary, names.canaryHpa(targetName)),
    spec: { ...source.spec, scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: names.canaryCopy(targetName) } },
  };
}

/** An object at a name sluice generates that sluice did not generate. */
export interface ForeignObject {
  kind: string;
  name: string;
  /** Generated by this other Canary, which still holds it (it is live and does not give way). */
  owner?: string;
}

/**
 * Which of the objects at this Canary's generated names are someone else's: present, but without
 * sluice's Canary label. sluice neither patches nor adopts them; the Canary waits until they are
 * renamed or removed. The apex Service is exempt (not passed): a user's own Service of that name is used as is.
 */
export function foreignObjects(found: readonly (readonly [kind: string, object: KubeObject | undefined])[]): ForeignObject[] {
  return found.flatMap(([kind, o]) => (o && o.metadata.labels?.[L.canaryName] === undefined ? [{ kind, name: o.metadata.name }] : []));
}

export class NameClashError extends Error {
  constructor(
    readonly canary: string,
    readonly objects: ForeignObject[],
  ) {
    const list = (os: ForeignObject[]) => os.map((o) => `${o.kind} ${o.name}`).join(', ');
    const unowned = objects.filter((o) => o.owner === undefined);
    const held = objects.filter((o) => o.owner !== undefined);
    const parts: string[] = [];
    if (unowned.length > 0)
      parts.push(
        `${list(unowned)} already exist${unowned.length === 1 ? 's' : ''} and ${unowned.length === 1 ? 'is' : 'are'} not sluice's`,
      );
    for (const owner of new Set(held.map((o) => o.owner)))
      parts.push(
        `${list(held.filter((o) => o.owner === owner))} belong${held.filter((o) => o.owner === owner).length === 1 ? 's' : ''} to Canary ${owner}`,
      );
    const them = objects.length === 1 ? 'it' : 'them';
    super(
      `${parts.join('; ')}: Canary ${canary} will not take ${them} over; ${unowned.length > 0 ? `rename or delete ${them}, or ` : ''}give the Canary another service.name`,
    );
  }
}
