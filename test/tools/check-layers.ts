// The import rules of docs/architecture.md, checked on the sources (run by `make test` and
// `make lint`): every import points down the layers, peers do not import each other, and the
// contract's strings are spelled only in api/. Exits 1 naming each offending line.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Folder → the folders its files may import from (its own always allowed). */
const PRODUCTION: Record<string, string[]> = {
  lib: [],
  api: ['lib'],
  certs: ['lib', 'api'],
  policy: ['lib', 'api'],
  webhook: ['lib', 'api', 'certs', 'policy'],
  controller: ['lib', 'api', 'policy'],
  tester: ['lib', 'api'],
  // kubectl-sluice: a client of the apiserver like any other, so it reads the API, never the controller.
  cli: ['lib', 'api'],
  // The dashboard is a client too, showing what the CLI shows (cli/rollout-view.ts).
  dashboard: ['lib', 'api', 'cli'],
  bin: ['lib', 'api', 'certs', 'policy', 'webhook', 'controller', 'tester', 'cli', 'dashboard'],
};
const everything = [...Object.keys(PRODUCTION)];
const SUPPORT = ['test/world', 'test/fixtures', 'test/tools'];
const RULES: Record<string, string[]> = {
  ...PRODUCTION,
  // Test support serves every suite and never reaches into one.
  'test/world': [...everything, ...SUPPORT],
  'test/fixtures': [...everything, ...SUPPORT],
  'test/tools': [...everything, ...SUPPORT],
  'test/unit': [...everything, ...SUPPORT],
  'test/integration': [...everything, ...SUPPORT],
  // The scale benchmark's smoke run (issue 14) keeps bench/ from rotting: e2e may run a benchmark.
  'test/e2e': [...everything, ...SUPPORT, 'bench'],
  bench: [...everything, ...SUPPORT],
};

/** Where the contract lives; anywhere else in production code `sluice.dev/…` is a second spelling. */
const CONTRACT_HOME = 'api';
// Any key or prefix: `sluice.dev/` alone (a prefix test) is a spelling too.
const CONTRACT_LITERAL = /['"`](sluice\.dev\/|app\.kubernetes\.io\/managed-by)/;

/** The rule folder a repository path belongs to (the longest prefix that has rules). */
export function folderOf(file: string): string | undefined {
  const parts = file.split('/');
  for (let n = parts.length - 1; n > 0; n--) {
    const prefix = parts.slice(0, n).join('/');
    if (RULES[prefix]) return prefix;
  }
  return undefined;
}

export interface Violation {
  file: string;
  line: number;
  message: string;
}

/** The violations in one file's text; `file` is its path from the repository root. */
export function checkFile(file: string, text: string): Violation[] {
  const from = folderOf(file);
  if (!from) return [];
  const allowed = new Set([from, ...RULES[from]!]);
  const out: Violation[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    // Imports are single-quoted (Biome's style); double-quoted strings are text, not imports.
    const code = line.replace(/"(?:[^"\\]|\\.)*"/g, '""');
    for (const m of code.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!));
      const to = folderOf(target);
      if (to && !allowed.has(to)) {
        out.push({ file, line: i + 1, message: `${from}/ may not import ${to}/ (${m[1]}): imports point down (docs/architecture.md)` });
      }
    }
    const uncommented = line.replace(/^\s*(\/\/|\*|\/\*).*/, '');
    if (from in PRODUCTION && from !== CONTRACT_HOME && CONTRACT_LITERAL.test(uncommented)) {
      out.push({ file, line: i + 1, message: 'spells a sluice.dev/ label or annotation: take it from api/contract.ts' });
    }
  });
  return out;
}

function sources(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.posix.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

export function checkTree(root: string): Violation[] {
  const roots = [...new Set(Object.keys(RULES).map((k) => k.split('/')[0]!))];
  return roots.flatMap((top) =>
    sources(path.join(root, top)).flatMap((abs) => {
      const rel = path.relative(root, abs).split(path.sep).join('/');
      return checkFile(rel, fs.readFileSync(abs, 'utf8'));
    }),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = process.argv[2] ?? process.cwd();
  const found = checkTree(root);
  for (const v of found) console.error(`${v.file}:${v.line}: ${v.message}`);
  if (found.length > 0) {
    console.error(`${found.length} layering violation(s)`);
    process.exit(1);
  }
  console.log('imports point down; the contract is spelled only in api/');
}
