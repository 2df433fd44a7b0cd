#!/usr/bin/env node
// kubectl-sluice: the kubectl plugin (kubectl finds any `kubectl-<name>` executable on PATH and
// runs it as `kubectl <name>`). Flags follow kubectl's: -n, -A, --context, --kubeconfig, -o.
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { type ActionVerb, VERBS } from '../api/canary-action.js';
import { act, type Context, get, HELP, list, UserError, why } from '../cli/commands.js';
import { COLOURS, PLAIN } from '../cli/screen.js';
import { ApiError, KubeClient } from '../lib/kube/client.js';

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        context: { type: 'string' },
        kubeconfig: { type: 'string' },
        output: { type: 'string', short: 'o' },
        watch: { type: 'boolean', short: 'w' },
        reason: { type: 'string' },
        wait: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UserError(`${(err as Error).message}; see kubectl sluice --help`);
  }
  const { values: f, positionals } = parsed;
  const [command, name, ...extra] = positionals;
  if (f.help || !command || command === 'help') {
    process.stdout.write(HELP);
    return command || f.help ? 0 : 2;
  }
  if (extra.length > 0) throw new UserError(`unexpected arguments: ${extra.join(' ')}`);
  const output = f.output ?? 'text';
  if (output !== 'text' && output !== 'json' && output !== 'yaml') throw new UserError(`--output must be json or yaml, not "${output}"`);

  const kc = new KubeConfig();
  if (f.kubeconfig) kc.loadFromFile(f.kubeconfig);
  else kc.loadFromDefault();
  if (f.context) {
    if (!kc.getContextObject(f.context)) throw new UserError(`no context "${f.context}" in the kubeconfig`);
    kc.setCurrentContext(f.context);
  }
  const namespace = f.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const client = await KubeClient.fromKubeConfig(kc, 'kubectl-sluice');
  const tty = process.stdout.isTTY === true;
  const ctx: Context = {
    client,
    namespace,
    allNamespaces: f['all-namespaces'] === true,
    output,
    paint: tty && !process.env.NO_COLOR ? COLOURS : PLAIN,
    out: (s) => void process.stdout.write(s),
    tty,
  };
  const needName = (what: string) => {
    if (!name) throw new UserError(`${command} needs ${what}; see kubectl sluice --help`);
    return name;
  };
  try {
    switch (command) {
      case 'get': {
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        return await get(ctx, name, f.watch === true, stop.signal);
      }
      case 'list':
        return await list(ctx);
      case 'why':
        return await why(ctx, needName('a Deployment name, or statefulset/NAME'));
      default:
        if ((VERBS as readonly string[]).includes(command)) {
          const waitS = Number(f.wait ?? '30');
          if (!Number.isFinite(waitS) || waitS < 0) throw new UserError(`--wait must be a number of seconds, not "${f.wait}"`);
          if (command === 'break-glass' && !f.reason?.trim())
            throw new UserError('break-glass needs --reason: it is recorded with your name in the CanaryAction, an Event and a metric');
          return await act(ctx, command as ActionVerb, needName('a Canary name'), f.reason, waitS * 1000);
        }
        throw new UserError(`unknown command "${command}"; see kubectl sluice --help`);
    }
  } finally {
    client.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  // As kubectl words it: one line, "error: ...", the apiserver's own message for refusals.
  const message = err instanceof ApiError || err instanceof UserError ? err.message : `${(err as Error).message ?? String(err)}`;
  process.stderr.write(`error: ${message}\n`);
  process.exitCode = 1;
}
