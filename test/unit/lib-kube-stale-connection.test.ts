// A kept-alive connection the apiserver closed while it sat idle: the first request written to it
// is never read, and the client sends it once more on a fresh connection instead of failing the
// caller with "socket hang up". A connection that dies after an answer began is not retried.
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { at, KubeClient, R } from '../../lib/kube/client.js';

type Answer = 'ok' | 'drop';

async function serverThat(plan: (n: number, reused: boolean) => Answer) {
  const seen: { reused: boolean }[] = [];
  const sockets = new WeakSet<net.Socket>();
  const server = http.createServer((req, res) => {
    const reused = sockets.has(req.socket);
    sockets.add(req.socket);
    seen.push({ reused });
    if (plan(seen.length, reused) === 'drop') {
      // What a server's idle timeout looks like from the client: the connection ends unanswered.
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'c', namespace: 'n' } }));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = KubeClient.fromEndpoint({ server: `http://127.0.0.1:${port}`, headers: async () => ({}) });
  return {
    client,
    seen,
    close: () =>
      new Promise<void>((r) => {
        client.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('KubeClient on a connection the server closed', () => {
  it('sends the request again on a fresh connection when a reused one ends unanswered', async () => {
    const s = await serverThat((n, reused) => (n === 2 && reused ? 'drop' : 'ok'));
    try {
      await s.client.get(at(R.configmaps, 'n', 'c'));
      const again = await s.client.get(at(R.configmaps, 'n', 'c'));
      assert.equal(again.metadata.name, 'c');
      assert.deepEqual(
        s.seen.map((x) => x.reused),
        [false, true, false],
        'the second request went out on the kept-alive socket, then once more on a new one',
      );
    } finally {
      await s.close();
    }
  });

  it('fails when a fresh connection ends unanswered: nothing says the server did not read it', async () => {
    const s = await serverThat(() => 'drop');
    try {
      await assert.rejects(s.client.get(at(R.configmaps, 'n', 'c')), /socket hang up/);
      assert.equal(s.seen.length, 1, 'sent once');
    } finally {
      await s.close();
    }
  });

  it('retries once only: a server that drops every reused request fails the caller', async () => {
    const s = await serverThat((n) => (n === 1 ? 'ok' : 'drop'));
    try {
      await s.client.get(at(R.configmaps, 'n', 'c'));
      await assert.rejects(s.client.get(at(R.configmaps, 'n', 'c')), (err: NodeJS.ErrnoException) => {
        assert.match(err.message, /socket hang up/);
        assert.equal(err.code, 'ECONNRESET', 'still a transport failure by its code, for the informer');
        return true;
      });
      assert.equal(s.seen.length, 3, 'the first, the reused attempt, and one retry');
    } finally {
      await s.close();
    }
  });
});
