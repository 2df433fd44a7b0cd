// Answers from parties sluice does not control, read with a ceiling: a huge hook or Prometheus
// answer costs at most the ceiling, and a hook's timeout has a ceiling of its own.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { MAX_ANSWER_BYTES, PrometheusClient, PrometheusError } from '../../controller/analysis/prometheus-client.js';
import { callHook, MAX_HOOK_BODY_BYTES } from '../../controller/hooks/call-hook.js';
import { BodyTooLargeError, readBounded } from '../../lib/bounded-body.js';

/** A server whose every answer is `size` bytes of JSON-ish filler, streamed in 64 KiB chunks without a length. */
async function hugeServer(size: number) {
  let sent = 0;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const push = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', push);
      }
      res.end();
    };
    res.on('close', () => undefined);
    push();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    sent: () => sent,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('answers read with a ceiling', () => {
  it('readBounded: whole under the limit; truncated or refused over it', async () => {
    assert.equal(await readBounded(new Response('hello'), 10), 'hello');
    assert.equal(await readBounded(new Response('hello world'), 5, true), 'hello');
    await assert.rejects(readBounded(new Response('hello world'), 5), BodyTooLargeError);
    await assert.rejects(readBounded(new Response('x'.repeat(100), { headers: { 'content-length': '100' } }), 10), BodyTooLargeError);
  });

  it('a hook answering 300 MiB is read only up to its ceiling, and stops being sent', async () => {
    const s = await hugeServer(300 * 1024 * 1024);
    try {
      const before = process.memoryUsage().rss;
      const r = await callHook(
        { name: 'huge', url: s.url, timeout: '10s' },
        { name: 'c', namespace: 'n', phase: 'Progressing', checksum: '', metadata: {} },
      );
      assert.equal(r.ok, true);
      assert.ok(s.sent() < 50 * 1024 * 1024, `the server got to send ${s.sent()} bytes`);
      assert.ok(process.memoryUsage().rss - before < 100 * 1024 * 1024, 'memory stayed far below the answer');
      assert.ok(MAX_HOOK_BODY_BYTES <= 64 * 1024);
    } finally {
      await s.close();
    }
  });

  it('Prometheus answering past its ceiling is a readable error, not memory', async () => {
    const s = await hugeServer(MAX_ANSWER_BYTES * 4);
    try {
      await assert.rejects(
        new PrometheusClient(s.url, 10_000).query('up'),
        (err: unknown) => err instanceof PrometheusError && err.kind === 'bad-response' && /more than 8 MiB/.test(err.message),
      );
      assert.ok(s.sent() < MAX_ANSWER_BYTES * 4, 'the rest was never read');
    } finally {
      await s.close();
    }
  });

  it("a hook's timeout has a ceiling: 500h is not honoured", async () => {
    let seenSignal: AbortSignal | undefined;
    const started = Date.now();
    const fakeFetch = (async (_url: unknown, init?: RequestInit) => {
      seenSignal = init?.signal ?? undefined;
      throw Object.assign(new Error('timeout'), { name: 'TimeoutError' });
    }) as typeof fetch;
    const r = await callHook(
      { name: 'slow', url: 'http://127.0.0.1:1/', timeout: '500h' },
      { name: 'c', namespace: 'n', phase: 'Progressing', checksum: '', metadata: {} },
      fakeFetch,
    );
    assert.equal(r.ok, false);
    assert.match(r.message, /timed out after 300s/);
    assert.ok(seenSignal, 'the call carries a deadline');
    assert.ok(Date.now() - started < 5000);
  });
});
