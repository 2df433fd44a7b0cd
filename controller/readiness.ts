// The Canary's kstatus conditions, beside Flagger's Promoted: Ready, Reconciling and Stalled with
// the meaning sigs.k8s.io/cli-utils' kstatus gives them (Reconciling True: in progress; Stalled
// True: failed, nothing moves until someone acts; neither: current). Flux's health checks,
// `kubectl wait --for=condition=Ready` and anything built on kstatus then tell a rollout in
// progress, released, or rolled back (docs/operating.md, "Status for GitOps tools"). Derived from
// the status alone, so it is recomputed on every write and never drifts from the phase.
import { shortRevision } from '../api/contract.js';
import type { CanaryCondition, CanaryStatus } from '../api/flagger-types.js';
import { phase as phaseFacts } from '../api/phases.js';

/** Promoted reasons that say the target cannot be managed at all: someone must fix something. */
const BLOCKED = new Set(['TargetNotFound', 'TargetInvalid', 'TargetNotSupported', 'NameClash']);

export const KSTATUS_TYPES = ['Ready', 'Reconciling', 'Stalled'] as const;
type KType = (typeof KSTATUS_TYPES)[number];

interface Verdict {
  ready: boolean;
  reconciling: boolean;
  stalled: boolean;
  reason: string;
  message: string;
}

function verdictOf(st: CanaryStatus, suspended: boolean): Verdict {
  const phase = st.phase ?? '';
  const promoted = st.conditions?.find((c) => c.type === 'Promoted');
  const no = { ready: false, reconciling: false, stalled: false };
  if (promoted && BLOCKED.has(promoted.reason ?? '')) {
    return { ...no, stalled: true, reason: promoted.reason!, message: promoted.message ?? '' };
  }
  if (phase === 'Failed') {
    return {
      ...no,
      stalled: true,
      reason: 'RolledBack',
      message: `revision ${shortRevision(st.lastAppliedSpec)} failed analysis and was rolled back; the primary runs ${shortRevision(st.lastPromotedSpec)}. Push a new revision, revert, or retry it (kubectl sluice retry)`,
    };
  }
  // Held by the organisation, not by the rollout: in progress, with who holds it and until when.
  if (st.changeWindow) return { ...no, reconciling: true, reason: 'ChangeWindowClosed', message: `held: ${st.changeWindow.message}` };
  // An idle Canary under a stop has nothing held unless a revision waits, which the status cannot tell: it stays Current.
  if (st.lineStopped && !phaseFacts(phase).idle)
    return {
      ...no,
      reconciling: true,
      reason: 'LineStopped',
      message: `held: the line is stopped by ClusterCanaryPolicy ${st.lineStopped.policy}: ${st.lineStopped.reason}`,
    };
  if (phaseFacts(phase).idle) {
    return { ...no, ready: true, reason: phase, message: `revision ${shortRevision(st.lastPromotedSpec)} is released` };
  }
  const held = suspended || st.analysisPaused !== undefined;
  if (held) {
    const by = st.analysisPaused ? `paused by ${st.analysisPaused.by}` : 'suspended (spec.suspend)';
    return { ...no, reconciling: true, reason: 'Paused', message: `rollout of ${shortRevision(st.lastAppliedSpec)} ${by}` };
  }
  const rev = shortRevision(st.lastAppliedSpec);
  const says: Record<string, string> = {
    Waiting: `revision ${rev} waits for its confirm-rollout gate`,
    Progressing: `analysing revision ${rev} at weight ${st.canaryWeight ?? 0}, iteration ${st.iterations ?? 0}`,
    WaitingPromotion: `revision ${rev} passed analysis and waits for its confirm-promotion gate`,
    Promoting: `releasing revision ${rev} to the primary pods`,
    Finalising: `moving traffic back to the primary pods, which run revision ${rev}`,
  };
  const message = says[phase] ?? 'initializing: recording the running revision and generating the objects';
  return { ...no, reconciling: true, reason: phase || 'Initializing', message };
}

/** The status's conditions with Ready, Reconciling and Stalled recomputed; others kept as they are. */
export function withReadiness(st: CanaryStatus, suspended: boolean, now: string): CanaryStatus {
  const v = verdictOf(st, suspended);
  const want: Record<KType, boolean> = { Ready: v.ready, Reconciling: v.reconciling, Stalled: v.stalled };
  const prev = st.conditions ?? [];
  const kept = prev.filter((c) => !(KSTATUS_TYPES as readonly string[]).includes(c.type));
  const fresh = KSTATUS_TYPES.map((type): CanaryCondition => {
    const status = want[type] ? 'True' : 'False';
    const old = prev.find((c) => c.type === type);
    // Ready says why in either case; the other two only when they hold.
    const reason = v.reason;
    const message = want[type] || type === 'Ready' ? v.message : '';
    // Times move only when something about the condition changed, so an unchanged status costs no write.
    if (old && old.status === status && old.reason === reason && old.message === message) return old;
    const transition = old && old.status === status ? (old.lastTransitionTime ?? now) : now;
    return { type, status, reason, message, lastUpdateTime: now, lastTransitionTime: transition };
  });
  return { ...st, conditions: [...kept, ...fresh] };
}
