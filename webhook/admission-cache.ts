// What admission reads besides the request, kept by informers so it answers from memory and never
// waits on the apiserver: for /validate, Namespaces (their labels decide which policies hold),
// ClusterCanaryPolicies and Canaries (whether the owner of a target's lock still exists); for
// /mutate-pod, managed Deployments (the config snapshots their primary pods are pinned to); for
// /mutate-daemon-pod, managed DaemonSets (whether they are frozen, their canary nodes); for
// /mutate on CREATE, Canaries (which Deployment they target, its stable revision) and ReplicaSets
// (whether a recreated Deployment's predecessor still has pods serving).
import { annotations as A, labels as L, values } from '../api/contract.js';
import { type Canary, CR } from '../api/flagger-types.js';
import { type ClusterCanaryPolicy, POLICY_REF } from '../api/policy-types.js';
import { targetKind, targetKindName } from '../api/workload.js';
import { kindFacts } from '../api/workload-kinds.js';
import { type KubeClient, type KubeObject, R } from '../lib/kube/client.js';
import { Informer, type ObjectCache } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { closedWindowFor } from '../policy/change-windows.js';
import { selectorMatches } from '../policy/label-selector.js';
import { policiesForNamespace } from '../policy/selection.js';
import { type CopySources, type PodTemplateLike, templateDigest } from './copy-decision.js';
import { type DaemonPodSources, type DaemonSetFacts, daemonSetFacts } from './daemon-pod-decision.js';
import type { DaemonSetReads } from './daemon-set-reads.js';
import type { FreezeContext } from './freeze-decision.js';
import type { ValidateContext } from './validate-decision.js';

/** What the webhook keeps of a ReplicaSet: enough to say whose it is and whether its pods serve. */
export type SlimReplicaSet = KubeObject & { status: { readyReplicas: number } };

export function slimReplicaSet(rs: KubeObject & { status?: { readyReplicas?: number } }): SlimReplicaSet {
  const m = rs.metadata;
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      ...(m.ownerReferences
        ? {
            ownerReferences: m.ownerReferences.map((o) => ({
              apiVersion: o.apiVersion,
              kind: o.kind,
              name: o.name,
              uid: o.uid,
              controller: o.controller,
            })),
          }
        : {}),
    },
    status: { readyReplicas: Number(rs.status?.readyReplicas ?? 0) || 0 },
  };
}

/**
 * What the webhook keeps of a Canary: whose target it is, the revision it released, whether it is
 * going. A Canary's spec and status (conditions, metric results) are the bulk of it and are never
 * read here; at a thousand Canaries the whole objects were most of the webhook's memory.
 */
export function slimCanary(c: Canary): Canary {
  const m = c.metadata;
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    spec: { targetRef: c.spec?.targetRef },
    ...(c.status?.lastPromotedSpec ? { status: { lastPromotedSpec: c.status.lastPromotedSpec } } : {}),
  } as Canary;
}

/**
 * What the webhook keeps of a managed Deployment: the config snapshots its primary pods are
 * pinned to, and a digest of its pod template (what /validate-copy compares a canary copy with).
 */
export type SlimManaged = KubeObject & { templateDigest?: string };

type ManagedLike = KubeObject & { spec?: { template?: PodTemplateLike } };

export function slimManaged(d: ManagedLike, digestOf: (t: PodTemplateLike) => string = templateDigest): SlimManaged {
  const m = d.metadata;
  const pins = m.annotations?.[A.stableConfigs];
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      ...(pins !== undefined ? { annotations: { [A.stableConfigs]: pins } } : {}),
    },
    ...(d.spec?.template ? { templateDigest: digestOf(d.spec.template) } : {}),
  };
}

/**
 * templateDigest() once per Deployment generation: most events of a managed Deployment are its
 * status, written by the Deployment controller, and its template moves only with its generation.
 */
export function digestsByGeneration(): { slim: (d: ManagedLike) => SlimManaged; forget: (d: KubeObject) => void } {
  const kept = new Map<string, { generation: number | undefined; digest: string }>();
  // By uid too: a Deployment deleted and created again under its name starts at generation 1 again.
  const key = (d: KubeObject) => `${d.metadata.namespace}/${d.metadata.name}/${d.metadata.uid ?? ''}`;
  return {
    slim: (d) =>
      slimManaged(d, (t) => {
        const generation = (d.metadata as { generation?: number }).generation;
        const k = kept.get(key(d));
        if (k && generation !== undefined && k.generation === generation) return k.digest;
        const digest = templateDigest(t);
        kept.set(key(d), { generation, digest });
        return digest;
      }),
    forget: (d) => void kept.delete(key(d)),
  };
}

/** What the webhook keeps of a managed DaemonSet: the facts its pods' admission reads. */
export type SlimDaemonSet = KubeObject & { facts: DaemonSetFacts };

export function slimDaemonSet(d: KubeObject & { spec?: { template?: unknown } }): SlimDaemonSet {
  const m = d.metadata;
  return { metadata: { name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion }, facts: daemonSetFacts(d) };
}

/** The caches admission answers from (informers in the webhook, an in-memory cluster in unit tests). */
export interface AdmissionSources {
  namespaces: ObjectCache<KubeObject>;
  policies: ObjectCache<ClusterCanaryPolicy>;
  canaries: ObjectCache<Canary>;
  /** Deployments labelled as managed. */
  managed: ObjectCache<SlimManaged>;
  /** DaemonSets labelled as managed. */
  daemonSets: ObjectCache<SlimDaemonSet>;
  replicaSets: ObjectCache<SlimReplicaSet>;
  /** Whether every cache has listed once; before that, answers that need them are "unknown". */
  synced: () => boolean;
  /** Starts filling the caches, without waiting. */
  start: () => void;
}

/** The webhook's sources: one informer per cache, on the apiserver. */
export function informerSources(client: KubeClient, logger: Logger): AdmissionSources {
  const onError = (what: string) => (err: unknown) => logger.warn(`watch ${what}: ${(err as Error).message}`);
  const digests = digestsByGeneration();
  const informers = {
    namespaces: new Informer<KubeObject>(client, R.namespaces, { onError: onError('namespaces') }),
    policies: new Informer<ClusterCanaryPolicy>(client, POLICY_REF, { onError: onError('clustercanarypolicies') }),
    canaries: new Informer<Canary>(client, CR.canaries, { onError: onError('canaries'), transform: slimCanary }),
    managed: new Informer<SlimManaged>(client, R.deployments, {
      onError: onError('deployments'),
      labelSelector: `${L.managed}=${values.managed}`,
      transform: digests.slim,
    }).onChange((type, d) => {
      if (type === 'DELETED') digests.forget(d);
    }),
    daemonSets: new Informer<SlimDaemonSet>(client, R.daemonsets, {
      onError: onError('daemonsets'),
      labelSelector: `${L.managed}=${values.managed}`,
      transform: slimDaemonSet,
    }),
    replicaSets: new Informer<SlimReplicaSet>(client, R.replicasets, { onError: onError('replicasets'), transform: slimReplicaSet }),
  };
  const all = Object.values(informers);
  return {
    ...informers,
    synced: () => all.every((i) => i.hasSynced),
    start: () => {
      for (const i of all) void i.start();
    },
  };
}

export class AdmissionCache {
  constructor(
    private readonly sources: AdmissionSources,
    /** The apiserver reads for a frozen DaemonSet's pods (none given: they pass as the cache says). */
    private readonly reads?: Pick<DaemonSetReads, 'fresh' | 'revisions' | 'deployment'>,
  ) {}

  /** Starts the informers without waiting; `synced` says when answers are complete. */
  start(): void {
    this.sources.start();
  }

  get synced(): boolean {
    return this.sources.synced();
  }

  readonly freeze: FreezeContext = {
    canaryFor: (namespace, name, kind) => {
      if (!this.synced) return undefined;
      const c = this.sources.canaries
        .items()
        .find(
          (x) =>
            x.metadata.namespace === namespace &&
            x.spec?.targetRef?.name === name &&
            targetKindName(x.spec.targetRef) === kind &&
            !x.metadata.deletionTimestamp,
        );
      return c ? { name: c.metadata.name, stableRevision: c.status?.lastPromotedSpec } : undefined;
    },
    // A ReplicaSet is the predecessor's when it is nobody's (the orphaning delete removed its
    // owner) or still names a Deployment of this name (the cache has not seen that removal yet).
    servingPods: (namespace, deployment, selector) =>
      this.sources.replicaSets
        .items()
        .filter((rs) => rs.metadata.namespace === namespace)
        .filter((rs) => {
          const owner = rs.metadata.ownerReferences?.find((o) => o.controller);
          return !owner || (owner.kind === 'Deployment' && owner.name === deployment);
        })
        .filter((rs) => selectorMatches(selector, rs.metadata.labels))
        .reduce((n, rs) => n + rs.status.readyReplicas, 0),
    // Only words in a warning: whatever goes wrong here must not turn into a refused change.
    closedWindow: (namespace, labels) => {
      if (!this.synced) return undefined;
      try {
        return closedWindowFor(this.sources.policies.items(), this.sources.namespaces.get(undefined, namespace), labels, new Date())
          ?.message;
      } catch {
        return undefined;
      }
    },
  };

  readonly context: Omit<ValidateContext, 'controllerUsers'> = {
    policiesFor: (namespace) =>
      this.synced ? policiesForNamespace(this.sources.policies.items(), this.sources.namespaces.get(undefined, namespace)) : undefined,
    canaryExists: (namespace, name) => !this.synced || this.sources.canaries.get(namespace, name) !== undefined,
  };

  /** For /validate-copy: the Canaries of a target from memory, the target itself as last written. */
  readonly copies: CopySources = {
    canariesTargeting: (namespace, deployment) =>
      this.synced
        ? this.sources.canaries
            .items()
            .filter(
              (c) =>
                c.metadata.namespace === namespace &&
                c.spec?.targetRef?.name === deployment &&
                kindFacts(targetKind(c.spec.targetRef))?.hasCopy === true &&
                !c.metadata.deletionTimestamp,
            )
            .map((c) => c.metadata.uid ?? '')
        : undefined,
    target: (namespace, name) => (this.reads ? this.reads.deployment(namespace, name) : Promise.resolve(undefined)),
    cachedTemplateDigest: (namespace, name) => (this.synced ? this.sources.managed.get(namespace, name)?.templateDigest : undefined),
  };

  readonly daemonPods: DaemonPodSources = {
    managed: (namespace, name) => this.sources.daemonSets.get(namespace, name)?.facts,
    fresh: (namespace, name) =>
      this.reads ? this.reads.fresh(namespace, name) : Promise.resolve(this.daemonPods.managed(namespace, name)),
    revisions: (namespace, uid, need, selector) =>
      this.reads ? this.reads.revisions(namespace, uid, need, selector) : Promise.resolve([]),
  };

  /** refKey → snapshot for a managed Deployment's primary pods, from its annotation. */
  readonly pins = (namespace: string, deployment: string): Record<string, string> | undefined => {
    const raw = this.sources.managed.get(namespace, deployment)?.metadata.annotations?.[A.stableConfigs];
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as Record<string, string>;
    } catch {
      return undefined;
    }
  };
}
