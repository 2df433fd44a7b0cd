// A Canary's phases as data: what each means for the objects, the route, the status and the
// people watching, and which transitions the state machine may make. The state machine checks
// every decision against TRANSITIONS, and docs/controller.md's phase table is generated from
// both (`node dist/test/tools/phase-table.js --write`; a unit test fails when it is stale).
import type { Phase } from './flagger-types.js';

export interface PhaseFacts {
  /** No rollout in progress: a new revision starts one. */
  idle: boolean;
  /** The canary copy is scaled up and runs the revision under test. */
  copyActive: boolean;
  /** Checks run and the route splits traffic by the analysis (weights, match or mirror). */
  analysing: boolean;
  /** Before the generated objects exist. */
  bootstrapping: boolean;
  /** The primary pods are being moved onto lastAppliedSpec (it is the released revision). */
  releasing: boolean;
  /** A rollout ends here: alerts, post-rollout hooks, the duration metric. */
  outcome: boolean;
  /** Flagger's `Promoted` condition in this phase; none: the condition is left as it was. */
  promoted?: { status: 'True' | 'False' | 'Unknown'; reason: string; message: string };
  /** For docs/controller.md: what a person watching sees and what happens next. */
  meaning: string;
}

const no = { idle: false, copyActive: false, analysing: false, bootstrapping: false, releasing: false, outcome: false };

export const PHASES: Record<Exclude<Phase, 'Terminating'>, PhaseFacts> = {
  '': { ...no, bootstrapping: true, meaning: 'Not looked at yet.' },
  Initializing: {
    ...no,
    bootstrapping: true,
    meaning:
      "Waiting for the target's own rollout to finish, or for the target to exist and be usable (the reason is in the Promoted condition).",
  },
  Initialized: {
    ...no,
    idle: true,
    promoted: { status: 'True', reason: 'Initialized', message: 'Deployment initialization completed.' },
    meaning: 'Objects generated, the target recorded as stable; the canary copy at zero replicas.',
  },
  Waiting: {
    ...no,
    meaning: 'A new revision waits for its confirm-rollout gate; the copy stays at zero.',
  },
  Progressing: {
    ...no,
    copyActive: true,
    analysing: true,
    promoted: { status: 'Unknown', reason: 'Progressing', message: 'New revision detected, analysing it on the canary.' },
    meaning:
      'The copy runs the new revision; every interval the checks run and the weight (or iteration) advances, or a failed check is counted.',
  },
  WaitingPromotion: {
    ...no,
    copyActive: true,
    analysing: true,
    meaning: 'Analysis passed; the confirm-promotion gate holds the release. Traffic stays split.',
  },
  Promoting: {
    ...no,
    copyActive: true,
    releasing: true,
    promoted: { status: 'Unknown', reason: 'Progressing', message: 'Analysis passed, releasing the revision to the primary.' },
    meaning: 'All traffic on the canary; the target is unpaused and rolls the revision onto the primary pods.',
  },
  Finalising: {
    ...no,
    copyActive: true,
    releasing: true,
    promoted: { status: 'Unknown', reason: 'Finalising', message: 'Primary released, routing traffic back to it.' },
    meaning: 'The primary runs the revision; traffic moves back to it (stepWeightPromotion per interval).',
  },
  Succeeded: {
    ...no,
    idle: true,
    outcome: true,
    promoted: { status: 'True', reason: 'Succeeded', message: 'Canary analysis completed successfully, promotion finished.' },
    meaning: 'Released: the revision is stable; the copy at zero.',
  },
  Failed: {
    ...no,
    idle: true,
    outcome: true,
    promoted: { status: 'False', reason: 'Failed', message: 'Canary analysis failed, canary scaled to zero.' },
    meaning:
      'Rolled back: traffic on the primary, the copy at zero, the target left paused on the rejected template until it changes again.',
  },
};

export type KnownPhase = keyof typeof PHASES;

/** The facts of a phase; an unknown phase (Flagger's Terminating) counts as not looked at. */
export const phase = (p: Phase | undefined): PhaseFacts => PHASES[(p ?? '') as KnownPhase] ?? PHASES[''];

export interface Transition {
  from: KnownPhase[];
  to: KnownPhase;
  when: string;
}

/** Every phase change the state machine makes (staying in a phase is always allowed). */
export const TRANSITIONS: Transition[] = [
  { from: ['', 'Initializing'], to: 'Initializing', when: 'the target is missing, unusable, or in the middle of its own rollout' },
  { from: ['', 'Initializing'], to: 'Initialized', when: "the target's running revision is recorded as stable and the objects exist" },
  {
    from: ['Initialized', 'Succeeded', 'Failed', 'Waiting', 'Progressing', 'WaitingPromotion'],
    to: 'Waiting',
    when: 'a new revision, and a confirm-rollout gate is closed',
  },
  {
    from: ['Initialized', 'Succeeded', 'Failed', 'Waiting', 'Progressing', 'WaitingPromotion', 'Promoting'],
    to: 'Progressing',
    when: 'a new revision (in Progressing or Promoting: a newer one replaces it and analysis restarts), or a retry action on a Failed one',
  },
  {
    from: ['Initialized', 'Succeeded', 'Failed', 'Waiting', 'Progressing', 'WaitingPromotion'],
    to: 'Promoting',
    when: 'skipAnalysis, the last step passed and confirm-promotion (if any) is open, or a promote action',
  },
  { from: ['Progressing'], to: 'WaitingPromotion', when: 'the last step passed and a confirm-promotion gate is closed' },
  { from: ['Promoting'], to: 'Finalising', when: 'the primary runs the revision and stepWeightPromotion moves traffic back gradually' },
  { from: ['Promoting', 'Finalising'], to: 'Succeeded', when: 'the primary runs the revision and all traffic is back on it' },
  {
    from: ['Waiting', 'Progressing', 'WaitingPromotion'],
    to: 'Failed',
    when: 'failed checks reached the threshold, the progress deadline passed, a rollback hook answered 2xx, or an abort action',
  },
  { from: ['Waiting', 'Progressing', 'WaitingPromotion'], to: 'Initialized', when: 'the target was reverted to its stable revision' },
];

/** Whether the state machine may go from `from` to `to`. */
export function allowed(from: Phase | undefined, to: Phase | undefined): boolean {
  const f = (from ?? '') as KnownPhase;
  const t = (to ?? '') as KnownPhase;
  return f === t || TRANSITIONS.some((tr) => tr.to === t && tr.from.includes(f));
}
