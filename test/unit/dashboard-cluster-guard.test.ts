// The in-cluster dashboard's door (dashboard/cluster-guard.ts) in front of a scripted apiserver:
// no token or a token the apiserver rejects gets 401 (the page is told to ask for one); a good one
// lets the request through with a client that sends that very token; the page's own sign-in sets
// an HttpOnly, SameSite=Strict cookie; a write from another origin, and a token too long to be one,
// never reach the apiserver.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import express from 'express';
import { ClusterGuard, personOf, TOKEN_COOKIE, TokenReviewer } from '../../dashboard/cluster-guard.js';
import { KubeClient } from '../../lib/kube/client.js';

describe('the in-cluster dashboard guard', () => {
  let api: http.Server;
  let server: http.Server;
  let base: string;
  let client: KubeClient;
  const reviews: string[] = [];
  const seenAuth: string[] = [];

  before(async () => {
    api = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.url?.endsWith('/tokenreviews')) {
          const token = (JSON.parse(body) as { spec: { token: string } }).spec.token;
          reviews.push(token);
          res.end(
            JSON.stringify(
              token === 'good'
                ? { status: { authenticated: true, user: { username: 'alice', groups: ['team'] } } }
                : { status: { authenticated: false, error: 'invalid bearer token' } },
            ),
          );
          return;
        }
        seenAuth.push(req.headers.authorization ?? '');
        res.end(JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'x' } }));
      });
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    client = KubeClient.fromEndpoint({
      server: `http://127.0.0.1:${(api.address() as net.AddressInfo).port}`,
      headers: async () => ({ authorization: 'Bearer the-dashboards-own' }),
    });
    const guard = new ClusterGuard({ reviewer: new TokenReviewer(client), client, basePath: '' });
    const app = express();
    app.use((req, res, next) => void guard.middleware(req, res, next));
    app.get('/', (_req, res) => void res.send('page'));
    app.get('/api/me', async (req, res) => {
      const p = personOf(req);
      await p.client.get({ group: '', version: 'v1', plural: 'configmaps', namespace: 'team', name: 'x' });
      res.json({ user: p.identity.username, groups: p.identity.groups });
    });
    app.post('/api/act', (_req, res) => void res.json({ acted: true }));
    server = await new Promise<http.Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(() => {
    client.close();
    server.closeAllConnections();
    server.close();
    api.close();
  });

  it('serves the page to anyone, and the API to no one without a token', async () => {
    assert.equal(await (await fetch(`${base}/`)).text(), 'page');
    const r = await fetch(`${base}/api/me`);
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { login: boolean }).login, true);
  });

  it('refuses a token the apiserver rejects, and one too long to be a token without asking', async () => {
    const before = reviews.length;
    const bad = await fetch(`${base}/api/me`, { headers: { authorization: 'Bearer forged' } });
    assert.equal(bad.status, 401);
    assert.match(((await bad.json()) as { error: string }).error, /did not accept this token/);
    // In a header, node itself refuses it (431); pasted into the sign-in, the dashboard does (413).
    const huge = 'a'.repeat(20_000);
    assert.equal((await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${huge}` } })).status, 431);
    const pasted = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ token: huge }),
    });
    assert.equal(pasted.status, 413);
    assert.deepEqual(reviews.slice(before), ['forged'], 'only the plausible token was reviewed');
  });

  it("lets a good token through, with a client that sends that person's token and not the dashboard's", async () => {
    const r = await fetch(`${base}/api/me`, { headers: { authorization: 'Bearer good' } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { user: 'alice', groups: ['team'] });
    assert.equal(seenAuth.at(-1), 'Bearer good');
    const viaProxy = await fetch(`${base}/api/me`, { headers: { 'x-forwarded-access-token': 'good' } });
    assert.equal(viaProxy.status, 200, "oauth2-proxy's access-token header");
  });

  it('signs in with a pasted token into an HttpOnly, SameSite=Strict cookie, from its own origin only', async () => {
    const login = (origin: string, token: string) =>
      fetch(`${base}/api/login`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
    assert.equal((await login('http://evil.example', 'good')).status, 403);
    assert.equal((await login(base, 'forged')).status, 401);
    const ok = await login(base, 'good');
    assert.equal(ok.status, 200);
    const cookie = ok.headers.get('set-cookie') ?? '';
    assert.match(cookie, new RegExp(`^${TOKEN_COOKIE}=good;`));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const me = await fetch(`${base}/api/me`, { headers: { cookie: `${TOKEN_COOKIE}=good` } });
    assert.equal(me.status, 200);
    const out = await fetch(`${base}/api/logout`, { method: 'POST', headers: { origin: base } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', new RegExp(`^${TOKEN_COOKIE}=;.*Max-Age=0`));
  });

  it('refuses a write from another origin before asking who it is; behind an ingress, the forwarded host counts', async () => {
    const act = (headers: Record<string, string>) =>
      fetch(`${base}/api/act`, { method: 'POST', headers: { authorization: 'Bearer good', ...headers } });
    assert.equal((await act({ origin: 'http://evil.example' })).status, 403);
    assert.equal((await act({})).status, 403, 'no Origin');
    assert.equal((await act({ origin: base })).status, 200);
    assert.equal((await act({ origin: 'https://sluice.example.com', 'x-forwarded-host': 'sluice.example.com' })).status, 200);
  });
});
