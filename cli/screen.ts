// A RolloutView as text: `kubectl sluice get`'s screen and `list`'s table. Colours only when
// asked for (a terminal, and NO_COLOR unset): captured output stays plain.
import { describeMetric } from '../api/canary-judge.js';
import type { RevisionView, RolloutView } from './rollout-view.js';

export interface Paint {
  ok: (s: string) => string;
  bad: (s: string) => string;
  warn: (s: string) => string;
  dim: (s: string) => string;
  bold: (s: string) => string;
}

const sgr = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
export const COLOURS: Paint = { ok: sgr('32'), bad: sgr('31'), warn: sgr('33'), dim: sgr('2'), bold: sgr('1') };
const id = (s: string) => s;
export const PLAIN: Paint = { ok: id, bad: id, warn: id, dim: id, bold: id };

function phaseColour(p: Paint, phase: string): string {
  if (phase === 'Succeeded' || phase === 'Initialized') return p.ok(phase);
  if (phase === 'Failed') return p.bad(phase);
  return p.warn(phase);
}

function fmt(v: number | undefined): string {
  if (v === undefined) return 'no value';
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

function stepText(v: RolloutView): string {
  if ('weight' in v.step) return `weight ${v.step.weight}/${v.step.maxWeight}`;
  return `iteration ${v.step.iteration}/${v.step.iterations}`;
}

function bounds(c: RolloutView['checks'][number]): string {
  if (c.min !== undefined && c.max !== undefined) return `in [${c.min}, ${c.max}]`;
  if (c.min !== undefined) return `>= ${c.min}`;
  if (c.max !== undefined) return `<= ${c.max}`;
  return '';
}

export function screen(v: RolloutView, p: Paint = PLAIN): string {
  const rows: [string, string][] = [];
  const row = (k: string, val: string) => rows.push([k, val]);
  row('Name', `${v.name} (namespace ${v.namespace}, target Deployment ${v.target})`);
  const hold = v.paused ? p.warn(`  paused ${v.paused}`) : v.suspended ? p.warn('  suspended (spec.suspend)') : '';
  row('Status', `${phaseColour(p, v.phase)}${hold}`);
  if (v.lineStopped) row('Line stopped', p.warn(v.lineStopped));
  if (v.changeWindow) row('Window', p.warn(v.changeWindow));
  if (v.breakGlass) row('Break-glass', p.warn(v.breakGlass));
  if (v.fastRollback) row('Fast rollback', v.fastRollback);
  row('Strategy', `${v.strategy}, ${stepText(v)}`);
  const failed = v.failedChecks > 0 ? p.bad(`${v.failedChecks}/${v.threshold}`) : `${v.failedChecks}/${v.threshold}`;
  row('Failed checks', failed);
  const revision = (r: RevisionView) => [r.id, ...(r.images.length > 0 ? [r.images.join(', ')] : [])].join('  ');
  row('Stable', v.stable ? revision(v.stable) : p.dim('none recorded yet'));
  row('Candidate', v.candidate ? revision(v.candidate) : p.dim('none'));
  row('Pods ready', `primary ${v.pods.primary.ready}/${v.pods.primary.desired}, canary ${v.pods.canary.ready}/${v.pods.canary.desired}`);
  const baselineShare = v.route?.baseline !== undefined ? `, baseline ${v.route.baseline}%` : '';
  row('Route', v.route ? `primary ${v.route.primary}%, canary ${v.route.canary}%${baselineShare}` : p.dim('no HTTPRoute yet'));
  for (const g of v.gates) row('Gate', p.warn(g));
  const out = rows.map(([k, val]) => `${p.bold(`${k}:`.padEnd(15))}${val}`);
  if (v.checks.length > 0) {
    out.push(p.bold('Checks (last step):'));
    const w = v.checks.reduce((m, c) => Math.max(m, c.name.length), 0);
    for (const c of v.checks) {
      // A dry run's failure is shown as what it is: reported, never failing the step.
      const mark = c.ok ? p.ok('ok  ') : c.dryRun ? p.warn('DRY ') : p.bad('FAIL');
      const detail = c.ok ? '' : `  ${c.message ?? ''}`;
      const dry = c.dryRun ? p.dim('  (dry run)') : '';
      out.push(`  ${mark} ${c.name.padEnd(w)}  ${fmt(c.value)} ${bounds(c)}${detail}${dry}`);
    }
  }
  if (v.judgement) {
    const j = v.judgement;
    const verdict = j.verdict === 'Pass' ? p.ok(j.verdict) : j.verdict === 'Fail' ? p.bad(j.verdict) : p.warn(j.verdict);
    const against = j.baseline === 'fresh' ? 'a fresh baseline' : `the primary${j.fallback ? ` (${j.fallback})` : ''}`;
    out.push(`${p.bold('Judge:'.padEnd(15))}${verdict}, score ${j.score}${j.reason ? ` (${j.reason})` : ''}, against ${against}`);
    const mark = (label: string) => (label === 'Pass' ? p.ok('ok  ') : label === 'Nodata' ? p.warn('none') : p.bad('FAIL'));
    for (const m of j.metrics) out.push(`  ${mark(m.label)} ${describeMetric(m)}`);
  }
  const ready = v.conditions.find((c) => c.type === 'Ready');
  if (ready) out.push(`${p.bold('Ready:'.padEnd(15))}${ready.status} (${ready.reason ?? ''})${ready.message ? `: ${ready.message}` : ''}`);
  if (v.lastAction) {
    const a = v.lastAction;
    const result = a.result === 'Applied' ? p.ok(a.result) : p.bad(a.result);
    out.push(`${p.bold('Last action:'.padEnd(15))}${a.action} by ${a.by}: ${result}, ${a.message}`);
  }
  if (v.events.length > 0) {
    out.push(p.bold('Events:'));
    for (const e of v.events) out.push(`  ${e.age.padStart(4)}  ${e.type === 'Warning' ? p.warn('Warning') : 'Normal '}  ${e.message}`);
  }
  return `${out.join('\n')}\n`;
}

export function table(views: RolloutView[], withNamespace: boolean): string {
  const head = [...(withNamespace ? ['NAMESPACE'] : []), 'NAME', 'STATUS', 'STEP', 'FAILED', 'STABLE', 'CANDIDATE'];
  const rows = views.map((v) => [
    ...(withNamespace ? [v.namespace] : []),
    v.name,
    v.phase + (v.paused ? ' (paused)' : v.suspended ? ' (suspended)' : ''),
    stepText(v),
    `${v.failedChecks}/${v.threshold}`,
    v.stable?.id ?? '-',
    v.candidate?.id ?? '-',
  ]);
  const all = [head, ...rows];
  const widths = head.map((_, i) => all.reduce((m, r) => Math.max(m, (r[i] ?? '').length), 0));
  return `${all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')).join('\n')}\n`;
}
