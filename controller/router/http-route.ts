// The Gateway API HTTPRoute router: it builds the route for a Canary in a given status (which
// requests reach the primary and which the canary copy), compares it with the live one, and is
// the only code that writes it. One builder for every strategy:
//   canary      one rule split by weight (and, with sessionAffinity, a cookie that keeps a client
//               on the side it first reached, plus a rule that honours it);
//   A/B         requests matching analysis.match go to the canary, the rest to the primary;
//   blue/green  everything to the primary, optionally mirrored to the canary;
// then at release all traffic to the canary, and back to the primary once it runs the revision.
import crypto from 'node:crypto';
import { strategyOf } from '../../api/canary-analysis.js';
import { annotations as A, labels as L, names, objectName } from '../../api/contract.js';
import type { Canary, CanaryStatus } from '../../api/flagger-types.js';
import { phase as phaseFacts } from '../../api/phases.js';
import { Revision } from '../../api/revision.js';
import { isManagedRule, ROUTE_KINDS } from '../../api/route-kinds.js';
import { at, isAlreadyExists, type KubeObject, type ObjectClient } from '../../lib/kube/client.js';
import type { ObjectCache } from '../../lib/kube/informer.js';
import { apexName, generatedMeta, NameClashError } from '../generated-objects.js';
import { combine, type GatewayMatch, toGatewayMatch } from './flagger-match.js';
import type { RouteObject, Router } from './router.js';

type RouteWithStatus = KubeObject & {
  status?: { parents?: { conditions?: { type: string; status: string; observedGeneration?: number }[] }[] };
};

/**
 * Whether every gateway that writes status for the route reports it Accepted at its current
 * generation (Gateway API: a parent's conditions carry the generation they describe). undefined
 * when no gateway writes any. A condition without observedGeneration is taken at its word.
 */
export function gatewaysReport(route: RouteWithStatus): boolean | undefined {
  const parents = route.status?.parents ?? [];
  if (parents.length === 0) return undefined;
  const generation = route.metadata.generation ?? 0;
  return parents.every((p) =>
    (p.conditions ?? []).some((c) => c.type === 'Accepted' && c.status === 'True' && (c.observedGeneration ?? generation) >= generation),
  );
}

/** Rule and filter types sluice writes; anything else on a rule of ours is the user's and kept. */
export const MANAGED_FILTERS = new Set(['RequestMirror', 'RequestHeaderModifier', 'ResponseHeaderModifier', 'URLRewrite']);

export interface BackendRef {
  group: string;
  kind: string;
  name: string;
  port: number;
  weight: number;
  filters?: unknown[];
}

export interface RouteRule {
  matches?: GatewayMatch[];
  backendRefs: BackendRef[];
  filters?: unknown[];
  timeouts?: { request?: string; backendRequest?: string };
}

export interface SessionAffinity {
  cookieName?: string;
  maxAge?: number;
  primaryCookieName?: string;
}

type HeaderOps = { add?: Record<string, string>; set?: Record<string, string>; remove?: string[] };

function headerModifier(type: 'RequestHeaderModifier' | 'ResponseHeaderModifier', ops: HeaderOps | undefined) {
  if (!ops) return [];
  const pairs = (r: Record<string, string> | undefined) => Object.entries(r ?? {}).map(([name, value]) => ({ name, value }));
  const mod: Record<string, unknown> = {};
  if (ops.add && Object.keys(ops.add).length) mod.add = pairs(ops.add);
  if (ops.set && Object.keys(ops.set).length) mod.set = pairs(ops.set);
  if (ops.remove?.length) mod.remove = ops.remove;
  if (Object.keys(mod).length === 0) return [];
  const key = type === 'RequestHeaderModifier' ? 'requestHeaderModifier' : 'responseHeaderModifier';
  return [{ type, [key]: mod }];
}

/** The cookie that pins a client to this revision's canary: a new revision, a new value. */
export function affinityCookie(canary: Canary, status: CanaryStatus): { name: string; value: string } | undefined {
  const a = canary.spec.analysis?.sessionAffinity as SessionAffinity | undefined;
  if (!a) return undefined;
  // With tracked configs the revision is `template+configs`: both halves go in, so a config-only
  // change gets a new cookie too.
  const { template, configs } = Revision.parse(status.lastAppliedSpec ?? 'canary');
  return {
    name: a.cookieName ?? 'flagger-cookie',
    value: configs ? `${template.slice(0, 8)}${configs.slice(0, 8)}` : template.slice(0, 16),
  };
}

const cookieMatch = (name: string, value: string): GatewayMatch => ({
  headers: [{ type: 'RegularExpression', name: 'Cookie', value: `(.*; ?)?${name}=${value}(;.*)?` }],
});

type ServiceExtras = Canary['spec']['service'] & {
  headers?: { request?: HeaderOps; response?: HeaderOps };
  rewrite?: { uri?: string; authority?: string };
  backendTimeout?: string;
  apex?: { labels?: Record<string, string>; annotations?: Record<string, string> };
};

/** What every rule of a Canary's route carries from spec.service: its matches, header and rewrite filters, timeouts. */
function serviceWide(service: ServiceExtras) {
  const baseMatches: GatewayMatch[] = (Array.isArray(service.match) ? service.match : []).map(toGatewayMatch);
  const common: unknown[] = [
    ...headerModifier('RequestHeaderModifier', service.headers?.request),
    ...headerModifier('ResponseHeaderModifier', service.headers?.response),
  ];
  if (service.rewrite?.uri !== undefined || service.rewrite?.authority !== undefined) {
    const prefixed = baseMatches.length > 0 && baseMatches.every((m) => m.path?.type === 'PathPrefix');
    common.push({
      type: 'URLRewrite',
      urlRewrite: {
        ...(service.rewrite.authority ? { hostname: service.rewrite.authority } : {}),
        ...(service.rewrite.uri !== undefined
          ? {
              path: prefixed
                ? { type: 'ReplacePrefixMatch', replacePrefixMatch: service.rewrite.uri }
                : { type: 'ReplaceFullPath', replaceFullPath: service.rewrite.uri },
            }
          : {}),
      },
    });
  }
  const timeouts =
    service.timeout || service.backendTimeout
      ? {
          timeouts: {
            ...(service.timeout ? { request: service.timeout } : {}),
            ...(service.backendTimeout ? { backendRequest: service.backendTimeout } : {}),
          },
        }
      : {};
  return { baseMatches, common, timeouts };
}

/**
 * The route's name and spec for a Canary in this status, with `canaryWeight` to the canary and
 * `baselineWeight` to a CanaryJudge's fresh baseline (taken from the primary's share). Pure.
 */
export function routeFor(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight = 0) {
  const apex = canary.spec.service.name ?? canary.spec.targetRef.name;
  const s = canary.spec.service;
  const a = canary.spec.analysis ?? {};
  const phase = status.phase ?? '';
  const strategy = strategyOf(canary);
  const w = Math.max(0, Math.min(100, Math.round(canaryWeight)));
  const primaryName = names.primaryService(apex);
  const canaryName = names.canaryService(apex);
  const ref = (name: string, weight: number, filters?: unknown[]): BackendRef => ({
    group: '',
    kind: 'Service',
    name,
    port: s.port,
    weight,
    ...(filters?.length ? { filters } : {}),
  });

  const service = s as ServiceExtras;
  const { baseMatches, common, timeouts } = serviceWide(service);
  const rule = (matches: GatewayMatch[], backendRefs: BackendRef[], extraFilters: unknown[] = []): RouteRule => ({
    ...(matches.length ? { matches } : {}),
    backendRefs,
    ...(common.length + extraFilters.length ? { filters: [...extraFilters, ...common] } : {}),
    ...timeouts,
  });
  const within = (extra: GatewayMatch[]) =>
    baseMatches.length === 0 ? extra : baseMatches.flatMap((b) => extra.map((e) => combine(b, e)));

  const rules: RouteRule[] = [];
  const analysing = phaseFacts(phase).analysing;
  if (analysing && strategy === 'ab') {
    const abMatches = (a.match as unknown[]).map(toGatewayMatch);
    rules.push(rule(within(abMatches), [ref(primaryName, 0), ref(canaryName, 100)]));
    rules.push(rule(baseMatches, [ref(primaryName, 100), ref(canaryName, 0)]));
  } else if (analysing && strategy === 'bluegreen') {
    const mirror =
      a.mirror === true
        ? [{ type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: canaryName, port: s.port } } }]
        : [];
    rules.push(rule(baseMatches, [ref(primaryName, 100), ref(canaryName, 0)], mirror));
  } else {
    const cookie = affinityCookie(canary, status);
    const aff = a.sessionAffinity as SessionAffinity | undefined;
    if (analysing && cookie && w > 0) {
      // A client the split sent to the canary gets its cookie and comes back to it; one sent to
      // the primary gets the primary's cookie (when named) and stays there, so no client flips
      // between revisions mid-rollout.
      const maxAge = aff?.maxAge ?? 86400;
      const setCookie = (name: string, value: string) => [
        {
          type: 'ResponseHeaderModifier',
          responseHeaderModifier: { add: [{ name: 'Set-Cookie', value: `${name}=${value}; Max-Age=${maxAge}` }] },
        },
      ];
      rules.push(rule(within([cookieMatch(cookie.name, cookie.value)]), [ref(primaryName, 0), ref(canaryName, 100)]));
      if (aff?.primaryCookieName)
        rules.push(rule(within([cookieMatch(aff.primaryCookieName, cookie.value)]), [ref(primaryName, 100), ref(canaryName, 0)]));
      rules.push(
        rule(baseMatches, [
          ref(primaryName, 100 - w, aff?.primaryCookieName ? setCookie(aff.primaryCookieName, cookie.value) : undefined),
          ref(canaryName, w, setCookie(cookie.name, cookie.value)),
        ]),
      );
    } else {
      const b = analysing ? Math.max(0, Math.min(100 - w, Math.round(baselineWeight))) : 0;
      const baseline = b > 0 ? [ref(names.baselineService(apex), b)] : [];
      rules.push(rule(baseMatches, [ref(primaryName, 100 - w - b), ref(canaryName, w), ...baseline]));
    }
  }
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: ROUTE_KINDS.HTTPRoute.kind,
    metadata: {
      name: ROUTE_KINDS.HTTPRoute.objectName(apex),
      labels: service.apex?.labels ?? {},
      annotations: service.apex?.annotations ?? {},
    },
    spec: {
      parentRefs: (s.gatewayRefs ?? []).map((g) => ({
        group: g.group ?? 'gateway.networking.k8s.io',
        kind: g.kind ?? 'Gateway',
        name: g.name,
        ...(g.namespace ? { namespace: g.namespace } : {}),
        ...(g.sectionName ? { sectionName: g.sectionName } : {}),
        ...(g.port ? { port: g.port } : {}),
      })),
      ...(s.hosts && s.hosts.length > 0 ? { hostnames: s.hosts } : {}),
      rules,
    },
  };
}

/**
 * The rules to write: sluice's, then every rule of the live route that is not sluice's (a user's
 * redirect, another backend), and on sluice's default (last) rule any filter of a type sluice
 * never sets, found on sluice's rules of the live route.
 */
export function mergeRules(
  want: RouteRule[],
  live: { backendRefs?: { name?: string }[]; filters?: { type?: string }[] }[] | undefined,
  apex: string,
): unknown[] {
  const theirs = (live ?? []).filter((r) => !isManagedRule(r, apex));
  const keptFilters = (live ?? [])
    .filter((r) => isManagedRule(r, apex))
    .flatMap((r) => (r.filters ?? []).filter((f) => !MANAGED_FILTERS.has(f.type ?? '')));
  const unique = keptFilters.filter((f, i) => keptFilters.findIndex((g) => JSON.stringify(g) === JSON.stringify(f)) === i);
  const ours = want.map((r, i) => (i === want.length - 1 && unique.length ? { ...r, filters: [...unique, ...(r.filters ?? [])] } : r));
  return [...ours, ...theirs];
}

/** The HTTPRoute as sluice writes it: routeFor's spec with sluice's labels, owner and spec hash. */
export function desiredRoute(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight = 0) {
  const r = routeFor(canary, status, canaryWeight, baselineWeight);
  const m = generatedMeta(canary, r.metadata.name);
  const hash = crypto.createHash('sha256').update(JSON.stringify(r.spec)).digest('hex').slice(0, 16);
  return {
    ...r,
    metadata: { ...m, labels: { ...r.metadata.labels, ...m.labels }, annotations: { ...r.metadata.annotations, [A.routeHash]: hash } },
  };
}

type LiveRule = { backendRefs?: { name?: string; weight?: number; port?: number }[]; filters?: { type?: string }[] };
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class HttpRouteRouter implements Router {
  readonly facts = ROUTE_KINDS.HTTPRoute;

  constructor(
    private readonly client: ObjectClient,
    /** sluice's HTTPRoutes (selected by label). */
    private readonly routes: ObjectCache<KubeObject & { spec?: Record<string, unknown> }>,
  ) {}

  build(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight = 0): KubeObject[] {
    return [desiredRoute(canary, status, canaryWeight, baselineWeight) as KubeObject];
  }

  objects(canary: Canary): RouteObject[] {
    const ns = canary.metadata.namespace!;
    const name = this.facts.objectName(apexName(canary));
    return [{ ref: at(this.facts.ref, ns, name), kind: this.facts.kind, cached: this.routes.get(ns, name) }];
  }

  weights(canary: Canary): Record<string, number> | undefined {
    const apex = apexName(canary);
    return this.facts.split(this.routes.get(canary.metadata.namespace, this.facts.objectName(apex)), apex);
  }

  served(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight = 0): boolean | undefined {
    const want = desiredRoute(canary, status, canaryWeight, baselineWeight);
    const have = this.routes.get(canary.metadata.namespace, want.metadata.name) as RouteWithStatus | undefined;
    if (!have) return false;
    if (have.metadata.annotations?.[A.routeHash] !== want.metadata.annotations[A.routeHash]) return false;
    return gatewaysReport(have);
  }

  async ensure(canary: Canary, status: CanaryStatus, canaryWeight: number, baselineWeight = 0): Promise<void> {
    const ns = canary.metadata.namespace!;
    const want = desiredRoute(canary, status, canaryWeight, baselineWeight);
    const ref = at(this.facts.ref, ns, want.metadata.name);
    const have = this.routes.get(ns, want.metadata.name);
    if (!have) {
      try {
        await this.client.create(at(this.facts.ref, ns), want);
        return;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      // Created meanwhile: patched only if it is sluice's (the cache had not caught up), never adopted.
      const existing = await this.client.find<KubeObject>(ref);
      if (existing && existing.metadata.labels?.[L.canaryName] === undefined)
        throw new NameClashError(objectName(canary.metadata.name, ns), [{ kind: this.facts.kind, name: want.metadata.name }]);
      await this.client.patch(ref, { spec: want.spec });
      return;
    }
    const spec = have.spec as { parentRefs?: unknown[]; hostnames?: unknown[]; rules?: LiveRule[] } | undefined;
    const apex = apexName(canary);
    // The hash says whether sluice's rules are what it last wrote; the weights are compared too,
    // in case someone edited them with the validating webhook out of the way.
    const weights = (rs: LiveRule[] | undefined) =>
      (rs ?? []).filter((r) => isManagedRule(r, apex)).map((r) => (r.backendRefs ?? []).map((b) => [b.name, b.weight ?? 1]));
    if (
      have.metadata.annotations?.[A.routeHash] === want.metadata.annotations[A.routeHash] &&
      same(weights(spec?.rules), weights(want.spec.rules as LiveRule[]))
    )
      return;
    await this.client.patch(ref, {
      metadata: { labels: want.metadata.labels, annotations: want.metadata.annotations },
      spec: {
        parentRefs: want.spec.parentRefs,
        hostnames: want.spec.hostnames ?? null,
        rules: mergeRules(want.spec.rules, spec?.rules, apex),
      },
    });
  }
}
