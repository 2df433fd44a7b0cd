// `kubectl sluice dashboard`: the dashboard on this machine, acting with the person's own
// kubeconfig. It listens on 127.0.0.1 only and lets in one browser (dashboard/local-guard.ts).

import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Canary, CR } from '../api/flagger-types.js';
import { at, type KubeClient } from '../lib/kube/client.js';
import { type ChangeType, Informer } from '../lib/kube/informer.js';
import type { Log } from '../lib/stderr-logger.js';
import { createDashboard } from './app.js';
import { CanaryFeed, type FeedSource, slimForView } from './canary-feed.js';
import { LocalGuard, TOKEN_PARAM } from './local-guard.js';
import { MetricHistory } from './metric-history.js';
import { mayListEverywhere, RightsCache } from './person.js';

export const UI_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ui');

/** Several namespaces' informers read as one (a person who may not list Canaries cluster-wide). */
class Namespaces implements FeedSource {
  constructor(private readonly informers: Informer<Canary>[]) {}
  items(): Canary[] {
    return this.informers.flatMap((i) => i.items());
  }
  get(namespace: string, name: string): Canary | undefined {
    for (const i of this.informers) {
      const c = i.get(namespace, name);
      if (c) return c;
    }
    return undefined;
  }
  onChange(handler: (type: ChangeType, obj: Canary) => void): void {
    for (const i of this.informers) i.onChange(handler);
  }
}

/**
 * The key that signs session cookies, in the person's own state directory (mode 0600): a
 * restarted dashboard on the same port still knows the open page's session.
 */
export function sessionKey(dir = path.join(process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'sluice')): Buffer {
  const file = path.join(dir, 'dashboard.key');
  try {
    const key = fs.readFileSync(file);
    if (key.length >= 32) return key;
  } catch {
    /* none yet */
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = crypto.randomBytes(32);
  fs.writeFileSync(file, key, { mode: 0o600 });
  return key;
}

export interface LocalDashboardOptions {
  client: KubeClient;
  /** 0: any free port. */
  port: number;
  /** The namespaces shown when the person may not watch Canaries in all of them. */
  namespaces: string[];
  logger: Log;
  key?: Buffer;
  /** Prometheus for the metric charts (the one the controller queries); none: no charts. */
  prometheus?: string;
  /** Tests only: to show that a peer off this machine is refused even when the socket is reachable. */
  listenHost?: string;
}

export interface LocalDashboard {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startLocalDashboard(opts: LocalDashboardOptions): Promise<LocalDashboard> {
  const everywhere = await mayListEverywhere(opts.client, CR.canaries);
  const informers = (everywhere ? [undefined] : opts.namespaces).map(
    (ns) =>
      new Informer<Canary>(opts.client, at(CR.canaries, ns), {
        onError: (err) => opts.logger.warn('watching Canaries', { namespace: ns ?? '*', err: String(err) }),
        transform: slimForView,
      }),
  );
  const source = new Namespaces(informers);
  const feed = new CanaryFeed(source);
  await Promise.all(informers.map((i) => i.start()));
  let port = opts.port;
  const guard = new LocalGuard({ port: () => port, key: opts.key ?? sessionKey() });
  const rights = new RightsCache();
  const person = { client: opts.client };
  const app = createDashboard({
    guard: guard.middleware,
    personOf: () => person,
    feedOf: () => feed,
    rights: () => rights,
    uiDir: UI_DIR,
    logger: opts.logger,
    ...(opts.prometheus ? { history: new MetricHistory(opts.prometheus) } : {}),
  });
  const server: http.Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port, opts.listenHost ?? '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/?${TOKEN_PARAM}=${guard.issueToken()}`,
    async close() {
      feed.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
