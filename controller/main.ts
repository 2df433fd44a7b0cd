// `sluice controller`: watches Canaries and the objects they touch, feeds a per-key work queue and
// reconciles one Canary at a time per key, while it holds the leader Lease.
// `sluice controller --help` lists every flag.

import os from 'node:os';
import { ACTION_REF, type CanaryAction, isPending } from '../api/canary-action.js';
import { labels as L, values } from '../api/contract.js';
import { type Canary, CR, type MetricTemplate } from '../api/flagger-types.js';
import { type ClusterCanaryPolicy, POLICY_REF } from '../api/policy-types.js';
import type { DaemonSet, Deployment, HorizontalPodAutoscaler, StatefulSet } from '../api/workload.js';
import { smallPlainServer } from '../lib/connection-governor.js';
import { DEFAULT_DENIED_CIDRS, egress } from '../lib/egress-guard.js';
import { FlagError, flagsOrHelp, positiveCount, positiveSeconds } from '../lib/flags.js';
import { at, KubeClient, type KubeObject, R, type ResourceRef } from '../lib/kube/client.js';
import { type ChangeType, Informer, objectKey } from '../lib/kube/informer.js';
import { createLogger } from '../lib/logger.js';
import { type AlertProvider, Notifier } from './alerts/notifier.js';
import { type SlimEndpointSlice, slimEndpointSlice } from './canary-endpoints.js';
import { ChecksInFlight, DEFAULT_CHECK_LIMITS } from './checks-in-flight.js';
import type { ConfigObject } from './config-tracker.js';
import { ControllerMetrics } from './controller-metrics.js';
import { EventRecorder } from './event-recorder.js';
import { LeaderElector } from './leader-election.js';
import { leaderGuarded, NotLeader } from './leader-guarded-client.js';
import { PolicyReconciler, STATUS_KEY } from './policy-reconciler.js';
import { Reconciler } from './reconciler.js';
import { canariesConcerned, type WatchedKind } from './wake-ups.js';
import { WorkQueue } from './work-queue.js';

export const controllerProgram = {
  name: 'sluice controller',
  summary:
    'The rollout controller: tries each new revision of a managed Deployment on its canary copy, shifts HTTPRoute weights while the analysis passes, then releases it or rolls it back.',
  options: {
    kubeconfig: { type: 'string', help: 'kubeconfig file; without it, $KUBECONFIG, then the in-cluster service account' },
    'in-cluster-root': {
      type: 'string',
      help: 'use the in-cluster service account found below this directory (DIR/var/run/secrets/kubernetes.io/serviceaccount) and $KUBERNETES_SERVICE_HOST/PORT: a process outside a Pod running as if inside one',
    },
    'metrics-server': {
      type: 'string',
      default: 'http://prometheus.monitoring:9090',
      help: "Prometheus address for metrics without a template's own address",
    },
    'prometheus-timeout': { type: 'string', default: '5', help: 'seconds a Prometheus query may take' },
    'metrics-port': { type: 'string', default: '8082', help: 'plain HTTP port for /metrics, /healthz and /readyz' },
    'bind-address': { type: 'string', default: '0.0.0.0', help: 'address the metrics server listens on' },
    'min-interval': { type: 'string', default: '10', help: 'floor, in seconds, for analysis intervals' },
    'poll-interval': {
      type: 'string',
      default: '30',
      help: "seconds before looking again at a Deployment's rollout a Canary waits on, if no change of that Deployment woke it first (each change does)",
    },
    // A pass mostly waits on the apiserver, so more at once cost little CPU; with 4, a wave of 100
    // new revisions waited in the queue behind each other before their canaries were scaled up.
    concurrency: { type: 'string', default: '16', help: 'Canaries reconciled at once' },
    'max-checks': {
      type: 'string',
      default: String(DEFAULT_CHECK_LIMITS.maxInFlight),
      help: "analysis checks (one Canary's hooks of one type, or its metric queries) running at once, beside the reconcile workers",
    },
    'max-checks-per-namespace': {
      type: 'string',
      default: String(DEFAULT_CHECK_LIMITS.maxPerNamespace),
      help: 'of those, how many one namespace may hold, so no tenant takes every slot',
    },
    'leader-elect': { type: 'boolean', default: true, help: 'act only while holding the Lease (run two replicas with it on)' },
    'lease-namespace': { type: 'string', default: 'sluice-system', help: 'namespace of the leader Lease' },
    'lease-name': { type: 'string', default: 'sluice-controller', help: 'name of the leader Lease' },
    'lease-duration': { type: 'string', default: '15', help: 'seconds a Lease is held without renewal' },
    'renew-deadline': { type: 'string', default: '10', help: 'seconds the leader tries to renew before it stops acting' },
    'retry-period': { type: 'string', default: '2', help: 'seconds between Lease attempts' },
    identity: {
      type: 'string',
      default: `${os.hostname()}-${process.pid}`,
      help: 'holder identity in the Lease (the Pod name in a cluster)',
    },
    // As client-go's reflector: a list at start and whenever a watch cannot resume (410 Gone, an
    // ERROR event), never on a timer. At 1,000 idle Canaries an idle minute holding one timed
    // re-list cost the controller 0.4-0.7 CPU seconds more and 15 requests (the webhook 0.4 more).
    'relist-interval': {
      type: 'string',
      help: 'seconds between full re-lists of every watched kind, besides those a watch needs (default: none)',
    },
    'alert-timeout': { type: 'string', default: '10', help: 'seconds an alert delivery may take' },
    'alert-retries': { type: 'string', default: '3', help: 'attempts per alert' },
    'alert-backoff': { type: 'string', default: '1', help: 'seconds before the first retry (doubling)' },
    'deny-egress-cidr': {
      type: 'string',
      multiple: true,
      default: DEFAULT_DENIED_CIDRS,
      help: 'address ranges hooks, alert providers and MetricTemplate addresses may not resolve to (repeatable; default: link-local, where clouds serve instance metadata); --deny-egress-cidr= allows all',
    },
  },
} as const;

export async function runController(argv: string[]): Promise<void> {
  const flags = flagsOrHelp(controllerProgram, argv);
  const seconds = (name: keyof typeof flags) => positiveSeconds(name, flags[name] as string | undefined);
  try {
    egress.configure((flags['deny-egress-cidr'] ?? []).filter((c) => c.trim() !== ''));
  } catch (err) {
    throw new FlagError(`--deny-egress-cidr: ${(err as Error).message}`);
  }
  const logger = createLogger('controller');
  const client = await KubeClient.load(flags.kubeconfig, 'sluice-controller', flags['in-cluster-root']);
  const metrics = new ControllerMetrics();
  client.onRequest = (verb, resource) => metrics.apiRequests.inc({ verb, resource });
  const onError = (what: string) => (err: unknown) => logger.warn(`watch ${what}: ${(err as Error).message}`);
  const relistIntervalMs = flags['relist-interval'] === undefined ? undefined : seconds('relist-interval') * 1000;
  const inf = <T extends KubeObject>(what: string, ref: ResourceRef, labelSelector?: string) =>
    new Informer<T>(client, ref, { onError: onError(what), relistIntervalMs, labelSelector });
  const canaries = inf<Canary>('canaries', CR.canaries);
  const caches = {
    deployments: inf<Deployment>('deployments', R.deployments),
    statefulsets: inf<StatefulSet>('statefulsets', R.statefulsets),
    daemonsets: inf<DaemonSet>('daemonsets', R.daemonsets),
    services: inf<KubeObject>('services', R.services),
    routes: inf<KubeObject>('httproutes', R.httproutes, `${L.managedBy}=${values.managedBy}`),
    hpas: inf<HorizontalPodAutoscaler>('hpas', R.hpas),
    templates: inf<MetricTemplate>('metrictemplates', CR.metrictemplates),
    namespaces: inf<KubeObject>('namespaces', R.namespaces),
    policies: inf<ClusterCanaryPolicy>('clustercanarypolicies', POLICY_REF),
    // Only objects sluice tracks or snapshots: a cluster's Secrets are not all cached.
    configmaps: inf<ConfigObject>('configmaps', R.configmaps, L.tracked),
    secrets: inf<ConfigObject>('secrets', R.secrets, L.tracked),
    // Only the slices of sluice's Services (they carry their Service's labels), kept slim.
    endpointSlices: new Informer<SlimEndpointSlice>(client, R.endpointslices, {
      onError: onError('endpointslices'),
      relistIntervalMs,
      labelSelector: `${L.managedBy}=${values.managedBy}`,
      transform: slimEndpointSlice,
    }),
  };
  const alertProviders = inf<AlertProvider>('alertproviders', CR.alertproviders);
  // Not waited for at start: an install upgraded without its new CRD (Helm never upgrades CRDs)
  // still runs rollouts; the watch error names what is missing, and actions wait until it exists.
  const actions = new Informer<CanaryAction>(client, ACTION_REF, {
    onError: (err) =>
      logger.warn(
        `watch canaryactions: ${(err as Error).message} (kubectl sluice actions need the CanaryAction CRD: apply manifests/crds/)`,
      ),
    relistIntervalMs,
  });
  const notifier = new Notifier(client, alertProviders, logger, {
    timeoutMs: seconds('alert-timeout') * 1000,
    retries: Number(flags['alert-retries']),
    backoffMs: seconds('alert-backoff') * 1000,
  });

  let elector: LeaderElector | undefined;
  const events = new EventRecorder(client, { onProblem: (message) => logger.warn(message) });
  const count = (name: 'max-checks' | 'max-checks-per-namespace' | 'concurrency') => positiveCount(name, flags[name]);
  // Woken by a check's end: the pass that needed it runs again and finds the result.
  const checks = new ChecksInFlight((key) => queue.add(key), logger, {
    ...DEFAULT_CHECK_LIMITS,
    maxInFlight: count('max-checks'),
    maxPerNamespace: count('max-checks-per-namespace'),
  });
  // Every write of both reconcilers goes through this: none once the Lease is lost.
  const writer = leaderGuarded(client, () => !elector || elector.isLeader);
  const reconciler = new Reconciler({
    client: writer,
    caches: { ...caches, canaries, actions },
    events,
    metrics,
    logger,
    settings: {
      minIntervalMs: seconds('min-interval') * 1000,
      pollMs: seconds('poll-interval') * 1000,
      prometheus: flags['metrics-server']!,
      prometheusTimeoutMs: seconds('prometheus-timeout') * 1000,
    },
    notifier,
    checks,
    listPods: async (ns, labelSelector) => (await client.list<KubeObject>(at(R.pods, ns), { labelSelector })).items,
    listRevisions: async (ns, labelSelector) => (await client.list<KubeObject>(at(R.controllerrevisions, ns), { labelSelector })).items,
  });
  const queue = new WorkQueue(
    async (key) => {
      const r = await reconciler.reconcile(key);
      metrics.reconciles.inc({ result: 'ok' });
      return r;
    },
    {
      concurrency: count('concurrency'),
      onError: (key, err, retry) => {
        metrics.reconciles.inc({ result: 'error' });
        logger.warn(`reconcile failed: ${(err as Error).message}; retrying in ${retry} ms`, { key });
      },
    },
  );

  // Cluster policy: one key per namespace (generate / remove Canaries there) and one for the
  // policies' status, written after the namespace passes that feed it.
  const policyReconciler = new PolicyReconciler(writer, { ...caches, canaries }, events, logger);
  const policyQueue = new WorkQueue(
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
  const allNamespaces = () => {
    for (const n of caches.namespaces.items()) policyQueue.add(n.metadata.name);
  };
  caches.namespaces.onChange((_t, n) => policyQueue.add(n.metadata.name));
  caches.policies.onChange(() => {
    allNamespaces();
    policyQueue.addAfter(STATUS_KEY, 500);
  });
  const namespaceOf = (_t: unknown, o: KubeObject) => policyQueue.add(o.metadata.namespace!);
  caches.deployments.onChange(namespaceOf);
  caches.statefulsets.onChange(namespaceOf);
  caches.daemonsets.onChange(namespaceOf);
  caches.hpas.onChange(namespaceOf);
  canaries.onChange(namespaceOf);
  // A Canary analysed within a policy's limits follows the policy's changes.
  const canariesIn = (ns: string | undefined) => {
    for (const c of canaries.items()) if (ns === undefined || c.metadata.namespace === ns) queue.add(objectKey(c));
  };
  caches.policies.onChange(() => canariesIn(undefined));
  caches.namespaces.onChange((_t, n) => canariesIn(n.metadata.name));

  // Which Canaries a change concerns (controller/wake-ups.ts): a status-only change of a generated
  // object or an autoscaler wakes none.
  const queueAll = (keys: string[]) => {
    for (const k of keys) queue.add(k);
  };
  canaries.onChange((_t, c) => queue.add(objectKey(c)));
  // A new action wakes its Canary; the controller's own status write on it wakes nobody.
  actions.onChange((_t, a) => {
    if (isPending(a) && typeof a.spec?.canary === 'string') queue.add(`${a.metadata.namespace}/${a.spec.canary}`);
  });
  const wake =
    (kind: WatchedKind) =>
    (type: ChangeType, obj: KubeObject, old?: KubeObject): void =>
      queueAll(canariesConcerned(kind, type, obj, old, canaries.items()));
  caches.deployments.onChange(wake('deployment'));
  caches.statefulsets.onChange(wake('statefulset'));
  caches.daemonsets.onChange(wake('daemonset'));
  caches.services.onChange(wake('service'));
  caches.endpointSlices.onChange(wake('endpointslice'));
  caches.routes.onChange(wake('route'));
  caches.hpas.onChange(wake('hpa'));
  // A tracked ConfigMap or Secret edited in place is a new revision of the Deployments reading it.
  const readers = (_t: unknown, o: KubeObject) => {
    if (o.metadata.labels?.[L.tracked] !== 'true') return;
    queueAll(
      canaries
        .items()
        .filter((c) => c.metadata.namespace === o.metadata.namespace)
        .map(objectKey),
    );
  };
  caches.configmaps.onChange(readers);
  caches.secrets.onChange(readers);
  caches.templates.onChange((_t, t) =>
    queueAll(
      canaries
        .items()
        .filter((c) =>
          (c.spec.analysis?.metrics ?? []).some(
            (m) => m.templateRef?.name === t.metadata.name && (m.templateRef.namespace ?? c.metadata.namespace) === t.metadata.namespace,
          ),
        )
        .map(objectKey),
    ),
  );
  canaries.onChange(() => {
    const perNs = new Map<string, number>();
    for (const c of canaries.items()) perNs.set(c.metadata.namespace ?? '', (perNs.get(c.metadata.namespace ?? '') ?? 0) + 1);
    metrics.totals(perNs);
  });

  // Caches fill before any reconcile, so no pass acts on a half-listed world.
  await Promise.all([...Object.values(caches), canaries, alertProviders].map((i) => (i as Informer<KubeObject>).start()));
  logger.info('caches synced', { canaries: canaries.items().length });
  void actions.start();

  // Metrics and health: a budget of connections of their own and the same eviction as the webhook's ports.
  const { server } = smallPlainServer(
    async (req, res) => {
      if (req.url === '/metrics') {
        res.setHeader('content-type', metrics.contentType);
        res.end(await metrics.exposition());
      } else if (req.url === '/healthz' || req.url === '/readyz') {
        res.end('ok');
      } else {
        res.statusCode = 404;
        res.end();
      }
    },
    { refused: () => undefined, evicted: () => undefined },
  );
  server.listen(Number(flags['metrics-port']), flags['bind-address']);

  const lead = () => {
    for (const c of canaries.items()) queue.add(objectKey(c));
    allNamespaces();
    policyQueue.addAfter(STATUS_KEY, 1000);
    queue.start();
    policyQueue.start();
  };
  if (flags['leader-elect']) {
    elector = new LeaderElector(
      client,
      {
        namespace: flags['lease-namespace']!,
        name: flags['lease-name']!,
        identity: flags.identity!,
        leaseDurationMs: seconds('lease-duration') * 1000,
        renewDeadlineMs: seconds('renew-deadline') * 1000,
        retryMs: seconds('retry-period') * 1000,
        onStartedLeading: lead,
        onStoppedLeading: () => void Promise.all([queue.stop(), policyQueue.stop()]),
      },
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
