// After `make mutation`: reads StrykerJS's JSON report (reports/mutation/mutation.json), records
// the safety core's mutation score in bench/RESULTS.md, and writes bench/MUTATION.md: the score per
// file and every mutant no test killed, each with the reason it is equivalent or harmless when one
// is recorded in bench/mutation-verdicts.json (a person's judgement, keyed by where and what the
// mutant is), or "not yet killed" when none is.
import fs from 'node:fs';
import path from 'node:path';
import { root } from '../test/world/layout.js';
import { record, round } from './results.js';

type Status = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';
interface Mutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  status: Status;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}

const reportFile = path.join(root, 'reports/mutation/mutation.json');
const verdictsFile = path.join(root, 'bench/mutation-verdicts.json');
const outFile = path.join(root, 'bench/MUTATION.md');

/** How a verdict names a mutant: stable across runs as long as the line does not move. */
const keyOf = (file: string, m: Mutant) =>
  `${file}:${m.location.start.line}:${m.mutatorName}:${(m.replacement ?? '').replace(/\s+/g, ' ')}`;

const detected = (s: Status) => s === 'Killed' || s === 'Timeout';
const undetected = (s: Status) => s === 'Survived' || s === 'NoCoverage';

function main(): void {
  if (!fs.existsSync(reportFile)) throw new Error(`${reportFile} not found: run make mutation first`);
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report;
  const verdicts = fs.existsSync(verdictsFile) ? (JSON.parse(fs.readFileSync(verdictsFile, 'utf8')) as Record<string, string>) : {};
  const rows: string[] = [];
  const survivors: string[] = [];
  const totals = { detected: 0, undetected: 0, ignored: 0, invalid: 0, explained: 0 };
  for (const [file, { mutants }] of Object.entries(report.files).sort(([a], [b]) => a.localeCompare(b))) {
    const rel = path.relative(root, path.resolve(root, file));
    const d = mutants.filter((m) => detected(m.status)).length;
    const u = mutants.filter((m) => undetected(m.status));
    totals.detected += d;
    totals.undetected += u.length;
    totals.ignored += mutants.filter((m) => m.status === 'Ignored').length;
    totals.invalid += mutants.filter((m) => m.status === 'CompileError' || m.status === 'RuntimeError').length;
    rows.push(`| ${rel} | ${d + u.length} | ${d} | ${u.length} | ${d + u.length ? round((100 * d) / (d + u.length), 1) : '-'} % |`);
    for (const m of u.sort((a, b) => a.location.start.line - b.location.start.line)) {
      const why = verdicts[keyOf(rel, m)];
      if (why) totals.explained++;
      const replacement = (m.replacement ?? '').replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 80);
      survivors.push(
        `| ${rel}:${m.location.start.line} | ${m.mutatorName} | \`${replacement}\` | ${m.status} | ${why ?? 'not yet killed'} |`,
      );
    }
  }
  const valid = totals.detected + totals.undetected;
  const score = valid ? round((100 * totals.detected) / valid, 1) : 0;
  fs.writeFileSync(
    outFile,
    [
      '# Mutation testing of the safety core',
      '',
      "Written by `make mutation` (bench/mutation-score.ts) from StrykerJS's report: mutants killed or timed out count as detected,",
      'survivors and mutants no test covers as not. Mutants in code that runs at import (static) are ignored by the run.',
      '',
      `Score: **${score} %** (${totals.detected} of ${valid} detected; ${totals.ignored} static mutants ignored, ${totals.invalid} that did not compile or run left out).`,
      '',
      '| file | mutants | detected | not detected | score |',
      '|---|---|---|---|---|',
      ...rows,
      '',
      `## Mutants no test kills (${totals.undetected}; ${totals.explained} with a recorded reason)`,
      '',
      '| where | mutator | replacement | status | why it survives |',
      '|---|---|---|---|---|',
      ...survivors,
      '',
    ].join('\n'),
  );
  record([
    {
      name: 'mutation_score_safety_core',
      value: score,
      unit: '%',
      target: '>= 90 %',
      note: `make mutation: StrykerJS over the webhook's decisions and freezes, the state machine, desired state, hand-back, the kind drivers, policy constraints and change windows, revisions, phases and the kinds' arithmetic, judged by the unit suite; ${totals.detected} of ${valid} mutants killed or timed out, ${totals.undetected} not (listed in bench/MUTATION.md, ${totals.explained} with a reason), ${totals.ignored} static mutants ignored`,
    },
  ]);
}

main();
