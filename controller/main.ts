// `sluice controller`: watches Canaries and the objects they touch (watches.ts), feeds a per-key
// work queue and reconciles one Canary at a time per key, while it holds the leader Lease; every
// write goes through a leader-guarded client. `sluice controller --help` lists every flag.

import { smallPlainServer } from '../lib/connection-governor.js';
import { egress } from '../lib/egress-guard.js';
import { FlagError, flagsOrHelp } from '../lib/flags.js';
import { at, KubeClient, type KubeObject, R } from '../lib/kube/client.js';
import { objectKey } from '../lib/kube/informer.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { sendExposition } from '../lib/metrics-exposition.js';
import { Notifier } from './alerts/notifier.js';
import { ChecksInFlight } from './checks-in-flight.js';
import { controllerProgram, controllerSettings } from './controller-flags.js';
import { ControllerMetrics } from './controller-metrics.js';
import { EventRecorder } from './event-recorder.js';
import { LeaderElector } from './leader-election.js';
import { leaderGuarded, NotLeader } from './leader-guarded-client.js';
import { PolicyReconciler, STATUS_KEY } from './policy-reconciler.js';
import { Reconciler } from './reconciler.js';
import { startAndSync, watchedInformers, wireWatches } from './watches.js';
import { WorkQueue } from './work-queue.js';

export { controllerProgram } from './controller-flags.js';

export async function runController(argv: string[]): Promise<void> {
  const flags = flagsOrHelp(controllerProgram, argv);
  const settings = controllerSettings(flags);
  try {
    egress.configure(settings.deniedCidrs);
  } catch (err) {
    throw new FlagError(`--deny-egress-cidr: ${(err as Error).message}`);
  }
  const logger = createLogger('controller');
  const client = await KubeClient.load(flags.kubeconfig, 'sluice-controller', flags['in-cluster-root']);
  const metrics = new ControllerMetrics();
  client.onRequest = (verb, resource) => metrics.apiRequests.inc({ verb, resource });
  const watched = watchedInformers(client, logger, settings.relistIntervalMs);
  const { canaries, actions, alertProviders, ...caches } = watched;
  let elector: LeaderElector | undefined;
  // Every write of both reconcilers goes through this: none once the Lease is lost.
  const writer = leaderGuarded(client, () => !elector || elector.isLeader);
  const events = new EventRecorder(client, { onProblem: (message) => logger.warn(message) });
  // Woken by a check's end: the pass that needed it runs again and finds the result.
  const checks = new ChecksInFlight((key) => queue.add(key), logger, settings.checks);
  const reconciler = new Reconciler({
    client: writer,
    caches: { ...caches, canaries, actions },
    events,
    metrics,
    logger,
    settings: settings.reconcile,
    notifier: new Notifier(client, alertProviders, logger, settings.alerts),
    checks,
    listPods: async (ns, labelSelector) => (await client.list<KubeObject>(at(R.pods, ns), { labelSelector })).items,
    listRevisions: async (ns, labelSelector) => (await client.list<KubeObject>(at(R.controllerrevisions, ns), { labelSelector })).items,
  });
  const queue = canaryQueue(reconciler, metrics, logger, settings.concurrency);
  const policyReconciler = new PolicyReconciler(writer, { ...caches, canaries }, events, logger);
  const policyQueue = clusterPolicyQueue(policyReconciler, logger);
  const everyNamespace = () => {
    for (const n of caches.namespaces.items()) policyQueue.add(n.metadata.name);
    policyQueue.addAfter(STATUS_KEY, 500);
  };
  wireWatches(watched, {
    canary: (key) => queue.add(key),
    namespace: (name) => policyQueue.add(name),
    everyNamespace,
    canariesChanged: () => {
      const perNs = new Map<string, number>();
      for (const c of canaries.items()) perNs.set(c.metadata.namespace ?? '', (perNs.get(c.metadata.namespace ?? '') ?? 0) + 1);
      metrics.totals(perNs);
    },
  });
  await startAndSync(watched);
  logger.info('caches synced', { canaries: canaries.items().length });
  const server = serveMetrics(metrics, settings.metrics);

  const lead = () => {
    for (const c of canaries.items()) queue.add(objectKey(c));
    everyNamespace();
    queue.start();
    policyQueue.start();
  };
  if (settings.lease) {
    elector = new LeaderElector(
      client,
      { ...settings.lease, onStartedLeading: lead, onStoppedLeading: () => void Promise.all([queue.stop(), policyQueue.stop()]) },
      logger,
    );
    void elector.run();
  } else {
    lead();
  }

  const shutdown = async () => {
    logger.info('shutting down');
    await Promise.all([queue.stop(), policyQueue.stop()]);
    // The last passes' Events, within a ceiling: a slow apiserver must not hold the exit.
    await Promise.race([events.drained(), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    await elector?.release();
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

/** The Canary work queue: one pass at a time per key, `concurrency` keys at once. */
function canaryQueue(reconciler: Reconciler, metrics: ControllerMetrics, logger: Logger, concurrency: number) {
  const queue = new WorkQueue(
    async (key) => {
      const stop = metrics.reconcileSeconds.startTimer();
      try {
        const r = await reconciler.reconcile(key);
        stop({ result: 'ok' });
        metrics.reconciles.inc({ result: 'ok' });
        return r;
      } catch (err) {
        stop({ result: 'error' });
        throw err;
      }
    },
    {
      concurrency,
      onStart: (_key, waitedMs) => metrics.queueWait.observe(waitedMs / 1000),
      onError: (key, err, retry) => {
        metrics.reconciles.inc({ result: 'error' });
        logger.warn(`reconcile failed: ${(err as Error).message}; retrying in ${retry} ms`, { key });
      },
    },
  );
  metrics.depth = () => queue.length;
  return queue;
}

/**
 * Cluster policy: one key per namespace (generate / remove Canaries there) and one for the
 * policies' status, written after the namespace passes that feed it.
 */
function clusterPolicyQueue(policyReconciler: PolicyReconciler, logger: Logger): WorkQueue {
  const policyQueue: WorkQueue = new WorkQueue(
    async (key) => {
      try {
        if (key === STATUS_KEY) return await policyReconciler.syncStatus();
        await policyReconciler.syncNamespace(key);
      } catch (err) {
        if (err instanceof NotLeader) return; // the new leader's passes do it
        throw err;
      }
      policyQueue.addAfter(STATUS_KEY, 500);
    },
    {
      concurrency: 1,
      onError: (key, err, retry) => logger.warn(`cluster policy pass failed: ${(err as Error).message}; retrying in ${retry} ms`, { key }),
    },
  );
  return policyQueue;
}

/** Metrics and health: a budget of connections of their own and the same eviction as the webhook's ports. */
function serveMetrics(metrics: ControllerMetrics, at: { port: number; address: string }) {
  const { server } = smallPlainServer(
    async (req, res) => {
      if (req.url === '/metrics') {
        sendExposition(req, res, metrics.contentType, await metrics.parts());
      } else if (req.url === '/healthz' || req.url === '/readyz') {
        res.end('ok');
      } else {
        res.statusCode = 404;
        res.end();
      }
    },
    { refused: () => undefined, evicted: () => undefined },
  );
  server.listen(at.port, at.address);
  return server;
}
