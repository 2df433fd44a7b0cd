// Change windows (docs/policy.md, "Change windows"): when a ClusterCanaryPolicy lets new
// revisions start their analysis and be released. A deny window closes; allow windows, when a
// policy has any, close everything outside them; deny wins where the two overlap. Recurring
// windows are read on the wall clock of the policy's time zone (days, start and end as HH:MM,
// end before start crossing midnight); one-off windows are two instants.
//
// Whether a moment is inside a recurring window depends only on its local weekday and minute, so
// the state of a set of windows changes only at their boundaries: every question here (closed now?
// until when? does it ever open? do a deny and an allow overlap?) is answered by looking at those
// boundaries, never by stepping through time.
import type { ChangeWindow, ChangeWindows, ClusterCanaryPolicy } from '../api/policy-types.js';
import { WEEKDAYS } from '../api/policy-types.js';
import type { KubeObject } from '../lib/kube/client.js';
import { selectorMatches } from './label-selector.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Recurring windows repeat weekly: eight days of boundaries after any moment show every state they have. */
const HORIZON_DAYS = 8;
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/;

/** Minutes after midnight of an `HH:MM` (24:00 is the end of the day). */
const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const formats = new Map<string, Intl.DateTimeFormat>();
function formatFor(timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    formats.set(timeZone, f);
  }
  return f;
}

/** Whether the runtime knows the IANA time zone `tz`. */
export function knownTimeZone(tz: string): boolean {
  try {
    formatFor(tz);
    return true;
  } catch {
    return false;
  }
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  /** 0 = Sunday. */
  weekday: number;
  /** Minutes after local midnight. */
  minute: number;
}

function localTime(t: number, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatFor(timeZone).formatToParts(new Date(t))) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: WEEKDAYS.indexOf(parts.weekday as (typeof WEEKDAYS)[number]),
    minute: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** The zone's offset from UTC at instant `t`, in ms (minute-granular, as every zone's is). */
function offsetAt(t: number, timeZone: string): number {
  const floor = Math.floor(t / MINUTE) * MINUTE;
  const l = localTime(floor, timeZone);
  return Date.UTC(l.year, l.month - 1, l.day, 0, l.minute) - floor;
}

/**
 * The instant a wall clock in `timeZone` reads `minute` on the given local date. A time skipped by
 * a daylight-saving change maps to the instant after the gap; a repeated one to its first reading.
 */
function instantOf(year: number, month: number, day: number, minute: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, 0, minute);
  const guess = wall - offsetAt(wall, timeZone);
  return wall - offsetAt(guess, timeZone);
}

const isOneOff = (w: ChangeWindow) => w.from !== undefined || w.until !== undefined;

/** A window parsed once: a one-off span, or a recurring one on days of the week. */
type Span = { name: string; from: number; until: number } | { name: string; days: Set<number>; start: number; end: number };

function span(w: ChangeWindow): Span {
  if (isOneOff(w)) return { name: w.name, from: Date.parse(w.from!), until: Date.parse(w.until!) };
  return {
    name: w.name,
    days: new Set((w.days ?? WEEKDAYS).map((d) => WEEKDAYS.indexOf(d))),
    start: minutesOf(w.start!),
    end: minutesOf(w.end!),
  };
}

function contains(w: Span, t: number, local: () => LocalTime): boolean {
  if ('from' in w) return w.from <= t && t < w.until;
  const { weekday, minute } = local();
  if (w.start < w.end) return w.days.has(weekday) && w.start <= minute && minute < w.end;
  // Crosses midnight: the evening of a listed day, or the morning after one.
  return (w.days.has(weekday) && minute >= w.start) || (w.days.has((weekday + 6) % 7) && minute < w.end);
}

/**
 * What is wrong with a policy's windows as written; empty when they can be evaluated. The CRD's
 * schema refuses most of this at admission, and the webhook the rest (docs/policy.md).
 */
export function windowProblems(cw: ChangeWindows): string[] {
  // Shapes first: a policy sent to the webhook directly, or stored before the schema said so.
  const isList = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((w) => typeof w === 'object' && w !== null));
  const text = (v: unknown) => v === undefined || typeof v === 'string';
  if (typeof cw !== 'object' || cw === null || !isList(cw.deny) || !isList(cw.allow) || !text(cw.timeZone))
    return ['changeWindows must be an object whose deny and allow are lists of windows and whose timeZone is a string'];
  const fields = [...(cw.deny ?? []), ...(cw.allow ?? [])].flatMap((w) => [w.name, w.start, w.end, w.from, w.until]);
  if (!fields.every(text) || ![...(cw.deny ?? []), ...(cw.allow ?? [])].every((w) => w.days === undefined || Array.isArray(w.days)))
    return ['every window has a name, start, end, from and until that are strings, and days that is a list'];
  const problems: string[] = [];
  const tz = cw.timeZone ?? 'UTC';
  if (!knownTimeZone(tz)) problems.push(`timeZone "${tz}" is not an IANA time zone this runtime knows (for example Europe/Berlin or UTC)`);
  const seen = new Set<string>();
  for (const [list, ws] of [
    ['deny', cw.deny ?? []],
    ['allow', cw.allow ?? []],
  ] as const) {
    ws.forEach((w, i) => {
      const at = `changeWindows.${list}[${i}]${w.name ? ` (${w.name})` : ''}`;
      if (!w.name) problems.push(`${at}: a name is required`);
      else if (seen.has(w.name)) problems.push(`${at}: the name ${w.name} is used twice; window names are unique within a policy`);
      seen.add(w.name ?? '');
      const recurring = w.days !== undefined || w.start !== undefined || w.end !== undefined;
      if (recurring && isOneOff(w)) problems.push(`${at}: give either days/start/end (recurring) or from/until (one-off), not both`);
      else if (isOneOff(w)) {
        const from = Date.parse(w.from ?? '');
        const until = Date.parse(w.until ?? '');
        if (Number.isNaN(from) || Number.isNaN(until)) problems.push(`${at}: from and until must both be RFC 3339 times`);
        else if (until <= from) problems.push(`${at}: until (${w.until}) must be after from (${w.from})`);
      } else if (!w.start || !w.end || !HHMM.test(w.start) || !HHMM.test(w.end)) {
        problems.push(`${at}: start and end are required, as HH:MM (00:00 to 24:00)`);
      } else if (w.start === '24:00') problems.push(`${at}: start is at most 23:59; 24:00 only ends a day`);
      else if (w.start === w.end) problems.push(`${at}: start and end are the same time; a whole day is 00:00 to 24:00`);
      else if (w.days?.length === 0) problems.push(`${at}: days is empty, so the window never happens; leave it out for every day`);
      else if ((w.days ?? []).some((d) => !WEEKDAYS.includes(d))) problems.push(`${at}: days are ${WEEKDAYS.join(', ')}`);
    });
  }
  return problems;
}

/** One policy's windows, ready to evaluate (their problems already checked). */
export interface PolicyWindows {
  policy: string;
  windows: ChangeWindows;
}

/** What closes the change window at an instant: the deny window, or the allow windows it is outside. */
export interface Closure {
  policy: string;
  /** A deny window's name, or the allow windows' names joined. */
  window: string;
  kind: 'deny' | 'allow';
}

/** A policy's windows parsed once, with the recurring boundaries of each local date computed once. */
class Schedule {
  readonly tz: string;
  readonly deny: Span[];
  readonly allow: Span[];
  private readonly recurring: { start: number; end: number }[];
  /** One-off boundaries, ascending. */
  readonly fixed: number[];
  private readonly byDate = new Map<string, number[]>();

  constructor(readonly p: PolicyWindows) {
    this.tz = p.windows.timeZone ?? 'UTC';
    this.deny = (p.windows.deny ?? []).map(span);
    this.allow = (p.windows.allow ?? []).map(span);
    const all = [...this.deny, ...this.allow];
    this.recurring = all.filter((w): w is Extract<Span, { days: Set<number> }> => 'days' in w);
    this.fixed = all.flatMap((w) => ('from' in w ? [w.from, w.until] : [])).sort((a, b) => a - b);
  }

  /** The deny windows and allow windows containing `t` (the local time read at most once). */
  at(t: number): { deny: Span[]; allow: Span[] } {
    let memo: LocalTime | undefined;
    const local = () => (memo ??= localTime(t, this.tz));
    return { deny: this.deny.filter((w) => contains(w, t, local)), allow: this.allow.filter((w) => contains(w, t, local)) };
  }

  closure(t: number): Closure | undefined {
    const { deny, allow } = this.at(t);
    if (deny[0]) return { policy: this.p.policy, window: deny[0].name, kind: 'deny' };
    if (this.allow.length > 0 && allow.length === 0)
      return { policy: this.p.policy, window: this.allow.map((w) => w.name).join(', '), kind: 'allow' };
    return undefined;
  }

  /** The first instant after `t` at which one of the windows begins or ends (undefined: none). */
  next(t: number): number | undefined {
    let best = this.fixed.find((b) => b > t);
    if (this.recurring.length > 0) {
      const today = localTime(t, this.tz);
      // Every date has recurring boundaries, so the next one is on the date before, of, or after t's.
      for (let k = -1; k <= 2; k++) {
        const after = this.boundsOn(today.year, today.month, today.day + k).find((b) => b > t);
        if (after !== undefined && (best === undefined || after < best)) best = after;
      }
    }
    return best;
  }

  private boundsOn(year: number, month: number, day: number): number[] {
    const date = new Date(Date.UTC(year, month - 1, day));
    const key = date.toISOString().slice(0, 10);
    let bounds = this.byDate.get(key);
    if (!bounds) {
      const [y, m, d] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()];
      bounds = [...new Set(this.recurring.flatMap((w) => [instantOf(y, m, d, w.start, this.tz), instantOf(y, m, d, w.end, this.tz)]))].sort(
        (a, b) => a - b,
      );
      this.byDate.set(key, bounds);
    }
    return bounds;
  }
}

/** A ceiling on the boundaries looked at for one answer: windows as written never need more. */
const MAX_STEPS = 10_000;

/** The first instant after `t0` at which every schedule is open; undefined when none comes. */
function nextOpening(schedules: Schedule[], t0: number): number | undefined {
  // Past the last one-off boundary the schedules repeat weekly: eight days more shows every state.
  const limit = Math.max(t0, ...schedules.flatMap((s) => s.fixed)) + HORIZON_DAYS * DAY;
  let t = t0;
  for (let i = 0; i < MAX_STEPS; i++) {
    // Inside a one-off deny window it stays closed until its end: jump there.
    const jump = Math.max(t, ...schedules.flatMap((s) => s.at(t).deny.flatMap((w) => ('from' in w ? [w.until] : []))));
    const next = jump > t ? jump : Math.min(...schedules.map((s) => s.next(t) ?? Number.POSITIVE_INFINITY));
    if (!Number.isFinite(next) || next > limit) return undefined;
    t = next;
    if (schedules.every((s) => s.closure(t) === undefined)) return t;
  }
  return undefined;
}

export type WindowState = { open: true } | { open: false; closure: Closure; until: Date | undefined };

/**
 * Whether the policies' windows let a rollout start or release at `now`; closed, which window
 * closes it and when every policy's windows are open again (undefined: never, as written).
 */
export function windowState(policies: PolicyWindows[], now: Date): WindowState {
  const t = now.getTime();
  const schedules = policies.map((p) => new Schedule(p));
  const closure = schedules.map((s) => s.closure(t)).find((c) => c !== undefined);
  if (!closure) return { open: true };
  const opening = nextOpening(schedules, t);
  return { open: false, closure, until: opening === undefined ? undefined : new Date(opening) };
}

/**
 * What a person should hear about windows that can be evaluated: one that keeps the policy closed
 * for good, and a deny and an allow window that overlap (deny wins there, so part of the allow
 * window never opens).
 */
export function windowWarnings(p: PolicyWindows, now: Date): string[] {
  const warnings: string[] = [];
  const state = windowState([p], now);
  if (!state.open && state.until === undefined)
    warnings.push(
      `changeWindows never open again as written (closed now by ${describeClosure(state.closure)}); nothing in scope can be released`,
    );
  const schedule = new Schedule(p);
  const seen = new Set<string>();
  // Two windows overlap exactly when the later one begins inside the earlier: at a boundary.
  let t: number | undefined = now.getTime();
  const limit = t + HORIZON_DAYS * DAY;
  for (let i = 0; t !== undefined && t <= limit && i < MAX_STEPS; i++, t = schedule.next(t)) {
    const { deny, allow } = schedule.at(t);
    for (const d of deny)
      for (const a of allow) {
        const key = `${d.name}/${a.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        warnings.push(`deny window ${d.name} overlaps allow window ${a.name}; deny wins where they overlap`);
      }
  }
  return warnings;
}

export function describeClosure(c: Closure): string {
  return c.kind === 'deny'
    ? `deny window ${c.window} of ClusterCanaryPolicy ${c.policy}`
    : `being outside the allow windows (${c.window}) of ClusterCanaryPolicy ${c.policy}`;
}

/**
 * The policies whose windows hold for a Canary in this namespace, the workload's labels matched
 * by the selector if any; a policy whose windows cannot be read closes (a freeze someone meant
 * must not lapse on a typo) and says so.
 */
export function windowsOf(policies: ClusterCanaryPolicy[]): { usable: PolicyWindows[]; broken: { policy: string; problems: string[] }[] } {
  const usable: PolicyWindows[] = [];
  const broken: { policy: string; problems: string[] }[] = [];
  for (const p of policies) {
    const cw = p.spec.changeWindows;
    if (!cw) continue;
    const problems = windowProblems(cw);
    if (problems.length > 0) broken.push({ policy: p.metadata.name, problems });
    else usable.push({ policy: p.metadata.name, windows: cw });
  }
  return { usable, broken };
}

/** A closed change window as a Canary sees it: what closes it, until when, and a sentence saying so. */
export interface ClosedWindow {
  policy: string;
  window: string;
  /** When every window in scope is open again; absent: not as written (or a policy's windows cannot be read). */
  until?: string;
  message: string;
}

/**
 * Answers for the current second: a thousand Canaries under one policy, or a burst of admissions,
 * evaluate its windows once. A cached closure whose end has passed is evaluated again.
 */
const memo = { second: Number.NaN, states: new Map<string, WindowState>() };
function memoState(usable: PolicyWindows[], now: Date): WindowState {
  const second = Math.floor(now.getTime() / 1000);
  if (second !== memo.second) {
    memo.second = second;
    memo.states.clear();
  }
  const key = JSON.stringify(usable);
  let state = memo.states.get(key);
  // Closed until a moment already past: it opened within this second.
  if (!state || (!state.open && state.until !== undefined && state.until.getTime() <= now.getTime())) {
    state = windowState(usable, now);
    memo.states.set(key, state);
  }
  return state;
}

/**
 * Whether change windows hold a Canary in namespace `ns` whose target carries `workloadLabels`:
 * every policy selecting the namespace (opted in or not, as for stopping the line) whose
 * workloadSelector, if any, matches. Undefined when they are open.
 */
export function closedWindowFor(
  policies: ClusterCanaryPolicy[],
  ns: KubeObject | undefined,
  workloadLabels: Record<string, string> | undefined,
  now: Date,
): ClosedWindow | undefined {
  if (!ns) return undefined;
  const inScope = policies
    .filter(
      (p) =>
        !p.metadata.deletionTimestamp &&
        p.spec.changeWindows &&
        selectorMatches(p.spec.namespaceSelector, ns.metadata.labels) &&
        (p.spec.changeWindows.workloadSelector === undefined || selectorMatches(p.spec.changeWindows.workloadSelector, workloadLabels)),
    )
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const { usable, broken } = windowsOf(inScope);
  const [first] = broken;
  if (first)
    return {
      policy: first.policy,
      window: 'changeWindows',
      message: `the changeWindows of ClusterCanaryPolicy ${first.policy} cannot be read (${first.problems.join('; ')}), so they count as closed until fixed`,
    };
  if (usable.length === 0) return undefined;
  const state = memoState(usable, now);
  if (state.open) return undefined;
  const until = state.until?.toISOString();
  return {
    policy: state.closure.policy,
    window: state.closure.window,
    ...(until ? { until } : {}),
    message: `the change window is closed by ${describeClosure(state.closure)} ${until ? `until ${until}` : 'and never opens again as written'}`,
  };
}
