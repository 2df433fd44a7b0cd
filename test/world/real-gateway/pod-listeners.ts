// Real listeners at pod addresses. Inside the gateway's network namespace the whole pod range
// (10.244.0.0/16) is assigned to the loopback device, so a connection to any pod's IP and port
// lands on one socket bound to 0.0.0.0 at that port; the address the client dialled is the
// socket's local address, which names the pod. Each request is answered as that pod would
// (its version, the faults a test set on a Service that selects it) and counted per pod: the
// share a revision really received, measured where requests arrive.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeClient, KubeObject } from '../../../lib/kube/client.js';
import { R } from '../../../lib/kube/client.js';
import { Informer } from '../../../lib/kube/informer.js';
import { type Fault, requestOutcome } from '../simulator/outcome.js';

type Pod = KubeObject & {
  spec: { containers: { image?: string }[] };
  status?: { podIP?: string; phase?: string };
};
type Service = KubeObject & { spec: { selector?: Record<string, string> } };

export interface PodCount {
  namespace: string;
  pod: string;
  /** The image tag of the pod's first container: which revision answered. */
  version: string;
  answered: number;
  errors: number;
}

/** The tag of an image reference (the part after the last colon that follows the last slash). */
export function versionOf(image: string | undefined): string {
  if (!image) return 'unknown';
  const name = image.split('@')[0]!;
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(colon + 1) : 'latest';
}

/** The pod holding `ip`: the running one when kwok has handed an address to a second pod. */
export function podAt(pods: readonly Pod[], ip: string): Pod | undefined {
  const holders = pods.filter((p) => p.status?.podIP === ip);
  return holders.find((p) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running') ?? holders[0];
}

const selects = (svc: Service, pod: Pod) => {
  const selector = svc.spec.selector;
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => pod.metadata.labels?.[k] === v);
};

export class PodListeners {
  readonly faults = new Map<string, Fault>();
  private readonly counts = new Map<string, PodCount>();
  private readonly pods: Informer<Pod>;
  private readonly services: Informer<Service>;
  private readonly servers: http.Server[] = [];

  constructor(client: KubeClient) {
    const onError = (what: string) => (err: unknown) => console.error(`listeners: ${what}: ${(err as Error).message}`);
    // Only what a listener answers from: a cache of every pod's spec would grow with the world.
    this.pods = new Informer<Pod>(client, R.pods, {
      onError: onError('pods'),
      transform: (p) => ({
        apiVersion: p.apiVersion,
        kind: p.kind,
        metadata: {
          name: p.metadata.name,
          namespace: p.metadata.namespace,
          labels: p.metadata.labels,
          resourceVersion: p.metadata.resourceVersion,
          deletionTimestamp: p.metadata.deletionTimestamp,
        },
        spec: { containers: p.spec.containers.slice(0, 1).map((c) => ({ image: c.image })) },
        status: { podIP: p.status?.podIP, phase: p.status?.phase },
      }),
    });
    this.services = new Informer<Service>(client, R.services, { onError: onError('services') });
  }

  async start(ports: readonly number[]): Promise<void> {
    await Promise.all([this.pods.start(), this.services.start()]);
    for (const port of ports) {
      const server = http.createServer((req, res) => this.answer(req, res));
      server.keepAliveTimeout = 30_000;
      server.headersTimeout = 10_000;
      server.requestTimeout = 30_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '0.0.0.0', () => resolve());
      });
      this.servers.push(server);
      console.log(`listeners: answering every pod address at port ${(server.address() as AddressInfo).port}`);
    }
  }

  /** Per-pod counts, optionally of one namespace. */
  snapshot(namespace?: string): PodCount[] {
    return [...this.counts.values()].filter((c) => namespace === undefined || c.namespace === namespace).map((c) => ({ ...c }));
  }

  reset(namespace: string): void {
    for (const [k, c] of this.counts) if (c.namespace === namespace) this.counts.delete(k);
  }

  private faultFor(pod: Pod): Fault | undefined {
    for (const svc of this.services.items()) {
      if (svc.metadata.namespace !== pod.metadata.namespace || !selects(svc, pod)) continue;
      const fault = this.faults.get(`${svc.metadata.namespace}/${svc.metadata.name}`);
      if (fault) return fault;
    }
    return undefined;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    // Requests carry no body worth reading; drain it so keep-alive connections stay usable.
    req.resume();
    const ip = (req.socket.localAddress ?? '').replace(/^::ffff:/, '');
    const pod = podAt(this.pods.items(), ip);
    if (!pod) {
      // Nothing runs here: a real node would refuse the connection.
      req.socket.destroy();
      return;
    }
    const namespace = pod.metadata.namespace ?? '';
    const key = `${namespace}/${pod.metadata.name}`;
    const version = versionOf(pod.spec.containers[0]?.image);
    const count = this.counts.get(key) ?? { namespace, pod: pod.metadata.name, version, answered: 0, errors: 0 };
    count.version = version;
    this.counts.set(key, count);
    // The simulator's model of a workload that has a pod to answer (this one), so templates written for either agree.
    const { code, latencyMs } = requestOutcome({ exists: true, readyEndpoints: 1 }, this.faultFor(pod), Math.random);
    const failed = code !== 200;
    setTimeout(() => {
      count.answered++;
      if (failed) count.errors++;
      res.writeHead(code, { 'content-type': 'application/json', 'x-pod': pod.metadata.name, 'x-version': version });
      res.end(JSON.stringify({ pod: pod.metadata.name, version, ...(failed ? { error: 'injected fault' } : {}) }));
    }, latencyMs);
  }

  close(): void {
    for (const s of this.servers) s.close();
    this.pods.stop();
    this.services.stop();
  }
}
