// What a Canary's analysis means, read by everyone alike: Flagger's defaults for what the spec
// leaves out, the strategy, the weights, the interval and the hooks of each type. The controller's
// state machine, cluster policy's constraints and the router all ask here, so they can never
// disagree about an omitted field.
import { parseDuration } from './duration.js';
import type { Canary, CanarySpec } from './flagger-types.js';

export const DEFAULTS = {
  intervalMs: 60_000,
  threshold: 5,
  maxWeight: 100,
  stepWeight: 10,
  progressDeadlineSeconds: 600,
  readyThreshold: 100,
};

export type HookType =
  | 'confirm-rollout'
  | 'pre-rollout'
  | 'rollout'
  | 'confirm-traffic-increase'
  | 'confirm-promotion'
  | 'post-rollout'
  | 'rollback'
  | 'event';

/** The Canary's hooks of one type (a hook without a type is a `rollout` hook, as in Flagger). */
export const hooksOf = (canary: Canary, type: HookType) =>
  (canary.spec.analysis?.webhooks ?? []).filter((h) => (h.type ?? 'rollout') === type);

/**
 * How a Canary shifts traffic. `canary`: weights step up to maxWeight. With `analysis.iterations`,
 * no weights: `ab` sends requests matching `analysis.match` to the canary; `bluegreen` sends it
 * nothing (or a mirror of the traffic); both release after that many passing checks.
 */
export type Strategy = 'canary' | 'ab' | 'bluegreen';
export function strategyOf(canary: Canary): Strategy {
  const a = canary.spec.analysis ?? {};
  if (a.iterations === undefined || a.iterations <= 0) return 'canary';
  return Array.isArray(a.match) && a.match.length > 0 ? 'ab' : 'bluegreen';
}

/** The analysis interval, never below `floorMs` (the controller's --min-interval). */
export function analysisInterval(canary: Canary, floorMs: number): number {
  return Math.max(floorMs, parseDuration(canary.spec.analysis?.interval, DEFAULTS.intervalMs));
}

/** The highest canary weight: maxWeight, else the largest of stepWeights, else Flagger's 100. */
export function maxWeight(spec: CanarySpec): number {
  const a = spec.analysis ?? {};
  return (
    a.maxWeight ?? (a.stepWeights && a.stepWeights.length > 0 ? a.stepWeights.reduce((m, w) => Math.max(m, w), 0) : DEFAULTS.maxWeight)
  );
}

/** The weight after `current` on a passing check: the next of stepWeights, or current + stepWeight, capped at maxWeight. */
export function nextWeight(spec: CanarySpec, current: number): number {
  const a = spec.analysis ?? {};
  const max = maxWeight(spec);
  if (a.stepWeights && a.stepWeights.length > 0) {
    const next = a.stepWeights.find((w) => w > current);
    return Math.min(next ?? max, max);
  }
  return Math.min(current + (a.stepWeight ?? DEFAULTS.stepWeight), max);
}

/** The name the Canary's Services and route are derived from: spec.service.name, else the target's. */
export const apexName = (canary: Canary) => canary.spec.service.name ?? canary.spec.targetRef.name;
