// Ceilings on what one Canary may ask for. Flagger's CRD bounds few of these, and a Canary is a
// tenant's object: without ceilings one of them can make the controller run thousands of queries
// at once, schedule itself every millisecond (a Node timer past 2^31-1 ms fires at once), or
// generate names Kubernetes refuses, failing on every pass with nothing said. The same list is
// refused at admission (webhook/validate-decision.ts) and reported by the controller as a blocked
// Canary (a Canary admitted while the webhook was away), so a person always hears which limit.
import { names } from './contract.js';
import { parseDuration } from './duration.js';
import type { CanarySpec } from './flagger-types.js';

export const LIMITS = {
  /** analysis.interval, a metric's interval, a hook's timeout, progressDeadlineSeconds. */
  maxDurationMs: 24 * 3_600_000,
  metrics: 50,
  webhooks: 50,
  alerts: 20,
  stepWeights: 100,
  iterations: 10_000,
  /** A Service name is a DNS-1035 label: at most 63 characters, so `<apex>-primary` leaves 55 for the apex. */
  serviceName: 63,
  /** A label value (the Canary's name is one, on every generated object). */
  labelValue: 63,
  /** An object name (the canary copy `<target>-canary`). */
  objectName: 253,
} as const;

function durationProblem(what: string, text: unknown): string | undefined {
  if (text === undefined || text === null || text === '') return undefined;
  if (typeof text !== 'string') return `${what} must be a duration such as 30s or 1m, not ${JSON.stringify(text)}`;
  let ms: number;
  try {
    ms = parseDuration(text, 0);
  } catch (err) {
    return `${what}: ${(err as Error).message}`;
  }
  return ms > LIMITS.maxDurationMs ? `${what} ${text} is longer than the ceiling of 24h` : undefined;
}

const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);

/** Every ceiling this Canary passes, worded for a person; empty when it keeps them all. */
export function limitProblems(spec: CanarySpec, canaryName: string): string[] {
  const out: string[] = [];
  const a = spec.analysis ?? {};
  const apex = spec.service?.name ?? spec.targetRef?.name ?? '';
  for (const generated of [names.primaryService(apex), names.canaryService(apex)]) {
    if (generated.length > LIMITS.serviceName) {
      out.push(
        `the generated Service ${generated} would be longer than ${LIMITS.serviceName} characters; give the Canary a service.name of at most ${LIMITS.serviceName - '-primary'.length}`,
      );
      break;
    }
  }
  if (canaryName.length > LIMITS.labelValue)
    out.push(`the Canary's name is longer than ${LIMITS.labelValue} characters (it labels every object it generates)`);
  const copy = names.canaryCopy(spec.targetRef?.name ?? '');
  if (copy.length > LIMITS.objectName)
    out.push(`the canary copy's name ${copy.slice(0, 40)}… would be longer than ${LIMITS.objectName} characters`);
  const lists: [string, unknown, number][] = [
    ['analysis.metrics', a.metrics, LIMITS.metrics],
    ['analysis.webhooks', a.webhooks, LIMITS.webhooks],
    ['analysis.alerts', a.alerts, LIMITS.alerts],
    ['analysis.stepWeights', a.stepWeights, LIMITS.stepWeights],
  ];
  for (const [what, v, max] of lists) if (count(v) > max) out.push(`${what} has ${count(v)} entries; at most ${max}`);
  if (typeof a.iterations === 'number' && a.iterations > LIMITS.iterations)
    out.push(`analysis.iterations ${a.iterations} is above the ceiling ${LIMITS.iterations}`);
  const durations: [string, unknown][] = [['analysis.interval', a.interval]];
  for (const m of Array.isArray(a.metrics) ? a.metrics.slice(0, LIMITS.metrics) : [])
    durations.push([`analysis.metrics "${m?.name}" interval`, m?.interval]);
  for (const h of Array.isArray(a.webhooks) ? a.webhooks.slice(0, LIMITS.webhooks) : [])
    durations.push([`analysis.webhooks "${h?.name}" timeout`, h?.timeout]);
  for (const [what, text] of durations) {
    const p = durationProblem(what, text);
    if (p) out.push(p);
  }
  const pd = spec.progressDeadlineSeconds;
  if (typeof pd === 'number' && pd * 1000 > LIMITS.maxDurationMs)
    out.push(`progressDeadlineSeconds ${pd} is longer than the ceiling of 24h`);
  return out;
}
