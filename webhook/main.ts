// `sluice webhook`: the admission server. HTTPS for the apiserver, plain HTTP for metrics.
// `sluice webhook --help` lists every flag.
import https from 'node:https';
import type net from 'node:net';
import type { InjectionTarget } from '../certs/ca-bundle-injector.js';
import { DEFAULT_POLICY } from '../certs/rotation-plan.js';
import { SecretStore } from '../certs/secret-store.js';
import { type CertificateSource, FileCertificates, SecretCertificates } from '../certs/serving-certificates.js';
import { ConnectionGovernor, SERVER_TIMEOUTS, smallPlainServer } from '../lib/connection-governor.js';
import { FlagError, type FlagValues, flagsOrHelp, positiveCount, positiveSeconds } from '../lib/flags.js';
import { KubeClient } from '../lib/kube/client.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { sendExposition } from '../lib/metrics-exposition.js';
import { AdmissionCache, informerSources } from './admission-cache.js';
import { createApp } from './app.js';
import { DaemonSetReads } from './daemon-set-reads.js';
import { WebhookMetrics } from './metrics.js';

export const webhookProgram = {
  name: 'sluice webhook',
  summary:
    'The admission server: freezes template changes of managed Deployments, StatefulSets and DaemonSets (/mutate), checks Canaries against cluster policy (/validate), pins primary pods to released configs (/mutate-pod), gives the pods of a frozen DaemonSet off its canary nodes the stable template (/mutate-daemon-pod), records who asked for a CanaryAction (/mutate-action).',
  options: {
    kubeconfig: { type: 'string', help: 'kubeconfig file; without it, $KUBECONFIG, then the in-cluster service account' },
    'in-cluster-root': {
      type: 'string',
      help: 'use the in-cluster service account found below this directory (DIR/var/run/secrets/kubernetes.io/serviceaccount) and $KUBERNETES_SERVICE_HOST/PORT: a process outside a Pod running as if inside one',
    },
    port: { type: 'string', default: '8443', help: 'HTTPS port for the apiserver' },
    'bind-address': { type: 'string', default: '0.0.0.0', help: 'address the HTTPS and metrics servers listen on' },
    'metrics-port': { type: 'string', default: '8081', help: 'plain HTTP port for /metrics' },
    'controller-user': {
      type: 'string',
      multiple: true,
      default: ['system:serviceaccount:sluice-system:sluice-controller'],
      help: "the controller's username; its writes pass the freeze unchanged",
    },
    'tls-cert-file': {
      type: 'string',
      help: 'serving certificate from a file (with --tls-key-file; e.g. from cert-manager), reloaded when it changes',
    },
    'tls-key-file': { type: 'string', help: 'private key of --tls-cert-file' },
    'tls-secret': {
      type: 'string',
      default: 'sluice-system/sluice-webhook-tls',
      help: 'NAMESPACE/NAME of the Secret holding the self-managed CA and serving certificate',
    },
    'dns-name': {
      type: 'string',
      multiple: true,
      default: ['sluice-webhook.sluice-system.svc', 'sluice-webhook.sluice-system.svc.cluster.local'],
      help: 'DNS name in the serving certificate',
    },
    'ip-address': { type: 'string', multiple: true, default: [], help: 'IP address in the serving certificate' },
    'webhook-configuration': {
      type: 'string',
      multiple: true,
      default: ['mutating/sluice', 'validating/sluice'],
      help: 'mutating/NAME or validating/NAME whose caBundle sluice keeps current',
    },
    'ca-lifetime': { type: 'string', default: String(DEFAULT_POLICY.caLifetimeSeconds), help: 'seconds a self-managed CA is valid' },
    'cert-lifetime': {
      type: 'string',
      default: String(DEFAULT_POLICY.servingLifetimeSeconds),
      help: 'seconds a serving certificate is valid',
    },
    'rotation-propagation': {
      type: 'string',
      default: String(DEFAULT_POLICY.propagationSeconds),
      help: 'seconds a new CA is trusted before it signs (caBundle propagation)',
    },
    'cert-check-interval': { type: 'string', default: '30', help: 'seconds between certificate checks' },
    'max-connections': {
      type: 'string',
      default: '1000',
      help: 'open admission connections at most; when full, a new connection takes the place of a slow, unproven or idle one (docs/security.md, "Connections")',
    },
    'max-connections-per-source': {
      type: 'string',
      default: '200',
      help: "open admission connections at most from one address; past it, that address's own slow or idle connections make room, or the new one is refused",
    },
    'shutdown-delay': {
      type: 'string',
      default: '5',
      help: 'seconds it keeps answering after SIGTERM (not ready, closing each connection after its answer) while endpoints drop it',
    },
  },
} as const;

type WebhookFlags = FlagValues<typeof webhookProgram.options>;

/** Every flag checked before anything starts, so a typo exits 2 with its name. */
function webhookSettings(flags: WebhookFlags) {
  const seconds = (name: keyof WebhookFlags & string) => positiveSeconds(name, flags[name] as string | undefined);
  const certFiles = flags['tls-cert-file'] || flags['tls-key-file'];
  if (certFiles && (!flags['tls-cert-file'] || !flags['tls-key-file']))
    throw new FlagError('--tls-cert-file and --tls-key-file go together');
  const [ns, name] = flags['tls-secret'].split('/');
  if (!ns || !name) throw new FlagError('--tls-secret must be NAMESPACE/NAME');
  const targets: InjectionTarget[] = flags['webhook-configuration'].map((t) => {
    const [kind, n] = t.split('/');
    if ((kind !== 'mutating' && kind !== 'validating') || !n)
      throw new FlagError(`--webhook-configuration ${t}: expected mutating/NAME or validating/NAME`);
    return { kind, name: n };
  });
  const lifetimes = {
    ca: seconds('ca-lifetime'),
    serving: seconds('cert-lifetime'),
    propagation: seconds('rotation-propagation'),
    check: seconds('cert-check-interval'),
  };
  const maxConnections = positiveCount('max-connections', flags['max-connections']);
  const maxPerSource = positiveCount('max-connections-per-source', flags['max-connections-per-source']);
  const shutdownDelayMs = Number(flags['shutdown-delay']) * 1000;
  if (!Number.isFinite(shutdownDelayMs) || shutdownDelayMs < 0)
    throw new FlagError(`--shutdown-delay must be zero or more seconds, got ${flags['shutdown-delay']}`);
  return { secret: { ns, name }, targets, lifetimes, maxConnections, maxPerSource, shutdownDelayMs };
}

/** Certificates from files when given, else issued and rotated by the webhook in its Secret. */
function certificateSource(
  flags: WebhookFlags,
  settings: ReturnType<typeof webhookSettings>,
  client: KubeClient,
  logger: Logger,
): CertificateSource {
  if (flags['tls-cert-file'] && flags['tls-key-file']) return new FileCertificates(flags['tls-cert-file'], flags['tls-key-file'], logger);
  const { secret, lifetimes } = settings;
  return new SecretCertificates(
    client,
    new SecretStore(client, secret.ns, secret.name),
    {
      caLifetimeSeconds: lifetimes.ca,
      servingLifetimeSeconds: lifetimes.serving,
      renewWhenRemaining: DEFAULT_POLICY.renewWhenRemaining,
      propagationSeconds: lifetimes.propagation,
      dnsNames: flags['dns-name'],
      ipAddresses: flags['ip-address'],
    },
    settings.targets,
    logger,
    lifetimes.check * 1000,
  );
}

export async function runWebhook(argv: string[]): Promise<void> {
  const flags = flagsOrHelp(webhookProgram, argv);
  const settings = webhookSettings(flags);
  const { maxConnections, maxPerSource, shutdownDelayMs } = settings;

  const logger = createLogger('webhook');
  const metrics = new WebhookMetrics();
  const client = await KubeClient.load(flags.kubeconfig, 'sluice-webhook', flags['in-cluster-root']);
  const cache = new AdmissionCache(informerSources(client, logger), new DaemonSetReads((m, p, o) => client.request(m, p, o)));
  cache.start();
  const source = certificateSource(flags, settings, client, logger);
  let draining = false;
  // Ready once it can serve TLS and its policy answers are complete; not while draining.
  const isReady = () => !draining && source.current() !== undefined && cache.synced;
  const app = createApp({
    flags: { controllerUsers: flags['controller-user'] },
    validation: cache.context,
    freeze: cache.freeze,
    pins: cache.pins,
    daemonPods: cache.daemonPods,
    copies: cache.copies,
    metrics,
    logger,
    ready: isReady,
    draining: () => draining,
  });

  // The HTTPS server starts without a certificate and gets one as soon as the source has it;
  // setSecureContext swaps it in place for new connections, so rotation drops no request.
  // Ceilings on what a caller can hold: a TLS handshake must finish within 5 s (Node's default is
  // 120 s), headers within 5 s and a request within 10 s (the apiserver sends a review whole at
  // once), 1,000 requests per connection; and the governor decides who keeps a connection when
  // the port is full, so nobody else on the pod network can starve the apiserver's.
  const server = https.createServer({ ...SERVER_TIMEOUTS, keepAliveTimeout: 30_000, handshakeTimeout: 5_000 }, app);
  server.maxRequestsPerSocket = 1_000;
  const governor = new ConnectionGovernor({ maxConnections, maxPerSource, slowAfterMs: 2_000 }, metrics.connectionCounters('admission'));
  if (!process.env.NOGOV) governor.attach(server);
  metrics.watchConnections('admission', governor);
  source.onChange((pair) => server.setSecureContext({ cert: pair.certPem, key: pair.keyPem }));
  server.on('secureConnection', () => metrics.handshakes.inc());
  // The apiserver waits on every answer: no Nagle delay on the small responses.
  server.on('connection', (socket: net.Socket) => socket.setNoDelay(true));
  await source.start();
  if (!source.current()) logger.warn('no serving certificate yet; /readyz answers 503 until one is loaded');

  const port = Number(flags.port);
  server.listen(port, flags['bind-address'], () => logger.info(`serving admission on https://${flags['bind-address']}:${port}`));
  // Metrics and health on their own port and budget: scrapers and probes never compete with the apiserver.
  const { server: metricsServer, governor: metricsGovernor } = smallPlainServer(async (req, res) => {
    if (req.url === '/metrics') {
      sendExposition(req, res, metrics.registry.contentType, await metrics.parts());
    } else if (req.url === '/healthz') {
      res.end('ok');
    } else if (req.url === '/readyz') {
      const ok = isReady();
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? 'ok' : 'not ready');
    } else {
      res.statusCode = 404;
      res.end();
    }
  }, metrics.connectionCounters('metrics'));
  metrics.watchConnections('metrics', metricsGovernor);
  metricsServer.listen(Number(flags['metrics-port']), flags['bind-address']);

  // failurePolicy Fail: an answer that never comes is a user's change refused. On SIGTERM the
  // apiserver may still dial this pod until its endpoint is gone, and keeps reusing its open
  // connections here; so keep answering for --shutdown-delay, not ready, each answer closing its
  // connection (the apiserver reconnects through the Service to a pod that stays), then close.
  // Idle connections are not closed at SIGTERM: HTTP/1.1 cannot say "closing" to an idle
  // connection, and the apiserver may be writing a request on it at that moment (it then fails
  // with EOF: seen once in 254 admissions of the upgrade test). Used during the drain, a connection
  // is closed after its answer; the ones left idle throughout are the pool's least recently used.
  const shutdown = () => {
    if (draining) return;
    draining = true;
    logger.info(`shutting down: draining for ${shutdownDelayMs / 1000} s`);
    setTimeout(() => {
      source.stop();
      metricsServer.close();
      server.close(() => process.exit(0));
      server.closeIdleConnections();
      setTimeout(() => process.exit(0), 5000).unref();
    }, shutdownDelayMs).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
