// The rollout state machine: (Canary, observed objects, metric results, now) → (next status,
// events, requeue-after). Pure and level-triggered: everything it needs to resume after a crash
// is in the Canary's status and the live objects, and a step is recorded (weight, failed checks,
// lastTransitionTime) in the same status write that decides it, so no step repeats or is skipped.
import { annotations, names, objectName, shortRevision } from '../api/contract.js';
import type { Canary, CanaryCondition, CanaryStatus, Phase } from '../api/flagger-types.js';
import { parseDuration } from '../api/duration.js';
import { templatePart } from '../api/tracked-configs.js';
import { DEFAULTS } from '../api/canary-defaults.js';
import { revisionOf, rolloutProgress, type Deployment, type HorizontalPodAutoscaler } from '../api/workload.js';

export interface Observed {
  target: Deployment | undefined;
  canaryDeployment: Deployment | undefined;
  autoscaler: HorizontalPodAutoscaler | undefined;
}

export interface MetricResult {
  name: string;
  ok: boolean;
  /** For a failed check, Flagger's wording after "advancement", e.g. "success rate 69.17% < 99%". */
  message: string;
  value?: number;
}

export interface CanaryEvent {
  type: 'Normal' | 'Warning';
  message: string;
  /** The hook whose answer caused it (a hook with muteAlert raises no alert). */
  hook?: string;
}

export interface Settings {
  /** Floor for analysis intervals (tests run with seconds). */
  minIntervalMs: number;
  /** How often to look again while waiting on a rollout. */
  pollMs: number;
}

export type HookType = 'confirm-rollout' | 'pre-rollout' | 'rollout' | 'confirm-traffic-increase' | 'confirm-promotion' | 'post-rollout' | 'rollback' | 'event';

export interface HookResult {
  name: string;
  /** Answered 2xx within its timeout. */
  ok: boolean;
  /** For a hook that did not: what happened, for events ("answered 403: closed", "timed out after 5s"). */
  message: string;
}

/** Hook answers gathered so far in this pass, by type. */
export type HookResults = Partial<Record<HookType, HookResult[]>>;

export interface Decision {
  status: CanaryStatus;
  events: CanaryEvent[];
  requeueAfterMs: number | undefined;
  /** The step is due and needs metric results: call again with them. */
  needMetrics?: boolean;
  /** The step needs the answers of this type's hooks: call again with them added. */
  needHooks?: HookType;
}


const IDLE: Phase[] = ['Initialized', 'Succeeded', 'Failed'];
/** Phases in which the canary copy runs the revision under test. */
export const ACTIVE: Phase[] = ['Progressing', 'WaitingPromotion', 'Promoting', 'Finalising'];

export const hooksOf = (canary: Canary, type: HookType) => (canary.spec.analysis?.webhooks ?? []).filter((h) => (h.type ?? 'rollout') === type);

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

export function analysisInterval(canary: Canary, s: Settings): number {
  return Math.max(s.minIntervalMs, parseDuration(canary.spec.analysis?.interval, DEFAULTS.intervalMs));
}

/** The weight after `current` on a passing check: the next of stepWeights, or current + stepWeight, capped at maxWeight. */
export function nextWeight(canary: Canary, current: number): number {
  const a = canary.spec.analysis ?? {};
  const max = maxWeight(canary);
  if (a.stepWeights && a.stepWeights.length > 0) {
    const next = a.stepWeights.find((w) => w > current);
    return Math.min(next ?? max, max);
  }
  return Math.min(current + (a.stepWeight ?? DEFAULTS.stepWeight), max);
}

export function maxWeight(canary: Canary): number {
  const a = canary.spec.analysis ?? {};
  return a.maxWeight ?? (a.stepWeights && a.stepWeights.length > 0 ? Math.max(...a.stepWeights) : DEFAULTS.maxWeight);
}

/** The revision the target's primary pods should run now (what the stable-revision annotation says). */
export function releasedRevision(status: CanaryStatus): string | undefined {
  return status.phase === 'Promoting' || status.phase === 'Finalising' ? status.lastAppliedSpec : status.lastPromotedSpec;
}

const promotedCondition = (phase: Phase, now: string, prev: CanaryCondition[] | undefined): CanaryCondition[] => {
  const table: Partial<Record<Phase, [CanaryCondition['status'], string, string]>> = {
    Initialized: ['True', 'Initialized', 'Deployment initialization completed.'],
    Progressing: ['Unknown', 'Progressing', 'New revision detected, analysing it on the canary.'],
    Promoting: ['Unknown', 'Progressing', 'Analysis passed, releasing the revision to the primary.'],
    Finalising: ['Unknown', 'Finalising', 'Primary released, routing traffic back to it.'],
    Succeeded: ['True', 'Succeeded', 'Canary analysis completed successfully, promotion finished.'],
    Failed: ['False', 'Failed', 'Canary analysis failed, canary scaled to zero.'],
  };
  const row = table[phase];
  if (!row) return prev ?? [];
  const old = prev?.find((c) => c.type === 'Promoted');
  const transition = old && old.status === row[0] ? (old.lastTransitionTime ?? now) : now;
  return [{ type: 'Promoted', status: row[0], reason: row[1], message: row[2], lastUpdateTime: now, lastTransitionTime: transition }];
};

function withPhase(status: CanaryStatus, phase: Phase, now: Date, extra: Partial<CanaryStatus> = {}): CanaryStatus {
  const iso = now.toISOString();
  return { ...status, ...extra, phase, lastTransitionTime: iso, conditions: promotedCondition(phase, iso, status.conditions) };
}

function msSince(iso: string | undefined, now: Date): number {
  return iso ? now.getTime() - Date.parse(iso) : Infinity;
}

export function decide(canary: Canary, observed: Observed, metrics: MetricResult[] | undefined, now: Date, s: Settings, hooks: HookResults = {}): Decision {
  const st: CanaryStatus = { ...(canary.status ?? {}) };
  const ns = canary.metadata.namespace;
  const cname = objectName(canary.metadata.name, ns);
  const targetName = canary.spec.targetRef.name;
  const tname = objectName(targetName, ns);
  const copyName = objectName(names.canaryDeployment(targetName), ns);
  const stay = (requeueAfterMs: number | undefined, events: CanaryEvent[] = []): Decision => ({ status: st, events, requeueAfterMs });
  const go = (status: CanaryStatus, events: CanaryEvent[], requeueAfterMs: number | undefined): Decision => ({ status, events, requeueAfterMs });
  const phase: Phase = st.phase ?? '';
  const strategy = strategyOf(canary);

  // Hooks of one type: passed (none configured, or all answered 2xx), failed, or not asked yet.
  type Check = { need: HookType } | { ok: true } | { ok: false; failed: HookResult[] };
  const check = (type: HookType): Check => {
    if (hooksOf(canary, type).length === 0) return { ok: true };
    const r = hooks[type];
    if (!r) return { need: type };
    const failed = r.filter((h) => !h.ok);
    return failed.length === 0 ? { ok: true } : { ok: false, failed };
  };
  const ask = (type: HookType): Decision => ({ status: st, events: [], requeueAfterMs: 0, needHooks: type });
  const hookNames = (rs: HookResult[]) => rs.map((r) => r.name).join(', ');
  /** A rollback hook answering 2xx: the person (or system) behind it asks for a rollback now. */
  const rollbackAsked = (): { need: HookType } | boolean => {
    if (hooksOf(canary, 'rollback').length === 0) return false;
    const r = hooks.rollback;
    if (!r) return { need: 'rollback' };
    return r.some((h) => h.ok);
  };

  // A target that cannot be managed is reported on status (condition Promoted, Unknown, with the
  // reason) and in an event, and looked at again shortly: it may be created or fixed any moment.
  const blocked = (reason: string, message: string): Decision => {
    const iso = now.toISOString();
    const conditions: CanaryCondition[] = [{ type: 'Promoted', status: 'Unknown', reason, message, lastUpdateTime: iso, lastTransitionTime: iso }];
    return go({ ...st, phase: phase === '' ? 'Initializing' : phase, conditions }, [{ type: 'Warning', message }], 10_000);
  };
  const target = observed.target;
  if ((canary.spec.targetRef.kind ?? 'Deployment') !== 'Deployment') {
    return blocked('TargetNotSupported', `targetRef kind ${canary.spec.targetRef.kind} is not supported; sluice manages Deployments`);
  }
  if (!target) return blocked('TargetNotFound', `target Deployment ${tname} not found; create it or correct spec.targetRef`);
  if (Object.keys(target.spec.selector.matchLabels ?? {}).length === 0) {
    return blocked('TargetInvalid', `${tname} has no spec.selector.matchLabels; sluice needs them to tell primary pods from canary pods`);
  }
  const revision = revisionOf(target);
  const interval = analysisInterval(canary, s);

  if (phase === '' || phase === 'Initializing') {
    const stable = target.metadata.annotations?.[annotations.stableRevision];
    const p = rolloutProgress(target);
    // A Deployment in the middle of its own rollout is waited for, unless it is paused (then
    // there is nothing to wait for: its running pods are what it has).
    if (!p.done && target.spec.paused !== true && stable === undefined) {
      return go({ ...st, phase: 'Initializing' }, [{ type: 'Warning', message: `Waiting for ${tname} rollout to finish: ${p.available} of ${p.desired} updated replicas are available` }], s.pollMs);
    }
    // A Deployment sluice managed before (Canary recreated) keeps the stable revision it recorded.
    // The annotation holds the template part of the revision (tracked configs add `+hash`).
    const known = stable === undefined || stable === templatePart(revision) ? revision : stable;
    const next = withPhase(st, 'Initialized', now, { lastPromotedSpec: known, canaryWeight: 0, failedChecks: 0, iterations: 0 });
    return go(next, [{ type: 'Normal', message: `Initialization done! ${cname}` }], 0);
  }
  if (canary.spec.suspend === true) return stay(undefined);

  const stable = st.lastPromotedSpec;
  const rollback = (reason: string): Decision =>
    go(withPhase(st, 'Failed', now, { canaryWeight: 0 }), [
      { type: 'Warning', message: `Rolling back ${cname} ${reason}` },
      { type: 'Warning', message: `Canary failed! Scaling down ${copyName}` },
    ], undefined);
  const startAnalysis = (restart: boolean): Decision => {
    // confirm-rollout gates scaling the canary up at all: closed, the revision waits (copy at zero).
    const gate = check('confirm-rollout');
    if ('need' in gate) return ask(gate.need);
    if (!gate.ok) {
      const waiting = phase === 'Waiting' && st.lastAppliedSpec === revision;
      const events: CanaryEvent[] = waiting ? [] : [{ type: 'Normal', message: `Halt ${cname} advancement waiting for approval ${hookNames(gate.failed)}` }];
      return go(waiting ? st : withPhase(st, 'Waiting', now, { lastAppliedSpec: revision, canaryWeight: 0, failedChecks: 0, iterations: 0 }), events, interval);
    }
    if (canary.spec.skipAnalysis === true) {
      return go(withPhase(st, 'Promoting', now, { lastAppliedSpec: revision, canaryWeight: 100, failedChecks: 0, iterations: 0 }), [
        { type: 'Normal', message: `New revision detected! Skipping analysis of ${cname} (skipAnalysis)` },
        { type: 'Normal', message: 'Routing all traffic to canary' },
        { type: 'Normal', message: `Promoting revision ${shortRevision(revision)} to ${tname}` },
      ], s.pollMs);
    }
    const message = restart ? `New revision detected! Restarting analysis for ${cname}` : `New revision detected! Scaling up ${copyName}`;
    return go(withPhase(st, 'Progressing', now, { lastAppliedSpec: revision, canaryWeight: 0, failedChecks: 0, iterations: 0 }), [{ type: 'Normal', message }], 0);
  };

  if (IDLE.includes(phase)) {
    if (revision === stable) return stay(undefined);
    if (phase === 'Failed' && revision === st.lastAppliedSpec) return stay(undefined);
    return startAnalysis(false);
  }

  const abandonOnRevert = (): Decision | undefined =>
    revision === stable
      ? go(withPhase(st, 'Initialized', now, { canaryWeight: 0, lastAppliedSpec: stable }), [
          { type: 'Normal', message: `${tname} reverted to its stable revision ${shortRevision(stable)}; analysis of ${shortRevision(st.lastAppliedSpec)} abandoned` },
        ], undefined)
      : undefined;

  if (phase === 'Waiting') {
    const reverted = abandonOnRevert();
    if (reverted) return reverted;
    const rb = rollbackAsked();
    if (typeof rb === 'object') return ask(rb.need);
    if (rb) return rollback('manual webhook invoked');
    // A newer revision while waiting waits for the same approval; startAnalysis records it.
    return startAnalysis(false);
  }

  if (phase === 'Progressing' || phase === 'WaitingPromotion') {
    if (revision !== st.lastAppliedSpec) return abandonOnRevert() ?? startAnalysis(true);
    const copy = observed.canaryDeployment;
    // The copy must run the revision under test, not merely be ready.
    const copyReady = copy !== undefined && copy.metadata.annotations?.[annotations.revision] === st.lastAppliedSpec;
    const progress = copy ? rolloutProgress(copy, canary.spec.analysis?.canaryReadyThreshold ?? DEFAULTS.readyThreshold) : undefined;
    const weight = st.canaryWeight ?? 0;
    if (!copyReady || !progress?.done || (copy.spec.replicas ?? 0) === 0) {
      const deadline = (canary.spec.progressDeadlineSeconds ?? DEFAULTS.progressDeadlineSeconds) * 1000;
      if (msSince(st.lastTransitionTime, now) > deadline) {
        return rollback(`progress deadline exceeded: ${copyName} not ready after ${deadline / 1000} s`);
      }
      const p = progress ?? { available: 0, desired: 0 };
      return stay(s.pollMs, [{ type: 'Warning', message: `Waiting for ${copyName} rollout to finish: ${p.available} of ${p.desired} updated replicas are available` }]);
    }
    const wait = interval - msSince(st.lastTransitionTime, now);
    const threshold = canary.spec.analysis?.threshold ?? DEFAULTS.threshold;
    /** One more failed check: halted with these events, or rolled back at the threshold. */
    const failCheck = (halt: CanaryEvent[]): Decision => {
      const failedChecks = (st.failedChecks ?? 0) + 1;
      if (failedChecks >= threshold) {
        const r = rollback(`failed checks threshold reached ${failedChecks}`);
        return go({ ...r.status, failedChecks }, [...halt, ...r.events], undefined);
      }
      return go({ ...st, failedChecks, lastTransitionTime: now.toISOString() }, halt, interval);
    };
    if (phase === 'Progressing' && weight === 0 && (st.iterations ?? 0) === 0) {
      // Before any traffic: pre-rollout hooks (smoke tests), retried each interval until they
      // pass or the failed checks reach the threshold.
      if ((st.failedChecks ?? 0) > 0 && wait > 0) return stay(wait);
      const pre = check('pre-rollout');
      if ('need' in pre) return ask(pre.need);
      if (!pre.ok) return failCheck(pre.failed.map((h): CanaryEvent => ({ type: 'Warning', message: `Halt ${cname} advancement pre-rollout check ${h.name} failed ${h.message}`, hook: h.name })));
      if (strategy !== 'canary') {
        const how = strategy === 'ab' ? 'requests matching analysis.match' : canary.spec.analysis?.mirror === true ? 'a mirror of the traffic' : 'no traffic';
        return go(withPhase(st, 'Progressing', now, { canaryWeight: 0, iterations: 1, failedChecks: 0 }), [
          { type: 'Normal', message: `Starting canary analysis for ${cname}` },
          { type: 'Normal', message: `Advance ${cname} canary iteration 1/${canary.spec.analysis!.iterations} (${how} to the canary)` },
        ], interval);
      }
      const first = nextWeight(canary, 0);
      return go(withPhase(st, 'Progressing', now, { canaryWeight: first, iterations: 1, failedChecks: 0 }), [
        { type: 'Normal', message: `Starting canary analysis for ${cname}` },
        { type: 'Normal', message: `Advance ${cname} canary weight ${first}` },
      ], interval);
    }
    if (wait > 0) return stay(wait);
    const rb = rollbackAsked();
    if (typeof rb === 'object') return ask(rb.need);
    if (rb) return rollback('manual webhook invoked');
    const load = check('rollout');
    if ('need' in load) return ask(load.need);
    if (!metrics) return { status: st, events: [], requeueAfterMs: 0, needMetrics: true };
    const failed = metrics.filter((m) => !m.ok);
    const hookHalts: CanaryEvent[] = load.ok ? [] : load.failed.map((h): CanaryEvent => ({ type: 'Warning', message: `Halt ${cname} advancement rollout check ${h.name} failed ${h.message}`, hook: h.name }));
    if (failed.length > 0 || hookHalts.length > 0) {
      return failCheck([...hookHalts, ...failed.map((m): CanaryEvent => ({ type: 'Normal', message: `Halt ${cname} advancement ${m.message}` }))]);
    }
    const iterations = (st.iterations ?? 0) + 1;
    const done = strategy === 'canary' ? weight >= maxWeight(canary) : (st.iterations ?? 0) >= canary.spec.analysis!.iterations!;
    if (done) {
      const promote = check('confirm-promotion');
      if ('need' in promote) return ask(promote.need);
      if (!promote.ok) {
        const first = phase !== 'WaitingPromotion';
        return go(first ? withPhase(st, 'WaitingPromotion', now) : { ...st, lastTransitionTime: now.toISOString() }, first ? [{ type: 'Normal', message: `Halt ${cname} advancement waiting for promotion approval ${hookNames(promote.failed)}` }] : [], interval);
      }
      return go(withPhase(st, 'Promoting', now, { canaryWeight: 100, iterations }), [
        { type: 'Normal', message: strategy === 'bluegreen' || strategy === 'ab' ? `Routing all traffic to canary ${copyName}` : 'Routing all traffic to canary' },
        { type: 'Normal', message: `Promoting revision ${shortRevision(revision)} to ${tname}` },
      ], s.pollMs);
    }
    const more = check('confirm-traffic-increase');
    if ('need' in more) return ask(more.need);
    if (!more.ok) {
      return go({ ...st, lastTransitionTime: now.toISOString() }, [{ type: 'Normal', message: `Halt ${cname} advancement waiting for traffic increase approval ${hookNames(more.failed)}` }], interval);
    }
    if (strategy !== 'canary') {
      return go({ ...st, iterations, lastTransitionTime: now.toISOString() }, [{ type: 'Normal', message: `Advance ${cname} canary iteration ${iterations}/${canary.spec.analysis!.iterations}` }], interval);
    }
    const next = nextWeight(canary, weight);
    return go({ ...st, canaryWeight: next, iterations, lastTransitionTime: now.toISOString() }, [{ type: 'Normal', message: `Advance ${cname} canary weight ${next}` }], interval);
  }

  if (phase === 'Promoting') {
    const p = rolloutProgress(target, canary.spec.analysis?.primaryReadyThreshold ?? DEFAULTS.readyThreshold);
    if (revision !== st.lastAppliedSpec) {
      // A change slipped in before the release began (the webhook refuses them during it): the
      // revision that passed analysis becomes stable, and the newer one is analysed next.
      return go(withPhase(st, 'Progressing', now, { lastPromotedSpec: st.lastAppliedSpec, lastAppliedSpec: revision, canaryWeight: 0, failedChecks: 0, iterations: 0 }), [
        { type: 'Normal', message: `New revision detected! Restarting analysis for ${cname}` },
      ], 0);
    }
    if (!p.done || target.spec.paused === true) {
      return stay(s.pollMs, [{ type: 'Warning', message: `Waiting for ${tname} rollout to finish: ${p.available} of ${p.desired} updated replicas are available` }]);
    }
    return finalise(canary, st, now, cname, copyName, interval);
  }

  if (phase === 'Finalising') {
    const wait = interval - msSince(st.lastTransitionTime, now);
    if ((st.canaryWeight ?? 0) > 0 && wait > 0) return stay(wait);
    return finalise(canary, st, now, cname, copyName, interval);
  }
  return stay(undefined);
}

/** Traffic back to the primary, by stepWeightPromotion per interval (default: at once), then done. */
function finalise(canary: Canary, st: CanaryStatus, now: Date, cname: string, copyName: string, interval: number): Decision {
  const step = canary.spec.analysis?.stepWeightPromotion ?? 100;
  const weight = Math.max(0, (st.canaryWeight ?? 100) - (step > 0 ? step : 100));
  if (weight > 0) {
    return { status: withPhase(st, 'Finalising', now, { canaryWeight: weight }), events: [{ type: 'Normal', message: `Advance ${cname} primary weight ${100 - weight}` }], requeueAfterMs: interval };
  }
  return {
    status: withPhase(st, 'Succeeded', now, { canaryWeight: 0, lastPromotedSpec: st.lastAppliedSpec }),
    events: [{ type: 'Normal', message: `Promotion completed! Scaling down ${copyName}` }],
    requeueAfterMs: undefined,
  };
}
