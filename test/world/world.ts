// The local world: `up` builds (or reuses) the control-plane binaries, starts etcd, the
// apiserver, controller-manager, scheduler, kwok, Prometheus and the traffic simulator on
// loopback, and returns once every one is ready; `down` stops what `up` started. Both are
// idempotent. Usage: node dist/test/world/world.js up|down|status
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { waitFor } from '../../lib/wait.js';
import { fakeNodeCount, paths, ports, root, urls } from './layout.js';
import { ensureWorldPki } from './pki.js';
import { adminTls, ok, probe } from './probe.js';
import { ComponentError, ensureStarted, type ProcessSpec, runningPid, startedComponents, stopComponent } from './processes.js';
import { prometheusConfig } from './prometheus-config.js';

interface WorldState {
  binDir: string;
  gatewayCrdDir: string;
  prometheusData?: string;
  startedAt?: string;
  readySeconds?: number;
}

// Stopped in this order (reverse of start); sluice's own processes first.
export const STOP_ORDER = [
  'sluice-controller',
  'sluice-controller-2',
  'sluice-webhook',
  'simulator',
  'real-gateway',
  'prometheus',
  'kwok',
  'pod-network',
  'kube-scheduler',
  'kube-controller-manager',
  'kube-apiserver',
  'etcd',
];

function readState(): WorldState | undefined {
  try {
    return JSON.parse(fs.readFileSync(paths.state, 'utf8')) as WorldState;
  } catch {
    return undefined;
  }
}

function writeState(state: WorldState): void {
  fs.writeFileSync(paths.state, JSON.stringify(state, null, 2));
}

function log(msg: string): void {
  process.stderr.write(`[world] ${msg}\n`);
}

/** Runs the Go build (a no-op once cached) and returns its output directory. */
export interface Binaries {
  binDir: string;
  gatewayCrdDir: string;
  kwokStagesDir: string;
}

export function buildBinaries(): Binaries {
  const out =
    execFileSync('bash', [paths.buildScript], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop() ?? '';
  return { binDir: path.join(out, 'bin'), gatewayCrdDir: path.join(out, 'gateway-api'), kwokStagesDir: path.join(out, 'kwok-stages') };
}

export function kubectl(binDir: string, args: string[], input?: string): string {
  const r = spawnSync(path.join(binDir, 'kubectl'), ['--kubeconfig', paths.kubeconfig, ...args], { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl without blocking the event loop (for callers that serve requests meanwhile); never throws on exit codes. */
export function runKubectl(binDir: string, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(binDir, 'kubectl'), ['--kubeconfig', paths.kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

export async function kubectlAsync(binDir: string, args: string[], input?: string): Promise<string> {
  const r = await runKubectl(binDir, args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

function insecureHealthz(port: number): () => Promise<boolean> {
  return () => ok(`https://127.0.0.1:${port}/healthz`, { insecure: true });
}

/** What kube-controller-manager and kube-scheduler share: admin identity, loopback, one replica. */
function controlLoopArgs(port: number): string[] {
  const kc = paths.kubeconfig;
  return [
    `--kubeconfig=${kc}`,
    `--authentication-kubeconfig=${kc}`,
    `--authorization-kubeconfig=${kc}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--leader-elect=false',
  ];
}

/** The apiserver's "cluster" traffic (webhooks, aggregated APIs, kubelets) goes through the pod network proxy. */
function egressSelectorConfig(): string {
  fs.writeFileSync(
    paths.egressSelectorConfig,
    YAML.stringify({
      apiVersion: 'apiserver.k8s.io/v1beta1',
      kind: 'EgressSelectorConfiguration',
      egressSelections: [
        { name: 'cluster', connection: { proxyProtocol: 'HTTPConnect', transport: { uds: { udsName: paths.podNetworkSocket } } } },
      ],
    }),
  );
  return paths.egressSelectorConfig;
}

function controlPlane({ binDir, kwokStagesDir }: Binaries, pki: ReturnType<typeof ensureWorldPki>): ProcessSpec[] {
  const bin = (name: string) => path.join(binDir, name);
  const stages = fs.readdirSync(kwokStagesDir).map((f) => `--config=${path.join(kwokStagesDir, f)}`);
  const kc = paths.kubeconfig;
  return [
    {
      name: 'etcd',
      command: bin('etcd'),
      args: [
        '--name=world',
        `--data-dir=${paths.etcdData}`,
        `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
        `--initial-cluster=world=http://127.0.0.1:${ports.etcdPeer}`,
        // A throwaway test store: durability is not worth an fsync per write here.
        '--unsafe-no-fsync=true',
        '--log-level=warn',
      ],
      ready: async () => (await probe(`http://127.0.0.1:${ports.etcdClient}/health`)).body.includes('"health":"true"'),
    },
    {
      name: 'kube-apiserver',
      command: bin('kube-apiserver'),
      args: [
        `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${ports.apiserver}`,
        `--cert-dir=${path.join(paths.pki, 'apiserver-generated')}`,
        `--tls-cert-file=${pki.apiserverCertFile}`,
        `--tls-private-key-file=${pki.apiserverKeyFile}`,
        `--client-ca-file=${pki.caFile}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${pki.serviceAccountPubFile}`,
        `--service-account-signing-key-file=${pki.serviceAccountKeyFile}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        // The `kubernetes` Service would point at 127.0.0.1, which EndpointSlices may not hold.
        '--endpoint-reconciler-type=none',
        // Webhooks named by Service are dialled at a ready endpoint (a pod address), through the
        // pod network proxy (pod-network.ts), exactly as a cluster's apiserver reaches them.
        '--enable-aggregator-routing=true',
        `--egress-selector-config-file=${egressSelectorConfig()}`,
        '--profiling=false',
        '--v=1',
      ],
      ready: () => ok(`${urls.apiserver}/readyz`, adminTls()),
      readyTimeoutMs: 90_000,
    },
    {
      name: 'pod-network',
      command: process.execPath,
      args: [
        path.join(root, 'dist/test/world/pod-network.js'),
        '--kubeconfig',
        kc,
        '--socket',
        paths.podNetworkSocket,
        '--port',
        String(ports.podNetwork),
        '--rules',
        paths.podNetworkRules,
      ],
      ready: () => ok(`http://127.0.0.1:${ports.podNetwork}/healthz`),
    },
    {
      name: 'kube-controller-manager',
      command: bin('kube-controller-manager'),
      args: [
        ...controlLoopArgs(ports.controllerManager),
        `--service-account-private-key-file=${pki.serviceAccountKeyFile}`,
        `--root-ca-file=${pki.caFile}`,
        '--cluster-name=sluice-world',
        // HPAs act within seconds (their minimum is enforced even without a metrics server).
        '--horizontal-pod-autoscaler-sync-period=5s',
        // Its client keeps its defaults (20 requests a second, bursts of 30). Raised to 100 or 200,
        // it made 1,000 Deployments available sooner, but in a wave of 100 rollouts it took the
        // two cores from the apiserver and sluice: analysis steps ran up to 2 s late, not 0.2
        // (bench/RESULTS.md). What the benchmark times of sluice does not wait on it.
        '--v=1',
      ],
      ready: insecureHealthz(ports.controllerManager),
    },
    {
      name: 'kube-scheduler',
      command: bin('kube-scheduler'),
      args: [...controlLoopArgs(ports.scheduler), '--v=1'],
      ready: insecureHealthz(ports.scheduler),
    },
    {
      name: 'kwok',
      command: bin('kwok'),
      args: [
        `--kubeconfig=${kc}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        '--cidr=10.244.0.0/16',
        '--node-ip=10.0.0.1',
        `--server-address=127.0.0.1:${ports.kwok}`,
        '--node-lease-duration-seconds=40',
        ...stages,
      ],
      ready: () => ok(`http://127.0.0.1:${ports.kwok}/healthz`),
    },
  ];
}

function observability(state: WorldState): ProcessSpec[] {
  const configFile = path.join(paths.world, 'prometheus.yml');
  fs.writeFileSync(configFile, prometheusConfig());
  state.prometheusData ??= fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-prometheus-'));
  return [
    {
      name: 'prometheus',
      command: path.join(state.binDir, 'prometheus'),
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${state.prometheusData}`,
        `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      ready: () => ok(`${urls.prometheus}/-/ready`),
    },
    {
      name: 'simulator',
      command: process.execPath,
      args: [
        path.join(root, 'dist/test/world/simulator/main.js'),
        '--kubeconfig',
        paths.kubeconfig,
        '--port',
        String(ports.simulator),
        '--rate',
        process.env.SLUICE_SIM_RATE ?? '20',
      ],
      ready: () => ok(`${urls.simulator}/healthz`),
    },
  ];
}

async function clusterReady(binDir: string): Promise<void> {
  await waitFor(
    () => {
      const out = kubectl(binDir, [
        'get',
        'nodes',
        '-o',
        'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
      ]);
      return out.split('\n').filter((s) => s === 'True').length >= fakeNodeCount;
    },
    { timeoutMs: 60_000, what: `${fakeNodeCount} kwok nodes to be Ready (see ${paths.logs}/kwok.log)` },
  );
  await waitFor(() => kubectl(binDir, ['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name']).includes('default'), {
    timeoutMs: 60_000,
    what: `the default ServiceAccount (kube-controller-manager, see ${paths.logs}/kube-controller-manager.log)`,
  });
  await waitFor(
    () =>
      kubectl(binDir, ['get', 'gateway', 'cilium', '-n', 'cilium', '-o', 'jsonpath={.status.conditions[?(@.type=="Accepted")].status}']) ===
      'True',
    { timeoutMs: 30_000, what: `Gateway cilium/cilium to be Accepted (traffic simulator, see ${paths.logs}/simulator.log)` },
  );
}

export async function up(): Promise<WorldState> {
  const t0 = Date.now();
  fs.mkdirSync(paths.world, { recursive: true });
  const binaries = buildBinaries();
  const { binDir, gatewayCrdDir } = binaries;
  const pki = ensureWorldPki();
  const previous = readState();
  const fresh = runningPid('etcd') === undefined;
  if (fresh) {
    // A world that is not running starts clean: no objects left over from an earlier run.
    fs.rmSync(paths.etcdData, { recursive: true, force: true });
    if (previous?.prometheusData) fs.rmSync(previous.prometheusData, { recursive: true, force: true });
    // A token of the last world names a service account that no longer exists.
    fs.rmSync(paths.serviceAccountRoot, { recursive: true, force: true });
    // Rules of the last world name its pods and labels.
    fs.rmSync(paths.podNetworkRules, { force: true });
  }
  const state: WorldState = { binDir, gatewayCrdDir, prometheusData: fresh ? undefined : previous?.prometheusData };
  writeState(state);
  const specs = controlPlane(binaries, pki);
  const started: string[] = [];
  const start = async (spec: ProcessSpec) => {
    if ((await ensureStarted(spec)) === 'started') started.push(spec.name);
  };
  const [etcd, apiserver, ...rest] = specs;
  await start(etcd!);
  await start(apiserver!);
  kubectl(binDir, ['apply', '--server-side', '-f', gatewayCrdDir]);
  kubectl(binDir, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  kubectl(binDir, [
    'apply',
    '--server-side',
    '-f',
    path.join(paths.manifests, 'gateway.yaml'),
    '-f',
    path.join(paths.manifests, 'nodes.yaml'),
  ]);
  await Promise.all(rest.map(start));
  const obs = observability(state);
  writeState(state);
  for (const spec of obs) await start(spec);
  await clusterReady(binDir);
  state.startedAt = new Date().toISOString();
  state.readySeconds = (Date.now() - t0) / 1000;
  writeState(state);
  log(
    `ready in ${state.readySeconds.toFixed(1)} s${started.length ? ` (started ${started.join(', ')})` : ' (already running)'}; kubeconfig: ${paths.kubeconfig}`,
  );
  return state;
}

/**
 * Stops one control-plane component (etcd, kube-apiserver, ...) and starts it again with the same
 * flags and data: a restart in the middle of a test. `crash`: SIGKILL, so it says goodbye to no one
 * (a stopping apiserver sends its watchers a last bookmark; a crashed one does not).
 */
export async function restartControlPlane(name: string, opts: { crash?: boolean } = {}): Promise<void> {
  const spec = controlPlane(buildBinaries(), ensureWorldPki()).find((s) => s.name === name);
  if (!spec) throw new Error(`${name} is not a control-plane component of the world`);
  await stopComponent(name, 10_000, opts.crash === true);
  await ensureStarted(spec);
}

/**
 * Compacts etcd's history up to its current revision (what the apiserver does every 5 minutes):
 * a watch resumed from any older resourceVersion is answered 410 Gone. Answers that revision.
 */
export async function compactEtcd(): Promise<number> {
  const call = async (api: string, body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${ports.etcdClient}/v3/kv/${api}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${api}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { header: { revision: string } };
  };
  const revision = Number((await call('range', { key: Buffer.from('compaction-probe').toString('base64') })).header.revision);
  await call('compaction', { revision: String(revision), physical: true });
  return revision;
}

export async function down(): Promise<void> {
  const known = new Set([...STOP_ORDER, ...startedComponents()]);
  const order = [...STOP_ORDER.filter((n) => known.has(n)), ...[...known].filter((n) => !STOP_ORDER.includes(n))];
  for (const name of order) await stopComponent(name);
  const state = readState();
  if (state?.prometheusData) fs.rmSync(state.prometheusData, { recursive: true, force: true });
  fs.rmSync(paths.etcdData, { recursive: true, force: true });
  fs.rmSync(paths.state, { force: true });
  log(`stopped; logs kept in ${paths.logs}`);
}

export function status(): Record<string, number | undefined> {
  return Object.fromEntries(STOP_ORDER.map((n) => [n, runningPid(n)]));
}

async function cli(): Promise<void> {
  const cmd = process.argv[2];
  try {
    if (cmd === 'up') await up();
    else if (cmd === 'down') await down();
    else if (cmd === 'status') console.log(JSON.stringify(status(), null, 2));
    else if (cmd === 'build') console.log(buildBinaries().binDir);
    else {
      console.error('usage: world.js up|down|status|build');
      process.exit(2);
    }
  } catch (err) {
    log(err instanceof ComponentError ? err.message : `failed: ${(err as Error).message}`);
    if (cmd === 'up') {
      // A half-started world is worse than none: stop everything; the logs stay for reading.
      await down().catch(() => undefined);
    }
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await cli();
