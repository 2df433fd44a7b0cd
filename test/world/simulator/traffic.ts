// The traffic engine: every tick, each HTTPRoute attached to a Gateway of our class receives its
// share of a steady request rate; each request is routed, answered and recorded as metrics.

import type { SimulatorMetrics } from './metrics.js';
import type { BackendState, Fault, Random } from './outcome.js';
import { requestOutcome } from './outcome.js';
import { cookiesSet, envoyClusterName, pickBackend, type RouteRule, type SimRequest, selectRule } from './routing.js';

export interface RequestVariant {
  /** Relative share of this kind of request within the route's traffic. */
  share: number;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /**
   * Requests of this variant come from this many clients that keep the cookies responses set
   * (a browser's cookie jar), as a session-affinity test needs.
   */
  clients?: number;
}

export interface TrafficProfile {
  ratePerSecond: number;
  variants: RequestVariant[];
}

export interface ActiveRoute {
  namespace: string;
  name: string;
  rules: RouteRule[];
}

export interface RouteStats {
  requests: number;
  notMatched: number;
  byBackend: Record<string, { requests: number; errors: number }>;
  /** For requests that carried a cookie: `name=value` → backend → requests. */
  byCookie: Record<string, Record<string, number>>;
}

export interface TrafficWorld {
  routes(): ActiveRoute[];
  backend(namespace: string, service: string): BackendState;
  fault(namespace: string, service: string): Fault | undefined;
  profile(namespace: string, route: string): TrafficProfile;
}

function pickVariant(variants: RequestVariant[], random: Random): RequestVariant {
  const total = variants.reduce((a, v) => a + Math.max(0, v.share), 0);
  let point = random() * total;
  for (const v of variants) {
    point -= Math.max(0, v.share);
    if (point < 0) return v;
  }
  return variants[variants.length - 1] ?? { share: 1 };
}

export class TrafficEngine {
  private readonly debt = new Map<string, number>();
  /** Cookie jars per route, variant and client. */
  private readonly jars = new Map<string, Map<string, string>[]>();
  readonly stats = new Map<string, RouteStats>();

  constructor(
    private readonly world: TrafficWorld,
    private readonly metrics: SimulatorMetrics,
    private readonly random: Random = Math.random,
  ) {}

  /** Sends the requests due over `elapsedMs`; fractional requests carry over to the next tick. */
  tick(elapsedMs: number): void {
    for (const route of this.world.routes()) {
      const key = `${route.namespace}/${route.name}`;
      const profile = this.world.profile(route.namespace, route.name);
      const due = (this.debt.get(key) ?? 0) + (profile.ratePerSecond * elapsedMs) / 1000;
      const count = Math.floor(due);
      this.debt.set(key, due - count);
      for (let i = 0; i < count; i++) this.send(route, profile, key);
    }
  }

  private statsFor(key: string): RouteStats {
    let s = this.stats.get(key);
    if (!s) this.stats.set(key, (s = { requests: 0, notMatched: 0, byBackend: {}, byCookie: {} }));
    return s;
  }

  private send(route: ActiveRoute, profile: TrafficProfile, key: string): void {
    const v = pickVariant(profile.variants, this.random);
    let jar: Map<string, string> | undefined;
    if (v.clients && v.clients > 0) {
      const jarsKey = `${key}#${profile.variants.indexOf(v)}`;
      let jars = this.jars.get(jarsKey);
      if (!jars || jars.length !== v.clients)
        this.jars.set(jarsKey, (jars = Array.from({ length: v.clients }, () => new Map<string, string>())));
      jar = jars[Math.floor(this.random() * jars.length)]!;
    }
    const headers = { ...(v.headers ?? {}) };
    if (jar && jar.size > 0) headers.Cookie = [...jar].map(([k, val]) => `${k}=${val}`).join('; ');
    const req: SimRequest = { method: v.method ?? 'GET', path: v.path ?? '/', headers, query: v.query ?? {} };
    const stats = this.statsFor(key);
    stats.requests++;
    const rule = selectRule(route.rules, req);
    if (!rule) {
      stats.notMatched++;
      return;
    }
    for (const f of rule.filters ?? []) {
      // Mirrored copies are sent and measured, their answers discarded (RequestMirror semantics).
      if (f.type === 'RequestMirror' && f.requestMirror) this.deliver(route, f.requestMirror.backendRef, req, undefined);
    }
    const ref = pickBackend(rule.backendRefs ?? [], this.random());
    if (!ref) {
      // Every weight is zero: Gateway API requires a 500 from the gateway itself.
      const none = (stats.byBackend['(no backend)'] ??= { requests: 0, errors: 0 });
      none.requests++;
      none.errors++;
      return;
    }
    this.deliver(route, ref, req, stats);
    if (jar) {
      for (const [k, val] of jar) {
        const row = (stats.byCookie[`${k}=${val}`] ??= {});
        row[ref.name] = (row[ref.name] ?? 0) + 1;
      }
      for (const [k, val] of cookiesSet([...(rule.filters ?? []), ...(ref.filters ?? [])])) jar.set(k, val);
    }
  }

  private deliver(
    route: ActiveRoute,
    ref: { name: string; namespace?: string; port?: number },
    req: SimRequest,
    stats: RouteStats | undefined,
  ): void {
    const namespace = ref.namespace ?? route.namespace;
    const outcome = requestOutcome(this.world.backend(namespace, ref.name), this.world.fault(namespace, ref.name), this.random);
    this.metrics.record({
      cluster: envoyClusterName(route.namespace, ref),
      namespace,
      service: ref.name,
      code: outcome.code,
      latencyMs: outcome.latencyMs,
      reachedWorkload: outcome.reachedWorkload,
      method: req.method,
      path: req.path,
    });
    if (stats) {
      const b = (stats.byBackend[ref.name] ??= { requests: 0, errors: 0 });
      b.requests++;
      if (outcome.code >= 500) b.errors++;
    }
  }
}
