// How a Gateway API implementation picks a backend for one request: the HTTPRoute rule whose
// match is most specific wins (Gateway API's precedence order), then a backendRef by weight.
// Pure, so the traffic simulator's behaviour is unit-tested rather than assumed.

export interface StringMatch {
  type?: 'Exact' | 'RegularExpression' | 'PathPrefix';
  name?: string;
  value?: string;
}

export interface RouteMatch {
  path?: StringMatch;
  headers?: StringMatch[];
  queryParams?: StringMatch[];
  method?: string;
}

export interface HeaderModifier {
  add?: { name: string; value: string }[];
  set?: { name: string; value: string }[];
}

export interface RouteFilter {
  type: string;
  requestMirror?: { backendRef: BackendRef };
  responseHeaderModifier?: HeaderModifier;
}

export interface BackendRef {
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  kind?: string;
  group?: string;
  filters?: RouteFilter[];
}

export interface RouteRule {
  matches?: RouteMatch[];
  backendRefs?: BackendRef[];
  filters?: RouteFilter[];
}

/** The cookies a response sets through ResponseHeaderModifier filters (rule's, then the backend's): name → value. */
export function cookiesSet(filters: RouteFilter[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of filters) {
    if (f.type !== 'ResponseHeaderModifier') continue;
    for (const h of [...(f.responseHeaderModifier?.add ?? []), ...(f.responseHeaderModifier?.set ?? [])]) {
      if (h.name.toLowerCase() !== 'set-cookie') continue;
      const pair = h.value.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq > 0) out.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  return out;
}

export interface SimRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  query: Record<string, string>;
}

const DEFAULT_MATCH: RouteMatch = { path: { type: 'PathPrefix', value: '/' } };

function pathMatches(m: StringMatch | undefined, path: string): boolean {
  const type = m?.type ?? 'PathPrefix';
  const value = m?.value ?? '/';
  if (type === 'Exact') return path === value;
  if (type === 'RegularExpression') return new RegExp(`^(?:${value})$`).test(path);
  if (value === '/' || path === value) return true;
  const prefix = value.endsWith('/') ? value : `${value}/`;
  return path.startsWith(prefix);
}

function valueMatches(m: StringMatch, actual: string | undefined): boolean {
  if (actual === undefined) return false;
  // Envoy-based gateways (Cilium's included) apply RE2 as a full match.
  if (m.type === 'RegularExpression') return new RegExp(`^(?:${m.value ?? ''})$`).test(actual);
  return actual === m.value;
}

function lookupHeader(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export function matchApplies(match: RouteMatch, req: SimRequest): boolean {
  if (!pathMatches(match.path, req.path)) return false;
  if (match.method !== undefined && match.method !== req.method) return false;
  for (const h of match.headers ?? []) if (!valueMatches(h, lookupHeader(req.headers, h.name ?? ''))) return false;
  for (const q of match.queryParams ?? []) if (!valueMatches(q, req.query[q.name ?? ''])) return false;
  return true;
}

/**
 * Gateway API precedence among matching rules: Exact path, then the longest path prefix, then a
 * method match, then the most header matches, then the most query matches; ties keep rule order.
 * The result is a sort key: smaller sorts first.
 */
function precedence(match: RouteMatch): number[] {
  const exact = match.path?.type === 'Exact' ? 0 : 1;
  const pathLength = -(match.path?.value ?? '/').length;
  const method = match.method !== undefined ? 0 : 1;
  return [exact, pathLength, method, -(match.headers?.length ?? 0), -(match.queryParams?.length ?? 0)];
}

function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The rule that serves `req`, or undefined when none matches (the gateway answers 404). */
export function selectRule(rules: RouteRule[], req: SimRequest): RouteRule | undefined {
  let best: { rule: RouteRule; key: number[]; index: number } | undefined;
  rules.forEach((rule, index) => {
    const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [DEFAULT_MATCH];
    for (const m of matches) {
      if (!matchApplies(m, req)) continue;
      const key = precedence(m);
      if (!best || compareKeys(key, best.key) < 0 || (compareKeys(key, best.key) === 0 && index < best.index)) {
        best = { rule, key, index };
      }
    }
  });
  return best?.rule;
}

/** Weighted choice among backendRefs; `random` is in [0,1). Undefined when all weights are 0. */
export function pickBackend(refs: BackendRef[], random: number): BackendRef | undefined {
  const weights = refs.map((r) => Math.max(0, r.weight ?? 1));
  const total = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  let point = random * total;
  for (let i = 0; i < refs.length; i++) {
    point -= weights[i] ?? 0;
    if (point < 0) return refs[i];
  }
  return refs[refs.length - 1];
}

/** Envoy's cluster name for a backend, which the seed's MetricTemplates select on. */
export function envoyClusterName(routeNamespace: string, ref: BackendRef): string {
  return `${ref.namespace ?? routeNamespace}_${ref.name}_${ref.port ?? 80}`;
}
