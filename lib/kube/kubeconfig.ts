// Where to reach the apiserver and how to authenticate, for what sluice's server processes use:
// the in-cluster service account and kubeconfig files holding certificates or tokens. client-node's
// KubeConfig reads every form there is, but importing it loads client-node's whole generated API
// (about 68 MiB resident, measured: bench/RESULTS.md), most of a webhook's memory budget, for a
// handful of fields. So these forms are read here, and client-node is loaded only for a kubeconfig
// that needs more (exec plugins, auth providers, several files in $KUBECONFIG): KubeClient.load.
import fs from 'node:fs';
import type { AgentOptions } from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface Endpoint {
  server: string;
  /** As node's TLS options take them (client-node's KubeConfig hands them over in these forms). */
  ca?: AgentOptions['ca'];
  cert?: AgentOptions['cert'];
  key?: AgentOptions['key'];
  skipTLSVerify?: boolean;
  tlsServerName?: string;
  /** Authorization headers for the next request (a token file is read again each time). */
  headers(): Promise<Record<string, string>>;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

const bearer = (token: string) => ({ authorization: `Bearer ${token.trim()}` });

/** The Pod's service account, as a kubelet mounts it (below `root`, for a process outside a Pod). */
export function inClusterEndpoint(root = ''): Endpoint {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port)
    throw new Error('not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; pass --kubeconfig');
  const tokenFile = `${root}${SERVICE_ACCOUNT}/token`;
  // Plain HTTP only on the ports client-go treats so (an apiserver proxy on loopback).
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  return {
    server: `${scheme}://${net.isIPv6(host) ? `[${host}]` : host}:${port}`,
    ca: fs.readFileSync(`${root}${SERVICE_ACCOUNT}/ca.crt`),
    // Re-read on every ask: the kubelet rotates the projected token (KubeClient asks every few seconds).
    headers: async () => bearer(await fs.promises.readFile(tokenFile, 'utf8')),
  };
}

type Named<T> = { name?: string } & T;
interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Named<{ cluster?: Record<string, unknown> }>[];
  users?: Named<{ user?: Record<string, unknown> }>[];
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
}

/** The user fields read here; any other (exec, auth-provider, username…) needs client-node. */
const USER_FIELDS = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile']);
const CLUSTER_FIELDS = new Set([
  'server',
  'certificate-authority',
  'certificate-authority-data',
  'insecure-skip-tls-verify',
  'tls-server-name',
]);

/**
 * The current context of one kubeconfig file, or undefined when it uses a form read only by
 * client-node. Paths in it are relative to the file, as kubectl reads them.
 */
export async function fileEndpoint(file: string): Promise<Endpoint | undefined> {
  // Loaded here, not at the top: a process in a Pod reads its service account and never needs it.
  const { parse } = await import('yaml');
  const doc = parse(fs.readFileSync(file, 'utf8')) as KubeconfigFile | null;
  if (!doc || typeof doc !== 'object') throw new Error(`${file} is not a kubeconfig`);
  const ctxName = doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx)
    throw new Error(
      `${file}: no current context ${ctxName ?? '(current-context is not set)'}; set current-context or pass another --kubeconfig`,
    );
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== 'string')
    throw new Error(`${file}: context ${ctxName} names cluster ${ctx.cluster ?? '(none)'}, which has no server`);
  const user = (ctx.user === undefined ? {} : doc.users?.find((u) => u.name === ctx.user)?.user) ?? {};
  if (Object.keys(user).some((k) => !USER_FIELDS.has(k)) || Object.keys(cluster).some((k) => !CLUSTER_FIELDS.has(k))) return undefined;
  const dir = path.dirname(file);
  const read = (data: unknown, ref: unknown): Buffer | undefined =>
    typeof data === 'string' ? Buffer.from(data, 'base64') : typeof ref === 'string' ? fs.readFileSync(path.resolve(dir, ref)) : undefined;
  const token = typeof user.token === 'string' ? user.token : undefined;
  const tokenFile = typeof user.tokenFile === 'string' ? path.resolve(dir, user.tokenFile) : undefined;
  return {
    server: cluster.server,
    ca: read(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: read(user['client-certificate-data'], user['client-certificate']),
    key: read(user['client-key-data'], user['client-key']),
    skipTLSVerify: cluster['insecure-skip-tls-verify'] === true,
    ...(typeof cluster['tls-server-name'] === 'string' ? { tlsServerName: cluster['tls-server-name'] } : {}),
    headers: async () => (tokenFile ? bearer(await fs.promises.readFile(tokenFile, 'utf8')) : token ? bearer(token) : {}),
  };
}

/** The one kubeconfig file kubectl reads without --kubeconfig, or undefined (several in $KUBECONFIG, or none). */
export function defaultFile(): string | undefined {
  const env = process.env.KUBECONFIG;
  if (env) return env.includes(path.delimiter) ? undefined : env;
  const home = path.join(os.homedir(), '.kube', 'config');
  return fs.existsSync(home) ? home : undefined;
}

/** The namespace of a kubeconfig file's current context, as kubectl defaults -n to it. */
export async function contextNamespace(file: string): Promise<string | undefined> {
  const { parse } = await import('yaml');
  const doc = parse(fs.readFileSync(file, 'utf8')) as {
    'current-context'?: string;
    contexts?: Named<{ context?: { namespace?: string } }>[];
  } | null;
  const ns = doc?.contexts?.find((c) => c.name === doc['current-context'])?.context?.namespace;
  return typeof ns === 'string' && ns ? ns : undefined;
}

/**
 * kubectl's order without a --kubeconfig: $KUBECONFIG (one file), ~/.kube/config, then the
 * in-cluster service account. Undefined when that needs client-node (several files in
 * $KUBECONFIG, a form not read here).
 */
export async function defaultEndpoint(): Promise<Endpoint | undefined> {
  const env = process.env.KUBECONFIG;
  if (env) return env.includes(path.delimiter) ? undefined : fileEndpoint(env);
  const home = path.join(os.homedir(), '.kube', 'config');
  if (fs.existsSync(home)) return fileEndpoint(home);
  if (process.env.KUBERNETES_SERVICE_HOST) return inClusterEndpoint();
  return undefined;
}
