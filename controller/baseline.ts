// The fresh baseline a CanaryJudge compares the candidate with (docs/analysis.md): a Deployment
// `<target>-baseline` running the stable revision, at the canary's size while a rollout is
// analysed and at zero otherwise, with its own Service, taking the canary's share of traffic from
// the primary. Fresh pods on both sides neutralise warm-up: the candidate is never compared with
// pods that have been warm for days. Pure; converge.ts writes what it says.
import { strategyOf } from '../api/canary-analysis.js';
import { type CanaryJudge, type ResolvedJudge, resolveJudge } from '../api/canary-judge.js';
import { annotations as A } from '../api/contract.js';
import type { Canary, CanaryStatus } from '../api/flagger-types.js';
import { templatePart } from '../api/revision.js';
import { type Deployment, revisionOf } from '../api/workload.js';
import { copyTemplate, type Desired, type TrackedNow } from './desired-state.js';
import { releasedRevision } from './state-machine.js';

/** The phases in which the candidate is judged, so the baseline runs and takes traffic. */
const ANALYSED = new Set(['Progressing', 'WaitingPromotion']);

/** Why a Canary with this judge gets no fresh baseline, or undefined when it gets one. */
export function noBaselineBecause(canary: Canary, judge: ResolvedJudge, hasCopy: boolean): string | undefined {
  if (judge.baseline === 'primary') return 'the CanaryJudge asks for the primary (spec.baseline: primary)';
  if (!hasCopy)
    return `a ${canary.spec.targetRef.kind} has no fresh baseline: compared with the primary pods, which have been warm for longer (a fresh pod's warm-up can read as a regression)`;
  if (strategyOf(canary) !== 'canary')
    return 'A/B and blue/green analysis route no weighted share to a baseline: compared with the primary pods';
  return undefined;
}

/** The judge of this Canary, resolved; an error names what is wrong with it; undefined: none. */
export function judgeOf(canary: Canary, judges: { get(ns: string | undefined, name: string): CanaryJudge | undefined } | undefined) {
  const judge = judges?.get(canary.metadata.namespace, canary.metadata.name);
  return judge ? resolveJudge(judge) : undefined;
}

/**
 * What the baseline should be: the stable template (taken while the target runs its released
 * revision, so it is known before any rollout starts), at the candidate's replicas while it is
 * analysed. Undefined when it does not exist and its template cannot be known yet (a judge added
 * in the middle of a rollout): the judge then compares with the primary and says why.
 */
export function desiredBaseline(
  status: CanaryStatus,
  target: Deployment,
  baseline: Deployment | undefined,
  tracked: TrackedNow | undefined,
  copyReplicas: number,
): NonNullable<Desired['copy']> | undefined {
  const revision = revisionOf(target, tracked?.hash).id;
  // The target must already say so (its stable-revision annotation): sluice's webhook checks a
  // baseline's template against that annotation, and converge writes the target after the baseline.
  const stableNow =
    revision === releasedRevision(status) &&
    !ANALYSED.has(status.phase ?? '') &&
    templatePart(target.metadata.annotations?.[A.stableRevision]) === templatePart(revision);
  if (!baseline && !stableNow) return undefined;
  const fresh = stableNow && baseline?.metadata.annotations?.[A.revision] !== revision;
  return {
    template: fresh ? copyTemplate(target, tracked?.snapshots ?? {}) : undefined,
    revision: fresh ? revision : undefined,
    replicas: ANALYSED.has(status.phase ?? '') ? copyReplicas : 0,
  };
}

/** The baseline's share of traffic: the canary's, taken from the primary, once a baseline pod is ready. */
export function baselineWeight(status: CanaryStatus, canaryWeight: number, baselineReady: boolean): number {
  if (!baselineReady || !ANALYSED.has(status.phase ?? '')) return 0;
  return Math.max(0, Math.min(canaryWeight, 100 - canaryWeight));
}

export const isReady = (d: Deployment | undefined) => ((d?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0) > 0;
