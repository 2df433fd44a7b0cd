// The local world's pod network. kwok's pods have addresses (10.244.x.y) but nothing listens
// there, and no traffic may leave loopback here. kube-apiserver is started with an egress selector
// whose "cluster" connection is this HTTP CONNECT proxy (the role konnectivity plays in real
// clusters), and with --enable-aggregator-routing, so a webhook configuration that names a Service
// is resolved to a ready endpoint — a pod address — and dialled through here. The proxy finds the
// pod that owns the address and forwards the connection to the local process that "runs" that
// pod's container port, according to rules the world's launchers write. Anything else is refused:
// no connection ever leaves 127.0.0.1.
//   node dist/test/world/pod-network.js --kubeconfig F --socket PATH --port P --rules FILE
// The apiserver speaks CONNECT on the Unix socket (its plain-TCP egress transport requires TLS).
// GET /healthz and /connections (connections forwarded per pod and port, and refused) on the port.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { KubeClient, type KubeObject, R } from '../../lib/kube/client.js';

/** One local process standing in for a container port of the pods a rule selects. */
export interface PodNetworkRule {
  namespace: string;
  /** Pods whose labels include all of these. */
  matchLabels: Record<string, string>;
  /** This pod only (a replica's own process); such rules win over label rules. */
  pod?: string;
  /** The container port the apiserver dials (the EndpointSlice's port). */
  port: number;
  /** Where that port is served on this machine: a loopback host:port. */
  to: string;
}

export interface PodIdentity {
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

/** The loopback address a connection to `pod`:`port` goes to, or why it is refused. */
export function routeFor(rules: PodNetworkRule[], pod: PodIdentity | undefined, port: number): { to: string } | { refused: string } {
  if (!pod) return { refused: 'no pod has this address' };
  const matches = rules.filter(
    (r) =>
      r.namespace === pod.namespace &&
      r.port === port &&
      Object.entries(r.matchLabels).every(([k, v]) => pod.labels[k] === v) &&
      (r.pod === undefined || r.pod === pod.name),
  );
  // The most specific rule wins: one naming the pod, then the one matching the most labels.
  const specificity = (r: PodNetworkRule) => (r.pod !== undefined ? 1000 : 0) + Object.keys(r.matchLabels).length;
  const rule = [...matches].sort((a, b) => specificity(b) - specificity(a))[0];
  if (!rule) return { refused: `no local process serves port ${port} of pod ${pod.namespace}/${pod.name}` };
  const [host] = splitHostPort(rule.to);
  if (!host || !net.isIPv4(host) || !host.startsWith('127.')) return { refused: `rule target ${rule.to} is not a loopback address` };
  return { to: rule.to };
}

/**
 * The route for an address several pods claim at once. kwok hands a released address to the next
 * pod at once, so for a moment a Service's endpoint can name an address that a terminating pod
 * and a new one share, or two live pods can carry it; real pod networks do not reuse addresses
 * that fast. The connection goes to the pod that serves the dialled port, if one does.
 */
export function chooseRoute(
  rules: PodNetworkRule[],
  pods: PodIdentity[],
  port: number,
): { pod: PodIdentity | undefined; route: { to: string } | { refused: string } } {
  const routes = pods.map((pod) => ({ pod, route: routeFor(rules, pod, port) }));
  return routes.find((r) => 'to' in r.route) ?? routes[0] ?? { pod: undefined, route: routeFor(rules, undefined, port) };
}

export function splitHostPort(hostPort: string): [string | undefined, number] {
  const i = hostPort.lastIndexOf(':');
  if (i < 0) return [undefined, NaN];
  return [hostPort.slice(0, i).replace(/^\[|\]$/g, ''), Number(hostPort.slice(i + 1))];
}

export function readRules(file: string): PodNetworkRule[] {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return Array.isArray(parsed) ? (parsed as PodNetworkRule[]) : [];
  } catch {
    return [];
  }
}

/** Adds or replaces the rule for (namespace, labels, port); what the launchers call. */
export function writeRule(file: string, rule: PodNetworkRule): void {
  const same = (r: PodNetworkRule) =>
    r.namespace === rule.namespace &&
    r.port === rule.port &&
    r.pod === rule.pod &&
    JSON.stringify(r.matchLabels) === JSON.stringify(rule.matchLabels);
  const rules = [...readRules(file).filter((r) => !same(r)), rule];
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(rules, null, 2));
  fs.renameSync(tmp, file);
}

/** Drops every rule: nothing is served until rules are written again. */
export function clearRules(file: string): void {
  fs.writeFileSync(file, '[]');
}

/** The pods carrying an address, those still running first (a deleted pod keeps its address until it is gone). */
async function podsAt(client: KubeClient, ip: string): Promise<PodIdentity[]> {
  const pods = await client.list<KubeObject>(R.pods, { fieldSelector: `status.podIP=${ip}` });
  return [...pods.items]
    .sort((a, b) => Number(a.metadata.deletionTimestamp !== undefined) - Number(b.metadata.deletionTimestamp !== undefined))
    .map((p) => ({ namespace: p.metadata.namespace ?? '', name: p.metadata.name, labels: p.metadata.labels ?? {} }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { kubeconfig: { type: 'string' }, socket: { type: 'string' }, port: { type: 'string' }, rules: { type: 'string' } },
    strict: true,
  });
  if (!values.kubeconfig || !values.socket || !values.port || !values.rules)
    throw new Error('usage: pod-network.js --kubeconfig F --socket PATH --port P --rules FILE');
  const rulesFile = values.rules;
  const client = await KubeClient.load(values.kubeconfig, 'world-pod-network');
  const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
  // Connections forwarded per pod and port, and refused: tests read them to prove a path was taken.
  const forwarded: Record<string, number> = {};
  let refused = 0;
  const status = http.createServer((req, res) => {
    if (req.url === '/healthz') res.end('ok');
    else if (req.url === '/connections') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ forwarded, refused }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  const proxy = http.createServer((_req, res) => {
    res.statusCode = 405;
    res.end('CONNECT only');
  });
  proxy.on('connect', (req: http.IncomingMessage, client_: net.Socket, head: Buffer) => {
    const target = req.url ?? '';
    const refuse = (code: number, why: string) => {
      refused++;
      log(`refused CONNECT ${target}: ${why}`);
      client_.end(`HTTP/1.1 ${code} ${why.replace(/[\r\n]/g, ' ')}\r\n\r\n`);
    };
    client_.on('error', () => client_.destroy());
    const [host, port] = splitHostPort(target);
    if (!host || !net.isIP(host) || !Number.isInteger(port)) return refuse(400, 'CONNECT target must be IP:port');
    podsAt(client, host).then(
      (pods) => {
        const { pod, route } = chooseRoute(readRules(rulesFile), pods, port);
        if (pods.length > 1)
          log(`${target} is claimed by ${pods.map((p) => `${p.namespace}/${p.name}`).join(', ')}; chose ${pod?.namespace}/${pod?.name}`);
        if ('refused' in route) return refuse(502, `${target}: ${route.refused}`);
        const [toHost, toPort] = splitHostPort(route.to);
        const upstream = net.connect(toPort, toHost!);
        let connected = false;
        upstream.once('connect', () => {
          connected = true;
          const key = `${pod!.namespace}/${pod!.name}:${port}`;
          forwarded[key] = (forwarded[key] ?? 0) + 1;
          client_.write('HTTP/1.1 200 Connection established\r\n\r\n');
          // A tunnel carries request/response exchanges: Nagle's algorithm would hold a small
          // write back until the peer's delayed ACK (~40 ms), a stall a real network path does not add.
          upstream.setNoDelay(true);
          client_.setNoDelay(true);
          if (head.length > 0) upstream.write(head);
          upstream.pipe(client_);
          client_.pipe(upstream);
        });
        upstream.once('error', (err) => {
          if (!connected) refuse(502, `${target} (pod ${pod!.namespace}/${pod!.name}) -> ${route.to}: ${err.message}`);
          else client_.destroy();
        });
        client_.once('close', () => upstream.destroy());
      },
      (err: Error) => refuse(503, `looking up the pod at ${host}: ${err.message}`),
    );
  });
  fs.rmSync(values.socket, { force: true });
  proxy.listen(values.socket, () => log(`pod network proxy on ${values.socket}, rules in ${rulesFile}`));
  status.listen(Number(values.port), '127.0.0.1');
  const stop = () => {
    status.close();
    proxy.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`pod-network: ${(err as Error).message}`);
    process.exit(1);
  });
}
