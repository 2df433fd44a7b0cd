// The real gateway's host side: bridges the apiserver into the gateway's network namespace and
// the control API and Traefik's metrics out of it, then runs inside.js in a new unprivileged user
// and network namespace. It stops when that namespace's process stops, and takes it down with it.
//   node dist/test/world/real-gateway/main.js --traefik BIN --token-file F --ca-file F
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { paths, ports, root } from '../layout.js';
import { forward } from './bridge.js';
import { namespacesUnavailable } from './user-namespaces.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { traefik: { type: 'string' }, 'token-file': { type: 'string' }, 'ca-file': { type: 'string' } },
  });
  if (!values.traefik || !values['token-file'] || !values['ca-file']) {
    throw new Error('usage: main.js --traefik BIN --token-file F --ca-file F');
  }
  const why = namespacesUnavailable();
  if (why) throw new Error(why);
  await forward({ path: paths.realGatewaySocket('api') }, { port: ports.apiserver });
  await forward({ port: ports.realGatewayControl }, { path: paths.realGatewaySocket('control') });
  await forward({ port: ports.realGatewayMetrics }, { path: paths.realGatewaySocket('metrics') });
  const inside = spawn(
    'unshare',
    [
      '--user',
      '--map-root-user',
      '--net',
      '--',
      process.execPath,
      path.join(root, 'dist/test/world/real-gateway/inside.js'),
      `--kubeconfig=${paths.kubeconfig}`,
      `--apiserver-port=${ports.apiserver}`,
      `--api-socket=${paths.realGatewaySocket('api')}`,
      `--control-socket=${paths.realGatewaySocket('control')}`,
      `--metrics-socket=${paths.realGatewaySocket('metrics')}`,
      `--traefik=${values.traefik}`,
      `--token-file=${values['token-file']}`,
      `--ca-file=${values['ca-file']}`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  inside.on('exit', (code, signal) => {
    console.error(`real-gateway: the namespace's process exited (${signal ?? code})`);
    process.exit(code === 0 ? 0 : 1);
  });
  const stop = () => inside.kill('SIGTERM');
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(`real-gateway: ${(err as Error).message}`);
  process.exit(1);
});
