// A bounded HTTP load task, described the way Flagger's guides write it (a `hey` command line) or
// plainly. The command line is parsed, never executed: only the flags below are understood, and
// rate and duration are capped, so a Canary cannot make the tester do anything but send requests.

export interface LoadTask {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  ratePerSecond: number;
  durationMs: number;
}

export const LIMITS = { maxRatePerSecond: 1000, maxDurationMs: 60 * 60_000 };

function duration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a duration (write 30s, 1m, 1h)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/** Splits a command line on spaces, honouring single and double quotes. */
function words(cmd: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(cmd); m; m = re.exec(cmd)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

/** `hey -z 1m -q 10 -c 2 [-m POST] [-d body] [-H "k: v"] [-host h] URL` as a task. */
export function parseHey(cmd: string): LoadTask {
  const w = words(cmd);
  if (w[0] !== 'hey') throw new Error(`only "hey" load commands are understood, not "${w[0] ?? ''}"; the sluice tester runs no commands`);
  let z = '1m';
  let q = 50;
  let c = 1;
  let method = 'GET';
  let body: string | undefined;
  const headers: Record<string, string> = {};
  let url: string | undefined;
  for (let i = 1; i < w.length; i++) {
    const flag = w[i]!;
    const value = () => {
      const v = w[++i];
      if (v === undefined) throw new Error(`hey flag ${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '-z':
        z = value();
        break;
      case '-q':
        q = Number(value());
        break;
      case '-c':
        c = Number(value());
        break;
      case '-m':
        method = value().toUpperCase();
        break;
      case '-d':
        body = value();
        break;
      case '-H': {
        const h = value();
        const at = h.indexOf(':');
        if (at <= 0) throw new Error(`hey -H "${h}": expected "Name: value"`);
        headers[h.slice(0, at).trim()] = h.slice(at + 1).trim();
        break;
      }
      case '-host':
        headers.host = value();
        break;
      case '-h2':
      case '-disable-keepalive':
        break;
      default:
        if (flag.startsWith('-'))
          throw new Error(`hey flag ${flag} is not understood by the sluice tester (known: -z -q -c -m -d -H -host)`);
        url = flag;
    }
  }
  if (!url) throw new Error('the hey command names no URL');
  return bounded({ url, method, headers, body, ratePerSecond: q * c, durationMs: duration(z) });
}

/** A plain task from webhook metadata: `{type: load, url, rate, duration, method}`. */
export function parsePlain(meta: Record<string, string>): LoadTask {
  if (!meta.url) throw new Error('a load task needs metadata.url');
  return bounded({
    url: meta.url,
    method: (meta.method ?? 'GET').toUpperCase(),
    headers: {},
    ratePerSecond: Number(meta.rate ?? 10),
    durationMs: duration(meta.duration ?? '1m'),
  });
}

function bounded(t: LoadTask): LoadTask {
  if (!/^https?:\/\//.test(t.url)) throw new Error(`load URL ${t.url} must be http:// or https://`);
  if (!(t.ratePerSecond > 0)) throw new Error('the request rate must be positive');
  if (t.ratePerSecond > LIMITS.maxRatePerSecond)
    throw new Error(`rate ${t.ratePerSecond}/s is above the tester's limit of ${LIMITS.maxRatePerSecond}/s`);
  if (t.durationMs > LIMITS.maxDurationMs) throw new Error(`duration above the tester's limit of ${LIMITS.maxDurationMs / 60_000} minutes`);
  return t;
}

export interface RunningTask {
  key: string;
  task: LoadTask;
  started: number;
  sent: number;
  failed: number;
  stop: () => void;
  done: Promise<void>;
}

/** Sends the task's requests at its rate until its duration ends or `stop` is called. */
export function runTask(key: string, task: LoadTask, fetchImpl: typeof fetch = fetch): RunningTask {
  const started = Date.now();
  let stopped = false;
  const r: RunningTask = { key, task, started, sent: 0, failed: 0, stop: () => (stopped = true), done: Promise.resolve() };
  r.done = (async () => {
    const gapMs = 1000 / task.ratePerSecond;
    let next = Date.now();
    const inflight = new Set<Promise<void>>();
    while (!stopped && Date.now() - started < task.durationMs) {
      const p: Promise<void> = fetchImpl(task.url, {
        method: task.method,
        headers: task.headers,
        body: task.body,
        signal: AbortSignal.timeout(10_000),
      })
        .then((res) => {
          if (res.status >= 500) r.failed++;
          return res.arrayBuffer();
        })
        .then(
          () => undefined,
          () => {
            r.failed++;
          },
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
      r.sent++;
      next += gapMs;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
    await Promise.all(inflight);
  })();
  return r;
}
