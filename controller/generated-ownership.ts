// Who owns the objects generated at a Canary's names: the ones that are sluice's (by the Canary
// label), taking them over from a Canary that is gone or gives way, handing them to a successor,
// and refusing names held by objects that are not sluice's (docs/design.md, "Objects").
import { labels as L, names, objectName } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import type { Deployment, HorizontalPodAutoscaler, Workload } from '../api/workload.js';
import { type KubeObject, type ObjectClient, R, type ResourceRef, at } from '../lib/kube/client.js';
import type { ObjectCache } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { isGenerated } from '../policy/selection.js';
import { NameClashError, apexName, foreignObjects, ownerReference } from './generated-objects.js';

export interface OwnershipCaches {
  deployments: ObjectCache<Deployment>;
  hpas: ObjectCache<HorizontalPodAutoscaler>;
  services: ObjectCache<KubeObject>;
  routes: ObjectCache<KubeObject>;
  canaries: ObjectCache<Canary>;
}

export class GeneratedOwnership {
  constructor(
    private readonly client: ObjectClient,
    private readonly caches: OwnershipCaches,
    private readonly logger: Logger,
    /** Throws when this process may not write (it lost its Lease). */
    private readonly guard: () => void,
  ) {}

  /** The generated objects that exist under this Canary's names, whoever generated them. */
  objectsNamedFor(canary: Canary): [ResourceRef, KubeObject][] {
    const ns = canary.metadata.namespace!;
    const target = canary.spec.targetRef.name;
    const apex = apexName(canary);
    const c = this.caches;
    const found: [ResourceRef, KubeObject | undefined][] = [
      [R.deployments, c.deployments.get(ns, names.canaryDeployment(target))],
      [R.hpas, c.hpas.get(ns, names.canaryHpa(target))],
      [R.httproutes, c.routes.get(ns, names.httpRoute(apex))],
      ...[names.apexService(apex), names.primaryService(apex), names.canaryService(apex)].map(
        (n): [ResourceRef, KubeObject | undefined] => [R.services, c.services.get(ns, n)],
      ),
    ];
    return found.filter((x): x is [ResourceRef, KubeObject] => x[1]?.metadata.labels?.[L.canaryName] !== undefined);
  }

  /** Label and owner reference moved to `owner`: garbage collection then keeps the object when the old owner goes. */
  async takeOver(ref: ResourceRef, obj: KubeObject, owner: Canary): Promise<void> {
    this.guard();
    const others = (obj.metadata.ownerReferences ?? []).filter((o) => o.kind !== 'Canary');
    await this.client.patch(at(ref, owner.metadata.namespace, obj.metadata.name), {
      metadata: { labels: { [L.canaryName]: owner.metadata.name }, ownerReferences: [...others, ownerReference(owner)] },
    });
    this.logger.info(`took over ${obj.metadata.name} from Canary ${obj.metadata.labels?.[L.canaryName]}`, {
      key: `${owner.metadata.namespace}/${owner.metadata.name}`,
    });
  }

  /**
   * Objects with this Canary's names that another Canary generated are taken over when that
   * Canary is gone, being deleted, or a policy's Canary giving way to an explicit one. Otherwise
   * garbage collection would delete the Services and HTTPRoute under live traffic when it goes.
   */
  async adoptGenerated(canary: Canary): Promise<void> {
    for (const [ref, obj] of this.objectsNamedFor(canary)) {
      const owner = obj.metadata.labels![L.canaryName]!;
      if (owner === canary.metadata.name) continue;
      const current = this.caches.canaries.get(canary.metadata.namespace, owner);
      if (!current || current.metadata.deletionTimestamp !== undefined || (isGenerated(current) && !isGenerated(canary)))
        await this.takeOver(ref, obj, canary);
    }
  }

  /** Throws NameClashError when an object at one of this Canary's generated names is not sluice's. */
  /** `hasCopy`: the target's kind runs its candidate in a copy (a StatefulSet does not: a Deployment at the copy's name is no clash). */
  async refuseForeign(canary: Canary, target: Workload, autoscaler: HorizontalPodAutoscaler | undefined, hasCopy: boolean): Promise<void> {
    const ns = canary.metadata.namespace!;
    const apex = apexName(canary);
    const c = this.caches;
    const routeName = names.httpRoute(apex);
    // Only sluice's routes are cached (by label): a route missing there is looked up.
    const route = c.routes.get(ns, routeName) ?? (await this.client.find<KubeObject>(at(R.httproutes, ns, routeName)));
    const foreign = foreignObjects({
      canaryDeployment: hasCopy ? c.deployments.get(ns, names.canaryDeployment(target.metadata.name)) : undefined,
      canaryHpa: autoscaler ? c.hpas.get(ns, names.canaryHpa(target.metadata.name)) : undefined,
      primaryService: c.services.get(ns, names.primaryService(apex)),
      canaryService: c.services.get(ns, names.canaryService(apex)),
      route,
    });
    if (foreign.length > 0) throw new NameClashError(objectName(canary.metadata.name, ns), foreign);
  }

  /** A live Canary for the same Deployment that inherits this one's objects when it is deleted. */
  successorOf(canary: Canary): Canary | undefined {
    return this.caches.canaries
      .items()
      .find(
        (c) =>
          c.metadata.namespace === canary.metadata.namespace &&
          c.metadata.name !== canary.metadata.name &&
          !c.metadata.deletionTimestamp &&
          c.spec.targetRef?.name === canary.spec.targetRef.name &&
          apexName(c) === apexName(canary),
      );
  }
}
