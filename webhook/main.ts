// sluice-webhook: the admission server. HTTPS for the apiserver, plain HTTP for metrics.
//   node dist/webhook/main.js [--kubeconfig F] [--port 8443] [--metrics-port 8081] ...
// See README.md ("The webhook") for every flag.
import https from 'node:https';
import type net from 'node:net';
import http from 'node:http';
import { parseArgs } from 'node:util';
import { positiveSeconds } from '../lib/flags.js';
import { KubeClient } from '../lib/kube/client.js';
import { createLogger } from '../lib/logger.js';
import { createApp } from './app.js';
import { AdmissionCache } from './admission-cache.js';
import { WebhookMetrics } from './metrics.js';
import { FileCertificates, SecretCertificates, type CertificateSource } from '../certs/serving-certificates.js';
import { SecretStore } from '../certs/secret-store.js';
import { DEFAULT_POLICY } from '../certs/rotation-plan.js';
import type { InjectionTarget } from '../certs/ca-bundle-injector.js';

const { values: flags } = parseArgs({
  options: {
    kubeconfig: { type: 'string' },
    port: { type: 'string', default: '8443' },
    'bind-address': { type: 'string', default: '0.0.0.0' },
    'metrics-port': { type: 'string', default: '8081' },
    'controller-user': { type: 'string', multiple: true, default: ['system:serviceaccount:sluice-system:sluice'] },
    'tls-cert-file': { type: 'string' },
    'tls-key-file': { type: 'string' },
    'tls-secret': { type: 'string', default: 'sluice-system/sluice-webhook-tls' },
    'dns-name': { type: 'string', multiple: true, default: ['sluice-webhook.sluice-system.svc', 'sluice-webhook.sluice-system.svc.cluster.local'] },
    'ip-address': { type: 'string', multiple: true, default: [] },
    'webhook-configuration': { type: 'string', multiple: true, default: ['mutating/sluice', 'validating/sluice'] },
    'ca-lifetime': { type: 'string', default: String(DEFAULT_POLICY.caLifetimeSeconds) },
    'cert-lifetime': { type: 'string', default: String(DEFAULT_POLICY.servingLifetimeSeconds) },
    'rotation-propagation': { type: 'string', default: String(DEFAULT_POLICY.propagationSeconds) },
    'cert-check-interval': { type: 'string', default: '30' },
  },
  strict: true,
});

const seconds = (name: keyof typeof flags) => positiveSeconds('sluice-webhook', name, flags[name] as string | undefined);

async function main(): Promise<void> {
  const logger = createLogger('webhook');
  const metrics = new WebhookMetrics();
  const client = await KubeClient.load(flags.kubeconfig, 'sluice-webhook');
  const cache = new AdmissionCache(client, logger);
  cache.start();
  let source: CertificateSource;
  if (flags['tls-cert-file'] || flags['tls-key-file']) {
    if (!flags['tls-cert-file'] || !flags['tls-key-file']) throw new Error('--tls-cert-file and --tls-key-file go together');
    source = new FileCertificates(flags['tls-cert-file'], flags['tls-key-file'], logger);
  } else {
    const [ns, name] = (flags['tls-secret'] ?? '').split('/');
    if (!ns || !name) throw new Error('--tls-secret must be NAMESPACE/NAME');
    const targets: InjectionTarget[] = (flags['webhook-configuration'] ?? []).map((t) => {
      const [kind, n] = t.split('/');
      if ((kind !== 'mutating' && kind !== 'validating') || !n) throw new Error(`--webhook-configuration ${t}: expected mutating/NAME or validating/NAME`);
      return { kind, name: n };
    });
    source = new SecretCertificates(
      client,
      new SecretStore(client, ns, name),
      {
        caLifetimeSeconds: seconds('ca-lifetime'),
        servingLifetimeSeconds: seconds('cert-lifetime'),
        renewWhenRemaining: DEFAULT_POLICY.renewWhenRemaining,
        propagationSeconds: seconds('rotation-propagation'),
        dnsNames: flags['dns-name'] ?? [],
        ipAddresses: flags['ip-address'] ?? [],
      },
      targets,
      logger,
      seconds('cert-check-interval') * 1000,
    );
  }
  const app = createApp({
    flags: { controllerUsers: flags['controller-user'] ?? [] },
    validation: cache.context,
    pins: cache.pins,
    metrics,
    logger,
    // Ready once it can serve TLS and its policy answers are complete.
    ready: () => source.current() !== undefined && cache.synced,
  });

  // The HTTPS server starts without a certificate and gets one as soon as the source has it;
  // setSecureContext swaps it in place for new connections, so rotation drops no request.
  const server = https.createServer({ requestTimeout: 10_000, keepAliveTimeout: 30_000 }, app);
  source.onChange((pair) => server.setSecureContext({ cert: pair.certPem, key: pair.keyPem }));
  server.on('secureConnection', () => metrics.handshakes.inc());
  // The apiserver waits on every answer: no Nagle delay on the small responses.
  server.on('connection', (socket: net.Socket) => socket.setNoDelay(true));
  await source.start();
  if (!source.current()) logger.warn('no serving certificate yet; /readyz answers 503 until one is loaded');

  const port = Number(flags.port);
  server.listen(port, flags['bind-address'], () => logger.info(`serving admission on https://${flags['bind-address']}:${port}`));
  const metricsServer = http.createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  metricsServer.listen(Number(flags['metrics-port']), flags['bind-address']);

  const shutdown = () => {
    logger.info('shutting down');
    source.stop();
    metricsServer.close();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  console.error(`sluice-webhook: ${(err as Error).message}`);
  process.exit(1);
});
