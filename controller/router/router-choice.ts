// Which router shifts a Canary's traffic, from Flagger's spec.provider as Flagger's router
// factory does. sluice has one route kind, the Gateway API HTTPRoute: `gatewayapi` (with or
// without a version) and no provider choose it; any other provider is named in a Warning
// (spec-check.ts) and the HTTPRoute router is used all the same, so a Flagger manifest naming
// another mesh still gets a working rollout instead of none.
import type { Canary } from '../../api/flagger-types.js';
import type { Router } from './router.js';

/** The provider's name without its version (`gatewayapi:v1` → `gatewayapi`); '' for none. */
export function providerName(provider: unknown): string | undefined {
  if (provider === undefined || provider === null || provider === '') return '';
  if (typeof provider !== 'string') return undefined;
  return provider.split(':')[0];
}

/** Whether sluice has a router for this provider (the spec's own version suffix checked too). */
export function isSupportedProvider(provider: unknown, routers: readonly Router[]): boolean {
  if (provider === undefined || provider === null || provider === '') return true;
  if (typeof provider !== 'string') return false;
  return routers.some((r) => r.providers.some((p) => provider === p || new RegExp(`^${p}:v1(beta1)?$`).test(provider)));
}

export class RouterChoice {
  /** `routers[0]` serves a Canary without a provider, and one whose provider no router serves. */
  constructor(private readonly routers: readonly [Router, ...Router[]]) {}

  all(): readonly Router[] {
    return this.routers;
  }

  for(canary: Canary): Router {
    const name = providerName((canary.spec as { provider?: unknown }).provider);
    return this.routers.find((r) => name !== undefined && r.providers.includes(name)) ?? this.routers[0];
  }
}
