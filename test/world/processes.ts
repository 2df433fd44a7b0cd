// Starting and stopping the world's processes. Each runs detached in its own process group with
// its output in .world/logs/<name>.log and its pid in .world/pids/<name>.pid, so `world down`
// (or a later `world up`) finds exactly what an earlier run started, even after a crash.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { delay, waitFor } from '../../lib/wait.js';
import { paths } from './layout.js';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Resolves truthy once the component serves; may throw while it is starting. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

const pidFile = (name: string) => path.join(paths.pids, `${name}.pid`);
export const logFile = (name: string) => path.join(paths.logs, `${name}.log`);

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function runningPid(name: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile(name), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function tail(file: string, lines: number): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log written)';
  }
}

export class ComponentError extends Error {
  constructor(
    readonly component: string,
    why: string,
  ) {
    super(`world: ${component} ${why}; its log is ${logFile(component)}. Last lines:\n${tail(logFile(component), 15)}`);
  }
}

/** Starts the component unless it already runs and answers its readiness check. */
export async function ensureStarted(spec: ProcessSpec): Promise<'started' | 'already running'> {
  fs.mkdirSync(paths.logs, { recursive: true });
  fs.mkdirSync(paths.pids, { recursive: true });
  const existing = runningPid(spec.name);
  if (existing !== undefined) {
    if (await spec.ready().catch(() => false)) return 'already running';
    await stopComponent(spec.name);
  }
  const out = fs.openSync(logFile(spec.name), 'a');
  const child = spawn(spec.command, spec.args, {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, ...spec.env },
  });
  fs.closeSync(out);
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const pid = child.pid;
  if (pid === undefined) throw new ComponentError(spec.name, `could not be started (${(await spawnError).message})`);
  child.unref();
  fs.writeFileSync(pidFile(spec.name), String(pid));
  const timeoutMs = spec.readyTimeoutMs ?? 60_000;
  // A component that dies while starting is reported at once, not after the readiness deadline.
  const exited = new Promise<'exited'>((resolve) => child.once('exit', () => resolve('exited')));
  const ready = waitFor(() => spec.ready(), { timeoutMs, intervalMs: 100, what: `${spec.name} to become ready` }).then(
    () => 'ready' as const,
    () => 'timeout' as const,
  );
  const outcome = await Promise.race([ready, exited]);
  if (outcome !== 'ready') {
    await stopComponent(spec.name);
    throw new ComponentError(spec.name, outcome === 'exited' ? 'exited during start-up' : `was not ready within ${timeoutMs / 1000} s`);
  }
  return 'started';
}

/**
 * SIGTERM to the process group, then SIGKILL after a grace period; with `kill`, SIGKILL at once
 * (a crash, for tests of recovery). Safe to call on anything.
 */
export async function stopComponent(name: string, graceMs = 10_000, kill = false): Promise<void> {
  const pid = runningPid(name);
  if (pid !== undefined) {
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-pid, sig);
      } catch {
        try {
          process.kill(pid, sig);
        } catch {
          /* already gone */
        }
      }
    };
    // Done when nothing of the process group is left: children of a component go with it.
    const anyLeft = () => isAlive(pid) || groupAlive(pid);
    signal(kill ? 'SIGKILL' : 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (anyLeft() && Date.now() < deadline) await delay(50);
    if (anyLeft()) signal('SIGKILL');
    const killDeadline = Date.now() + 5000;
    while (anyLeft() && Date.now() < killDeadline) await delay(20);
    // An unreaped zombie is not a running process; say so rather than wait for ever.
    if (anyLeft()) process.stderr.write(`[world] ${name} (pid ${pid}) still listed after SIGKILL; probably a zombie awaiting its parent\n`);
  }
  fs.rmSync(pidFile(name), { force: true });
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function startedComponents(): string[] {
  try {
    return fs
      .readdirSync(paths.pids)
      .filter((f) => f.endsWith('.pid'))
      .map((f) => f.slice(0, -4));
  } catch {
    return [];
  }
}
