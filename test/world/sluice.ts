// sluice itself on the local world, installed the way a platform team installs it: manifests/
// applied unchanged (`kubectl apply -k`, server-side), the webhook configurations reached through
// their Service (the apiserver dials a ready endpoint of Service sluice-system/sluice-webhook — a
// kwok pod of Deployment sluice-webhook — through the world's pod network, which hands the
// connection to the local webhook process), and each process running on its own service account's
// token as a kubelet mounts it (--in-cluster-root), not on an admin kubeconfig.
// Usage: node dist/test/world/sluice.js up|down
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { at, KubeClient, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { paths, ports, root, urls } from './layout.js';
import { clearRules, writeRule } from './pod-network.js';
import { probe } from './probe.js';
import { ensureStarted, type ProcessSpec, stopComponent } from './processes.js';
import { buildBinaries, kubectl } from './world.js';

export const WEBHOOK = 'sluice-webhook';
export const CONTROLLER = 'sluice-controller';
export const SLUICE_NAMESPACE = 'sluice-system';
/**
 * Each process runs as its own ServiceAccount of manifests/rbac.yaml: sluice-webhook,
 * sluice-controller; and sluice-dashboard of the chart's dashboard.yaml when a test installs it.
 */
export type Identity = 'webhook' | 'controller' | 'dashboard';
/** The webhook pods of manifests/deployment.yaml, whose webhook port the local webhook process serves. */
const WEBHOOK_POD_LABELS = { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/component': 'webhook' };
const WEBHOOK_CONTAINER_PORT = 8443;
const TOKEN_SECONDS = 24 * 3600;

/** How a sluice process is started: this checkout's build, or another (e.g. the image's tree). */
export interface Build {
  /** The command and its leading arguments, up to the subcommand: [node, .../dist/bin/sluice.js]. */
  entrypoint: string[];
}

export const thisBuild: Build = { entrypoint: [process.execPath, path.join(root, 'dist/bin/sluice.js')] };

export interface WebhookOptions {
  /** Process name (pid file, log file); a second replica takes another. */
  name?: string;
  port?: number;
  metricsPort?: number;
  build?: Build;
  /** Extra flags, e.g. short certificate lifetimes for a rotation test. */
  extraArgs?: string[];
  /** Seconds between certificate checks: 2 in the world, so rotation tests run in seconds; a benchmark of the product takes its default. */
  certCheckSeconds?: number;
}

/** What a kubelet gives a container of a Pod: the API's address in its environment. */
export function inClusterEnv(): Record<string, string> {
  return { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(ports.apiserver) };
}

/**
 * The literal environment manifests/deployment.yaml gives a Deployment's first container (its
 * Node.js options, say): the local process runs as the shipped pod would, not as a second copy
 * of the settings that could drift from it.
 */
export function shippedEnv(deployment: string): Record<string, string> {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(root, 'manifests/deployment.yaml'), 'utf8')).map((d) => d.toJS());
  const dep = docs.find((d) => d?.kind === 'Deployment' && d.metadata?.name === deployment);
  if (!dep) throw new Error(`manifests/deployment.yaml has no Deployment ${deployment}`);
  const env: { name: string; value?: string }[] = dep.spec.template.spec.containers[0].env ?? [];
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

/** The directory a process treats as its filesystem root for the in-cluster service account. */
export const inClusterRoot = (who: Identity) => path.join(paths.serviceAccountRoot, who);
/** Where a process reads its service-account token, as a kubelet mounts it. */
export const serviceAccountDir = (who: Identity) => path.join(inClusterRoot(who), 'var/run/secrets/kubernetes.io/serviceaccount');

/**
 * The token, CA and namespace of ServiceAccount sluice-<who> below inClusterRoot(who), as a kubelet
 * projects them into a Pod: a TokenRequest, renewed when older than an hour (kubelets renew at 80%
 * of the lifetime; sluice re-reads the file as client-go does).
 */
export async function ensureServiceAccountToken(
  client: KubeClient,
  who: Identity,
  opts: { force?: boolean; boundTo?: { name: string; uid: string } } = {},
): Promise<void> {
  const dir = serviceAccountDir(who);
  const tokenFile = path.join(dir, 'token');
  const age = fs.existsSync(tokenFile) ? Date.now() - fs.statSync(tokenFile).mtimeMs : Infinity;
  if (!opts.force && age < 3600_000) return;
  fs.mkdirSync(dir, { recursive: true });
  const tr = await client.create<{ metadata: { name: string }; status: { token: string } }>(
    at(R.serviceaccounts, SLUICE_NAMESPACE, `sluice-${who}`, 'token'),
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      // Bound to a Secret, a token dies with it: how a test revokes the token it rotated away from.
      spec: {
        expirationSeconds: TOKEN_SECONDS,
        ...(opts.boundTo ? { boundObjectRef: { kind: 'Secret', apiVersion: 'v1', ...opts.boundTo } } : {}),
      },
    },
  );
  const write = (name: string, content: string) => {
    fs.writeFileSync(path.join(dir, `.${name}.tmp`), content, { mode: 0o600 });
    fs.renameSync(path.join(dir, `.${name}.tmp`), path.join(dir, name));
  };
  write('ca.crt', fs.readFileSync(path.join(paths.pki, 'ca.crt'), 'utf8'));
  write('namespace', SLUICE_NAMESPACE);
  write('token', tr.status.token);
}

export function webhookSpec(opts: WebhookOptions = {}): ProcessSpec {
  const port = opts.port ?? ports.webhook;
  const [command, ...lead] = (opts.build ?? thisBuild).entrypoint;
  return {
    name: opts.name ?? WEBHOOK,
    command: command!,
    args: [
      ...lead,
      'webhook',
      `--in-cluster-root=${inClusterRoot('webhook')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--metrics-port=${opts.metricsPort ?? ports.webhookMetrics}`,
      ...(opts.certCheckSeconds === undefined ? ['--cert-check-interval=2'] : [`--cert-check-interval=${opts.certCheckSeconds}`]),
      // The world's endpoints change within a second; a pod's usual 5 s drain would only slow tests.
      '--shutdown-delay=2',
      ...(opts.extraArgs ?? []),
    ],
    env: { ...shippedEnv(WEBHOOK), ...inClusterEnv() },
    ready: async () => (await probe(`https://127.0.0.1:${port}/readyz`, { insecure: true })).status === 200,
  };
}

export interface ControllerOptions {
  /** Process name (pid file, log file); a second controller for leader-election tests takes another. */
  name?: string;
  metricsPort?: number;
  build?: Build;
  extraArgs?: string[];
}

export function controllerSpec(opts: ControllerOptions = {}): ProcessSpec {
  const port = opts.metricsPort ?? ports.controllerMetrics;
  const name = opts.name ?? CONTROLLER;
  const [command, ...lead] = (opts.build ?? thisBuild).entrypoint;
  return {
    name,
    command: command!,
    args: [
      ...lead,
      'controller',
      `--in-cluster-root=${inClusterRoot('controller')}`,
      `--metrics-server=${urls.prometheus}`,
      `--metrics-port=${port}`,
      '--bind-address=127.0.0.1',
      // Seconds, not minutes: analysis intervals in tests and the demo are a few seconds.
      '--min-interval=1',
      // Rollouts wake their Canaries by their own status changes; the look-again is a fallback.
      '--poll-interval=5',
      // The world's gateways: the simulator serves a route as it reports it, Traefik (the real
      // gateway) within its 2 s configuration throttle; 3 s covers both without slowing every test by 5.
      '--drain-delay=3',
      `--identity=${name}`,
      ...(opts.extraArgs ?? []),
    ],
    env: inClusterEnv(),
    ready: async () => (await probe(`http://127.0.0.1:${port}/readyz`)).status === 200,
  };
}

export async function startController(opts: ControllerOptions = {}): Promise<void> {
  await withAdmin((client) => ensureServiceAccountToken(client, 'controller'));
  await ensureStarted(controllerSpec(opts));
}

export async function stopController(name = CONTROLLER, signal: 'graceful' | 'kill' = 'graceful'): Promise<void> {
  await stopComponent(name, 10_000, signal === 'kill');
}

/**
 * Installs sluice as a platform team does, `kubectl apply --server-side -k manifests/`, unchanged;
 * then points the pod network at the local webhook for the webhook port of sluice's pods.
 * Idempotent.
 */
export function installManifests(binDir: string): void {
  const crds = path.join(root, 'manifests/crds');
  kubectl(binDir, ['apply', '--server-side', '--force-conflicts', '-k', path.join(root, 'manifests')]);
  kubectl(binDir, ['wait', '--for=condition=Established', '--timeout=60s', '-f', crds]);
  // The install owns the pod network's rules: those of an earlier install (other labels, other
  // pods) would still match sluice's pods.
  clearRules(paths.podNetworkRules);
  routeWebhook(ports.webhook);
}

/**
 * The apiserver's calls to the webhook port of `pod` — or, without a pod, of every sluice pod
 * without a rule of its own — go to the local webhook listening on `port`.
 */
export function routeWebhook(port: number, pod?: string): void {
  writeRule(paths.podNetworkRules, {
    namespace: SLUICE_NAMESPACE,
    matchLabels: WEBHOOK_POD_LABELS,
    port: WEBHOOK_CONTAINER_PORT,
    to: `127.0.0.1:${port}`,
    ...(pod ? { pod } : {}),
  });
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
      spec: {
        replicas: 0,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'probe' }] } },
      },
    });
  }
  await waitFor(
    async () => {
      await client.patch(at(R.deployments, PROBE_NS, 'probe'), { metadata: { annotations: { probe: String(Date.now()) } } }, 'merge', {
        dryRun: 'All',
      });
      return true;
    },
    {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: `the apiserver to call the webhook through MutatingWebhookConfiguration sluice (see ${paths.logs}/${WEBHOOK}.log)`,
    },
  );
}

async function withAdmin<T>(fn: (client: KubeClient) => Promise<T>): Promise<T> {
  const client = await KubeClient.load(paths.kubeconfig);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export async function startWebhook(opts: WebhookOptions = {}): Promise<void> {
  await withAdmin(async (client) => {
    await ensureServiceAccountToken(client, 'webhook');
    await ensureStarted(webhookSpec(opts));
    await webhookTrusted(client);
  });
}

export async function stopWebhook(name = WEBHOOK): Promise<void> {
  await stopComponent(name);
}

export async function up(): Promise<void> {
  installManifests(buildBinaries().binDir);
  await startWebhook();
  await startController();
  process.stderr.write(
    `[sluice] installed from manifests/; webhook reached through Service ${SLUICE_NAMESPACE}/sluice-webhook (local process on ${urls.webhook}), controller running; logs in ${paths.logs}\n`,
  );
}

async function cli(): Promise<void> {
  const cmd = process.argv[2];
  try {
    if (cmd === 'up') await up();
    else if (cmd === 'down') {
      await stopController();
      await stopWebhook();
    } else {
      console.error('usage: sluice.js up|down');
      process.exit(2);
    }
  } catch (err) {
    process.stderr.write(`[sluice] ${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await cli();
