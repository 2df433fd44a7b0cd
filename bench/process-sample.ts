// What a world process costs, read from /proc (Linux; clock ticks at 100 Hz), and a helper the
// benchmarks share to write many objects a few at a time.
import fs from 'node:fs';
import { runningPid } from '../test/world/processes.js';
import { CONTROLLER, WEBHOOK } from '../test/world/sluice.js';
import { round } from './results.js';

export interface ProcessSample {
  rssMiB: number;
  cpuSeconds: number;
}

/** VmRSS and utime+stime of a world process. */
export function sample(name: string): ProcessSample {
  const pid = runningPid(name);
  if (pid === undefined) throw new Error(`${name} is not running`);
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  // Fields after the command name (which may hold spaces) start at index 3 (state).
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: rssKiB / 1024, cpuSeconds: ticks / 100 };
}

/** Whose CPU a phase took: sluice's two processes and the world's busiest ones. */
const CPU_TAKERS = [CONTROLLER, WEBHOOK, 'kube-apiserver', 'etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok', 'simulator'];

/** CPU seconds so far of every process in CPU_TAKERS that is running. */
export function cpuNow(): Map<string, number> {
  const m = new Map<string, number>();
  for (const name of CPU_TAKERS) if (runningPid(name) !== undefined) m.set(name, sample(name).cpuSeconds);
  return m;
}

/** The CPU seconds each process took between two readings, as a sentence part. */
export function cpuSaid(before: Map<string, number>, after: Map<string, number>): string {
  return [...after].map(([name, s]) => `${name} ${round(s - (before.get(name) ?? s), 1)}`).join(', ');
}

/** Runs `fn` over `items`, `width` at a time. */
export async function inBatches<T>(items: T[], width: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}
