// `kubectl sluice dashboard [--port N] [--no-browser]`: start, print the one-time link, open a
// browser unless told not to, and serve until interrupted.

import { spawn } from 'node:child_process';
import type { KubeClient } from '../lib/kube/client.js';
import { stderrLogger } from '../lib/stderr-logger.js';
import { startLocalDashboard } from './local.js';

function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* no opener: the printed link is enough */
  }
}

export async function dashboard(
  client: KubeClient,
  opts: { port: number; namespace: string; openBrowser: boolean; prometheus?: string },
): Promise<number> {
  const d = await startLocalDashboard({
    client,
    port: opts.port,
    namespaces: [opts.namespace],
    logger: stderrLogger('dashboard'),
    prometheus: opts.prometheus,
  });
  process.stdout.write(`sluice dashboard on ${d.url}\n(this link works once; it signs this browser in. Ctrl-C stops the dashboard.)\n`);
  if (opts.openBrowser) openBrowser(d.url);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await d.close();
  return 0;
}
