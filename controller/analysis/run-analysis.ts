// One analysis pass: every metric of the Canary queried in parallel and judged. A query that
// cannot be answered (no template, Prometheus down, no data, NaN) is a failed check whose message
// says which and what to do; it never throws.
import { annotations as A, objectName, sharesWith } from '../../api/contract.js';
import { parseDuration, promDuration } from '../../api/duration.js';
import type { Canary, CanaryMetric, MetricTemplate } from '../../api/flagger-types.js';
import { EgressDenied, type EgressGuard } from '../../lib/egress-guard.js';
import type { MetricResult } from '../check-results.js';
import { apexName } from '../generated-objects.js';
import { BUILTIN_QUERIES } from './builtin-metrics.js';
import { PrometheusClient, PrometheusError, redact } from './prometheus-client.js';
import { renderQuery, TemplateError } from './render.js';
import { failure, verdict } from './verdict.js';

export interface AnalysisDeps {
  metricTemplate(namespace: string, name: string): MetricTemplate | undefined;
  /** A Secret's data, decoded; undefined when it does not exist. For a template's `secretRef`. */
  secret?(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** The Prometheus for builtin checks and templates that name no address. */
  defaultPrometheus: string;
  timeoutMs: number;
  /** Addresses the controller may not call (lib/egress-guard.ts). */
  egress?: EgressGuard;
}

const clients = new Map<string, PrometheusClient>();
/** Clients without credentials of their own are shared; a Secret's credentials get a client per query. */
function clientFor(address: string, timeoutMs: number, headers?: Record<string, string>): PrometheusClient {
  if (headers) return new PrometheusClient(address, timeoutMs, headers);
  const key = `${address}|${timeoutMs}`;
  let c = clients.get(key);
  if (!c) {
    // Bounded: addresses come from MetricTemplates, which anyone with a namespace can write.
    if (clients.size >= 1000) clients.clear();
    clients.set(key, (c = new PrometheusClient(address, timeoutMs)));
  }
  return c;
}

/**
 * Flagger's `provider.secretRef` for Prometheus: keys `username` and `password` (Basic auth) or
 * `token` (Bearer), from a Secret in the template's namespace.
 */
async function credentials(tpl: MetricTemplate, deps: AnalysisDeps): Promise<Record<string, string> | string | undefined> {
  const ref = tpl.spec.provider.secretRef?.name;
  if (!ref) return undefined;
  const where = objectName(ref, tpl.metadata.namespace);
  const data = deps.secret
    ? await deps.secret(tpl.metadata.namespace ?? '', ref).catch((err: Error) => `could not be read: ${err.message}`)
    : undefined;
  if (typeof data === 'string') return `Secret ${where} of MetricTemplate ${objectName(tpl.metadata.name, tpl.metadata.namespace)} ${data}`;
  if (!data)
    return `Secret ${where} of MetricTemplate ${objectName(tpl.metadata.name, tpl.metadata.namespace)} not found; create it or fix provider.secretRef`;
  if (data.token) return { authorization: `Bearer ${data.token.trim()}` };
  if (data.username !== undefined && data.password !== undefined)
    return { authorization: `Basic ${Buffer.from(`${data.username}:${data.password}`).toString('base64')}` };
  return `Secret ${where} of MetricTemplate ${objectName(tpl.metadata.name, tpl.metadata.namespace)} has neither "token" nor "username" and "password"`;
}

export function explain(err: unknown, canary: Canary): string {
  if (err instanceof PrometheusError) {
    if (err.kind === 'no-data')
      return `no values found; is ${objectName(`${apexName(canary)}-canary`, canary.metadata.namespace)} receiving traffic?`;
    return err.message;
  }
  if (err instanceof TemplateError) return err.message;
  return (err as Error).message;
}

/** Where a metric's query comes from (a template, its own query, or a builtin), as Flagger reads it. */
export interface MetricSource {
  name: string;
  templateRef?: { name: string; namespace?: string };
  query?: string;
}

/** The query, the Prometheus that answers it and the credentials to send; or why there is none. */
export async function querySource(
  metric: MetricSource,
  canary: Canary,
  deps: AnalysisDeps,
): Promise<{ query: string; address: string; headers?: Record<string, string> } | { failure: string }> {
  const ns = canary.metadata.namespace ?? 'default';
  if (metric.templateRef) {
    const tns = metric.templateRef.namespace ?? ns;
    const tpl = deps.metricTemplate(tns, metric.templateRef.name);
    if (!tpl) return { failure: `MetricTemplate ${objectName(metric.templateRef.name, tns)} not found; create it or fix templateRef` };
    if (tpl.spec.provider.type !== 'prometheus')
      return {
        failure: `provider type "${tpl.spec.provider.type}" of MetricTemplate ${objectName(tpl.metadata.name, tns)} is not supported; sluice queries Prometheus`,
      };
    // Flagger lets a Canary name another namespace's template; its credentials are that
    // namespace's to lend, so they are sent on another namespace's behalf only where its owners say so.
    if (tpl.spec.provider.secretRef?.name && !sharesWith(tpl, ns))
      return {
        failure: `MetricTemplate ${objectName(tpl.metadata.name, tns)} holds credentials (provider.secretRef) and does not share them with namespace ${ns}; its owners may add the annotation ${A.sharedWith}: ${ns}, or copy the template into ${ns}`,
      };
    const address = tpl.spec.provider.address ?? deps.defaultPrometheus;
    const auth = await credentials(tpl, deps);
    if (typeof auth === 'string') return { failure: auth };
    return await guarded({ query: tpl.spec.query, address, ...(auth ? { headers: auth } : {}) }, deps);
  }
  if (metric.query) return await guarded({ query: metric.query, address: deps.defaultPrometheus }, deps);
  const builtin = BUILTIN_QUERIES[metric.name];
  if (!builtin)
    return { failure: `"${metric.name}" is not a builtin metric (request-success-rate, request-duration); give it a templateRef` };
  return await guarded({ query: builtin, address: deps.defaultPrometheus }, deps);
}

async function guarded<T extends { address: string }>(source: T, deps: AnalysisDeps): Promise<T | { failure: string }> {
  try {
    await deps.egress?.check(source.address);
  } catch (err) {
    if (err instanceof EgressDenied) return { failure: `Prometheus at ${redact(source.address)} may not be called: ${err.message}` };
    throw err;
  }
  return source;
}

/** The client for a source: shared unless it carries credentials of its own. */
export const clientOf = (source: { address: string; headers?: Record<string, string> }, deps: AnalysisDeps) =>
  clientFor(source.address, deps.timeoutMs, source.headers);

async function checkOne(canary: Canary, metric: CanaryMetric, deps: AnalysisDeps): Promise<MetricResult> {
  const ns = canary.metadata.namespace ?? 'default';
  const source = await querySource(metric, canary, deps);
  if ('failure' in source) return failure(metric, source.failure);
  try {
    const rendered = renderQuery(source.query, {
      name: canary.metadata.name,
      namespace: ns,
      target: canary.spec.targetRef.name,
      service: apexName(canary),
      interval: promDuration(parseDuration(metric.interval, 60_000)),
      variables: metric.templateVariables ?? {},
    });
    return verdict(metric, await clientOf(source, deps).value(rendered));
  } catch (err) {
    return failure(metric, explain(err, canary));
  }
}

export async function runAnalysis(canary: Canary, deps: AnalysisDeps): Promise<MetricResult[]> {
  const all = canary.spec.analysis?.dryRun === true;
  return Promise.all(
    (canary.spec.analysis?.metrics ?? []).map(async (m) => {
      const r = await checkOne(canary, m, deps);
      return all || m.dryRun === true ? { ...r, dryRun: true } : r;
    }),
  );
}
