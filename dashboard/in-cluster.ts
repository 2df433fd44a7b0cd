// `sluice dashboard`: the dashboard as a Deployment in the cluster, for everyone. Its own
// ServiceAccount only reads Canaries (one shared watch), reviews tokens and asks what a person may
// read; it has no right to act. Each person's reads of one Canary and every action go out with
// that person's own token (dashboard/cluster-guard.ts).

import http from 'node:http';
import type net from 'node:net';
import { type Canary, CR } from '../api/flagger-types.js';
import { ConnectionGovernor, SERVER_TIMEOUTS } from '../lib/connection-governor.js';
import { at, type KubeClient } from '../lib/kube/client.js';
import { Informer } from '../lib/kube/informer.js';
import type { Log } from '../lib/stderr-logger.js';
import { createDashboard } from './app.js';
import { CanaryFeed, slimForView } from './canary-feed.js';
import { ClusterGuard, personOf, TokenReviewer } from './cluster-guard.js';
import { UI_DIR } from './local.js';
import { MetricHistory } from './metric-history.js';
import { ReadAccess, RightsCache } from './person.js';

/** Open connections at once: the 2,000 event streams the app allows (dashboard/app.ts), and room for requests. */
const MAX_CONNECTIONS = 2_200;

export interface ClusterDashboardOptions {
  client: KubeClient;
  port: number;
  address: string;
  basePath: string;
  logger: Log;
  prometheus?: string;
}

export interface ClusterDashboard {
  port: number;
  ready(): boolean;
  close(): Promise<void>;
}

export async function startClusterDashboard(opts: ClusterDashboardOptions): Promise<ClusterDashboard> {
  const informer = new Informer<Canary>(opts.client, at(CR.canaries, undefined), {
    onError: (err) => opts.logger.warn('watching Canaries', { err: String(err) }),
    transform: slimForView,
  });
  const feed = new CanaryFeed(informer);
  const started = informer.start();
  const access = new ReadAccess(opts.client, CR.canaries);
  const base = opts.basePath.replace(/\/+$/, '');
  const guard = new ClusterGuard({ reviewer: new TokenReviewer(opts.client), client: opts.client, basePath: base });
  // Rights are each person's: their own SelfSubjectAccessReviews, kept per person briefly.
  const rightsByUser = new Map<string, RightsCache>();
  const app = createDashboard({
    guard: (req, res, next) => void guard.middleware(req, res, next),
    personOf,
    feedOf: () => feed,
    rights: (req) => {
      const who = personOf(req).identity.username;
      let r = rightsByUser.get(who);
      if (!r) {
        if (rightsByUser.size > 10_000) rightsByUser.clear();
        r = new RightsCache();
        rightsByUser.set(who, r);
      }
      return r;
    },
    visibleTo: (req) => access.for(personOf(req).identity),
    personKey: (req) => personOf(req).identity.username,
    signOut: true,
    ready: () => informer.hasSynced,
    uiDir: UI_DIR,
    basePath: base,
    logger: opts.logger,
    ...(opts.prometheus ? { history: new MetricHistory(opts.prometheus) } : {}),
  });
  // The port everyone in front of it reaches: the project's connection governor and short header
  // and request timeouts (lib/connection-governor.ts), as on the webhook's ports. Behind an
  // ingress every connection comes from the proxy, so one source may use the whole budget; an
  // open event stream has a request in flight and is never the one closed to make room.
  const server = http.createServer(SERVER_TIMEOUTS, app);
  const governor = new ConnectionGovernor(
    { maxConnections: MAX_CONNECTIONS, maxPerSource: MAX_CONNECTIONS, slowAfterMs: 2_000 },
    {
      refused: (reason) => opts.logger.warn('dashboard connection refused: the port is full', { reason }),
      evicted: (cls) => opts.logger.info('dashboard connection closed to make room', { class: cls }),
    },
  );
  governor.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => resolve());
  });
  void started.then(() => opts.logger.info('dashboard ready', { canaries: informer.items().length }));
  return {
    port: (server.address() as net.AddressInfo).port,
    ready: () => informer.hasSynced,
    async close() {
      feed.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await informer.stop();
    },
  };
}
