// `sluice dashboard [flags]`: the in-cluster dashboard (dashboard/in-cluster.ts). `--help` lists the flags.
import { FlagError, flagsOrHelp } from '../lib/flags.js';
import { KubeClient } from '../lib/kube/client.js';
import { createLogger } from '../lib/logger.js';
import { startClusterDashboard } from './in-cluster.js';

export const dashboardProgram = {
  name: 'sluice dashboard',
  summary:
    'The web dashboard for everyone in the cluster: people sign in with a token the apiserver accepts, see what their RBAC lets them read, and act as themselves.',
  options: {
    port: { type: 'string', default: '8080', help: 'HTTP port (put TLS in front: an ingress, or oauth2-proxy)' },
    'bind-address': { type: 'string', default: '0.0.0.0', help: 'address to listen on' },
    'base-path': { type: 'string', default: '', help: 'path prefix the dashboard is served under behind an ingress, e.g. /sluice' },
    prometheus: {
      type: 'string',
      help: 'Prometheus the charts read the analysis metrics from (the one the controller queries); none: no charts',
    },
    kubeconfig: { type: 'string', help: 'kubeconfig file; in a Pod the mounted service account is used' },
    'in-cluster-root': { type: 'string', help: 'read the service account below this directory (a process outside a Pod that runs as one)' },
  },
} as const;

export async function runDashboard(argv: string[]): Promise<void> {
  const flags = flagsOrHelp(dashboardProgram, argv);
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new FlagError(`--port must be a port number, not "${flags.port}"`);
  const base = flags['base-path'];
  if (base && !/^(\/[A-Za-z0-9._~-]+)+\/?$/.test(base)) throw new FlagError(`--base-path must look like /sluice, not "${base}"`);
  const logger = createLogger('dashboard');
  const client = await KubeClient.load(flags.kubeconfig, 'sluice-dashboard', flags['in-cluster-root']);
  const d = await startClusterDashboard({
    client,
    port,
    address: flags['bind-address'],
    basePath: base,
    logger,
    prometheus: flags.prometheus,
  });
  logger.info(`dashboard listening on ${flags['bind-address']}:${d.port}${base}`);
  const shutdown = async () => {
    await d.close();
    client.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}
