// Open- and closed-loop HTTPS load on loopback. Open loop measures latency from each request's
// scheduled start, so a stalled server shows up in the tail instead of slowing the generator
// (no coordinated omission).
import https from 'node:https';
import { performance } from 'node:perf_hooks';

export interface Target {
  url: URL;
  body: string;
  ca: string;
  agent: https.Agent;
}

export function makeTarget(url: string, body: string, ca: string, sockets = 64): Target {
  return { url: new URL(url), body, ca, agent: new https.Agent({ keepAlive: true, maxSockets: sockets, ca }) };
}

function send(t: Target): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(t.url, { method: 'POST', agent: t.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(t.body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(t.body);
  });
}

export interface LoadResult {
  latenciesMs: number[];
  errors: number;
  seconds: number;
}

/** `rate` requests per second for `seconds`, each timed from its scheduled start. */
export async function openLoop(t: Target, rate: number, seconds: number): Promise<LoadResult> {
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const latencies: number[] = [];
  let errors = 0;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      send(t).then(
        (code) => {
          if (code === 200) latencies.push(performance.now() - due);
          else errors++;
        },
        () => void errors++,
      ),
    );
  }
  await Promise.all(inflight);
  return { latenciesMs: latencies.sort((a, b) => a - b), errors, seconds: (performance.now() - start) / 1000 };
}

/** `concurrency` workers sending back to back for `seconds`: the rate the server sustains. */
export async function closedLoop(t: Target, concurrency: number, seconds: number): Promise<LoadResult> {
  const end = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          if ((await send(t)) === 200) latencies.push(performance.now() - t0);
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { latenciesMs: latencies.sort((a, b) => a - b), errors, seconds: (performance.now() - start) / 1000 };
}
