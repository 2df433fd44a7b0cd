// A /metrics answer from kept parts: the same text either way it is sent, gzip members that a
// scraper reads as one body, and a kept part rendered again only when it changed or aged.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ControllerMetrics } from '../../controller/controller-metrics.js';
import { KeptPart, rendered, sendExposition } from '../../lib/metrics-exposition.js';

async function serve(parts: () => Promise<ReturnType<typeof rendered>[]>) {
  const server = http.createServer(async (req, res) => sendExposition(req, res, 'text/plain; version=0.0.4', await parts()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const get = (acceptGzip: boolean) =>
    new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .get({ port, path: '/metrics', headers: acceptGzip ? { 'accept-encoding': 'gzip' } : {} }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
  return { get, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('metrics exposition', () => {
  it('sends the parts as one body: plain, or as gzip members that decode to the same text', async () => {
    const texts = ['# HELP a A\na 1\n', 'b{x="é"} 2\n', 'c 3\n'];
    const s = await serve(async () => texts.map(rendered));
    try {
      const plain = await s.get(false);
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.body.toString('utf8'), texts.join(''));
      assert.equal(Number(plain.headers['content-length']), plain.body.length);
      const zipped = await s.get(true);
      assert.equal(zipped.headers['content-encoding'], 'gzip');
      assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
      assert.equal(gunzipSync(zipped.body).toString('utf8'), texts.join(''));
    } finally {
      await s.close();
    }
  });

  it('renders a kept part again only when its version moves or it is older than its limit', async () => {
    let renders = 0;
    let version = 0;
    let now = 1_000;
    const part = new KeptPart(async () => `x ${++renders}\n`, { version: () => version, maxAgeMs: 5_000, now: () => now });
    assert.equal((await part.get()).raw.toString(), 'x 1\n');
    now += 4_999;
    assert.equal((await part.get()).raw.toString(), 'x 1\n', 'same version, young enough');
    version++;
    assert.equal((await part.get()).raw.toString(), 'x 2\n', 'a change renders again');
    now += 5_000;
    assert.equal((await part.get()).raw.toString(), 'x 3\n', 'too old renders again');
    assert.equal(renders, 3);
  });

  it("renders the controller's Flagger series once per change, however often it is scraped", async () => {
    const m = new ControllerMetrics(false);
    const canary = { metadata: { name: 'podinfo', namespace: 'test' }, spec: {} } as never;
    m.observe(canary, 'Progressing', 10, 'podinfo-primary', 'podinfo-canary');
    const first = await m.parts();
    const again = await m.parts();
    assert.equal(again[0], first[0], 'the kept rendering, not a new one');
    m.observe(canary, 'Progressing', 20, 'podinfo-primary', 'podinfo-canary');
    const after = await m.parts();
    assert.notEqual(after[0], first[0]);
    assert.match(after[0]!.raw.toString(), /flagger_canary_weight\{workload="podinfo-canary",namespace="test"\} 20/);
  });
});
