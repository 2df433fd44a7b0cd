#!/usr/bin/env -S node --max-semi-space-size=1
// kubectl-sluice: the kubectl plugin (kubectl finds any `kubectl-<name>` executable on PATH and
// runs it as `kubectl <name>`). Flags follow kubectl's: -n, -A, --context, --kubeconfig, -o.
// The node flag keeps the young generation small: `kubectl sluice dashboard` stays running on a
// laptop (bench/RESULTS.md, dashboard_rss, is measured with it). scripts/install-kubectl-plugin.sh
// and the tests read the flags from this line.
import { parseArgs } from 'node:util';
import { type ActionVerb, VERBS } from '../api/canary-action.js';
import { act, type Context, get, HELP, list, UserError, why } from '../cli/commands.js';
import { COLOURS, PLAIN } from '../cli/screen.js';
import { dashboard } from '../dashboard/command.js';
import { ApiError, KubeClient } from '../lib/kube/client.js';
import { contextNamespace, defaultFile, fileEndpoint } from '../lib/kube/kubeconfig.js';

/**
 * A client for the kubeconfig's current context. A plain file (certificates, a token) is read
 * here; anything else (exec plugins, several files, --context) through client-node, which costs
 * the process some 70 MiB: the dashboard keeps running, so it matters there.
 */
async function connect(file: string | undefined, context: string | undefined): Promise<{ client: KubeClient; namespace?: string }> {
  const plain = context ? undefined : (file ?? defaultFile());
  const endpoint = plain ? await fileEndpoint(plain) : undefined;
  if (plain && endpoint) return { client: KubeClient.fromEndpoint(endpoint, 'kubectl-sluice'), namespace: await contextNamespace(plain) };
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (context) {
    if (!kc.getContextObject(context)) throw new UserError(`no context "${context}" in the kubeconfig`);
    kc.setCurrentContext(context);
  }
  return {
    client: await KubeClient.fromKubeConfig(kc, 'kubectl-sluice'),
    namespace: kc.getContextObject(kc.getCurrentContext())?.namespace,
  };
}

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
        port: { type: 'string' },
        'no-browser': { type: 'boolean' },
        prometheus: { type: 'string' },
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

  const connected = await connect(f.kubeconfig, f.context);
  const namespace = f.namespace ?? connected.namespace ?? 'default';
  const client = connected.client;
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
      case 'dashboard': {
        if (name) throw new UserError(`unexpected argument: ${name}`);
        const port = Number(f.port ?? '0');
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port must be a port number, not "${f.port}"`);
        return await dashboard(client, { port, namespace, openBrowser: f['no-browser'] !== true, prometheus: f.prometheus });
      }
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
