// What admission reads besides the request, kept by informers so it answers from memory and never
// waits on the apiserver: for /validate, Namespaces (their labels decide which policies hold),
// ClusterCanaryPolicies and Canaries (whether the owner of a target's lock still exists); for
// /mutate-pod, managed Deployments (the config snapshots their primary pods are pinned to).
import { CR, type Canary } from '../api/flagger-types.js';
import { POLICY_REF, type ClusterCanaryPolicy } from '../api/policy-types.js';
import { R, type KubeClient, type KubeObject } from '../lib/kube/client.js';
import { Informer } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { policiesForNamespace } from '../policy/selection.js';
import { STABLE_CONFIGS } from '../api/tracked-configs.js';
import type { ValidateContext } from './validate-decision.js';

export class AdmissionCache {
  private readonly namespaces: Informer<KubeObject>;
  private readonly policies: Informer<ClusterCanaryPolicy>;
  private readonly canaries: Informer<Canary>;
  private readonly managed: Informer<KubeObject>;

  constructor(client: KubeClient, logger: Logger) {
    const onError = (what: string) => (err: unknown) => logger.warn(`watch ${what}: ${(err as Error).message}`);
    this.namespaces = new Informer(client, R.namespaces, { onError: onError('namespaces') });
    this.policies = new Informer(client, POLICY_REF, { onError: onError('clustercanarypolicies') });
    this.canaries = new Informer(client, CR.canaries, { onError: onError('canaries') });
    this.managed = new Informer(client, R.deployments, { onError: onError('deployments'), labelSelector: 'sluice.dev/managed=true' });
  }

  /** Starts the informers without waiting; `synced` says when answers are complete. */
  start(): void {
    for (const inf of [this.namespaces, this.policies, this.canaries, this.managed] as { start(): Promise<void> }[]) void inf.start();
  }

  get synced(): boolean {
    return this.namespaces.hasSynced && this.policies.hasSynced && this.canaries.hasSynced && this.managed.hasSynced;
  }

  readonly context: Omit<ValidateContext, 'controllerUsers'> = {
    policiesFor: (namespace) => (this.synced ? policiesForNamespace(this.policies.items(), this.namespaces.get(undefined, namespace)) : undefined),
    canaryExists: (namespace, name) => !this.synced || this.canaries.get(namespace, name) !== undefined,
  };

  /** refKey → snapshot for a managed Deployment's primary pods, from its annotation. */
  readonly pins = (namespace: string, deployment: string): Record<string, string> | undefined => {
    const raw = this.managed.get(namespace, deployment)?.metadata.annotations?.[STABLE_CONFIGS];
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as Record<string, string>;
    } catch {
      return undefined;
    }
  };
}
