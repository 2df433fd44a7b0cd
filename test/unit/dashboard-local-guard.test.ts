// The local dashboard's door (dashboard/local-guard.ts), over real sockets: without the one-time
// link's cookie nothing is answered; the link works once; a wrong Host, a cross-origin or
// origin-less write, a forged cookie and a peer off this machine are refused; a session signed
// with the same key outlives a restart.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import express from 'express';
import { isLoopback, LocalGuard, SESSION_COOKIE } from '../../dashboard/local-guard.js';

interface Door {
  guard: LocalGuard;
  port: number;
  close: () => Promise<void>;
}

async function door(key: Buffer, host = '127.0.0.1', fixedPort = 0): Promise<Door> {
  let port = fixedPort;
  const guard = new LocalGuard({ port: () => port, key });
  const app = express();
  app.use(guard.middleware);
  app.get('/', (_req, res) => void res.send('page'));
  app.post('/act', (_req, res) => void res.send('acted'));
  const server = await new Promise<http.Server>((resolve) => {
    const s = app.listen(fixedPort, host, () => resolve(s));
  });
  port = (server.address() as net.AddressInfo).port;
  return {
    guard,
    port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function ask(
  port: number,
  opts: { method?: string; path?: string; headers?: Record<string, string>; to?: string; from?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: opts.to ?? '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/',
        headers: { host: `127.0.0.1:${port}`, ...opts.headers },
        ...(opts.from ? { localAddress: opts.from } : {}),
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The session cookie the one-time link hands out. */
async function signIn(d: Door): Promise<string> {
  const r = await ask(d.port, { path: `/?token=${d.guard.issueToken()}` });
  assert.equal(r.status, 303, r.body);
  const set = String(r.headers['set-cookie']);
  return set.split(';')[0]!;
}

describe('the local dashboard guard', () => {
  const key = crypto.randomBytes(32);

  it('answers nothing without the session cookie, and the link works exactly once', async () => {
    const d = await door(key);
    try {
      const none = await ask(d.port);
      assert.equal(none.status, 401);
      assert.match(none.body, /open the link/);
      const token = d.guard.issueToken();
      const first = await ask(d.port, { path: `/?token=${token}` });
      assert.equal(first.status, 303);
      assert.equal(first.headers.location, '/', 'the token leaves the address bar');
      const cookie = String(first.headers['set-cookie']);
      assert.match(cookie, new RegExp(`^${SESSION_COOKIE}=`));
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      const again = await ask(d.port, { path: `/?token=${token}` });
      assert.equal(again.status, 401, 'a used link is refused');
      const ok = await ask(d.port, { headers: { cookie: cookie.split(';')[0]! } });
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'page');
    } finally {
      await d.close();
    }
  });

  it('refuses a forged or re-signed cookie', async () => {
    const d = await door(key);
    try {
      const real = await signIn(d);
      const [name, value] = real.split('=') as [string, string];
      const [id] = value.split('.');
      const otherKey = crypto.createHmac('sha256', crypto.randomBytes(32)).update(id!).digest('base64url');
      for (const forged of [`${name}=${id}.${otherKey}`, `${name}=${id}`, `${name}=`, `${name}=x.y`]) {
        assert.equal((await ask(d.port, { headers: { cookie: forged } })).status, 401, forged);
      }
    } finally {
      await d.close();
    }
  });

  it('refuses a Host that is not its own address, even with the cookie (DNS rebinding)', async () => {
    const d = await door(key);
    try {
      const cookie = await signIn(d);
      for (const host of ['evil.example', `evil.example:${d.port}`, `127.0.0.1:${d.port + 1}`]) {
        const r = await ask(d.port, { headers: { cookie, host } });
        assert.equal(r.status, 403, host);
        assert.match(r.body, /is not this dashboard's address/);
      }
      assert.equal((await ask(d.port, { headers: { cookie, host: `localhost:${d.port}` } })).status, 200);
    } finally {
      await d.close();
    }
  });

  it('acts only on a write from its own origin', async () => {
    const d = await door(key);
    try {
      const cookie = await signIn(d);
      const post = (headers: Record<string, string>) => ask(d.port, { method: 'POST', path: '/act', headers: { cookie, ...headers } });
      assert.equal((await post({ origin: 'http://evil.example' })).status, 403, 'cross-origin');
      assert.equal((await post({ origin: `http://127.0.0.1:${d.port + 1}` })).status, 403, 'another port is another origin');
      assert.equal((await post({})).status, 403, 'no Origin at all');
      const ok = await post({ origin: `http://127.0.0.1:${d.port}` });
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'acted');
    } finally {
      await d.close();
    }
  });

  it('keeps a session across a restart with the same key, and not with another', async () => {
    const first = await door(key);
    const cookie = await signIn(first);
    const port = first.port;
    await first.close();
    const again = await door(key, '127.0.0.1', port);
    try {
      assert.equal((await ask(port, { headers: { cookie } })).status, 200);
    } finally {
      await again.close();
    }
    const otherKey = await door(crypto.randomBytes(32), '127.0.0.1', port);
    try {
      assert.equal((await ask(port, { headers: { cookie } })).status, 401);
    } finally {
      await otherKey.close();
    }
  });

  it('refuses a peer that is not this machine, however it reached the socket', async function () {
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
    if (!external) this.skip(); // a machine with loopback only has no other peer to refuse
    const d = await door(key, '0.0.0.0');
    try {
      const cookie = await signIn(d);
      const r = await ask(d.port, { to: external, from: external, headers: { cookie } });
      assert.equal(r.status, 403);
      assert.match(r.body, new RegExp(`answers this machine only, not (::ffff:)?${external.replaceAll('.', '\\.')}`));
    } finally {
      await d.close();
    }
  });

  it('knows loopback addresses in every spelling', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
    for (const a of [undefined, '', '10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', '::', '128.0.0.1', 'fe80::1', '127.0.0.1.evil'])
      assert.ok(!isLoopback(a), String(a));
  });
});
