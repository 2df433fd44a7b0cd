// helm (built from its Go module with the rest of the world) on the repository's chart, with its
// cache and config kept inside .world so a developer's own helm setup is never read or changed.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import YAML from 'yaml';
import type { KubeObject } from '../../lib/kube/client.js';
import { paths, root } from './layout.js';

export const chartDir = path.join(root, 'charts/sluice');

export function helm(binDir: string, args: string[]): string {
  const home = (d: string) => path.join(paths.world, 'helm', d);
  const r = spawnSync(path.join(binDir, 'helm'), args, {
    encoding: 'utf8',
    env: { ...process.env, HELM_CACHE_HOME: home('cache'), HELM_CONFIG_HOME: home('config'), HELM_DATA_HOME: home('data') },
  });
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export type Rendered = KubeObject & Record<string, unknown>;

/** `helm template` of the chart as release "sluice" into `namespace`, with `--set` values. */
export function renderChart(binDir: string, namespace: string, sets: string[] = [], extra: string[] = []): Rendered[] {
  const out = helm(binDir, ['template', 'sluice', chartDir, '--namespace', namespace, ...sets.flatMap((s) => ['--set', s]), ...extra]);
  return YAML.parseAllDocuments(out)
    .map((d) => d.toJSON() as Rendered | null)
    .filter((o): o is Rendered => !!o?.kind);
}

export function toYamlStream(objects: unknown[]): string {
  return objects.map((o) => YAML.stringify(o)).join('---\n');
}
