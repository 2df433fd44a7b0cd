// What integration and e2e tests share: clients for the world's real apiserver, Prometheus and
// the traffic simulator, and throwaway namespaces.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Deployment as StoredDeployment } from '../../api/workload.js';
import { PrometheusClient } from '../../controller/analysis/prometheus-client.js';
import { at, KubeClient, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { paths, ports, root, urls } from './layout.js';
import { readyNamespace } from './namespaces.js';

let adminClient: KubeClient | undefined;
export async function admin(): Promise<KubeClient> {
  adminClient ??= await KubeClient.load(paths.kubeconfig, 'sluice-tests');
  return adminClient;
}

export const prometheus = new PrometheusClient(urls.prometheus, 5000);

export async function simulator(method: 'PUT' | 'DELETE' | 'GET', path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${urls.simulator}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`simulator ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
}

/** A fresh namespace per test file; deleted afterwards (without waiting for finalisation). */
export async function testNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  return readyNamespace(await admin(), `${prefix}-${crypto.randomBytes(3).toString('hex')}`, labels);
}

export async function deleteNamespace(name: string): Promise<void> {
  await (await admin()).delete(at(R.namespaces, undefined, name));
}

export function deploymentManifest(
  namespace: string,
  name: string,
  opts: { replicas?: number; image?: string; labels?: Record<string, string>; port?: number } = {},
) {
  const app = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { ...app, ...opts.labels } },
    spec: {
      replicas: opts.replicas ?? 1,
      selector: { matchLabels: app },
      template: {
        metadata: { labels: app },
        spec: {
          containers: [
            {
              name: 'app',
              image: opts.image ?? 'ghcr.io/stefanprodan/podinfo:6.0.0',
              ports: [{ name: 'http', containerPort: opts.port ?? 9898 }],
            },
          ],
        },
      },
    },
  };
}

export function serviceManifest(namespace: string, name: string, selector: Record<string, string>, port = 9898) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector, ports: [{ name: 'http', port, targetPort: port }] },
  };
}

/** The stored Deployment (api/workload.ts), with the containers tests read. */
export type Deployment = StoredDeployment & {
  spec: { template: { spec: { containers: { name: string; image: string }[] } } };
  status?: { conditions?: { type: string; status: string }[] };
};

export async function waitAvailable(namespace: string, name: string, replicas: number, timeoutMs = 60_000): Promise<Deployment> {
  const client = await admin();
  return waitFor(
    async () => {
      const d = await client.get<Deployment>(at(R.deployments, namespace, name));
      const available = d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True');
      return available && d.status?.availableReplicas === replicas && d.status?.observedGeneration === d.metadata.generation
        ? d
        : undefined;
    },
    { timeoutMs, what: `Deployment ${name}.${namespace} to have ${replicas} available replicas` },
  );
}

/** Requests the world's webhook has answered on one endpoint, from its own metrics. */
export async function webhookRequestCount(endpoint: 'mutate' | 'validate' | 'mutate-pod' = 'mutate'): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${ports.webhookMetrics}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^sluice_webhook_requests_total\\{[^}]*endpoint="${endpoint}"[^}]*\\} (\\d+)`, 'gm')))
    n += Number(m[1]);
  return n;
}

/** `kubectl sluice` installed the documented way into a fresh directory (put it first on PATH). */
export function installKubectlPlugin(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-plugin-'));
  const install = spawnSync('sh', [path.join(root, 'scripts/install-kubectl-plugin.sh'), dir], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`installing the kubectl plugin failed: ${install.stderr}`);
  return dir;
}
