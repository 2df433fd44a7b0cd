// Who owns the objects generated at a Canary's names: the ones that are sluice's (by the Canary
// label), taking them over from a Canary that is gone or gives way, handing them to a successor,
// and refusing names held by objects that are not sluice's (docs/design.md, "Objects").
import { labels as L, names, objectName } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import type { Deployment, HorizontalPodAutoscaler, Workload } from '../api/workload.js';
import { at, type KubeObject, type ObjectClient, R, type ResourceRef } from '../lib/kube/client.js';
import { namespaced, type ObjectCache } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { isGenerated } from '../policy/selection.js';
import { apexName, foreignObjects, NameClashError, ownerReference } from './generated-objects.js';
import type { RouterChoice } from './router/router-choice.js';

export interface OwnershipCaches {
  deployments: ObjectCache<Deployment>;
  hpas: ObjectCache<HorizontalPodAutoscaler>;
  services: ObjectCache<KubeObject>;
  canaries: ObjectCache<Canary>;
}

export class GeneratedOwnership {
  constructor(
    private readonly client: ObjectClient,
    private readonly caches: OwnershipCaches,
    private readonly logger: Logger,
    /** The route objects are the router's to name (router/router.ts). */
    private readonly routers: RouterChoice,
  ) {}

  /** The generated objects that exist under this Canary's names, whoever generated them. */
  objectsNamedFor(canary: Canary): [ResourceRef, KubeObject][] {
    const ns = canary.metadata.namespace!;
    const target = canary.spec.targetRef.name;
    const apex = apexName(canary);
    const c = this.caches;
    const found: [ResourceRef, KubeObject | undefined][] = [
      [R.deployments, c.deployments.get(ns, names.canaryCopy(target))],
      [R.hpas, c.hpas.get(ns, names.canaryHpa(target))],
      ...this.routers
        .for(canary)
        .objects(canary)
        .map((o): [ResourceRef, KubeObject | undefined] => [o.ref, o.cached]),
      ...[names.apexService(apex), names.primaryService(apex), names.canaryService(apex)].map(
        (n): [ResourceRef, KubeObject | undefined] => [R.services, c.services.get(ns, n)],
      ),
    ];
    return found.filter((x): x is [ResourceRef, KubeObject] => x[1]?.metadata.labels?.[L.canaryName] !== undefined);
  }

  /** Label and owner reference moved to `owner`: garbage collection then keeps the object when the old owner goes. */
  async takeOver(ref: ResourceRef, obj: KubeObject, owner: Canary): Promise<void> {
    const others = (obj.metadata.ownerReferences ?? []).filter((o) => o.kind !== 'Canary');
    await this.client.patch(at(ref, owner.metadata.namespace, obj.metadata.name), {
      metadata: { labels: { [L.canaryName]: owner.metadata.name }, ownerReferences: [...others, ownerReference(owner)] },
    });
    this.logger.info(`took over ${obj.metadata.name} from Canary ${obj.metadata.labels?.[L.canaryName]}`, {
      key: `${owner.metadata.namespace}/${owner.metadata.name}`,
    });
  }

  /**
   * Whether the Canary `owner` (by name) lets `canary` take what it generated: it is gone or being
   * deleted, or it is a policy's Canary for the same workload giving way to an explicit one.
   * Otherwise it still holds its objects, and two Canaries sharing a service.name would rewrite
   * each other's Services and route on every pass.
   */
  givesWay(owner: string, canary: Canary): boolean {
    const current = this.caches.canaries.get(canary.metadata.namespace, owner);
    return (
      !current ||
      current.metadata.deletionTimestamp !== undefined ||
      (isGenerated(current) && !isGenerated(canary) && current.spec.targetRef?.name === canary.spec.targetRef.name)
    );
  }

  /**
   * Objects with this Canary's names that another Canary generated are taken over when that
   * Canary gives way (givesWay); one that carries this Canary's name but another uid as owner (a
   * Canary deleted and created again) gets the new owner, or garbage collection would delete it
   * under live traffic.
   */
  async adoptGenerated(canary: Canary): Promise<void> {
    for (const [ref, obj] of this.objectsNamedFor(canary)) {
      const owner = obj.metadata.labels![L.canaryName]!;
      if (owner === canary.metadata.name) {
        const controllerRef = (obj.metadata.ownerReferences ?? []).find((o) => o.kind === 'Canary' && o.controller);
        if (canary.metadata.uid && controllerRef && controllerRef.uid !== canary.metadata.uid) await this.takeOver(ref, obj, canary);
        continue;
      }
      if (this.givesWay(owner, canary)) await this.takeOver(ref, obj, canary);
    }
  }

  /**
   * Throws NameClashError when an object at one of this Canary's generated names is not sluice's,
   * or is another live Canary's that does not give way. `hasCopy`: the target's kind runs its
   * candidate in a copy (a StatefulSet does not: a Deployment at the copy's name is no clash).
   */
  async refuseForeign(canary: Canary, target: Workload, autoscaler: HorizontalPodAutoscaler | undefined, hasCopy: boolean): Promise<void> {
    const ns = canary.metadata.namespace!;
    const apex = apexName(canary);
    const c = this.caches;
    // A router caches only sluice's objects: one missing there is looked up.
    const routes = await Promise.all(
      this.routers
        .for(canary)
        .objects(canary)
        .map(async (o) => [o.kind, o.cached ?? (await this.client.find<KubeObject>(o.ref))] as const),
    );
    const generated = [
      ['Deployment', hasCopy ? c.deployments.get(ns, names.canaryCopy(target.metadata.name)) : undefined],
      ['HorizontalPodAutoscaler', autoscaler ? c.hpas.get(ns, names.canaryHpa(target.metadata.name)) : undefined],
      ['Service', c.services.get(ns, names.primaryService(apex))],
      ['Service', c.services.get(ns, names.canaryService(apex))],
      ...routes,
    ] as const;
    const foreign = foreignObjects(generated);
    // The apex Service may be the user's (used as it is): only another Canary's one clashes.
    for (const [kind, o] of [...generated, ['Service', c.services.get(ns, names.apexService(apex))] as const]) {
      const owner = o?.metadata.labels?.[L.canaryName];
      if (o && owner !== undefined && owner !== canary.metadata.name && !this.givesWay(owner, canary))
        foreign.push({ kind, name: o.metadata.name, owner: objectName(owner, ns) });
    }
    if (foreign.length > 0) throw new NameClashError(objectName(canary.metadata.name, ns), foreign);
  }

  /** A live Canary for the same Deployment that inherits this one's objects when it is deleted. */
  successorOf(canary: Canary): Canary | undefined {
    return namespaced(this.caches.canaries, canary.metadata.namespace!).find(
      (c) =>
        c.metadata.name !== canary.metadata.name &&
        !c.metadata.deletionTimestamp &&
        c.spec.targetRef?.name === canary.spec.targetRef.name &&
        apexName(c) === apexName(canary),
    );
  }
}
