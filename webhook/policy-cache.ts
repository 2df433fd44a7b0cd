// What /validate reads besides the request: Namespaces (their labels decide which policies hold),
// ClusterCanaryPolicies, and Canaries (whether the owner of a target's lock still exists). Kept by
// informers, so admission answers from memory and never waits on the apiserver.
import { CR, type Canary } from '../api/flagger-types.js';
import { POLICY_REF, type ClusterCanaryPolicy } from '../api/policy-types.js';
import { R, type KubeClient, type KubeObject } from '../lib/kube/client.js';
import { Informer } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { policiesForNamespace } from '../policy/selection.js';
import type { ValidateContext } from './validate-decision.js';

export class PolicyCache {
  private readonly namespaces: Informer<KubeObject>;
  private readonly policies: Informer<ClusterCanaryPolicy>;
  private readonly canaries: Informer<Canary>;

  constructor(client: KubeClient, logger: Logger) {
    const onError = (what: string) => (err: unknown) => logger.warn(`watch ${what}: ${(err as Error).message}`);
    this.namespaces = new Informer(client, R.namespaces, { onError: onError('namespaces') });
    this.policies = new Informer(client, POLICY_REF, { onError: onError('clustercanarypolicies') });
    this.canaries = new Informer(client, CR.canaries, { onError: onError('canaries') });
  }

  /** Starts the informers without waiting; `synced` says when answers are complete. */
  start(): void {
    for (const inf of [this.namespaces, this.policies, this.canaries] as { start(): Promise<void> }[]) void inf.start();
  }

  get synced(): boolean {
    return this.namespaces.hasSynced && this.policies.hasSynced && this.canaries.hasSynced;
  }

  readonly context: Omit<ValidateContext, 'controllerUsers'> = {
    policiesFor: (namespace) => (this.synced ? policiesForNamespace(this.policies.items(), this.namespaces.get(undefined, namespace)) : undefined),
    canaryExists: (namespace, name) => !this.synced || this.canaries.get(namespace, name) !== undefined,
  };
}
