// docs/controller.md's phase and transition tables, rendered from api/phases.ts so the document
// cannot drift from what the state machine enforces. `--write` rewrites the marked section;
// without it, exits 1 when the document is stale (a unit test does the same check).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PHASES, type PhaseFacts, TRANSITIONS } from '../../api/phases.js';

export const BEGIN = '<!-- phase-table:begin (generated from api/phases.ts by `make docs`; do not edit) -->';
export const END = '<!-- phase-table:end -->';

const label = (p: string) => (p === '' ? '(none)' : p);
const yes = (b: boolean) => (b ? 'yes' : '');

function condition(f: PhaseFacts): string {
  return f.promoted ? `${f.promoted.status} (${f.promoted.reason})` : 'unchanged';
}

export function renderTables(): string {
  const rows = Object.entries(PHASES).map(
    ([p, f]) =>
      `| ${label(p)} | ${yes(f.idle)} | ${yes(f.copyActive)} | ${yes(f.analysing)} | ${yes(f.releasing)} | ${condition(f)} | ${f.meaning} |`,
  );
  const moves = TRANSITIONS.map((t) => `| ${t.from.map(label).join(', ')} | ${t.to} | ${t.when} |`);
  return [
    BEGIN,
    '',
    '| phase | idle | copy runs the candidate | checks and split traffic | primary being released | Promoted condition | meaning |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Transitions (staying in a phase is always allowed; `decide()` throws on any other change):',
    '',
    '| from | to | when |',
    '|---|---|---|',
    ...moves,
    '',
    END,
  ].join('\n');
}

/** The document with its marked section replaced by the current tables. */
export function withTables(doc: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`the document has no "${BEGIN}" … "${END}" section`);
  return doc.slice(0, start) + renderTables() + doc.slice(end + END.length);
}

export const CONTROLLER_DOC = 'docs/controller.md';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = path.resolve(CONTROLLER_DOC);
  const doc = fs.readFileSync(file, 'utf8');
  const next = withTables(doc);
  if (process.argv.includes('--write')) {
    fs.writeFileSync(file, next);
    console.log(`${CONTROLLER_DOC}: phase tables written`);
  } else if (next !== doc) {
    console.error(`${CONTROLLER_DOC} is stale: run make docs`);
    process.exit(1);
  }
}
