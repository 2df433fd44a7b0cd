// How the controller shifts traffic, whatever carries it: one interface, one module per route
// kind (http-route.ts for the Gateway API HTTPRoute), each the only writer of its objects, chosen
// per Canary from Flagger's spec.provider (router-choice.ts). Everything the rest of the
// controller knows about routes (which objects to own and hand over, what weights are live)
// comes through this interface. docs/architecture.md "Adding a route kind" lists the files.
import type { Canary, CanaryStatus } from '../../api/flagger-types.js';
import type { RouteKindFacts } from '../../api/route-kinds.js';
import type { KubeObject, ResourceRef } from '../../lib/kube/client.js';

/** An object a router writes for a Canary, and what the router's cache holds at its name. */
export interface RouteObject {
  /** Namespaced and named. */
  ref: ResourceRef;
  kind: string;
  /** undefined: not in the cache (a router caches only sluice's objects: look it up to be sure). */
  cached: KubeObject | undefined;
}

export interface Router {
  /** The route kind it writes, and so the providers (Flagger's spec.provider values) it serves. */
  readonly facts: RouteKindFacts;
  /** The route objects as this router would write them for a Canary in this status. Pure. */
  build(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight?: number): KubeObject[];
  /**
   * Makes the Canary's route send `canaryWeight` percent (or the strategy's share) to the canary
   * for this status, and `baselineWeight` to a CanaryJudge's fresh baseline (a router that cannot
   * route to one ignores it, and the judge compares with the primary), writing only what differs.
   * Throws NameClashError when an object at the route's name is not sluice's.
   */
  ensure(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight?: number): Promise<void>;
  /** The objects it writes for this Canary: what ownership checks, adopts and hands over. */
  objects(canary: Canary): RouteObject[];
  /** The weights live now, by backend name (the default rule's), or undefined without a route. */
  weights(canary: Canary): Record<string, number> | undefined;
  /**
   * Whether the gateways serve the route as `ensure` would write it for this status: the cached
   * route is that one, and every gateway in its status reports it Accepted at its generation.
   * false: not yet (the cache or a gateway lags); undefined: no gateway writes status for it, so
   * there is nothing to wait on. What must not lose traffic (pods scaled away) waits for true.
   */
  served(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight?: number): boolean | undefined;
}
