// Which router shifts a Canary's traffic, from Flagger's spec.provider as Flagger's router
// factory does: the provider names a route kind (api/route-kinds.ts) and each router serves one.
// `gatewayapi` (with or without a version) and no provider choose the HTTPRoute router; any other
// provider is named in a Warning (spec-check.ts) and the default router is used all the same, so
// a Flagger manifest naming another mesh still gets a working rollout instead of none.
import type { Canary } from '../../api/flagger-types.js';
import { choosesRouteKind } from '../../api/route-kinds.js';
import type { Router } from './router.js';

export class RouterChoice {
  /** `routers[0]` serves a Canary without a provider, and one whose provider no router serves. */
  constructor(private readonly routers: readonly [Router, ...Router[]]) {}

  all(): readonly Router[] {
    return this.routers;
  }

  for(canary: Canary): Router {
    const provider = (canary.spec as { provider?: unknown }).provider;
    if (typeof provider !== 'string' || provider === '') return this.routers[0];
    return this.routers.find((r) => choosesRouteKind(provider, r.facts)) ?? this.routers[0];
  }
}
