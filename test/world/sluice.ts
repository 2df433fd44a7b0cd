// sluice itself on the local world: its namespace, RBAC and webhook configuration from
// manifests/ (the webhook registered by URL on loopback instead of through a Service), and the
// webhook (later also the controller) as local processes running as the controller's identity.
// Usage: node dist/test/world/sluice.js up|down
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { paths, ports, root, urls } from './layout.js';
import { ensureStarted, stopComponent, type ProcessSpec } from './processes.js';
import { probe } from './probe.js';
import { buildBinaries, kubectl } from './world.js';
import { KubeClient, R, at } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';

export const WEBHOOK = 'sluice-webhook';
export const CONTROLLER = 'sluice-controller';

export interface WebhookOptions {
  /** Extra flags, e.g. short certificate lifetimes for a rotation test. */
  extraArgs?: string[];
}

/** manifests/webhook-configurations.yaml with each Service reference turned into a loopback URL. */
export function localWebhookConfigurations(): string {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(root, 'manifests/webhook-configurations.yaml'), 'utf8')).map((d) => d.toJSON());
  for (const doc of docs) {
    for (const w of doc.webhooks ?? []) {
      const svcPath = w.clientConfig?.service?.path ?? '/';
      w.clientConfig = { url: `${urls.webhook}${svcPath}` };
    }
  }
  return docs.map((d) => YAML.stringify(d)).join('---\n');
}

export function webhookSpec(opts: WebhookOptions = {}): ProcessSpec {
  return {
    name: WEBHOOK,
    command: process.execPath,
    args: [
      path.join(root, 'dist/webhook/main.js'),
      `--kubeconfig=${paths.controllerKubeconfig}`,
      `--port=${ports.webhook}`,
      '--bind-address=127.0.0.1',
      `--metrics-port=${ports.webhookMetrics}`,
      '--ip-address=127.0.0.1',
      '--dns-name=localhost',
      '--cert-check-interval=2',
      ...(opts.extraArgs ?? []),
    ],
    ready: async () => (await probe(`${urls.webhook}/readyz`, { insecure: true })).status === 200,
  };
}

export interface ControllerOptions {
  /** Process name (pid file, log file); a second controller for leader-election tests takes another. */
  name?: string;
  metricsPort?: number;
  extraArgs?: string[];
}

export function controllerSpec(opts: ControllerOptions = {}): ProcessSpec {
  const port = opts.metricsPort ?? ports.controllerMetrics;
  const name = opts.name ?? CONTROLLER;
  return {
    name,
    command: process.execPath,
    args: [
      path.join(root, 'dist/controller/main.js'),
      `--kubeconfig=${paths.controllerKubeconfig}`,
      `--metrics-server=${urls.prometheus}`,
      `--metrics-port=${port}`,
      '--bind-address=127.0.0.1',
      // Seconds, not minutes: analysis intervals in tests and the demo are a few seconds.
      '--min-interval=1',
      '--poll-interval=0.5',
      `--identity=${name}`,
      ...(opts.extraArgs ?? []),
    ],
    ready: async () => (await probe(`http://127.0.0.1:${port}/readyz`)).status === 200,
  };
}

export async function startController(opts: ControllerOptions = {}): Promise<void> {
  await ensureStarted(controllerSpec(opts));
}

export async function stopController(name = CONTROLLER, signal: 'graceful' | 'kill' = 'graceful'): Promise<void> {
  await stopComponent(name, 10_000, signal === 'kill');
}

/** Installs sluice's cluster objects; idempotent (server-side apply). */
export function installManifests(binDir: string): void {
  kubectl(binDir, ['apply', '--server-side', '-f', path.join(root, 'manifests/crds')]);
  kubectl(binDir, ['wait', '--for=condition=Established', '--timeout=60s', '-f', path.join(root, 'manifests/crds')]);
  kubectl(binDir, ['apply', '--server-side', '-f', path.join(root, 'manifests/namespace.yaml'), '-f', path.join(root, 'manifests/rbac.yaml')]);
  kubectl(binDir, ['apply', '--server-side', '--force-conflicts', '-f', '-'], localWebhookConfigurations());
}

const PROBE_NS = 'sluice-world-probe';

/**
 * Resolves once the apiserver really calls the webhook and trusts its certificate: a server-side
 * dry-run update of a managed, zero-replica Deployment succeeds. A caBundle in the configuration
 * is not proof, since the apiserver reloads configurations asynchronously.
 */
export async function webhookTrusted(client: KubeClient): Promise<void> {
  if (!(await client.find(at(R.namespaces, undefined, PROBE_NS)))) {
    await client.create(R.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PROBE_NS } });
  }
  if (!(await client.find(at(R.deployments, PROBE_NS, 'probe')))) {
    const labels = { app: 'probe' };
    await client.create(at(R.deployments, PROBE_NS), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'probe', namespace: PROBE_NS, labels: { 'sluice.dev/managed': 'true' } },
      spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'probe' }] } } },
    });
  }
  await waitFor(
    async () => {
      await client.patch(at(R.deployments, PROBE_NS, 'probe'), { metadata: { annotations: { probe: String(Date.now()) } } }, 'merge', { dryRun: 'All' });
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 250, what: `the apiserver to call the webhook through MutatingWebhookConfiguration sluice (see ${paths.logs}/${WEBHOOK}.log)` },
  );
}

export async function startWebhook(opts: WebhookOptions = {}): Promise<void> {
  await ensureStarted(webhookSpec(opts));
  const client = await KubeClient.load(paths.kubeconfig);
  try {
    await webhookTrusted(client);
  } finally {
    client.close();
  }
}

export async function stopWebhook(): Promise<void> {
  await stopComponent(WEBHOOK);
}

export async function up(): Promise<void> {
  installManifests(buildBinaries().binDir);
  await startWebhook();
  await startController();
  process.stderr.write(`[sluice] webhook ready on ${urls.webhook}, controller running; logs in ${paths.logs}\n`);
}

async function cli(): Promise<void> {
  const cmd = process.argv[2];
  try {
    if (cmd === 'up') await up();
    else if (cmd === 'down') {
      await stopController();
      await stopWebhook();
    }
    else {
      console.error('usage: sluice.js up|down');
      process.exit(2);
    }
  } catch (err) {
    process.stderr.write(`[sluice] ${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await cli();
