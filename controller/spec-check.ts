// Fields of a Flagger Canary that sluice does not act on. The CRD accepts them (Flagger manifests
// must apply unchanged), so they would be silently ignored; instead they are named in a Warning
// event once per generation.
import type { Canary } from '../api/flagger-types.js';
import type { ClusterCanaryPolicy } from '../api/policy-types.js';
import { choosesRouteKind, DEFAULT_ROUTE_KIND, ROUTE_KINDS, type RouteKindFacts } from '../api/route-kinds.js';
import { policyViolations } from '../policy/constraints.js';
import type { CanaryEvent } from './check-results.js';

const SUPPORTED: Record<string, true> = Object.fromEntries(
  [
    'targetRef',
    'targetRef.apiVersion',
    'targetRef.kind',
    'targetRef.name',
    'autoscalerRef',
    'autoscalerRef.apiVersion',
    'autoscalerRef.kind',
    'autoscalerRef.name',
    'service',
    'service.name',
    'service.port',
    'service.portName',
    'service.targetPort',
    'service.gatewayRefs',
    'service.hosts',
    'service.match',
    'service.timeout',
    'service.backendTimeout',
    'service.headers',
    'service.rewrite',
    'service.apex',
    'service.primary',
    'service.canary',
    'analysis',
    'analysis.interval',
    'analysis.threshold',
    'analysis.maxWeight',
    'analysis.stepWeight',
    'analysis.stepWeights',
    'analysis.stepWeightPromotion',
    'analysis.primaryReadyThreshold',
    'analysis.canaryReadyThreshold',
    'analysis.metrics',
    'analysis.webhooks',
    'analysis.iterations',
    'analysis.match',
    'analysis.mirror',
    'analysis.sessionAffinity',
    'analysis.alerts',
    'analysis.dryRun',
    'progressDeadlineSeconds',
    'skipAnalysis',
    'suspend',
    'provider',
  ].map((k) => [k, true]),
);

// Inside these, every field is interpreted by its own code (metrics) or is free-form.
const OPAQUE = new Set([
  'analysis.metrics',
  'analysis.webhooks',
  'analysis.alerts',
  'analysis.match',
  'analysis.sessionAffinity',
  'service.match',
  'service.gatewayRefs',
  'service.headers',
  'service.rewrite',
  'service.apex',
  'service.primary',
  'service.canary',
  'targetRef',
  'autoscalerRef',
]);

export function unsupportedFields(spec: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(spec)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (!SUPPORTED[path]) {
      out.push(path);
      continue;
    }
    if (!OPAQUE.has(path) && v !== null && typeof v === 'object' && !Array.isArray(v))
      out.push(...unsupportedFields(v as Record<string, unknown>, path));
  }
  return out;
}

/**
 * Flagger's `spec.provider` names the mesh or ingress that shifts traffic. sluice serves the
 * providers of its route kinds (api/route-kinds.ts); any other provider would be silently
 * replaced by the default route kind, so it is named. Undefined when there is nothing to say.
 * `served`: the route kinds this controller has a router for, the default first.
 */
export function providerProblem(spec: Record<string, unknown>, served: readonly RouteKindFacts[] = BUILT_IN): string | undefined {
  const p = spec.provider;
  if (p === undefined || p === null || p === '') return undefined;
  if (typeof p === 'string' && served.some((k) => choosesRouteKind(p, k))) return undefined;
  return `spec.provider ${JSON.stringify(p)} is not supported: sluice shifts traffic through ${(served[0] ?? DEFAULT_ROUTE_KIND).described} and does so for this Canary too`;
}

const BUILT_IN: readonly RouteKindFacts[] = [DEFAULT_ROUTE_KIND, ...Object.values(ROUTE_KINDS).filter((k) => k !== DEFAULT_ROUTE_KIND)];

/** What is said once per generation about a Canary's spec: fields ignored, provider, cluster policy broken. */
export function specWarnings(
  spec: Canary['spec'],
  policies: ClusterCanaryPolicy[],
  served: readonly RouteKindFacts[] = BUILT_IN,
): CanaryEvent[] {
  const out: CanaryEvent[] = [];
  const fields = unsupportedFields(spec as Record<string, unknown>);
  if (fields.length > 0) out.push({ type: 'Warning', message: `Unsupported by sluice, ignored: spec.${fields.join(', spec.')}` });
  const provider = providerProblem(spec as Record<string, unknown>, served);
  if (provider) out.push({ type: 'Warning', message: provider });
  const broken = policyViolations(spec, policies);
  if (broken.length > 0)
    out.push({ type: 'Warning', message: `Breaks cluster policy, analysed within its limits instead: ${broken.join('; ')}` });
  return out;
}
