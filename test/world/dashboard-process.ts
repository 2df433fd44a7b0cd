// `kubectl sluice dashboard` started as a person starts it (the built plugin, their kubeconfig),
// for the dashboard's tests and benchmark: the one-time link read from what it prints.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../lib/wait.js';
import { root } from './layout.js';

export interface DashboardProcess {
  url: string;
  pid: number;
  port: number;
  origin: string;
  stop(): Promise<void>;
}

const PLUGIN = path.join(root, 'dist/bin/kubectl-sluice.js');

/** The node flags the plugin ships with, from its #! line: what is measured is what a person runs. */
export function pluginNodeFlags(): string[] {
  const first = fs.readFileSync(PLUGIN, 'utf8').split('\n', 1)[0] ?? '';
  return (/^#!.*\bnode\b(.*)$/.exec(first)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
}

export async function startDashboardProcess(
  kubeconfig: string,
  opts: { port?: number; stateDir: string; args?: string[] },
): Promise<DashboardProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...pluginNodeFlags(),
      PLUGIN,
      'dashboard',
      '--no-browser',
      '--kubeconfig',
      kubeconfig,
      '--port',
      String(opts.port ?? 0),
      ...(opts.args ?? []),
    ],
    { env: { ...process.env, XDG_STATE_HOME: opts.stateDir, SLUICE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const url = await waitFor(
    () => {
      if (exited !== undefined) throw new Error(`kubectl sluice dashboard exited ${exited}: ${err}`);
      return /on (http:\/\/\S+)/.exec(out)?.[1];
    },
    { timeoutMs: 20_000, intervalMs: 50, what: 'kubectl sluice dashboard to print its link' },
  );
  const u = new URL(url);
  return {
    url,
    pid: child.pid!,
    port: Number(u.port),
    origin: u.origin,
    async stop() {
      if (exited !== undefined) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await gone;
    },
  };
}
