// `sluice tester`: gates, rollback switches and load tasks for analysis webhooks (tester/app.ts).
// `sluice tester --help` lists every flag.
import fs from 'node:fs';
import { FlagError, flagsOrHelp, positiveCount } from '../lib/flags.js';
import { createLogger } from '../lib/logger.js';
import { createTester, TESTER_DEFAULTS } from './app.js';

export const testerProgram = {
  name: 'sluice tester',
  summary: "Answers Flagger's analysis webhooks: confirm gates, rollback switches and bounded load tasks.",
  options: {
    port: { type: 'string', default: '8080', help: 'HTTP port' },
    'bind-address': { type: 'string', default: '0.0.0.0', help: 'address to listen on' },
    'token-file': {
      type: 'string',
      help: "file holding a bearer token that opening and closing gates and rollback switches, and starting load tasks, then need (as Authorization: Bearer, or a hook's metadata.token); checks stay open to hooks",
    },
    'max-switches': { type: 'string', default: String(TESTER_DEFAULTS.maxSwitches), help: 'gates and rollback switches open at once' },
    'max-tasks': { type: 'string', default: String(TESTER_DEFAULTS.maxTasks), help: 'load tasks running at once' },
  },
} as const;

export async function runTester(argv: string[]): Promise<void> {
  const flags = flagsOrHelp(testerProgram, argv);
  const logger = createLogger('tester');
  let token: string | undefined;
  if (flags['token-file']) {
    try {
      token = fs.readFileSync(flags['token-file'], 'utf8').trim();
    } catch (err) {
      throw new FlagError(`--token-file ${flags['token-file']}: ${(err as Error).message}`);
    }
    if (!token) throw new FlagError(`--token-file ${flags['token-file']} is empty`);
  }
  const tester = createTester(logger, {
    token,
    maxSwitches: positiveCount('max-switches', flags['max-switches']),
    maxTasks: positiveCount('max-tasks', flags['max-tasks']),
  });
  const server = tester.app.listen(Number(flags.port), flags['bind-address'], () =>
    logger.info(`tester listening on ${flags['bind-address']}:${flags.port}`),
  );
  const shutdown = async () => {
    server.close();
    await tester.stopAll();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}
