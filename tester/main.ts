// sluice-tester: gates, rollback switches and load tasks for analysis webhooks (tester/app.ts).
//   node dist/tester/main.js [--port 8080] [--bind-address 0.0.0.0]
import { parseArgs } from 'node:util';
import { createLogger } from '../lib/logger.js';
import { createTester } from './app.js';

const { values: flags } = parseArgs({
  options: { port: { type: 'string', default: '8080' }, 'bind-address': { type: 'string', default: '0.0.0.0' } },
  strict: true,
});

const logger = createLogger('tester');
const tester = createTester(logger);
const server = tester.app.listen(Number(flags.port), flags['bind-address']!, () => logger.info(`tester listening on ${flags['bind-address']}:${flags.port}`));
const shutdown = async () => {
  server.close();
  await tester.stopAll();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
