// Flagger writes matches the Istio way (`headers: {x-canary: {exact: insider}}`, `uri: {prefix:
// /api}`, `queryParams`, `method: {exact: GET}`); Gateway API wants `headers: [{type, name,
// value}]`. Either form is accepted; the result is Gateway API's. Cookies have no match of their
// own in Gateway API: a `cookie` header match with a regular expression does the same.

export interface GatewayStringMatch {
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface GatewayMatch {
  path?: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  headers?: GatewayStringMatch[];
  queryParams?: GatewayStringMatch[];
  method?: string;
}

type IstioString = { exact?: string; prefix?: string; regex?: string; suffix?: string };

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function stringMatch(name: string, m: IstioString | string): GatewayStringMatch {
  if (typeof m === 'string') return { type: 'Exact', name, value: m };
  if (m.exact !== undefined) return { type: 'Exact', name, value: m.exact };
  if (m.regex !== undefined) return { type: 'RegularExpression', name, value: m.regex };
  if (m.prefix !== undefined) return { type: 'RegularExpression', name, value: `${escapeRegExp(m.prefix)}.*` };
  if (m.suffix !== undefined) return { type: 'RegularExpression', name, value: `.*${escapeRegExp(m.suffix)}` };
  throw new Error(`match on ${name} needs exact, prefix, suffix or regex`);
}

function stringMatches(v: unknown): GatewayStringMatch[] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v as GatewayStringMatch[];
  return Object.entries(v as Record<string, IstioString | string>).map(([k, m]) => stringMatch(k, m));
}

/** One Flagger or Gateway API match, as Gateway API's. Throws with a message for a malformed one. */
export function toGatewayMatch(raw: unknown): GatewayMatch {
  if (typeof raw !== 'object' || raw === null) throw new Error('a match must be an object');
  const m = raw as Record<string, unknown>;
  const out: GatewayMatch = {};
  const headers = stringMatches(m.headers);
  if (headers?.length) out.headers = headers;
  const query = stringMatches(m.queryParams);
  if (query?.length) out.queryParams = query;
  if (m.path !== undefined) out.path = m.path as GatewayMatch['path'];
  else if (m.uri !== undefined) {
    const u = m.uri as IstioString;
    if (u.exact !== undefined) out.path = { type: 'Exact', value: u.exact };
    else if (u.prefix !== undefined) out.path = { type: 'PathPrefix', value: u.prefix };
    else if (u.regex !== undefined) out.path = { type: 'RegularExpression', value: u.regex };
  }
  if (typeof m.method === 'string') out.method = m.method;
  else if (m.method !== undefined) out.method = (m.method as IstioString).exact;
  return out;
}

/** Two matches that must both hold (a service-wide path and an A/B header), as one. */
export function combine(a: GatewayMatch, b: GatewayMatch): GatewayMatch {
  const out: GatewayMatch = { ...a, ...b };
  const headers = [...(a.headers ?? []), ...(b.headers ?? [])];
  const query = [...(a.queryParams ?? []), ...(b.queryParams ?? [])];
  if (headers.length) out.headers = headers;
  if (query.length) out.queryParams = query;
  return out;
}
