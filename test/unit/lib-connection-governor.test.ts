import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { ConnectionGovernor, type ConnectionState, chooseVictim, evictionClass, sourceOf } from '../../lib/connection-governor.js';
import { waitFor } from '../../lib/wait.js';

const SLOW = 2_000;
const conn = (id: number, source: string, over: Partial<ConnectionState> = {}): ConnectionState => ({
  id,
  source,
  openedAt: 0,
  inFlight: 0,
  served: 0,
  ...over,
});

describe('connection governor: who makes room', () => {
  const now = 10_000;
  const cases: [string, ConnectionState, 0 | 1 | 2 | undefined][] = [
    ['opened long ago, never asked anything', conn(1, 'a', { openedAt: 0 }), 0],
    ['opened just now (handshake under way)', conn(1, 'a', { openedAt: now - 10 }), 1],
    ['headers in, body still dripping after the limit', conn(1, 'a', { inFlight: 1, readingSince: now - SLOW }), 0],
    ['a whole request being answered', conn(1, 'a', { inFlight: 1, served: 3 }), undefined],
    ['first request being answered', conn(1, 'a', { inFlight: 1, openedAt: 0 }), undefined],
    ['body arriving, within the limit', conn(1, 'a', { inFlight: 1, readingSince: now - 5 }), undefined],
    ['served before, idle now', conn(1, 'a', { served: 2, lastAnsweredAt: now - 1000 }), 2],
  ];
  for (const [name, c, want] of cases) it(`classifies: ${name}`, () => assert.equal(evictionClass(c, now, SLOW), want));

  it('closes a slow connection before an unproven one, and an unproven one before an idle one', () => {
    const idle = conn(1, 'apiserver', { served: 50, lastAnsweredAt: 0 });
    const unproven = conn(2, 'pod', { openedAt: now - 100 });
    const slow = conn(3, 'pod', { inFlight: 1, readingSince: now - 3000 });
    assert.equal(chooseVictim([idle, unproven, slow], now, SLOW)?.id, 3);
    assert.equal(chooseVictim([idle, unproven], now, SLOW)?.id, 2);
    assert.equal(chooseVictim([idle], now, SLOW)?.id, 1);
  });

  it('among equals, takes from the source holding the most, then the longest idle', () => {
    const open = [
      conn(1, 'apiserver', { served: 9, lastAnsweredAt: 100 }),
      conn(2, 'pod', { served: 1, lastAnsweredAt: 5000 }),
      conn(3, 'pod', { served: 1, lastAnsweredAt: 4000 }),
    ];
    assert.equal(chooseVictim(open, now, SLOW)?.id, 3);
  });

  it('never closes a connection answering a well-formed request: none to close means refuse', () => {
    const busy = [conn(1, 'a', { inFlight: 1, served: 1 }), conn(2, 'b', { inFlight: 1 })];
    assert.equal(chooseVictim(busy, now, SLOW), undefined);
  });

  it('limits the choice to one source when that source is at its own ceiling', () => {
    const open = [conn(1, 'other', { openedAt: 0 }), conn(2, 'me', { served: 1, lastAnsweredAt: 9000 })];
    assert.equal(chooseVictim(open, now, SLOW, 'me')?.id, 2);
    assert.equal(chooseVictim([conn(1, 'other')], now, SLOW, 'me'), undefined);
  });

  it('reads an IPv4-mapped address as the IPv4 source', () => {
    assert.equal(sourceOf('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(sourceOf('fd00::1'), 'fd00::1');
    assert.equal(sourceOf(undefined), 'unknown');
  });
});

describe('connection governor on a real server', function () {
  this.timeout(20_000);
  let server: http.Server;
  let governor: ConnectionGovernor;
  let port: number;
  const counted = { refused: 0, evicted: 0 };
  const held: net.Socket[] = [];

  before(async () => {
    server = http.createServer({ keepAliveTimeout: 60_000, headersTimeout: 60_000, requestTimeout: 60_000 }, (_req, res) => res.end('ok'));
    governor = new ConnectionGovernor(
      { maxConnections: 20, maxPerSource: 12, slowAfterMs: 300 },
      { refused: () => void counted.refused++, evicted: () => void counted.evicted++ },
    );
    governor.attach(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    for (const s of held) s.destroy();
    server.close();
  });

  /** A connection from `from` that sends nothing, as a pod holding connections would. */
  async function hold(from: string): Promise<net.Socket> {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from });
    s.on('error', () => undefined);
    await new Promise<void>((r, j) => s.once('connect', () => r()).once('error', j));
    held.push(s);
    return s;
  }

  /** One request the way the apiserver sends it: a fresh connection, a whole request. */
  function ask(from: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, localAddress: from, path: '/', agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('keeps one source to its ceiling, and still answers another source when every slot is held', async () => {
    for (let i = 0; i < 12; i++) await hold('127.0.0.2');
    await waitFor(() => governor.bySource().get('127.0.0.2') === 12, { timeoutMs: 2000, what: '12 held connections' });
    // Past its ceiling the source's own oldest connection makes room: it never holds more.
    for (let i = 0; i < 5; i++) await hold('127.0.0.2');
    await waitFor(() => governor.bySource().get('127.0.0.2') === 12, { timeoutMs: 2000, what: 'the source back at 12' });
    for (let i = 0; i < 8; i++) await hold('127.0.0.3');
    await waitFor(() => governor.size === 20, { timeoutMs: 2000, what: 'the port full' });
    // The port is full of connections that sent nothing: a whole request still gets its answer.
    for (let i = 0; i < 10; i++) assert.equal(await ask('127.0.0.1'), 200);
    assert.ok(counted.evicted >= 6, `evicted ${counted.evicted}`); // 5 at the source ceiling, 1 for the first request
    assert.ok(governor.size <= 20);
  });

  it('refuses a new connection only when every open one is busy answering', async () => {
    for (const s of held) s.destroy();
    held.length = 0;
    await waitFor(() => governor.size === 0, { timeoutMs: 2000, what: 'all closed' });
    const slowServer = http.createServer(() => undefined); // never answers: every request stays in flight
    const g = new ConnectionGovernor(
      { maxConnections: 3, maxPerSource: 3, slowAfterMs: 60_000 },
      { refused: () => void counted.refused++, evicted: () => undefined },
    );
    g.attach(slowServer);
    await new Promise<void>((r) => slowServer.listen(0, '127.0.0.1', r));
    const p = (slowServer.address() as AddressInfo).port;
    const pending = [0, 1, 2].map(() => {
      const req = http.request({ host: '127.0.0.1', port: p, agent: false, path: '/' });
      req.on('error', () => undefined);
      req.end();
      return req;
    });
    await waitFor(() => g.size === 3, { timeoutMs: 2000, what: 'three requests in flight' });
    const before = counted.refused;
    const s = net.connect({ host: '127.0.0.1', port: p });
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('close', () => r()));
    assert.equal(counted.refused, before + 1);
    for (const r of pending) r.destroy();
    slowServer.closeAllConnections();
    slowServer.close();
  });
});
