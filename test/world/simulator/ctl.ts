// Command line for the traffic simulator's API:
//   simctl fault NAMESPACE/SERVICE [--errors RATIO] [--latency MS]   inject a fault
//   simctl clear NAMESPACE/SERVICE                                   remove it
//   simctl traffic NAMESPACE/ROUTE --rate N [--header K=V] [--share S] set a route's request rate
//   simctl reset NAMESPACE/ROUTE                                     back to the default rate
//   simctl faults | stats                                            show state
import { parseArgs } from 'node:util';
import { urls } from '../layout.js';

const usage = `usage:
  simctl fault NAMESPACE/SERVICE [--errors RATIO 0..1] [--latency MS]
  simctl clear NAMESPACE/SERVICE
  simctl traffic NAMESPACE/ROUTE --rate N [--header NAME=VALUE ...] [--share 0..1]
  simctl reset NAMESPACE/ROUTE
  simctl faults | stats`;

async function call(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${urls.simulator}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((err: Error) => {
    throw new Error(`the traffic simulator at ${urls.simulator} is not reachable (${err.message}); is the world up? (make world-up)`);
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  if (text) console.log(text);
}

function target(arg: string | undefined): string {
  if (!arg || !/^[a-z0-9-]+\/[a-z0-9-.]+$/.test(arg)) throw new Error(`expected NAMESPACE/NAME, got ${arg ?? 'nothing'}\n${usage}`);
  return arg;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      errors: { type: 'string' },
      latency: { type: 'string' },
      rate: { type: 'string' },
      header: { type: 'string', multiple: true },
      share: { type: 'string' },
    },
  });
  const [cmd, arg] = positionals;
  switch (cmd) {
    case 'fault':
      return call('PUT', `/faults/${target(arg)}`, { errorRatio: Number(values.errors ?? 0), latencyMs: Number(values.latency ?? 0) });
    case 'clear':
      return call('DELETE', `/faults/${target(arg)}`);
    case 'traffic': {
      const headers = Object.fromEntries((values.header ?? []).map((h) => h.split('=', 2) as [string, string]));
      const share = Number(values.share ?? 1);
      const variants = values.header ? [{ share, headers }, ...(share < 1 ? [{ share: 1 - share }] : [])] : undefined;
      return call('PUT', `/traffic/${target(arg)}`, { ratePerSecond: Number(values.rate ?? 20), variants });
    }
    case 'reset':
      return call('DELETE', `/traffic/${target(arg)}`);
    case 'faults':
      return call('GET', '/faults');
    case 'stats':
      return call('GET', '/stats');
    default:
      console.error(usage);
      process.exit(2);
  }
}

main().catch((err) => {
  console.error(`simctl: ${(err as Error).message}`);
  process.exit(1);
});
