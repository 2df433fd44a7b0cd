// Starting the real gateway from a test: its namespace, identity and Gateway in the cluster,
// a token for its ServiceAccount, the process (main.js), and a wait for Traefik to program the
// Gateway. Idempotent; `world down` stops it with the rest.
import fs from 'node:fs';
import path from 'node:path';
import { at, KubeClient, type KubeObject, R } from '../../../lib/kube/client.js';
import { waitFor } from '../../../lib/wait.js';
import { paths, root, urls } from '../layout.js';
import { ok } from '../probe.js';
import { ensureStarted, type ProcessSpec } from '../processes.js';
import { buildBinaries, kubectl } from '../world.js';

export const GATEWAY = { name: 'traefik', namespace: 'traefik' } as const;
export const REAL_GATEWAY = 'real-gateway';

type Conditioned = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };

async function writeToken(client: KubeClient, dir: string): Promise<{ tokenFile: string; caFile: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const tr = await client.create<KubeObject & { status: { token: string } }>(at(R.serviceaccounts, GATEWAY.namespace, 'traefik', 'token'), {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 24 * 3600 },
  });
  const tokenFile = path.join(dir, 'token');
  const caFile = path.join(dir, 'ca.crt');
  fs.writeFileSync(tokenFile, tr.status.token, { mode: 0o600 });
  fs.copyFileSync(path.join(paths.pki, 'ca.crt'), caFile);
  return { tokenFile, caFile };
}

/** Starts the real gateway unless it runs; resolves once Traefik has programmed its Gateway. */
export async function ensureRealGateway(): Promise<void> {
  // main.js checks that this machine allows unprivileged namespaces, and exits saying why not:
  // ensureStarted reports that with its log's last lines.
  const { binDir } = buildBinaries();
  kubectl(binDir, ['apply', '--server-side', '-f', path.join(paths.manifests, 'traefik.yaml')]);
  const client = await KubeClient.load(paths.kubeconfig, 'world-real-gateway-start');
  const { tokenFile, caFile } = await writeToken(client, paths.realGateway);
  const spec: ProcessSpec = {
    name: REAL_GATEWAY,
    command: process.execPath,
    args: [
      path.join(root, 'dist/test/world/real-gateway/main.js'),
      `--traefik=${path.join(binDir, 'traefik')}`,
      `--token-file=${tokenFile}`,
      `--ca-file=${caFile}`,
    ],
    ready: () => ok(`${urls.realGateway}/healthz`),
    readyTimeoutMs: 60_000,
  };
  await ensureStarted(spec);
  await waitFor(
    async () => {
      const gw = await client.get<Conditioned>(at(R.gateways, GATEWAY.namespace, GATEWAY.name));
      return gw.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True');
    },
    { timeoutMs: 60_000, what: `Traefik to program Gateway ${GATEWAY.namespace}/${GATEWAY.name} (see ${paths.logs}/${REAL_GATEWAY}.log)` },
  );
}

/** The real gateway's control API: counts at the pod listeners, faults, load, Traefik's own API. */
export async function realGateway<T = unknown>(method: 'GET' | 'PUT' | 'DELETE', route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${urls.realGateway}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`real gateway ${method} ${route}: HTTP ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

interface TraefikService {
  name: string;
  weighted?: { services: { name: string; weight?: number }[] };
}

/**
 * The weight Traefik serves now for Service `service` of `namespace` as a backend of an HTTPRoute
 * rule (its own API, GET /api/http/services: the rule's weighted service lists each backend as
 * `<namespace>-<service>-http-<port>`), or undefined while it serves no such backend.
 */
export async function traefikWeight(namespace: string, service: string): Promise<number | undefined> {
  const prefix = `${namespace}-${service}-http-`;
  const services = await realGateway<TraefikService[]>('GET', '/traefik/api/http/services?per_page=1000');
  for (const s of services) {
    const backend = s.weighted?.services.find((b) => b.name.startsWith(prefix));
    if (backend) return backend.weight ?? 1;
  }
  return undefined;
}
