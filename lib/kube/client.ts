// A thin JSON client for the Kubernetes REST API. Credentials and TLS settings come from
// lib/kube/kubeconfig.ts for the in-cluster service account and plain kubeconfig files, from
// client-node's KubeConfig (loaded only then) for everything else; requests go through one
// keep-alive agent, watches through another. Why not client-node's
// generated APIs: sluice needs the status subresource of custom kinds, every patch type, the
// apiserver's `Warning` headers, request counting and bounded timeouts uniformly across kinds,
// which the generated classes expose differently per kind or not at all.

import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { defaultEndpoint, type Endpoint, fileEndpoint, inClusterEndpoint } from './kubeconfig.js';

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';
const patchContentType: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface ResourceRef {
  group: string; // '' for the core group
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export function resourcePath(ref: ResourceRef): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = ref.namespace ? `/namespaces/${encodeURIComponent(ref.namespace)}` : '';
  const name = ref.name ? `/${encodeURIComponent(ref.name)}` : '';
  const sub = ref.subresource && ref.name ? `/${ref.subresource}` : '';
  return `${base}${ns}/${ref.plural}${name}${sub}`;
}

/** The plural of the resource a path addresses: /api/v1/namespaces/x/pods/y/status → pods. */
export function resourceOf(path: string): string {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  let i = parts[0] === 'api' ? 2 : 3;
  if (parts[i] === 'namespaces' && parts.length > i + 2) i += 2;
  return parts[i] ?? '';
}

/**
 * A request written to a kept-alive connection the server had already closed; never answered.
 * It keeps the socket error's code, so whoever sorts transport failures by code still can.
 */
class StaleConnectionError extends Error {
  readonly code: string | undefined;
  constructor(cause: NodeJS.ErrnoException) {
    super(cause.message, { cause });
    this.code = cause.code;
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
  get notFound(): boolean {
    return this.status === 404;
  }
  /** A write based on a resourceVersion that is no longer current (409 Conflict). */
  get conflict(): boolean {
    return this.status === 409 && this.reason !== 'AlreadyExists';
  }
  /** A create of a name that is taken (409 AlreadyExists). */
  get alreadyExists(): boolean {
    return this.status === 409 && this.reason === 'AlreadyExists';
  }
}

/** Whether `err` is an apiserver answer of this kind; anything else (transport, bugs) is not. */
export const isNotFound = (err: unknown) => err instanceof ApiError && err.notFound;
export const isConflict = (err: unknown) => err instanceof ApiError && err.conflict;
export const isAlreadyExists = (err: unknown) => err instanceof ApiError && err.alreadyExists;

/**
 * The apiserver as the controllers use it: one object at a time, by reference. KubeClient is the
 * real one; unit tests run the controllers against an in-memory one (test/fixtures/memory-cluster.ts).
 */
export interface ObjectClient {
  get<T extends KubeObject>(ref: ResourceRef): Promise<T>;
  /** GET that answers undefined for a missing object. */
  find<T extends KubeObject>(ref: ResourceRef): Promise<T | undefined>;
  create<T extends KubeObject>(ref: ResourceRef, body: unknown): Promise<T>;
  replace<T extends KubeObject>(ref: ResourceRef, body: unknown): Promise<KubeResponse<T>>;
  patch<T extends KubeObject>(ref: ResourceRef, body: unknown, type?: PatchType): Promise<KubeResponse<T>>;
  /** DELETE that answers false for a missing object. */
  delete(ref: ResourceRef): Promise<boolean>;
}

/**
 * A watch cut off in transit (the connection closed or aborted before the server ended it):
 * every event up to the last one read was applied, so it can resume from there.
 */
export class WatchInterrupted extends Error {}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  timeoutMs?: number;
}

export interface KubeResponse<T> {
  status: number;
  body: T;
  warnings: string[];
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
  };
  [key: string]: unknown;
}

export interface KubeList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** How long credentials' headers are reused before they are asked for again (a token file re-read, an exec plugin run). */
const AUTH_REFRESH_MS = 5_000;
/** Ceilings on what a watch stream may make us hold. */
const MAX_WATCH_LINE = 16 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

function parseWarnings(header: string | string[] | undefined): string[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  // RFC 7234 form: 299 - "text"; the apiserver may join several with commas.
  const out: string[] = [];
  for (const v of values) for (const m of v.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) out.push((m[1] ?? '').replace(/\\(.)/g, '$1'));
  return out;
}

export class KubeClient implements ObjectClient {
  /** Requests sent, by verb; benchmarks read it to count what an idle controller costs. */
  readonly requestCounts = new Map<string, number>();
  /** Called for every request sent (metrics), with the resource's plural (e.g. "leases"). */
  onRequest: ((verb: string, resource: string) => void) | undefined;

  private constructor(
    private readonly server: URL,
    private readonly agent: https.Agent | http.Agent,
    /**
     * Watches have their own connections: each holds its socket for minutes, and in the request
     * pool the controller's 15 watches took 15 of the 32 sockets its 16 workers share.
     */
    private readonly watchAgent: https.Agent | http.Agent,
    private readonly credentials: Pick<Endpoint, 'headers'> & Partial<Omit<Endpoint, 'headers' | 'server'>>,
    readonly userAgent: string,
  ) {}

  private bare: { requests: http.Agent; watches: http.Agent } | undefined;

  /** From what lib/kube/kubeconfig.ts read: no client-node in the process. */
  static fromEndpoint(e: Endpoint, userAgent = 'sluice'): KubeClient {
    const server = new URL(e.server);
    const agents = KubeClient.agents(server, e);
    return new KubeClient(server, agents.requests, agents.watches, e, userAgent);
  }

  /** Requests: at most 32 at once. Watches: one socket each, as many as the process has informers. */
  private static agents(server: URL, e: Omit<Endpoint, 'headers' | 'server'>) {
    const agent = (maxSockets: number) =>
      server.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            maxSockets,
            ca: e.ca,
            cert: e.cert,
            key: e.key,
            rejectUnauthorized: !e.skipTLSVerify,
            servername: e.tlsServerName,
          })
        : new http.Agent({ keepAlive: true, maxSockets });
    return { requests: agent(32), watches: agent(Number.POSITIVE_INFINITY) };
  }

  /**
   * From client-node's KubeConfig (every auth form: exec plugins, auth providers). Its TLS settings
   * and the user go into an Endpoint; headers are asked of client-node each time.
   */
  static async fromKubeConfig(kc: KubeConfig, userAgent = 'sluice'): Promise<KubeClient> {
    const { KubeConfig: Config } = await import('@kubernetes/client-node');
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (!cluster) throw new Error('kubeconfig has no current cluster; set current-context or pass --kubeconfig');
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    // The user alone, without the cluster's CA file: asked for headers again every few seconds, so a
    // rotated service-account token (re-read at most every minute by client-node, as client-go
    // does) or an expired exec-plugin token is picked up without a restart. Its cluster entry only
    // satisfies client-node and never opens a connection (the agent does, verifying TLS as the
    // kubeconfig says), so it states no CA and asks for no verification.
    const config = new Config();
    config.loadFromClusterAndUser({ name: 'credentials', server: cluster.server, skipTLSVerify: true }, user ?? { name: 'anonymous' });
    return KubeClient.fromEndpoint(
      {
        server: cluster.server,
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        skipTLSVerify: opts.rejectUnauthorized === false,
        tlsServerName: cluster.tlsServerName,
        headers: async () => {
          const h: https.RequestOptions = { headers: {} };
          await config.applyToHTTPSOptions(h);
          return (h.headers ?? {}) as Record<string, string>;
        },
      },
      userAgent,
    );
  }

  /**
   * `file` undefined: $KUBECONFIG, then ~/.kube/config, then the in-cluster service account, as
   * kubectl does. `inClusterRoot`: the in-cluster service account read below this directory (a
   * process outside a Pod that runs as if inside one, e.g. in the local world).
   */
  static async load(file?: string, userAgent?: string, inClusterRoot?: string): Promise<KubeClient> {
    const light = file ? await fileEndpoint(file) : inClusterRoot ? inClusterEndpoint(inClusterRoot) : await defaultEndpoint();
    if (light) return KubeClient.fromEndpoint(light, userAgent);
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    if (file) kc.loadFromFile(file);
    else if (inClusterRoot) kc.loadFromCluster(inClusterRoot);
    else kc.loadFromDefault();
    return KubeClient.fromKubeConfig(kc, userAgent);
  }

  private cachedAuth: { headers: Promise<Record<string, string>>; until: number } | undefined;

  /**
   * Authorization (and impersonation) headers for the next request. Asking reads a token file (or
   * runs client-node's auth, which builds an agent each time), so the answer is kept for a few
   * seconds rather than asked per request: a rotated token is picked up within them.
   */
  private authHeaders(): Promise<Record<string, string>> {
    const now = Date.now();
    if (this.cachedAuth && now < this.cachedAuth.until) return this.cachedAuth.headers;
    const headers = this.credentials.headers();
    this.cachedAuth = { headers, until: now + AUTH_REFRESH_MS };
    // A failure (an exec plugin that errs) is not kept: the next request asks again.
    headers.catch(() => (this.cachedAuth = undefined));
    return headers;
  }

  private count(verb: string, path: string): void {
    this.requestCounts.set(verb, (this.requestCounts.get(verb) ?? 0) + 1);
    this.onRequest?.(verb, resourceOf(path));
  }

  totalRequests(): number {
    let n = 0;
    for (const v of this.requestCounts.values()) n += v;
    return n;
  }

  private url(path: string, query?: RequestOptions['query']): URL {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  private async open(
    method: string,
    url: URL,
    headers: Record<string, string>,
    timeoutMs: number,
    agent: http.Agent = this.agent,
  ): Promise<http.ClientRequest> {
    const mod = url.protocol === 'https:' ? https : http;
    const auth = await this.authHeaders();
    const req = mod.request(url, { method, headers: { ...auth, 'user-agent': this.userAgent, ...headers }, agent });
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`${method} ${url.pathname}: no answer from the apiserver within ${timeoutMs} ms`)),
    );
    return req;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<KubeResponse<T>> {
    try {
      return await this.requestOnce<T>(method, path, opts);
    } catch (err) {
      // A kept-alive connection the apiserver closed while it sat idle (its idle timeout, or our
      // event loop blocked past it) fails the first request written to it before any answer: the
      // apiserver never read that request, so sending it once more on a fresh connection is safe.
      if (!(err instanceof StaleConnectionError)) throw err;
      return this.requestOnce<T>(method, path, opts);
    }
  }

  private async requestOnce<T>(method: string, path: string, opts: RequestOptions): Promise<KubeResponse<T>> {
    this.count(method, path);
    const url = this.url(path, opts.query);
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const req = await this.open(method, url, headers, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return new Promise<KubeResponse<T>>((resolve, reject) => {
      let answered = false;
      req.on('error', (err: NodeJS.ErrnoException) =>
        reject(!answered && req.reusedSocket && err.code === 'ECONNRESET' ? new StaleConnectionError(err) : err),
      );
      req.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text.length > 0 ? JSON.parse(text) : undefined;
          } catch {
            /* non-JSON error bodies are kept as text */
          }
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            const st = (body ?? {}) as { reason?: string; message?: string };
            const message = st.message ?? (typeof body === 'string' ? body : `HTTP ${status}`);
            reject(new ApiError(status, st.reason ?? '', `${method} ${url.pathname}: ${message}`, body));
            return;
          }
          resolve({ status, body: body as T, warnings: parseWarnings(res.headers.warning) });
        });
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async get<T extends KubeObject>(ref: ResourceRef): Promise<T> {
    return (await this.request<T>('GET', resourcePath(ref))).body;
  }

  /** GET that answers undefined for a missing object instead of throwing. */
  async find<T extends KubeObject>(ref: ResourceRef): Promise<T | undefined> {
    try {
      return await this.get<T>(ref);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(ref: ResourceRef, query?: RequestOptions['query']): Promise<KubeList<T>> {
    return (await this.request<KubeList<T>>('GET', resourcePath(ref), { query })).body;
  }

  async create<T extends KubeObject>(ref: ResourceRef, body: unknown, query?: RequestOptions['query']): Promise<T> {
    return (await this.request<T>('POST', resourcePath(ref), { body, query })).body;
  }

  async replace<T extends KubeObject>(ref: ResourceRef, body: unknown, query?: RequestOptions['query']): Promise<KubeResponse<T>> {
    return this.request<T>('PUT', resourcePath(ref), { body, query });
  }

  async patch<T extends KubeObject>(
    ref: ResourceRef,
    body: unknown,
    type: PatchType = 'merge',
    query?: RequestOptions['query'],
  ): Promise<KubeResponse<T>> {
    return this.request<T>('PATCH', resourcePath(ref), { body, contentType: patchContentType[type], query });
  }

  /** Server-side apply as `fieldManager`, forcing ownership of the fields it sets. */
  async apply<T extends KubeObject>(ref: ResourceRef, body: unknown, fieldManager: string): Promise<T> {
    return (await this.patch<T>(ref, body, 'apply', { fieldManager, force: true })).body;
  }

  async delete(ref: ResourceRef, query?: RequestOptions['query']): Promise<boolean> {
    try {
      await this.request('DELETE', resourcePath(ref), { query });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * One watch request; resolves when the server closes it (after `timeoutSeconds`) or rejects
   * on a transport error. The caller re-lists and re-watches: level-triggered, nothing assumed.
   */
  async watch<T extends KubeObject>(
    ref: ResourceRef,
    resourceVersion: string | undefined,
    onEvent: (ev: WatchEvent<T>) => void,
    opts: { timeoutSeconds?: number; labelSelector?: string; signal?: AbortSignal } = {},
  ): Promise<void> {
    this.count('WATCH', resourcePath(ref));
    const timeoutSeconds = opts.timeoutSeconds ?? 300;
    const url = this.url(resourcePath(ref), {
      watch: 1,
      allowWatchBookmarks: true,
      resourceVersion,
      timeoutSeconds,
      labelSelector: opts.labelSelector,
    });
    // The socket timeout is the server's own plus slack: a watch that goes silent past it is dead.
    const req = await this.open('GET', url, { accept: 'application/json' }, (timeoutSeconds + 30) * 1000, this.watchAgent);
    return new Promise<void>((resolve, reject) => {
      // Every way a watch can end comes here once: the server closing it, a transport error, an
      // ERROR event or an unreadable line (a handler that throws), the caller's abort. Nothing is
      // destroyed *with* an error, so no 'error' event can go unheard on the request, the response
      // or the socket; both carry listeners anyway.
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        opts.signal?.removeEventListener('abort', abort);
        if (err && !opts.signal?.aborted) reject(err);
        else resolve();
      };
      const stopWith = (err?: Error) => {
        finish(err);
        req.destroy();
      };
      const abort = () => stopWith();
      if (opts.signal?.aborted) return stopWith();
      opts.signal?.addEventListener('abort', abort, { once: true });
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        res.on('error', (err) => finish(err));
        if ((res.statusCode ?? 0) >= 400) {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= MAX_ERROR_BODY) chunks.push(c);
          });
          res.on('end', () => {
            // The apiserver answers a Status; its message is what a person needs, not the JSON.
            const text = Buffer.concat(chunks).toString('utf8');
            let status: { message?: unknown; reason?: unknown } = {};
            try {
              status = JSON.parse(text) as typeof status;
            } catch {
              /* not a Status: the text as it came */
            }
            const message = typeof status.message === 'string' ? status.message : text;
            finish(
              new ApiError(
                res.statusCode ?? 0,
                typeof status.reason === 'string' ? status.reason : '',
                `watch ${url.pathname}: ${message}`,
                undefined,
              ),
            );
          });
          return;
        }
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (done) return;
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line.length === 0) continue;
            try {
              onEvent(JSON.parse(line) as WatchEvent<T>);
            } catch (err) {
              return stopWith(err instanceof Error ? err : new Error(String(err)));
            }
            if (done) return;
          }
          // An object in etcd is at most 1.5 MiB; a line far beyond that is not a watch event.
          if (buffered.length > MAX_WATCH_LINE)
            stopWith(new Error(`watch ${url.pathname}: an event longer than ${MAX_WATCH_LINE} bytes; re-listing`));
        });
        res.on('end', () => finish());
        res.on('aborted', () => finish(new WatchInterrupted(`watch ${url.pathname} aborted`)));
        res.on('close', () => finish(done ? undefined : new WatchInterrupted(`watch ${url.pathname}: connection closed`)));
      });
      req.end();
    });
  }

  /**
   * The same apiserver and connections, acting with other credentials: the in-cluster dashboard
   * sends each person's requests with that person's own token. Never close() the result; close
   * this client.
   */
  withCredentials(headers: () => Promise<Record<string, string>>, userAgent = this.userAgent): KubeClient {
    // Connections of their own, trusting the same CA but presenting no client certificate: the
    // apiserver tries a certificate before a bearer token, so on this client's connections a person
    // could be taken for this process.
    const { ca, skipTLSVerify, tlsServerName } = this.credentials;
    this.bare ??= KubeClient.agents(this.server, { ca, skipTLSVerify, tlsServerName });
    return new KubeClient(this.server, this.bare.requests, this.bare.watches, { headers }, userAgent);
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
    this.bare?.requests.destroy();
    this.bare?.watches.destroy();
  }
}

export const R = {
  deployments: { group: 'apps', version: 'v1', plural: 'deployments' },
  statefulsets: { group: 'apps', version: 'v1', plural: 'statefulsets' },
  daemonsets: { group: 'apps', version: 'v1', plural: 'daemonsets' },
  controllerrevisions: { group: 'apps', version: 'v1', plural: 'controllerrevisions' },
  replicasets: { group: 'apps', version: 'v1', plural: 'replicasets' },
  pods: { group: '', version: 'v1', plural: 'pods' },
  services: { group: '', version: 'v1', plural: 'services' },
  namespaces: { group: '', version: 'v1', plural: 'namespaces' },
  nodes: { group: '', version: 'v1', plural: 'nodes' },
  secrets: { group: '', version: 'v1', plural: 'secrets' },
  configmaps: { group: '', version: 'v1', plural: 'configmaps' },
  events: { group: '', version: 'v1', plural: 'events' },
  serviceaccounts: { group: '', version: 'v1', plural: 'serviceaccounts' },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
  endpoints: { group: '', version: 'v1', plural: 'endpoints' },
  hpas: { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers' },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' },
  httproutes: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' },
  gateways: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' },
  gatewayclasses: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses' },
  mutatingwebhooks: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'mutatingwebhookconfigurations' },
  validatingwebhooks: { group: 'admissionregistration.k8s.io', version: 'v1', plural: 'validatingwebhookconfigurations' },
  crds: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' },
} as const satisfies Record<string, ResourceRef>;

export function at(ref: ResourceRef, namespace: string | undefined, name?: string, subresource?: string): ResourceRef {
  return { ...ref, namespace, name, subresource };
}
