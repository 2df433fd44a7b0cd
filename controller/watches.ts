// What the controller watches, and which work each change feeds, as two tables: the informers
// (one per kind, with the label selector or slimming that keeps its cache small), and for each
// one the mapper from a change to the Canaries it concerns (wake-ups.ts, each unit-tested) and
// whether it feeds its namespace's cluster-policy pass.
import { ACTION_REF, type CanaryAction } from '../api/canary-action.js';
import { type CanaryJudge, JUDGE_REF } from '../api/canary-judge.js';
import { labels as L, values } from '../api/contract.js';
import { type Canary, CR, type MetricTemplate } from '../api/flagger-types.js';
import { type ClusterCanaryPolicy, POLICY_REF } from '../api/policy-types.js';
import type { DaemonSet, Deployment, HorizontalPodAutoscaler, StatefulSet } from '../api/workload.js';
import { type KubeClient, type KubeObject, R, type ResourceRef } from '../lib/kube/client.js';
import { type ChangeType, Informer, namespaced, objectKey } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import type { AlertProvider } from './alerts/notifier.js';
import { type SlimEndpointSlice, slimEndpointSlice } from './canary-endpoints.js';
import type { ConfigObject } from './config-tracker.js';
import { actionFor, canariesConcerned, canariesIn, readersOf, usersOf, type WatchedKind } from './wake-ups.js';

export function watchedInformers(client: KubeClient, logger: Logger, relistIntervalMs: number | undefined) {
  const onError = (what: string) => (err: unknown) => logger.warn(`watch ${what}: ${(err as Error).message}`);
  const inf = <T extends KubeObject>(what: string, ref: ResourceRef, labelSelector?: string) =>
    new Informer<T>(client, ref, { onError: onError(what), relistIntervalMs, labelSelector });
  const sluices = `${L.managedBy}=${values.managedBy}`;
  return {
    canaries: inf<Canary>('canaries', CR.canaries),
    deployments: inf<Deployment>('deployments', R.deployments),
    statefulsets: inf<StatefulSet>('statefulsets', R.statefulsets),
    daemonsets: inf<DaemonSet>('daemonsets', R.daemonsets),
    services: inf<KubeObject>('services', R.services),
    routes: inf<KubeObject>('httproutes', R.httproutes, sluices),
    hpas: inf<HorizontalPodAutoscaler>('hpas', R.hpas),
    templates: inf<MetricTemplate>('metrictemplates', CR.metrictemplates),
    namespaces: inf<KubeObject>('namespaces', R.namespaces),
    policies: inf<ClusterCanaryPolicy>('clustercanarypolicies', POLICY_REF),
    // Only objects sluice tracks or snapshots: a cluster's Secrets are not all cached.
    configmaps: inf<ConfigObject>('configmaps', R.configmaps, L.tracked),
    secrets: inf<ConfigObject>('secrets', R.secrets, L.tracked),
    // Only the slices of sluice's Services (they carry their Service's labels), kept slim.
    endpointSlices: new Informer<SlimEndpointSlice>(client, R.endpointslices, {
      onError: onError('endpointslices'),
      relistIntervalMs,
      labelSelector: sluices,
      transform: slimEndpointSlice,
    }),
    alertProviders: inf<AlertProvider>('alertproviders', CR.alertproviders),
    // Not waited for at start (see startAndSync): an install upgraded without its new CRD (Helm
    // never upgrades CRDs) still runs rollouts; the watch error names what is missing.
    actions: new Informer<CanaryAction>(client, ACTION_REF, {
      onError: (err) =>
        logger.warn(
          `watch canaryactions: ${(err as Error).message} (kubectl sluice actions need the CanaryAction CRD: apply manifests/crds/)`,
        ),
      relistIntervalMs,
    }),
    // Likewise not waited for: without the CanaryJudge CRD, Canaries are analysed as Flagger does.
    judges: new Informer<CanaryJudge>(client, JUDGE_REF, {
      onError: (err) =>
        logger.warn(`watch canaryjudges: ${(err as Error).message} (statistical judges need the CanaryJudge CRD: apply manifests/crds/)`),
      relistIntervalMs,
    }),
  };
}

export type Watched = ReturnType<typeof watchedInformers>;

/** A change → the keys of the Canaries it concerns, given the Canaries known now. Pure. */
export type CanaryMapper = (type: ChangeType, obj: KubeObject, old: KubeObject | undefined, canaries: Canary[]) => string[];

const concerned =
  (kind: WatchedKind): CanaryMapper =>
  (type, obj, old, canaries) =>
    canariesConcerned(kind, type, obj, old, canaries);

/** Which Canaries each watched kind's changes wake. */
export const CANARY_WAKES: Partial<Record<keyof Watched, CanaryMapper>> = {
  canaries: (_t, c) => [objectKey(c)],
  deployments: concerned('deployment'),
  statefulsets: concerned('statefulset'),
  daemonsets: concerned('daemonset'),
  services: concerned('service'),
  endpointSlices: concerned('endpointslice'),
  routes: concerned('route'),
  hpas: concerned('hpa'),
  actions: (_t, a) => actionFor(a as CanaryAction),
  // A CanaryJudge carries its Canary's name.
  judges: (_t, j) => [objectKey(j)],
  configmaps: (_t, o, _old, cs) => readersOf(o, cs),
  secrets: (_t, o, _old, cs) => readersOf(o, cs),
  templates: (_t, t, _old, cs) => usersOf(t as MetricTemplate, cs),
  // A Canary analysed within a policy's limits follows the policy's and its namespace's changes.
  namespaces: (_t, n, _old, cs) => canariesIn(cs, n.metadata.name),
  policies: (_t, _p, _old, cs) => canariesIn(cs, undefined),
};

/** Kinds whose changes can change what the cluster policy generates in their namespace. */
export const POLICY_INPUTS: readonly (keyof Watched)[] = ['deployments', 'statefulsets', 'daemonsets', 'hpas', 'canaries'];

export interface WakeTargets {
  canary(key: string): void;
  /** The cluster-policy pass of one namespace. */
  namespace(name: string): void;
  /** Every namespace's cluster-policy pass, then the policies' status. */
  everyNamespace(): void;
  /** The number of Canaries changed. */
  canariesChanged(): void;
}

/**
 * Whose Canaries a change of this kind can concern: only its own namespace's, but for a
 * MetricTemplate (another namespace's Canaries may use it) and a cluster policy (everyone's). A
 * mapper is given only those, from the cache's namespace index: at 1,000 Canaries, every watch
 * event scanning all of them was a large share of the controller's CPU (issue 31).
 */
function scopeOf(kind: keyof Watched, obj: KubeObject): string | undefined {
  if (kind === 'templates' || kind === 'policies') return undefined;
  return kind === 'namespaces' ? obj.metadata.name : obj.metadata.namespace;
}

/** Subscribes every table entry; the only place a watched change turns into work. */
export function wireWatches(w: Watched, to: WakeTargets): void {
  for (const [name, map] of Object.entries(CANARY_WAKES) as [keyof Watched, CanaryMapper][]) {
    (w[name] as Informer<KubeObject>).onChange((type, obj, old) => {
      const scope = scopeOf(name, obj);
      const canaries = scope === undefined ? w.canaries.items() : namespaced(w.canaries, scope);
      for (const key of map(type, obj, old, canaries)) to.canary(key);
    });
  }
  for (const name of POLICY_INPUTS) (w[name] as Informer<KubeObject>).onChange((_t, o) => to.namespace(o.metadata.namespace!));
  w.namespaces.onChange((_t, n) => to.namespace(n.metadata.name));
  w.policies.onChange(() => to.everyNamespace());
  // Only a Canary added or removed changes the counts (a status write, at every step of every
  // rollout, does not).
  w.canaries.onChange((type) => {
    if (type !== 'MODIFIED') to.canariesChanged();
  });
}

/** Caches fill before any reconcile, so no pass acts on a half-listed world; actions are not waited for. */
export async function startAndSync(w: Watched): Promise<void> {
  const { actions, judges, ...rest } = w;
  await Promise.all(Object.values(rest).map((i) => (i as Informer<KubeObject>).start()));
  void actions.start();
  void judges.start();
}
