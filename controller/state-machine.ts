// The rollout state machine: (Canary, observed objects, check results, now) → (next status,
// events, requeue-after). Pure and level-triggered: everything it needs to resume after a crash
// is in the Canary's status and the live objects, and a step is recorded (weight, failed checks,
// lastTransitionTime) in the same status write that decides it, so no step repeats or is skipped.
//
// One function per phase (STEPS below); what a phase means, and which transitions exist, is data
// in api/phases.ts, and every decision is checked against it.

import type { ActionResult, ActionVerb } from '../api/canary-action.js';
import { analysisInterval, apexName, DEFAULTS, type HookType, hooksOf, maxWeight, nextWeight, strategyOf } from '../api/canary-analysis.js';
import { describeJudgement } from '../api/canary-judge.js';
import { limitProblems } from '../api/canary-limits.js';
import { annotations, names, objectName, shortRevision } from '../api/contract.js';
import type { Canary, CanaryCondition, CanaryStatus, Phase } from '../api/flagger-types.js';
import { allowed, type KnownPhase, phase as phaseFacts } from '../api/phases.js';
import type { Revision } from '../api/revision.js';
import { type Deployment, type HorizontalPodAutoscaler, MANAGED_KINDS, targetKind, type Workload } from '../api/workload.js';
import { type Candidate, type KindFacts, kindFacts } from '../api/workload-kinds.js';
import type { ClosedWindow } from '../policy/change-windows.js';
import type { CanaryEvent, HookResult, HookResults, MetricResult } from './check-results.js';

export interface Observed {
  /** The target's kind (its driver, controller/kinds/); without it, the built-in kind targetRef names. */
  kind?: KindFacts;
  /** The workload the Canary targets (its kind is targetRef.kind). */
  target: Workload | undefined;
  /** The target's revision, covering the tracked configs its template reads (undefined without a target). */
  revision: Revision | undefined;
  /** The canary copy, for a kind that runs one (KindFacts.hasCopy); undefined for a kind that is its own canary. */
  canaryCopy: Deployment | undefined;
  autoscaler: HorizontalPodAutoscaler | undefined;
  /** The oldest CanaryAction not yet taken: decided before anything else in this pass. */
  action?: ActionRequest;
  /**
   * Ready endpoints the canary Service's EndpointSlices list (undefined: not known, no gate). A
   * pod is Ready before the EndpointSlice controller lists it; traffic sent in between gets 503s.
   */
  canaryEndpoints?: number;
  /** A ClusterCanaryPolicy in scope stops the line (docs/policy.md): the first such policy, by name. */
  lineStop?: { policy: string; reason: string; by?: string };
  /** A change window in scope is closed now (policy/change-windows.ts). */
  window?: ClosedWindow;
  /** Fast rollback (docs/operating.md): how many revisions released before the current one may come back unanalysed; 0: off. */
  fastRollbackRevisions?: number;
}

/** A person's request (api/canary-action.ts), with who asked as admission recorded it. */
export interface ActionRequest {
  name: string;
  verb: ActionVerb;
  by: string;
  reason?: string;
}

export interface Settings {
  /** Floor for analysis intervals (tests run with seconds). */
  minIntervalMs: number;
  /**
   * How soon to look again while waiting on the target's own rollout. Its status changes wake the
   * Canary at once (controller/wake-ups.ts); this only covers a lost event.
   */
  pollMs: number;
}

export interface Decision {
  status: CanaryStatus;
  events: CanaryEvent[];
  requeueAfterMs: number | undefined;
  /** The step is due and needs metric results: call again with them. */
  needMetrics?: boolean;
  /** The step needs the answers of this type's hooks: call again with them added. */
  needHooks?: HookType;
  /** The action taken (or refused) in this decision, recorded in status.lastAction too. */
  action?: { name: string; result: ActionResult; message: string };
}

/** The revision the target's primary pods should run now (what the stable-revision annotation says). */
export function releasedRevision(status: CanaryStatus): string | undefined {
  return phaseFacts(status.phase).releasing ? status.lastAppliedSpec : status.lastPromotedSpec;
}

/** Everything one decision reads, gathered once. */
interface Step {
  canary: Canary;
  st: CanaryStatus;
  phase: Phase;
  target: Workload;
  /** What differs for the target's kind (api/workload-kinds.ts). */
  kind: KindFacts;
  /** The target's revision; status fields record its `id`. */
  revision: Revision;
  copy: Deployment | undefined;
  metrics: MetricResult[] | undefined;
  hooks: HookResults;
  now: Date;
  s: Settings;
  interval: number;
  /** How messages name the Canary, the target and the canary copy. */
  cname: string;
  tname: string;
  copyName: string;
  canaryEndpoints: number | undefined;
  canaryService: string;
  /** The closed change window that holds this revision (none when open, or when glass was broken for it). */
  window: ClosedWindow | undefined;
  /** The window hold the stored status records (steps see a status without it, and decide it afresh). */
  wasHeld: CanaryStatus['changeWindow'];
  fastRollbackRevisions: number;
}

const promotedCondition = (phase: Phase, now: string, prev: CanaryCondition[] | undefined): CanaryCondition[] => {
  const row = phaseFacts(phase).promoted;
  if (!row) return prev ?? [];
  const old = prev?.find((c) => c.type === 'Promoted');
  const transition = old && old.status === row.status ? (old.lastTransitionTime ?? now) : now;
  const others = (prev ?? []).filter((c) => c.type !== 'Promoted');
  return [{ type: 'Promoted', ...row, lastUpdateTime: now, lastTransitionTime: transition }, ...others];
};

function withPhase(status: CanaryStatus, phase: Phase, now: Date, extra: Partial<CanaryStatus> = {}): CanaryStatus {
  const iso = now.toISOString();
  return { ...status, ...extra, phase, lastTransitionTime: iso, conditions: promotedCondition(phase, iso, status.conditions) };
}

const msSince = (iso: string | undefined, now: Date): number => (iso ? now.getTime() - Date.parse(iso) : Number.POSITIVE_INFINITY);
const go = (status: CanaryStatus, events: CanaryEvent[], requeueAfterMs: number | undefined): Decision => ({
  status,
  events,
  requeueAfterMs,
});
const stay = (x: Step, requeueAfterMs: number | undefined, events: CanaryEvent[] = []): Decision => go(x.st, events, requeueAfterMs);
const ask = (x: Step, type: HookType): Decision => ({ status: x.st, events: [], requeueAfterMs: 0, needHooks: type });
const hookNames = (rs: HookResult[]) => rs.map((r) => r.name).join(', ');

/** Hooks of one type: passed (none configured, or all answered 2xx), failed, or not asked yet. */
type Gate = { need: HookType } | { ok: true } | { ok: false; failed: HookResult[] };
function gate(x: Step, type: HookType): Gate {
  if (hooksOf(x.canary, type).length === 0) return { ok: true };
  const r = x.hooks[type];
  if (!r) return { need: type };
  const failed = r.filter((h) => !h.ok);
  return failed.length === 0 ? { ok: true } : { ok: false, failed };
}

/** A rollback hook answering 2xx: the person (or system) behind it asks for a rollback now. */
function rollbackAsked(x: Step): { need: HookType } | boolean {
  if (hooksOf(x.canary, 'rollback').length === 0) return false;
  const r = x.hooks.rollback;
  if (!r) return { need: 'rollback' };
  return r.some((h) => h.ok);
}

function rollback(x: Step, reason: string): Decision {
  return go(
    withPhase(x.st, 'Failed', x.now, { canaryWeight: 0 }),
    [
      { type: 'Warning', message: `Rolling back ${x.cname} ${reason}` },
      { type: 'Warning', message: `Canary failed! Scaling down ${x.copyName}` },
    ],
    undefined,
  );
}

/** A new revision: wait for confirm-rollout, skip the analysis, or start it. */
function startAnalysis(x: Step, restart: boolean): Decision {
  const { st, now, cname } = x;
  const revision = x.revision.id;
  // confirm-rollout gates scaling the canary up at all: closed, the revision waits (copy at zero).
  const g = gate(x, 'confirm-rollout');
  if ('need' in g) return ask(x, g.need);
  if (!g.ok) {
    const waiting = x.phase === 'Waiting' && st.lastAppliedSpec === revision;
    const events: CanaryEvent[] = waiting
      ? []
      : [{ type: 'Normal', message: `Halt ${cname} advancement waiting for approval ${hookNames(g.failed)}` }];
    const next = waiting
      ? st
      : withPhase(st, 'Waiting', now, { lastAppliedSpec: revision, canaryWeight: 0, failedChecks: 0, iterations: 0 });
    return go(next, events, x.interval);
  }
  if (x.canary.spec.skipAnalysis === true) {
    return go(
      withPhase(st, 'Promoting', now, { lastAppliedSpec: revision, canaryWeight: 100, failedChecks: 0, iterations: 0 }),
      [
        { type: 'Normal', message: `New revision detected! Skipping analysis of ${cname} (skipAnalysis)` },
        { type: 'Normal', message: 'Routing all traffic to canary' },
        { type: 'Normal', message: `Promoting revision ${shortRevision(revision)} to ${x.tname}` },
      ],
      x.s.pollMs,
    );
  }
  const message = restart ? `New revision detected! Restarting analysis for ${cname}` : `New revision detected! Scaling up ${x.copyName}`;
  return go(
    withPhase(st, 'Progressing', now, { lastAppliedSpec: revision, canaryWeight: 0, failedChecks: 0, iterations: 0 }),
    [{ type: 'Normal', message }],
    0,
  );
}

/** The target back at its stable revision mid-rollout: the rollout is abandoned. */
function abandonOnRevert(x: Step): Decision | undefined {
  const stable = x.st.lastPromotedSpec;
  if (x.revision.id !== stable) return undefined;
  return go(
    withPhase(x.st, 'Initialized', x.now, { canaryWeight: 0, lastAppliedSpec: stable }),
    [
      {
        type: 'Normal',
        message: `${x.tname} reverted to its stable revision ${shortRevision(stable)}; analysis of ${shortRevision(x.st.lastAppliedSpec)} abandoned`,
      },
    ],
    undefined,
  );
}

/** '' and Initializing: record the running revision as stable once the target's own rollout is done. */
function bootstrap(x: Step): Decision {
  const { st, target } = x;
  const revision = x.revision.id;
  const stable = target.metadata.annotations?.[annotations.stableRevision];
  const p = x.kind.progress(target);
  // A target in the middle of its own rollout is waited for, unless it is frozen (then there is
  // nothing to wait for: its running pods are what it has).
  if (!p.done && !x.kind.held(target) && stable === undefined) {
    const message = `Waiting for ${x.tname} rollout to finish: ${p.available} of ${p.desired} updated replicas are available`;
    return go({ ...st, phase: 'Initializing' }, [{ type: 'Warning', message }], x.s.pollMs);
  }
  // A Deployment sluice managed before (Canary recreated) keeps the stable revision it recorded
  // (the annotation holds the template part; tracked configs add `+hash`).
  const known = stable === undefined || x.revision.isReleased(stable) ? revision : stable;
  const next = withPhase(st, 'Initialized', x.now, {
    lastPromotedSpec: known,
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
    releases: released(st, known, x.now),
  });
  return go(next, [{ type: 'Normal', message: `Initialization done! ${x.cname}` }], 0);
}

/** Initialized, Succeeded, Failed: a new revision starts a rollout; a rejected one stays rejected. */
function idle(x: Step): Decision {
  if (x.revision.id === x.st.lastPromotedSpec) return stay(x, undefined);
  if (x.phase === 'Failed' && x.revision.id === x.st.lastAppliedSpec) return stay(x, undefined);
  return fastRollback(x) ?? heldByWindow(x, 'its analysis starts') ?? startAnalysis(x, false);
}

/** Waiting for confirm-rollout. */
function waiting(x: Step): Decision {
  const reverted = abandonOnRevert(x);
  if (reverted) return reverted;
  const rb = rollbackAsked(x);
  if (typeof rb === 'object') return ask(x, rb.need);
  if (rb) return rollback(x, 'manual webhook invoked');
  // A newer revision while waiting waits for the same approval; startAnalysis records it.
  return fastRollback(x) ?? heldByWindow(x, 'its analysis starts') ?? startAnalysis(x, false);
}

const RELEASES_KEPT = 10;

/** The release history with `revision` released at `now` first (once), at most RELEASES_KEPT long. */
function released(st: CanaryStatus, revision: string | undefined, now: Date): CanaryStatus['releases'] {
  const rest = (st.releases ?? []).filter((r) => r.revision !== revision);
  return (revision ? [{ revision, at: now.toISOString() }, ...rest] : rest).slice(0, RELEASES_KEPT);
}

/**
 * A change back to one of the last fastRollbackRevisions revisions released before the current
 * one (docs/operating.md, "Fast rollback"): it ran on the primary pods and passed then, so it is
 * released at once without analysis, the canary copy left at zero. Never held by a window or a
 * stopped line: a rollback is what an incident needs.
 */
function fastRollback(x: Step): Decision | undefined {
  const back = fastRollbackTarget(x.st, x.revision.id, x.fastRollbackRevisions);
  if (!back) return undefined;
  const { breakGlass: _glass, changeWindow: _window, ...st } = x.st;
  return go(
    withPhase(st, 'Promoting', x.now, {
      lastAppliedSpec: x.revision.id,
      canaryWeight: 0,
      failedChecks: 0,
      iterations: 0,
      fastRollback: { revision: back.revision, releasedAt: back.at },
    }),
    [
      {
        type: 'Normal',
        message: `Fast rollback of ${x.cname} to revision ${shortRevision(back.revision)}, last released ${back.at}: releasing it to ${x.tname} without analysis`,
      },
    ],
    x.s.pollMs,
  );
}

/** The earlier release `revision` is, when it is within the last `n` before the current one. */
export function fastRollbackTarget(st: CanaryStatus, revision: string, n: number): { revision: string; at: string } | undefined {
  return (st.releases ?? [])
    .filter((r) => r.revision !== st.lastPromotedSpec)
    .slice(0, Math.max(0, n))
    .find((r) => r.revision === revision);
}

/**
 * A closed change window holds what would start now (`what`: an analysis, or a release): the
 * Canary says which window and until when, once, and looks again when it opens.
 */
function heldByWindow(x: Step, what: string, phase?: Phase): Decision | undefined {
  const w = x.window;
  if (!w) return undefined;
  const prev = x.wasHeld;
  const same = prev?.policy === w.policy && prev.window === w.window && prev.until === w.until;
  const changeWindow = { ...w, since: same ? prev.since : x.now.toISOString() };
  const base = phase && phase !== x.phase ? withPhase(x.st, phase, x.now) : x.st;
  const status = { ...base, changeWindow, ...(phase ? { lastTransitionTime: x.now.toISOString() } : {}) };
  const events: CanaryEvent[] = same
    ? []
    : [
        {
          type: 'Warning',
          message: `Held ${x.cname} at revision ${shortRevision(x.revision.id)}: ${w.message}; ${what} once it opens (an abort or a rollback still goes through)`,
        },
      ];
  // Looked at again when it opens (and at least every minute, in case the policy changes without a wake-up).
  const untilOpen = w.until ? Math.max(0, Date.parse(w.until) - x.now.getTime()) + 1 : 60_000;
  return go(status, events, Math.min(untilOpen, 60_000, phase ? x.interval : 60_000));
}

/** Progressing and WaitingPromotion: the copy must be ready, then one step per interval. */
function analysing(x: Step): Decision {
  const { canary, st, now } = x;
  if (x.revision.id !== st.lastAppliedSpec) return abandonOnRevert(x) ?? fastRollback(x) ?? startAnalysis(x, true);
  const { runs, progress } = candidate(x);
  // Ready pods the canary Service does not list yet would answer its share of traffic with 503s.
  const unlisted = runs && progress?.done === true && progress.desired > 0 && x.canaryEndpoints === 0;
  if (!runs || !progress?.done || unlisted) {
    const deadline = (canary.spec.progressDeadlineSeconds ?? DEFAULTS.progressDeadlineSeconds) * 1000;
    if (msSince(st.lastTransitionTime, now) > deadline) {
      return rollback(x, `progress deadline exceeded: ${x.copyName} not ready after ${deadline / 1000} s`);
    }
    const p = progress ?? { available: 0, desired: 0 };
    const message = unlisted
      ? `Waiting for ${x.canaryService} to list the ready pods of ${x.copyName}: no ready endpoint yet`
      : `Waiting for ${x.copyName} rollout to finish: ${p.available} of ${p.desired} updated replicas are available`;
    // The copy's status changes wake this Canary; the look-again only covers a lost event and the
    // deadline, which passes without one.
    const untilDeadline = Math.max(0, deadline - msSince(st.lastTransitionTime, now)) + 1;
    return stay(x, Math.min(x.s.pollMs, untilDeadline), [{ type: 'Warning', message }]);
  }
  const firstStep = x.phase === 'Progressing' && (st.canaryWeight ?? 0) === 0 && (st.iterations ?? 0) === 0;
  return firstStep ? preRollout(x) : analysisStep(x);
}

/** What runs the revision under test, and how ready it is (its kind says which: api/workload-kinds.ts). */
function candidate(x: Step): Candidate {
  return x.kind.candidate(x.target, x.copy, x.st, x.canary.spec.analysis?.canaryReadyThreshold ?? DEFAULTS.readyThreshold);
}

/** One more failed check: halted with these events, or rolled back at the threshold. */
function failCheck(x: Step, halt: CanaryEvent[]): Decision {
  const threshold = x.canary.spec.analysis?.threshold ?? DEFAULTS.threshold;
  const failedChecks = (x.st.failedChecks ?? 0) + 1;
  if (failedChecks >= threshold) {
    const r = rollback(x, `failed checks threshold reached ${failedChecks}`);
    return go({ ...r.status, failedChecks }, [...halt, ...r.events], undefined);
  }
  return go({ ...x.st, failedChecks, lastTransitionTime: x.now.toISOString() }, halt, x.interval);
}

const untilDue = (x: Step) => x.interval - msSince(x.st.lastTransitionTime, x.now);

/**
 * Before any traffic: pre-rollout hooks (smoke tests), retried each interval until they pass or
 * the failed checks reach the threshold; then the first weight (or iteration).
 */
function preRollout(x: Step): Decision {
  const { canary, st, now, cname } = x;
  const wait = untilDue(x);
  if ((st.failedChecks ?? 0) > 0 && wait > 0) return stay(x, wait);
  const pre = gate(x, 'pre-rollout');
  if ('need' in pre) return ask(x, pre.need);
  if (!pre.ok) {
    return failCheck(
      x,
      pre.failed.map(
        (h): CanaryEvent => ({
          type: 'Warning',
          message: `Halt ${cname} advancement pre-rollout check ${h.name} failed ${h.message}`,
          hook: h.name,
        }),
      ),
    );
  }
  const strategy = strategyOf(canary);
  if (strategy !== 'canary') {
    const how =
      strategy === 'ab'
        ? 'requests matching analysis.match'
        : canary.spec.analysis?.mirror === true
          ? 'a mirror of the traffic'
          : 'no traffic';
    return go(
      withPhase(st, 'Progressing', now, { canaryWeight: 0, iterations: 1, failedChecks: 0 }),
      [
        { type: 'Normal', message: `Starting canary analysis for ${cname}` },
        { type: 'Normal', message: `Advance ${cname} canary iteration 1/${canary.spec.analysis!.iterations} (${how} to the canary)` },
      ],
      x.interval,
    );
  }
  const first = nextWeight(canary.spec, 0);
  return go(
    withPhase(st, 'Progressing', now, { canaryWeight: first, iterations: 1, failedChecks: 0 }),
    [
      { type: 'Normal', message: `Starting canary analysis for ${cname}` },
      { type: 'Normal', message: `Advance ${cname} canary weight ${first}` },
    ],
    x.interval,
  );
}

/** A step once the interval has passed: rollback hooks, rollout hooks and metrics decide it. */
function analysisStep(x: Step): Decision {
  const wait = untilDue(x);
  if (wait > 0) return stay(x, wait);
  const rb = rollbackAsked(x);
  if (typeof rb === 'object') return ask(x, rb.need);
  if (rb) return rollback(x, 'manual webhook invoked');
  const load = gate(x, 'rollout');
  if ('need' in load) return ask(x, load.need);
  if (!x.metrics) return { status: x.st, events: [], requeueAfterMs: 0, needMetrics: true };
  const { judgement: _last, ...rest } = x.st;
  const judgement = judgementOf(x.metrics, x.st.judgement);
  return judge({ ...x, st: { ...rest, lastChecks: checksOf(x.metrics, x.now), ...(judgement ? { judgement } : {}) } }, load);
}

/**
 * The CanaryJudge's report for the status (docs/analysis.md): a Marginal verdict keeps the time
 * it began holding the step, so the progress deadline counts from there.
 */
function judgementOf(metrics: MetricResult[], last: CanaryStatus['judgement']): CanaryStatus['judgement'] {
  const report = metrics.find((m) => m.judgement)?.judgement;
  if (!report) return undefined;
  return report.verdict === 'Marginal' ? { ...report, marginalSince: last?.marginalSince ?? report.at } : report;
}

/** What `kubectl sluice get` shows of a step's metrics: each value against its bounds. */
function checksOf(metrics: MetricResult[], now: Date): NonNullable<CanaryStatus['lastChecks']> {
  const at = now.toISOString();
  return metrics.map((m) => ({
    name: m.name,
    ok: m.ok,
    ...(m.value !== undefined && Number.isFinite(m.value) ? { value: m.value } : {}),
    ...(m.min !== undefined ? { min: m.min } : {}),
    ...(m.max !== undefined ? { max: m.max } : {}),
    ...(m.ok ? {} : { message: m.message }),
    ...(m.dryRun ? { dryRun: true } : {}),
    at,
  }));
}

/** The step's verdict from the rollout hooks' gate and the metrics. */
function judge(x: Step, load: { ok: true } | { ok: false; failed: HookResult[] }): Decision {
  const failed = (x.metrics ?? []).filter((m) => !m.ok && !m.dryRun);
  // A dry run's failures are said at every step, as what would have happened, and change nothing;
  // the step is named, so two steps' failures are two Events, not one the recorder holds back.
  const at = strategyOf(x.canary) === 'canary' ? `weight ${x.st.canaryWeight ?? 0}` : `iteration ${x.st.iterations ?? 0}`;
  const dryRuns: CanaryEvent[] = (x.metrics ?? [])
    .filter((m) => m.dryRun && (!m.ok || m.hold))
    .map((m) => ({ type: 'Normal', message: `Dry run: ${x.cname} would ${m.hold ? 'hold' : 'halt'} advancement at ${at}: ${m.message}` }));
  const hookHalts: CanaryEvent[] = load.ok
    ? []
    : load.failed.map(
        (h): CanaryEvent => ({
          type: 'Warning',
          message: `Halt ${x.cname} advancement rollout check ${h.name} failed ${h.message}`,
          hook: h.name,
        }),
      );
  if (failed.length > 0 || hookHalts.length > 0) {
    return failCheck(x, [
      ...hookHalts,
      ...failed.map((m): CanaryEvent => ({ type: 'Normal', message: `Halt ${x.cname} advancement ${m.message}` })),
      ...dryRuns,
    ]);
  }
  const held = (x.metrics ?? []).find((m) => m.hold && !m.dryRun);
  if (held) {
    const d = hold(x, held);
    return { ...d, events: [...d.events, ...dryRuns] };
  }
  const judged = x.st.judgement;
  const judgeResult = (x.metrics ?? []).find((m) => m.judgement);
  // Compared with the warm primary instead of a fresh baseline: said as a Warning at every step.
  // A dry-run judge that did not pass is already said above, as a dry run.
  const passed: CanaryEvent[] =
    judged && !(judgeResult?.dryRun && judged.verdict !== 'Pass')
      ? [{ type: judged.fallback ? 'Warning' : 'Normal', message: `Judged ${x.cname} ${describeJudgement(judged)}` }]
      : [];
  const next = advance(x);
  return { ...next, events: [...passed, ...dryRuns, ...next.events] };
}

/** The line is stopped: the Canary holds where it is, saying so once, by whom and why. */
function lineStopped(x: Step, stop: NonNullable<Observed['lineStop']>): Decision {
  const same = x.st.lineStopped?.policy === stop.policy && x.st.lineStopped.reason === stop.reason;
  if (same) return stay(x, undefined);
  const by = stop.by ? ` by ${stop.by}` : '';
  return go(
    { ...x.st, lineStopped: { policy: stop.policy, reason: stop.reason, ...(stop.by ? { by: stop.by } : {}), since: x.now.toISOString() } },
    [
      {
        type: 'Warning',
        message: `Stopped ${x.cname}: ClusterCanaryPolicy ${stop.policy} stops the line${by}: ${stop.reason}; the rollout holds at its step until it is lifted (an abort still works)`,
      },
    ],
    undefined,
  );
}

/** The stop is lifted (or glass broken through it): the rollout goes on from the step it held at; the interval counts again from now. */
function lineReopened(x: Step, d: Decision, glass: boolean): Decision {
  const { lineStopped: was, ...rest } = d.status;
  const message = glass
    ? `Glass broken for ${x.cname} through the line stopped by ClusterCanaryPolicy ${was!.policy}: the rollout goes on from its step`
    : `Line reopened for ${x.cname} (stopped by ClusterCanaryPolicy ${was!.policy} since ${was!.since}): the rollout goes on from its step`;
  return {
    ...d,
    status: rest,
    events: [{ type: 'Normal', message }, ...d.events],
    requeueAfterMs: d.requeueAfterMs ?? x.interval,
  };
}

/** No step is held by a change window any more: said once, with what had held it. */
function windowOpened(x: Step, d: Decision, was: NonNullable<CanaryStatus['changeWindow']>, glass: boolean): Decision {
  // Still closed, but nothing waits on it (the target went back to its released revision): nothing to say.
  if (x.window && !glass) return d;
  const why = glass ? 'glass broken through the closed change window' : 'change window open';
  const event: CanaryEvent = {
    type: 'Normal',
    message: `${x.cname}: ${why} (held by ${was.window} of ClusterCanaryPolicy ${was.policy} since ${was.since}); the rollout goes on`,
  };
  return { ...d, events: [event, ...d.events] };
}

/**
 * A Marginal judgement: neither a step forward nor a failed check. The weight stays and the next
 * judgement reads the samples after this one; past the progress deadline it counts as a failure.
 */
function hold(x: Step, held: MetricResult): Decision {
  const deadline = (x.canary.spec.progressDeadlineSeconds ?? DEFAULTS.progressDeadlineSeconds) * 1000;
  const since = msSince(x.st.judgement?.marginalSince, x.now);
  if (since >= deadline)
    return failCheck(x, [
      {
        type: 'Warning',
        message: `Halt ${x.cname} advancement: the judge stayed Marginal past the progress deadline (${deadline / 1000}s): ${held.message}`,
      },
    ]);
  return go(
    { ...x.st, lastTransitionTime: x.now.toISOString() },
    [{ type: 'Normal', message: `Hold ${x.cname} at weight ${x.st.canaryWeight ?? 0}: ${held.message}` }],
    x.interval,
  );
}

/** A passing step: promote after the last one, otherwise the next weight (or iteration). */
function advance(x: Step): Decision {
  const { canary, st, now, cname } = x;
  const strategy = strategyOf(canary);
  const weight = st.canaryWeight ?? 0;
  const iterations = (st.iterations ?? 0) + 1;
  const done = strategy === 'canary' ? weight >= maxWeight(canary.spec) : (st.iterations ?? 0) >= canary.spec.analysis!.iterations!;
  if (done) {
    // A closed window holds the release: the analysis goes on each interval (a failure still
    // rolls back), the weight stays at its last step (docs/policy.md).
    const closed = heldByWindow(x, 'the release follows', 'WaitingPromotion');
    if (closed) return closed;
    const promote = gate(x, 'confirm-promotion');
    if ('need' in promote) return ask(x, promote.need);
    if (!promote.ok) {
      const first = x.phase !== 'WaitingPromotion';
      const events: CanaryEvent[] = first
        ? [{ type: 'Normal', message: `Halt ${cname} advancement waiting for promotion approval ${hookNames(promote.failed)}` }]
        : [];
      return go(first ? withPhase(st, 'WaitingPromotion', now) : { ...st, lastTransitionTime: now.toISOString() }, events, x.interval);
    }
    return go(
      withPhase(st, 'Promoting', now, { canaryWeight: 100, iterations }),
      [
        {
          type: 'Normal',
          message: strategy === 'canary' ? 'Routing all traffic to canary' : `Routing all traffic to canary ${x.copyName}`,
        },
        { type: 'Normal', message: `Promoting revision ${shortRevision(x.revision.id)} to ${x.tname}` },
      ],
      x.s.pollMs,
    );
  }
  const more = gate(x, 'confirm-traffic-increase');
  if ('need' in more) return ask(x, more.need);
  if (!more.ok) {
    return go(
      { ...st, lastTransitionTime: now.toISOString() },
      [{ type: 'Normal', message: `Halt ${cname} advancement waiting for traffic increase approval ${hookNames(more.failed)}` }],
      x.interval,
    );
  }
  if (strategy !== 'canary') {
    return go(
      { ...st, iterations, lastTransitionTime: now.toISOString() },
      [{ type: 'Normal', message: `Advance ${cname} canary iteration ${iterations}/${canary.spec.analysis!.iterations}` }],
      x.interval,
    );
  }
  const next = nextWeight(canary.spec, weight);
  return go(
    { ...st, canaryWeight: next, iterations, lastTransitionTime: now.toISOString() },
    [{ type: 'Normal', message: `Advance ${cname} canary weight ${next}` }],
    x.interval,
  );
}

/** Promoting: the target rolls the revision onto the primary pods; then traffic goes back. */
function promoting(x: Step): Decision {
  const { canary, st, now, target } = x;
  const p = x.kind.progress(target, canary.spec.analysis?.primaryReadyThreshold ?? DEFAULTS.readyThreshold);
  if (x.revision.id !== st.lastAppliedSpec) {
    // A change slipped in before the release began (the webhook refuses them during it): the
    // revision that passed analysis becomes stable, and the newer one is analysed next.
    return go(
      withPhase(st, 'Progressing', now, {
        lastPromotedSpec: st.lastAppliedSpec,
        lastAppliedSpec: x.revision.id,
        canaryWeight: 0,
        failedChecks: 0,
        iterations: 0,
      }),
      [{ type: 'Normal', message: `New revision detected! Restarting analysis for ${x.cname}` }],
      0,
    );
  }
  if (!p.done || x.kind.held(target)) {
    const message = `Waiting for ${x.tname} rollout to finish: ${p.available} of ${p.desired} updated replicas are available`;
    return stay(x, x.s.pollMs, [{ type: 'Warning', message }]);
  }
  return finalise(x);
}

/** Finalising: one stepWeightPromotion per interval. */
function finalising(x: Step): Decision {
  const wait = untilDue(x);
  if ((x.st.canaryWeight ?? 0) > 0 && wait > 0) return stay(x, wait);
  return finalise(x);
}

/** Traffic back to the primary, by stepWeightPromotion per interval (default: at once), then done. */
function finalise(x: Step): Decision {
  const { canary, st, now } = x;
  const step = canary.spec.analysis?.stepWeightPromotion ?? 100;
  const weight = Math.max(0, (st.canaryWeight ?? 100) - (step > 0 ? step : 100));
  if (weight > 0) {
    return go(
      withPhase(st, 'Finalising', now, { canaryWeight: weight }),
      [{ type: 'Normal', message: `Advance ${x.cname} primary weight ${100 - weight}` }],
      x.interval,
    );
  }
  const { fastRollback: fast, breakGlass: _glass, ...rest } = st;
  return go(
    withPhase(rest, 'Succeeded', now, {
      canaryWeight: 0,
      lastPromotedSpec: st.lastAppliedSpec,
      releases: released(st, st.lastAppliedSpec, now),
    }),
    [
      {
        type: 'Normal',
        message: fast
          ? `Fast rollback completed! ${x.tname} runs revision ${shortRevision(fast.revision)} again`
          : `Promotion completed! Scaling down ${x.copyName}`,
      },
    ],
    undefined,
  );
}

/**
 * A target that cannot be managed is reported on status (condition Promoted, Unknown, with the
 * reason) and in an event, and looked at again shortly: it may be created or fixed any moment.
 */
function blockedBy(st: CanaryStatus, now: Date, reason: string, message: string): Decision {
  const iso = now.toISOString();
  // The same block as the last pass keeps its times: a status that changed on every pass would be
  // written on every pass, and each write wakes the Canary again (a loop of writes, not a wait).
  const prev = (st.conditions ?? []).find((c) => c.type === 'Promoted');
  const unchanged = prev?.status === 'Unknown' && prev.reason === reason && prev.message === message;
  const conditions: CanaryCondition[] = [
    unchanged ? prev : { type: 'Promoted', status: 'Unknown', reason, message, lastUpdateTime: iso, lastTransitionTime: iso },
    ...(st.conditions ?? []).filter((c) => c.type !== 'Promoted'),
  ];
  return go({ ...st, phase: st.phase || 'Initializing', conditions }, [{ type: 'Warning', message }], 10_000);
}

/**
 * A person's action (docs/operating.md, "Control actions"): taken, or refused with the reason, in
 * one decision whose status records it as lastAction, so a crash before the action's own status
 * is written never takes it twice. Every outcome is an event naming who asked.
 */
function act(x: Step, a: ActionRequest, lineStop: Observed['lineStop'], window: ClosedWindow | undefined): Decision {
  const { st, now, cname } = x;
  const at = now.toISOString();
  const asked = `${a.verb} of ${cname} requested by ${a.by}${a.reason ? ` (${a.reason})` : ''}`;
  const record = (d: Decision, result: ActionResult, message: string): Decision => ({
    ...d,
    status: { ...d.status, lastAction: { name: a.name, action: a.verb, by: a.by, at, result, message } },
    requeueAfterMs: 0,
    action: { name: a.name, result, message },
  });
  const refuse = (why: string) => record(go(st, [{ type: 'Warning', message: `Refused ${asked}: ${why}` }], 0), 'Rejected', why);
  const taken = (d: Decision, message: string) =>
    record({ ...d, events: [{ type: 'Normal', message: `Accepted ${asked}: ${message}` }, ...d.events] }, 'Applied', message);
  const p = phaseFacts(x.phase);
  if (p.bootstrapping) return refuse(`${cname} is not initialized yet; act once it is`);
  // A stopped line releases nothing and starts no analysis: promote and retry wait for it to be lifted.
  // Glass broken for this revision: the stop no longer holds it (x.window is already without it).
  const glassed = st.breakGlass?.revision === x.revision.id;
  if (lineStop && !glassed && (a.verb === 'promote' || a.verb === 'retry'))
    return refuse(
      `the line is stopped by ClusterCanaryPolicy ${lineStop.policy}: ${lineStop.reason}; abort, pause and resume are taken, ${a.verb} once it is lifted`,
    );
  // A closed window starts and releases nothing: promote and retry wait for it, or for a break-glass.
  if (x.window && (a.verb === 'promote' || a.verb === 'retry'))
    return refuse(`${x.window.message}; ${a.verb} once it opens, or break glass (kubectl sluice break-glass)`);
  // Promote, abort and retry are explicit decisions about the revision: a pause gives way to them.
  const unpaused: CanaryStatus = { ...st, analysisPaused: undefined };
  const current = x.revision.id === st.lastAppliedSpec;
  // A rollout not yet released: what promote can cut short and abort can roll back.
  const unreleased = ['Waiting', 'Progressing', 'WaitingPromotion'].includes(x.phase);
  switch (a.verb) {
    case 'pause':
      if (st.analysisPaused) return refuse(`already paused by ${st.analysisPaused.by} since ${st.analysisPaused.at}`);
      return taken(go({ ...st, analysisPaused: { by: a.by, at } }, [], undefined), 'analysis held; the freeze still holds');
    case 'resume':
      if (!st.analysisPaused) return refuse('it is not paused');
      return taken(go(unpaused, [], 0), 'analysis goes on');
    case 'promote': {
      if (!unreleased) return refuse(`no analysis to cut short (phase ${x.phase})`);
      if (!current) return refuse(`${x.tname} changed to a newer revision, whose analysis is starting; promote that one once it runs`);
      // The canary keeps its share while the primary pods roll onto the revision; finalising then
      // moves the traffic back, as after a passed analysis.
      const next = withPhase(unpaused, 'Promoting', now, { canaryWeight: st.canaryWeight ?? 0 });
      const events: CanaryEvent[] = [{ type: 'Normal', message: `Promoting revision ${shortRevision(x.revision.id)} to ${x.tname}` }];
      return taken(go(next, events, x.s.pollMs), 'remaining analysis skipped, releasing to the primary');
    }
    case 'abort': {
      if (p.releasing) return refuse(`the release to the primary has begun (phase ${x.phase}); push the previous revision to undo it`);
      if (!unreleased) return refuse(`no rollout in progress (phase ${x.phase})`);
      const r = rollback({ ...x, st: unpaused }, `aborted by ${a.by}`);
      return taken(r, 'rolled back; the primary pods were not touched');
    }
    case 'break-glass': {
      if (!a.reason?.trim()) return refuse('a break-glass needs a reason');
      if (x.revision.id === st.lastPromotedSpec) return refuse(`${x.tname} runs its released revision; there is nothing to let through`);
      if (st.breakGlass?.revision === x.revision.id)
        return refuse(`glass already broken for revision ${shortRevision(x.revision.id)} by ${st.breakGlass.by}`);
      const holds = [
        ...(window ? [window.message] : []),
        ...(lineStop ? [`the line is stopped by ClusterCanaryPolicy ${lineStop.policy}: ${lineStop.reason}`] : []),
      ];
      if (holds.length === 0) return refuse('no closed change window and no stopped line holds it; nothing to break');
      const next: CanaryStatus = { ...st, breakGlass: { revision: x.revision.id, by: a.by, reason: a.reason, at } };
      const events: CanaryEvent[] = [
        {
          type: 'Warning',
          message: `Break-glass by ${a.by} for revision ${shortRevision(x.revision.id)} of ${cname} (${a.reason}): no longer held by ${holds.join('; ')}`,
        },
      ];
      return taken(go(next, events, 0), `revision ${shortRevision(x.revision.id)} goes through: ${holds.join('; ')}`);
    }
    case 'retry': {
      if (x.phase !== 'Failed') return refuse(`only a Failed rollout can be retried (phase ${x.phase})`);
      if (!current) return refuse(`${x.tname} holds another revision now, which is analysed on its own`);
      const d = startAnalysis({ ...x, st: unpaused }, false);
      if (d.needHooks) return d;
      return taken(d, `analysing revision ${shortRevision(x.revision.id)} again`);
    }
  }
}

const STEPS: Record<KnownPhase, (x: Step) => Decision> = {
  '': bootstrap,
  Initializing: bootstrap,
  Initialized: idle,
  Succeeded: idle,
  Failed: idle,
  Waiting: waiting,
  Progressing: analysing,
  WaitingPromotion: analysing,
  Promoting: promoting,
  Finalising: finalising,
};

export function decide(
  canary: Canary,
  observed: Observed,
  metrics: MetricResult[] | undefined,
  now: Date,
  s: Settings,
  hooks: HookResults = {},
): Decision {
  const st: CanaryStatus = { ...(canary.status ?? {}) };
  const phase: Phase = st.phase ?? '';
  const ns = canary.metadata.namespace;
  const targetName = canary.spec.targetRef.name;
  const tname = objectName(targetName, ns);

  const blocked = (reason: string, message: string) => blockedBy(st, now, reason, message);
  const target = observed.target;
  const kind = observed.kind ?? kindFacts(targetKind(canary.spec.targetRef));
  if (!kind) {
    return blocked('TargetNotSupported', `targetRef kind ${canary.spec.targetRef.kind} is not supported; sluice manages ${MANAGED_KINDS}`);
  }
  const limits = limitProblems(canary.spec, canary.metadata.name);
  if (limits.length > 0)
    return blocked('SpecInvalid', `${objectName(canary.metadata.name, ns)} passes sluice's limits: ${limits.join('; ')}`);
  if (!target || !observed.revision)
    return blocked('TargetNotFound', `target ${kind.kind} ${tname} not found; create it or correct spec.targetRef`);
  const unsupported = kind.problem(target, tname);
  if (unsupported?.reason === 'TargetNotSupported') return blocked(unsupported.reason, unsupported.message);
  if (Object.keys(target.spec.selector.matchLabels ?? {}).length === 0) {
    return blocked('TargetInvalid', `${tname} has no spec.selector.matchLabels; sluice needs them to tell primary pods from canary pods`);
  }
  if (unsupported) return blocked(unsupported.reason, unsupported.message);
  // Glass broken for the revision the target holds: no window and no stopped line holds it.
  const glass = observed.revision !== undefined && st.breakGlass?.revision === observed.revision.id;
  const lineStop = glass ? undefined : observed.lineStop;
  const step: Step = {
    canary,
    st,
    phase,
    target,
    kind,
    revision: observed.revision,
    copy: observed.canaryCopy,
    metrics,
    hooks,
    now,
    s,
    interval: analysisInterval(canary, s.minIntervalMs),
    cname: objectName(canary.metadata.name, ns),
    tname,
    copyName: kind.candidateName(targetName, ns),
    canaryEndpoints: observed.canaryEndpoints,
    canaryService: objectName(names.canaryService(apexName(canary)), ns),
    window: glass ? undefined : observed.window,
    wasHeld: st.changeWindow,
    fastRollbackRevisions: observed.fastRollbackRevisions ?? 0,
  };
  // Suspended (Flagger's spec.suspend) or paused by an action: no analysis and no step until it
  // is resumed; the webhook still freezes template changes. A Canary is bootstrapped first, so its
  // target is frozen. Actions are still taken (resume among them).
  const held = (canary.spec.suspend === true || st.analysisPaused !== undefined) && !phaseFacts(phase).bootstrapping;
  // A stopped line holds like a pause, and is said on the Canary when it starts and when it is lifted.
  // A revert to the released revision still goes through (rollbacks are never held), and so does a
  // release already under way: stopping it half-done would leave the canary serving everything.
  const reverted = observed.revision?.isReleased(releasedRevision(st)) === true && phaseFacts(phase).copyActive;
  const fastBack = !phaseFacts(phase).releasing && fastRollbackTarget(st, observed.revision.id, step.fastRollbackRevisions) !== undefined;
  const stopped = lineStop !== undefined && !phaseFacts(phase).bootstrapping && !phaseFacts(phase).releasing && !reverted && !fastBack;
  const stepping = !observed.action && !held && !stopped;
  const run = observed.action
    ? (x: Step) => act(x, observed.action!, observed.lineStop, observed.window)
    : held
      ? (x: Step) => stay(x, undefined)
      : stopped
        ? (x: Step) => lineStopped(x, lineStop!)
        : STEPS[phase as KnownPhase];
  // A window hold is decided afresh by each step (heldByWindow): what no step holds any more is let go.
  const { changeWindow: wasHeld, ...unheld } = st;
  const decided = (run ?? ((x: Step) => stay(x, undefined)))(stepping ? { ...step, st: unheld } : step);
  const reopened = lineStop === undefined && st.lineStopped ? lineReopened(step, decided, glass) : decided;
  const decision = stepping && wasHeld && !decided.status.changeWindow ? windowOpened(step, reopened, wasHeld, glass) : reopened;
  if (!allowed(phase, decision.status.phase)) {
    throw new Error(
      `the state machine moved ${objectName(canary.metadata.name, ns)} from ${phase || '(none)'} to ${decision.status.phase}, a transition api/phases.ts does not list (a bug: please report it)`,
    );
  }
  return decision;
}
