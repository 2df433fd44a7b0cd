// Benchmarks record their figures in bench/results.json (for scripts: a list of {name, value,
// unit}) and bench/RESULTS.md (for people), replacing earlier figures of the same name.
import fs from 'node:fs';
import path from 'node:path';
import { root } from '../test/world/layout.js';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** What was measured and how, for RESULTS.md. */
  note?: string;
  target?: string;
}

const jsonFile = path.join(root, 'bench/results.json');
// results.json stays a plain list of {name, value, unit}; what and how lives beside it.
const notesFile = path.join(root, 'bench/results-notes.json');
const mdFile = path.join(root, 'bench/RESULTS.md');

function readJson<T>(file: string, fallback: T): T {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return fallback;
  }
}

/**
 * Figures no benchmark writes any more, dropped at the next record(): a figure stays in
 * RESULTS.md only while the code that measured it would still write it as it stands.
 */
const RETIRED: Record<string, string> = {
  // A histogram bucket bound, not a measurement: webhook_handler_p99_upper_bound_at_500rps says so.
  webhook_handler_p99_at_500rps: 'renamed',
  // Its note was extended by hand; `make bench-cold` records it again with the benchmark's own.
  world_cold_build: 'note not written by the benchmark',
  // Measured once after the runs, objects only; scale_init_floor_any_controller is measured beside each run.
  scale_init_floor_world: 'replaced',
};

/** Merges `figures` into the recorded ones (same name: replaced) and rewrites all three files. */
export function record(figures: Figure[]): void {
  const values = new Map(readJson<Figure[]>(jsonFile, []).map((f) => [f.name, f]));
  const notes = readJson<Record<string, { note?: string; target?: string }>>(notesFile, {});
  for (const name of Object.keys(RETIRED)) {
    values.delete(name);
    delete notes[name];
  }
  for (const f of figures) {
    values.set(f.name, { name: f.name, value: f.value, unit: f.unit });
    notes[f.name] = { note: f.note, target: f.target };
    console.log(`${f.name}: ${f.value} ${f.unit}${f.target ? ` (target ${f.target})` : ''}`);
  }
  const all = [...values.values()].sort((a, b) => a.name.localeCompare(b.name));
  fs.writeFileSync(jsonFile, `${JSON.stringify(all, null, 2)}\n`);
  fs.writeFileSync(notesFile, `${JSON.stringify(notes, null, 2)}\n`);
  const rows = all.map((f) => `| ${f.name} | ${f.value} ${f.unit} | ${notes[f.name]?.target ?? ''} | ${notes[f.name]?.note ?? ''} |`);
  const header = [
    '# Benchmark results',
    '',
    'Written by `make bench` (bench/run.ts): the latest run of each benchmark on the project machine (2 cores, 24 GiB).',
    '',
    '| figure | value | target | how it was measured |',
    '|---|---|---|---|',
  ];
  fs.writeFileSync(mdFile, [...header, ...rows, ''].join('\n'));
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
