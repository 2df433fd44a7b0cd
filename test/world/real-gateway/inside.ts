// The real gateway's side of the world, run by main.ts inside its own user and network
// namespace (unshare --user --map-root-user --net). There, unprivileged, it can give the loopback
// device the whole pod range, so Traefik dials pod addresses exactly as in a cluster and the pod
// listeners answer at them. The apiserver and the control API cross the namespace boundary on
// Unix sockets (bridge.ts).
//   node dist/test/world/real-gateway/inside.js --kubeconfig F --apiserver-port P --api-socket S
//     --control-socket S --metrics-socket S --traefik BIN --token-file F --ca-file F
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import express from 'express';
import { KubeClient } from '../../../lib/kube/client.js';
import { mountFaultApi } from '../simulator/fault-api.js';
import { forward } from './bridge.js';
import { LoadGenerator, validateProfile } from './load.js';
import { PodListeners } from './pod-listeners.js';

const POD_CIDR = '10.244.0.0/16';
/** Traefik's entrypoints inside the namespace: the Gateway's listener port, its API and ping, its metrics. */
const WEB_PORT = 8000;
const API_PORT = 8080;
const METRICS_PORT = 8082;
/** Container ports the world's workloads declare (podinfo's). */
const POD_PORTS = [9898];

function ipCommand(): string {
  // Unprivileged shells often lack /usr/sbin in PATH; iproute2 lives there on Debian.
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (dir && fs.existsSync(`${dir}/ip`)) return `${dir}/ip`;
  }
  throw new Error('the `ip` command (iproute2) is missing: the real gateway needs it to give the pod range to its loopback device');
}

function traefikArgs(a: { apiserverPort: number; tokenFile: string; caFile: string }): string[] {
  return [
    `--entryPoints.web.address=:${WEB_PORT}`,
    `--entryPoints.traefik.address=127.0.0.1:${API_PORT}`,
    `--entryPoints.metrics.address=127.0.0.1:${METRICS_PORT}`,
    '--api.insecure=true',
    // Its web UI is not in the module (built separately from webui/); the API alone is what the world reads.
    '--api.dashboard=false',
    '--ping=true',
    '--metrics.prometheus=true',
    '--metrics.prometheus.entryPoint=metrics',
    '--metrics.prometheus.addServicesLabels=true',
    '--metrics.prometheus.addEntryPointsLabels=true',
    '--providers.kubernetesgateway=true',
    `--providers.kubernetesgateway.endpoint=https://127.0.0.1:${a.apiserverPort}`,
    `--providers.kubernetesgateway.token=${a.tokenFile}`,
    `--providers.kubernetesgateway.certAuthFilePath=${a.caFile}`,
    '--providers.kubernetesgateway.statusAddress.ip=127.0.0.1',
    '--log.level=INFO',
    '--global.checkNewVersion=false',
    '--global.sendAnonymousUsage=false',
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kubeconfig: { type: 'string' },
      'apiserver-port': { type: 'string' },
      'api-socket': { type: 'string' },
      'control-socket': { type: 'string' },
      'metrics-socket': { type: 'string' },
      traefik: { type: 'string' },
      'token-file': { type: 'string' },
      'ca-file': { type: 'string' },
    },
  });
  const need = (k: keyof typeof values) => {
    const v = values[k];
    if (typeof v !== 'string' || !v) throw new Error(`inside: --${k} is required`);
    return v;
  };
  const apiserverPort = Number(need('apiserver-port'));
  const ip = ipCommand();
  execFileSync(ip, ['link', 'set', 'lo', 'up']);
  execFileSync(ip, ['addr', 'add', POD_CIDR, 'dev', 'lo']);
  // The apiserver at the same address and port as on the host, so the kubeconfig works unchanged.
  await forward({ port: apiserverPort }, { path: need('api-socket') });
  await forward({ path: need('metrics-socket') }, { port: METRICS_PORT });

  const client = await KubeClient.load(need('kubeconfig'), 'world-real-gateway');
  const listeners = new PodListeners(client);
  await listeners.start(POD_PORTS);
  const load = new LoadGenerator(WEB_PORT);
  load.start();

  const traefik = spawn(need('traefik'), traefikArgs({ apiserverPort, tokenFile: need('token-file'), caFile: need('ca-file') }), {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  traefik.on('exit', (code, signal) => {
    console.error(`inside: traefik exited (${signal ?? code}); the real gateway stops with it`);
    process.exit(1);
  });

  const app = express();
  app.use(express.json({ limit: '16kb' }));
  app.get('/healthz', async (_req, res) => {
    const ping = await fetch(`http://127.0.0.1:${API_PORT}/ping`).catch(() => undefined);
    res.status(ping?.ok ? 200 : 503).send(ping?.ok ? 'ok' : 'traefik is not answering its ping yet');
  });
  app.get('/counts/:namespace', (req, res) => void res.json(listeners.snapshot(req.params.namespace)));
  app.delete('/counts/:namespace', (req, res) => {
    listeners.reset(req.params.namespace);
    res.status(204).end();
  });
  mountFaultApi(app, listeners.faults);
  app.put('/traffic/:namespace/:route', (req, res) => {
    try {
      const profile = validateProfile(req.body);
      load.set(`${req.params.namespace}/${req.params.route}`, profile);
      res.json(profile);
    } catch (err) {
      res.status(400).json({ error: (err as Error).message });
    }
  });
  app.get('/traffic/:namespace/:route', (req, res) => {
    const stats = load.stats(`${req.params.namespace}/${req.params.route}`);
    if (stats) res.json(stats);
    else res.status(404).json({ error: 'no traffic is sent to that route' });
  });
  app.delete('/traffic/:namespace/:route', (req, res) => {
    load.delete(`${req.params.namespace}/${req.params.route}`);
    res.status(204).end();
  });
  // Traefik's own view of its configuration (read-only): what it serves, to compare with the route.
  app.get(/^\/traefik\/(api\/[A-Za-z0-9@._/-]*)$/, async (req, res) => {
    const upstream = await fetch(`http://127.0.0.1:${API_PORT}/${(req.params as Record<string, string>)[0]}`).catch(() => undefined);
    if (!upstream) {
      res.status(502).json({ error: 'traefik did not answer' });
      return;
    }
    res
      .status(upstream.status)
      .type('application/json')
      .send(await upstream.text());
  });
  const controlSocket = need('control-socket');
  fs.rmSync(controlSocket, { force: true });
  const server = app.listen(controlSocket, () => console.log(`inside: control API on ${controlSocket}`));
  const shutdown = () => {
    server.close();
    listeners.close();
    load.stop();
    traefik.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err) => {
  console.error(`inside: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
