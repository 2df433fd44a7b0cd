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

function contains(w: ChangeWindow, t: number, timeZone: string): boolean {
  if (isOneOff(w)) return Date.parse(w.from!) <= t && t < Date.parse(w.until!);
  const { weekday, minute } = localTime(t, timeZone);
  const days = new Set((w.days ?? WEEKDAYS).map((d) => WEEKDAYS.indexOf(d)));
  const start = minutesOf(w.start!);
  const end = minutesOf(w.end!);
  if (start < end) return days.has(weekday) && start <= minute && minute < end;
  // Crosses midnight: the evening of a listed day, or the morning after one.
  return (days.has(weekday) && minute >= start) || (days.has((weekday + 6) % 7) && minute < end);
}

/**
 * What is wrong with a policy's windows as written; empty when they can be evaluated. The CRD's
 * schema refuses most of this at admission, and the webhook the rest (docs/policy.md).
 */
export function windowProblems(cw: ChangeWindows): string[] {
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

function closureAt(p: PolicyWindows, t: number): Closure | undefined {
  const tz = p.windows.timeZone ?? 'UTC';
  const deny = (p.windows.deny ?? []).find((w) => contains(w, t, tz));
  if (deny) return { policy: p.policy, window: deny.name, kind: 'deny' };
  const allow = p.windows.allow ?? [];
  if (allow.length > 0 && !allow.some((w) => contains(w, t, tz)))
    return { policy: p.policy, window: allow.map((w) => w.name).join(', '), kind: 'allow' };
  return undefined;
}

/** Every instant in (after, horizon] at which one of the policy's windows begins or ends. */
function boundaries(p: PolicyWindows, after: number): number[] {
  const tz = p.windows.timeZone ?? 'UTC';
  const all = [...(p.windows.deny ?? []), ...(p.windows.allow ?? [])];
  const oneOffs = all.filter(isOneOff).flatMap((w) => [Date.parse(w.from!), Date.parse(w.until!)]);
  // Recurring windows are looked at around now and around the end of each one-off window, since a
  // long one-off freeze may end on a day whose recurring windows decide what follows.
  const anchors = [after, ...oneOffs.filter((t) => t > after)];
  const out = new Set(oneOffs);
  for (const anchor of anchors) {
    const today = localTime(anchor, tz);
    for (let k = -1; k <= HORIZON_DAYS; k++) {
      const date = new Date(Date.UTC(today.year, today.month - 1, today.day + k));
      for (const w of all) {
        if (isOneOff(w)) continue;
        for (const m of [minutesOf(w.start!), minutesOf(w.end!)])
          out.add(instantOf(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), m, tz));
      }
    }
  }
  return [...out].filter((t) => t > after).sort((a, b) => a - b);
}

export type WindowState = { open: true } | { open: false; closure: Closure; until: Date | undefined };

/**
 * Whether the policies' windows let a rollout start or release at `now`; closed, which window
 * closes it and when every policy's windows are open again (undefined: never, as written).
 */
export function windowState(policies: PolicyWindows[], now: Date): WindowState {
  const t = now.getTime();
  const closure = policies.map((p) => closureAt(p, t)).find((c) => c !== undefined);
  if (!closure) return { open: true };
  const candidates = [...new Set(policies.flatMap((p) => boundaries(p, t)))].sort((a, b) => a - b);
  const opening = candidates.find((b) => policies.every((p) => closureAt(p, b) === undefined));
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
  const tz = p.windows.timeZone ?? 'UTC';
  const t = now.getTime();
  const seen = new Set<string>();
  // Two windows overlap exactly when the later one begins inside the earlier: a boundary.
  for (const b of [t, ...boundaries(p, t)].filter((x) => x <= t + HORIZON_DAYS * DAY)) {
    for (const d of (p.windows.deny ?? []).filter((w) => contains(w, b, tz)))
      for (const a of (p.windows.allow ?? []).filter((w) => contains(w, b, tz))) {
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
  const state = windowState(usable, now);
  if (state.open) return undefined;
  const until = state.until?.toISOString();
  return {
    policy: state.closure.policy,
    window: state.closure.window,
    ...(until ? { until } : {}),
    message: `the change window is closed by ${describeClosure(state.closure)} ${until ? `until ${until}` : 'and never opens again as written'}`,
  };
}
