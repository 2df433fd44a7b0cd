// What the checks of one step report back to the state machine, and the events it decides.
// Shared by the state machine, the checks (analysis/, hooks/) and what announces decisions
// (alerts/, event-recorder.ts).
import type { HookType } from '../api/canary-analysis.js';
import type { JudgementReport } from '../api/canary-judge.js';

export interface MetricResult {
  name: string;
  ok: boolean;
  /** For a failed check, Flagger's wording after "advancement", e.g. "success rate 69.17% < 99%". */
  message: string;
  value?: number;
  /** The bounds it was judged against (for `kubectl sluice get`). */
  min?: number;
  max?: number;
  /** The step is neither passed nor failed: it waits (a judge's Marginal verdict, docs/analysis.md). */
  hold?: boolean;
  /** A dry run (docs/analysis.md): reported like any result, never failing or holding a step. */
  dryRun?: boolean;
  /** The statistical judge's report, on its one result (named `judge`). */
  judgement?: JudgementReport;
}

export interface HookResult {
  name: string;
  /** Answered 2xx within its timeout. */
  ok: boolean;
  /** For a hook that did not: what happened, for events ("answered 403: closed", "timed out after 5s"). */
  message: string;
}

/** Hook answers gathered so far in this pass, by type. */
export type HookResults = Partial<Record<HookType, HookResult[]>>;

export interface CanaryEvent {
  type: 'Normal' | 'Warning';
  message: string;
  /** The hook whose answer caused it (a hook with muteAlert raises no alert). */
  hook?: string;
}
