// What differs between the kinds of route a Canary's traffic can go through, as one table of
// pure facts shared by the webhook (what of a route only sluice may change), kubectl-sluice (where
// the route is and what split it holds) and the controller (which provider chooses which route;
// its routers in controller/router/ add how a route is built and written). sluice has one route
// kind today, the Gateway API HTTPRoute; docs/architecture.md "Adding a route kind" lists the files
// a second one touches.
import { R, type ResourceRef } from '../lib/kube/client.js';
import { names } from './contract.js';

export const ROUTE_KINDS_LIST = ['HTTPRoute'] as const;
export type RouteKind = (typeof ROUTE_KINDS_LIST)[number];

type Rule = { backendRefs?: { name?: string; weight?: number }[] };
/** A route object as read: only its spec is looked at, and checked as it is read. */
type RouteLike = object | undefined;
const specOf = (route: RouteLike) => ((route as { spec?: unknown } | undefined)?.spec ?? {}) as Record<string, unknown>;

export interface RouteKindFacts {
  readonly kind: RouteKind;
  /** Where the apiserver serves it. */
  readonly ref: ResourceRef;
  /** Flagger's spec.provider names (without a version) that choose this route kind. */
  readonly providers: readonly string[];
  /** The versions a provider may carry after a colon (`gatewayapi:v1`). */
  readonly providerVersions: readonly string[];
  /** How a message names it for a person. */
  readonly described: string;
  /** The name of the Canary's route object (`apex`: the Canary's service name). */
  objectName(apex: string): string;
  /** The part of a route object only sluice may change: a person's change to it is refused. */
  managedPart(route: RouteLike, apex: string): unknown;
  /** The split live on the route's default (catch-all) rule, by backend name; undefined with no rule of sluice's. */
  split(route: RouteLike, apex: string): Record<string, number> | undefined;
}

/** A route rule is sluice's when it sends traffic to the Canary's primary or canary Service. */
export function isManagedRule(rule: Rule, apex: string): boolean {
  return backendsOf(rule).some((b) => b.name === names.primaryService(apex) || b.name === names.canaryService(apex));
}

// A live route is read as it comes (a person may have written it): anything not shaped as
// expected counts as absent instead of throwing.
const backendsOf = (rule: Rule) =>
  Array.isArray(rule.backendRefs) ? rule.backendRefs.filter((b) => b !== null && typeof b === 'object') : [];

const rulesOf = (route: RouteLike): Rule[] => {
  const rules = specOf(route).rules;
  return Array.isArray(rules) ? rules.filter((r): r is Rule => r !== null && typeof r === 'object') : [];
};

const HTTP_ROUTE: RouteKindFacts = {
  kind: 'HTTPRoute',
  ref: R.httproutes,
  providers: ['gatewayapi'],
  providerVersions: ['v1', 'v1beta1'],
  described: 'a Gateway API HTTPRoute (provider gatewayapi:v1)',
  objectName: (apex) => names.httpRoute(apex),
  // Parents, hostnames and the rules that route to the Canary's Services are sluice's; a rule of
  // one's own (a redirect, another backend) may be added and sluice keeps it.
  managedPart: (route, apex) => {
    const spec = specOf(route);
    return { parentRefs: spec.parentRefs, hostnames: spec.hostnames, rules: rulesOf(route).filter((r) => isManagedRule(r, apex)) };
  },
  // sluice writes its rules first and its catch-all rule last of them; a person's rules follow.
  // A backend without a weight gets 1, as the Gateway API defines.
  split: (route, apex) => {
    const last = rulesOf(route)
      .filter((r) => isManagedRule(r, apex))
      .at(-1);
    return last ? Object.fromEntries(backendsOf(last).map((b) => [b.name ?? '', typeof b.weight === 'number' ? b.weight : 1])) : undefined;
  },
};

export const ROUTE_KINDS: Record<RouteKind, RouteKindFacts> = { HTTPRoute: HTTP_ROUTE };

/** The route kind a Canary without a provider gets. */
export const DEFAULT_ROUTE_KIND: RouteKindFacts = HTTP_ROUTE;

/** The facts of a route kind by its Kubernetes kind, or undefined for any other kind. */
export const routeKindFacts = (kind: string | undefined): RouteKindFacts | undefined =>
  (ROUTE_KINDS_LIST as readonly string[]).includes(kind ?? '') ? ROUTE_KINDS[kind as RouteKind] : undefined;

/** Whether a spec.provider value chooses this route kind (a version suffix must be one it knows). */
export function choosesRouteKind(provider: string, facts: RouteKindFacts): boolean {
  const [name, version, ...rest] = provider.split(':');
  if (rest.length > 0 || !facts.providers.includes(name ?? '')) return false;
  return version === undefined || facts.providerVersions.includes(version);
}

/**
 * The route kind Flagger's spec.provider chooses: the default without one, undefined for a
 * provider no route kind serves (the controller says so and uses the default all the same).
 */
export function routeKindFor(provider: unknown): RouteKindFacts | undefined {
  if (provider === undefined || provider === null || provider === '') return DEFAULT_ROUTE_KIND;
  if (typeof provider !== 'string') return undefined;
  return ROUTE_KINDS_LIST.map((k) => ROUTE_KINDS[k]).find((f) => choosesRouteKind(provider, f));
}

/** The route kind a Canary's traffic goes through: the provider's, else the default. */
export const routeKindOf = (spec: { provider?: unknown }): RouteKindFacts => routeKindFor(spec.provider) ?? DEFAULT_ROUTE_KIND;
