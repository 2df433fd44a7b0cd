// Where the local world keeps its files and which loopback ports it listens on: the one place
// every script, test and benchmark reads them from. `.world/kubeconfig` is a stable contract.
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  // Compiled files live in dist/test/world; sources in test/world. Both are three levels down.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(here, up);
}

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) {
    throw new Error(`${name}=${raw} is not a TCP port; unset it or give a number from 1 to 65535`);
  }
  return value;
}

export const root = repoRoot();
export const worldDir = process.env.SLUICE_WORLD_DIR ?? path.join(root, '.world');

export const paths = {
  world: worldDir,
  kubeconfig: path.join(worldDir, 'kubeconfig'),
  controllerKubeconfig: path.join(worldDir, 'controller.kubeconfig'),
  pki: path.join(worldDir, 'pki'),
  logs: path.join(worldDir, 'logs'),
  pids: path.join(worldDir, 'pids'),
  state: path.join(worldDir, 'state.json'),
  etcdData: path.join(worldDir, 'etcd'),
  buildScript: path.join(root, 'test/world/build-binaries.sh'),
  manifests: path.join(root, 'test/world/manifests'),
  podNetworkRules: path.join(worldDir, 'pod-network.json'),
  egressSelectorConfig: path.join(worldDir, 'egress-selector.yaml'),
  // A Unix socket path must stay under 108 bytes, wherever the clone lives: in the temp folder,
  // named after the world directory so two worlds never share one.
  podNetworkSocket: path.join(
    os.tmpdir(),
    `sluice-pod-network-${crypto.createHash('sha256').update(worldDir).digest('hex').slice(0, 10)}.sock`,
  ),
  /** The real gateway's sockets across its network namespace boundary (short paths, as podNetworkSocket). */
  realGatewaySocket: (what: 'api' | 'control' | 'metrics') =>
    path.join(os.tmpdir(), `sluice-gw-${crypto.createHash('sha256').update(worldDir).digest('hex').slice(0, 10)}-${what}.sock`),
  realGateway: path.join(worldDir, 'real-gateway'),
  /** Where the world's sluice processes find their service account, as a kubelet mounts it. */
  serviceAccountRoot: path.join(worldDir, 'serviceaccount-root'),
};

export const ports = {
  etcdClient: port('SLUICE_ETCD_PORT', 23790),
  etcdPeer: port('SLUICE_ETCD_PEER_PORT', 23800),
  apiserver: port('SLUICE_APISERVER_PORT', 26443),
  controllerManager: port('SLUICE_KCM_PORT', 20257),
  scheduler: port('SLUICE_SCHEDULER_PORT', 20259),
  kwok: port('SLUICE_KWOK_PORT', 20247),
  prometheus: port('SLUICE_PROMETHEUS_PORT', 29090),
  simulator: port('SLUICE_SIMULATOR_PORT', 28080),
  podNetwork: port('SLUICE_POD_NETWORK_PORT', 28090),
  webhook: port('SLUICE_WEBHOOK_PORT', 28443),
  webhookMetrics: port('SLUICE_WEBHOOK_METRICS_PORT', 28081),
  controllerMetrics: port('SLUICE_CONTROLLER_METRICS_PORT', 28082),
  /** The real gateway's control API (pod listeners, load, Traefik's own API) and Traefik's metrics, bridged out of its namespace. */
  realGatewayControl: port('SLUICE_REAL_GATEWAY_PORT', 28091),
  realGatewayMetrics: port('SLUICE_REAL_GATEWAY_METRICS_PORT', 28092),
};

export const urls = {
  apiserver: `https://127.0.0.1:${ports.apiserver}`,
  prometheus: `http://127.0.0.1:${ports.prometheus}`,
  simulator: `http://127.0.0.1:${ports.simulator}`,
  webhook: `https://127.0.0.1:${ports.webhook}`,
  realGateway: `http://127.0.0.1:${ports.realGatewayControl}`,
};

/** The identity the controller runs as, in the world and in a cluster alike. */
export const controllerUser = 'system:serviceaccount:sluice-system:sluice-controller';
export const fakeNodeCount = 3;
