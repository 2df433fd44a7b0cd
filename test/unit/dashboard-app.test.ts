// The dashboard's HTTP surface (dashboard/app.ts) over real sockets, with a scripted apiserver
// behind the person's client: who-am-I and actions pass through to it (its 403 reaches the page
// as it said it), bad input gets a one-line JSON refusal, the list stream starts with a snapshot
// and resumes from Last-Event-ID, shows only what visibleTo allows, and one person's streams are
// bounded.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { createDashboard, type DashboardOptions } from '../../dashboard/app.js';
import { CanaryFeed } from '../../dashboard/canary-feed.js';
import { RightsCache } from '../../dashboard/person.js';
import { KubeClient } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { root } from '../world/layout.js';
import { FakeCanaries } from './dashboard-fixtures.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The apiserver the person's client talks to: who-am-I, and CanaryActions (abort is forbidden). */
async function apiserver() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET') {
        res.statusCode = 404;
        res.end(JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'not here' }));
        return;
      }
      if (req.url?.endsWith('/selfsubjectreviews')) {
        res.end(JSON.stringify({ status: { userInfo: { username: 'alice' } } }));
        return;
      }
      const sent = JSON.parse(body) as { spec: { action: string; canary: string } };
      if (sent.spec.action === 'abort') {
        res.statusCode = 403;
        res.end(JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'User "alice" cannot create resource "canaryactions"' }));
        return;
      }
      res.statusCode = 201;
      res.end(
        JSON.stringify({ ...sent, metadata: { name: 'podinfo-promote-x1', namespace: 'team' }, spec: { ...sent.spec, username: 'alice' } }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

interface Events {
  events: { event: string; id?: string; data: unknown }[];
  status: number;
  close: () => void;
}

/** Opens an event stream and collects its events until `enough` says so (or the answer is not a stream). */
function stream(port: number, p: string, enough: (e: Events['events']) => boolean, headers: Record<string, string> = {}): Promise<Events> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers, agent: false }, (res) => {
      const out: Events = { events: [], status: res.statusCode ?? 0, close: () => req.destroy() };
      if (res.statusCode !== 200) {
        res.resume();
        resolve(out);
        return;
      }
      let buf = '';
      res.on('data', (c) => {
        buf += c;
        let end = buf.indexOf('\n\n');
        while (end >= 0) {
          const fields = new Map<string, string>();
          for (const line of buf.slice(0, end).split('\n')) {
            const colon = line.indexOf(': ');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
          }
          buf = buf.slice(end + 2);
          const event = fields.get('event');
          if (event) out.events.push({ event, id: fields.get('id'), data: JSON.parse(fields.get('data') ?? 'null') });
          end = buf.indexOf('\n\n');
        }
        if (enough(out.events)) resolve(out);
      });
    });
    req.on('error', reject);
  });
}

describe('the dashboard app', () => {
  let api: http.Server;
  let server: http.Server;
  let port: number;
  let source: FakeCanaries;
  let feed: CanaryFeed;
  let client: KubeClient;

  async function start(over: Partial<DashboardOptions> = {}) {
    source = new FakeCanaries();
    source.put('team', 'podinfo');
    source.put('secret', 'hidden');
    feed = new CanaryFeed(source, { coalesceMs: 5 });
    const app = createDashboard({
      guard: (_req, _res, next) => next(),
      personOf: () => ({ client }),
      feedOf: () => feed,
      rights: () => new RightsCache(),
      uiDir: path.join(root, 'dist/dashboard/ui'),
      logger: silent,
      heartbeatMs: 60_000,
      ...over,
    });
    server = await new Promise<http.Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    port = (server.address() as net.AddressInfo).port;
  }

  before(async () => {
    api = await apiserver();
    client = KubeClient.fromEndpoint({ server: `http://127.0.0.1:${(api.address() as net.AddressInfo).port}`, headers: async () => ({}) });
  });
  after(() => {
    client.close();
    api.close();
  });
  afterEach(async () => {
    feed.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const post = (body: string) =>
    fetch(`http://127.0.0.1:${port}/api/canaries/team/podinfo/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  it("acts with the person's client: the apiserver's answer, and its refusal, pass through", async () => {
    await start();
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/api/whoami`)).json(), { user: 'alice' });
    const ok = await post(JSON.stringify({ action: 'promote', reason: 'ship it' }));
    assert.equal(ok.status, 201);
    assert.deepEqual(await ok.json(), {
      name: 'podinfo-promote-x1',
      action: 'promote',
      by: 'alice',
      reason: 'ship it',
      result: 'Pending',
      message: '',
      at: '',
    });
    const refused = await post(JSON.stringify({ action: 'abort' }));
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: string }).error, /cannot create resource "canaryactions"/);
  });

  it('refuses bad input in one JSON line, never with a stack', async () => {
    await start();
    const cases: [string, number, RegExp][] = [
      [JSON.stringify({ action: 'delete-everything' }), 400, /action must be one of/],
      [JSON.stringify({ action: 'break-glass' }), 400, /needs a reason/],
      [JSON.stringify({ action: 'promote', reason: 'x'.repeat(1025) }), 400, /at most 1024/],
      [JSON.stringify({ action: 'promote', reason: 7 }), 400, /reason must be text/],
      ['{not json', 400, /not JSON/],
      [JSON.stringify({ action: 'promote', reason: 'y'.repeat(20_000) }), 413, /too large/],
    ];
    for (const [body, status, message] of cases) {
      const r = await post(body);
      const text = await r.text();
      assert.equal(r.status, status, body.slice(0, 40));
      assert.match(text, message);
      assert.doesNotMatch(text, /at .*\.js:\d+/, 'no stack');
    }
    const badName = await fetch(`http://127.0.0.1:${port}/api/canaries/Team_X/podinfo/actions`, { method: 'POST', body: '{}' });
    assert.equal(badName.status, 400);
  });

  it('streams a snapshot, then only what a reconnecting page missed', async () => {
    await start();
    const first = await stream(port, '/api/stream', (e) => e.length >= 1);
    assert.equal(first.events[0]!.event, 'snapshot');
    const snap = first.events[0]!.data as { id: string; items: { namespace: string; name: string }[] };
    assert.deepEqual(
      snap.items.map((i) => `${i.namespace}/${i.name}`),
      ['secret/hidden', 'team/podinfo'],
    );
    first.close();
    source.put('team', 'podinfo', 30);
    await waitFor(() => feed.since(snap.id)?.length === 1 || undefined, { timeoutMs: 2000, intervalMs: 5, what: 'the batch' });
    const again = await stream(port, '/api/stream', (e) => e.length >= 1, { 'last-event-id': snap.id });
    assert.equal(again.events[0]!.event, 'changes', 'only what it missed, not a snapshot');
    const batch = again.events[0]!.data as { upserts: { step: { weight: number } }[] };
    assert.equal(batch.upserts[0]!.step.weight, 30);
    again.close();
  });

  it('shows a person only the namespaces visibleTo allows, in the snapshot and in every batch', async () => {
    await start({ visibleTo: () => async (ns) => ns === 'team' });
    const s = await stream(port, '/api/stream', (e) => e.length >= 1);
    source.put('secret', 'hidden', 50);
    source.put('team', 'podinfo', 10);
    await waitFor(() => s.events.length >= 2 || undefined, { timeoutMs: 2000, intervalMs: 5, what: 'a batch' });
    s.close();
    const names = (s.events[0]!.data as { items: { name: string }[] }).items.map((i) => i.name);
    assert.deepEqual(names, ['podinfo']);
    const batch = s.events[1]!.data as { upserts: { name: string }[]; removed: string[] };
    assert.deepEqual(
      batch.upserts.map((u) => u.name),
      ['podinfo'],
    );
  });

  it("bounds one person's open streams, and frees a place when one closes", async () => {
    await start({ streamsPerPerson: 2 });
    const a = await stream(port, '/api/stream', (e) => e.length >= 1);
    const b = await stream(port, '/api/canaries/team/podinfo/stream', () => true);
    const c = await stream(port, '/api/stream', () => true);
    assert.equal(c.status, 429);
    a.close();
    await waitFor(async () => (await stream(port, '/api/stream', (e) => e.length >= 1)).status === 200 || undefined, {
      timeoutMs: 2000,
      intervalMs: 20,
      what: 'a place to free up',
    }).then(() => undefined);
    b.close();
  });

  it("answers the kubelet's probes at the root, before the door, even at the root path", async () => {
    let synced = false;
    await start({
      guard: (_req, res) => void res.status(401).json({ error: 'sign in' }),
      ready: () => synced,
    });
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 503);
    synced = true;
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/whoami`)).status, 401, 'the rest is behind the door');
  });

  it('serves the page under its base path', async () => {
    await start({ basePath: '/sluice' });
    const page = await fetch(`http://127.0.0.1:${port}/sluice/canary/team/podinfo`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<base href="\/sluice\/">/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/sluice/api/nothing`)).status, 404);
  });
});
