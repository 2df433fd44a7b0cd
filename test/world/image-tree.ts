// Builds the file tree the Dockerfile builds, without a container engine (none runs here): the
// Dockerfile is read, not copied — every COPY of its build stages is done from the repository into a
// scratch directory holding only what the Dockerfile copies, every RUN of a build stage runs there,
// and the final stage's COPY --from gathers the result. So a file the Dockerfile forgets to copy,
// or an import the runtime build does not compile, fails here as it would in `docker build`.
// Not emulated: the base images themselves (Node.js is this machine's) and RUN steps of the final
// stage, which only change the base image (they never see the application's files).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

const SUPPORTED = new Set(['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'ENTRYPOINT', 'CMD', 'LABEL', 'ARG', 'EXPOSE']);

/** Stages of a Dockerfile: comments dropped, continuation lines joined. */
export function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = '';
  }
  if (pending) logical.push(pending.trim());
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(l)!;
    const op = m[1]!.toUpperCase();
    const args = m[2] ?? '';
    if (!SUPPORTED.has(op))
      throw new Error(`Dockerfile instruction ${op} is not understood by test/world/image-tree.ts; teach it before using it`);
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`FROM ${args}: expected IMAGE [AS NAME]`);
      stages.push({ from: f[1]!, name: f[2], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${op} before any FROM`);
    stage.instructions.push({ op, args });
  }
  return stages;
}

export interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

export function parseCopy(args: string): Copy {
  const words = args.split(/\s+/).filter(Boolean);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    const m = /^--from=(.+)$/.exec(flag);
    if (!m) throw new Error(`COPY ${flag} is not understood by test/world/image-tree.ts`);
    from = m[1];
  }
  if (words.length < 2) throw new Error(`COPY ${args}: expected SOURCE... DEST`);
  return { from, sources: words.slice(0, -1), dest: words.at(-1)! };
}

export function parseExecForm(args: string): string[] {
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string'))
    throw new Error(`expected the exec form ["cmd", "arg"...], got ${args}`);
  return parsed as string[];
}

export interface ImageTree {
  /** The final stage's filesystem root, below which its WORKDIR and every COPY destination lie. */
  root: string;
  /** ENTRYPOINT with container paths mapped into `root`, and `node` mapped to this Node.js. */
  entrypoint: string[];
  env: Record<string, string>;
  workdir: string;
}

function copyInto(src: string, dest: string, destIsDir: boolean): void {
  if (!fs.existsSync(src)) throw new Error(`COPY source ${src} does not exist`);
  // Docker copies a directory's contents (not the directory itself) into the destination.
  const target = fs.statSync(src).isDirectory() ? dest : destIsDir ? path.join(dest, path.basename(src)) : dest;
  fs.mkdirSync(fs.statSync(src).isDirectory() ? target : path.dirname(target), { recursive: true });
  fs.cpSync(src, target, { recursive: true });
}

/**
 * Builds every stage of `dockerfile` (with `context` as the build context) below `scratch`.
 * `runEnv` is added to the environment of RUN steps (e.g. npm's offline cache preference).
 */
export function buildImageTree(dockerfile: string, context: string, scratch: string, runEnv: Record<string, string> = {}): ImageTree {
  const stages = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'));
  const roots = new Map<string, string>();
  let last: ImageTree | undefined;
  stages.forEach((stage, i) => {
    const root = path.join(scratch, `stage-${i}`);
    fs.mkdirSync(root, { recursive: true });
    const isFinal = i === stages.length - 1;
    let workdir = '/';
    const env: Record<string, string> = {};
    let entrypoint: string[] = [];
    const inRoot = (p: string) => path.join(root, path.isAbsolute(p) ? p : path.join(workdir, p));
    for (const { op, args } of stage.instructions) {
      if (op === 'WORKDIR') {
        workdir = path.posix.resolve(workdir, args);
        fs.mkdirSync(inRoot('.'), { recursive: true });
      } else if (op === 'ENV') {
        const m = /^(\S+?)(?:=|\s+)(.*)$/.exec(args);
        if (m) env[m[1]!] = m[2]!;
      } else if (op === 'COPY') {
        const c = parseCopy(args);
        const fromRoot = c.from === undefined ? undefined : roots.get(c.from);
        if (c.from !== undefined && !fromRoot) throw new Error(`COPY --from=${c.from}: no earlier stage of that name`);
        const destIsDir = c.dest.endsWith('/') || c.sources.length > 1;
        for (const src of c.sources) {
          const from = fromRoot ? path.join(fromRoot, path.posix.resolve('/', src)) : path.join(context, src);
          copyInto(from, inRoot(c.dest), destIsDir);
        }
      } else if (op === 'RUN' && !isFinal) {
        const r = spawnSync('sh', ['-c', args], {
          cwd: inRoot('.'),
          env: { ...process.env, ...env, ...runEnv },
          encoding: 'utf8',
          maxBuffer: 64 * 1024 * 1024,
        });
        if (r.status !== 0) throw new Error(`RUN ${args} failed (exit ${r.status}):\n${(r.stderr || r.stdout).slice(-3000)}`);
      } else if (op === 'ENTRYPOINT') {
        entrypoint = parseExecForm(args);
      }
    }
    if (stage.name) roots.set(stage.name, root);
    roots.set(String(i), root);
    const mapped = entrypoint.map((a, j) => (j === 0 && a === 'node' ? process.execPath : a.startsWith('/') ? path.join(root, a) : a));
    last = { root, entrypoint: mapped, env, workdir: path.join(root, workdir) };
  });
  if (!last) throw new Error(`${dockerfile} has no stage`);
  return last;
}
