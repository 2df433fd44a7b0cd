// `sluice tester`: gates, rollback switches and load tasks for analysis webhooks (tester/app.ts).
// `sluice tester --help` lists every flag.
import { flagsOrHelp } from '../lib/flags.js';
import { createLogger } from '../lib/logger.js';
import { createTester } from './app.js';

export const testerProgram = {
  name: 'sluice tester',
  summary: "Answers Flagger's analysis webhooks: confirm gates, rollback switches and bounded load tasks.",
  options: {
    port: { type: 'string', default: '8080', help: 'HTTP port' },
    'bind-address': { type: 'string', default: '0.0.0.0', help: 'address to listen on' },
  },
} as const;

export async function runTester(argv: string[]): Promise<void> {
  const flags = flagsOrHelp(testerProgram, argv);
  const logger = createLogger('tester');
  const tester = createTester(logger);
  const server = tester.app.listen(Number(flags.port), flags['bind-address'], () => logger.info(`tester listening on ${flags['bind-address']}:${flags.port}`));
  const shutdown = async () => {
    server.close();
    await tester.stopAll();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}
