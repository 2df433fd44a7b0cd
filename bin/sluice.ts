// One image, one entry point: `sluice webhook|controller|dashboard|tester [flags]`.
// Each command is imported by a literal path, so the compiler checks and emits every one of them
// (a computed path once left the tester out of the image); lazily, so the webhook process does
// not load the controller's code.
import { FlagError } from '../lib/flags.js';

const commands: Record<string, { summary: string; load: () => Promise<(argv: string[]) => Promise<void>> }> = {
  webhook: {
    summary: 'the admission server (freeze, policy, config pinning)',
    load: async () => (await import('../webhook/main.js')).runWebhook,
  },
  controller: {
    summary: 'the rollout controller (canary analysis, promotion, rollback)',
    load: async () => (await import('../controller/main.js')).runController,
  },
  dashboard: {
    summary: 'the web dashboard, in the cluster (people act as themselves; kubectl sluice dashboard runs it locally)',
    load: async () => (await import('../dashboard/main.js')).runDashboard,
  },
  tester: {
    summary: 'gates, rollback switches and load tasks for analysis webhooks',
    load: async () => (await import('../tester/main.js')).runTester,
  },
};

function help(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`);
  return ['usage: sluice COMMAND [flags]', '', 'commands:', ...rows, '', 'sluice COMMAND --help lists the flags of each.'].join('\n');
}

const [command, ...argv] = process.argv.slice(2);
if (command === '--help' || command === '-h' || command === 'help') {
  console.log(help());
  process.exit(0);
}
const entry = command ? commands[command] : undefined;
if (!entry) {
  console.error(`sluice: ${command ? `unknown command "${command}"` : 'no command given'}\n\n${help()}`);
  process.exit(2);
}
try {
  await (await entry.load())(argv);
} catch (err) {
  if (err instanceof FlagError) {
    console.error(`sluice ${command}: ${err.message} (see sluice ${command} --help)`);
    process.exit(2);
  }
  // A start-up failure (unreadable kubeconfig, port in use) is reported in one line, as kubectl does.
  console.error(`sluice ${command}: ${(err as Error).message ?? String(err)}`);
  process.exit(1);
}
