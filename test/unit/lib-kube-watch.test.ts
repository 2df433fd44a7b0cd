// Every shape of a watch ending, against a scripted server on loopback: the watch settles once,
// with the right outcome, and nothing is left to crash the process (an 'error' nobody hears).
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, KubeClient, type KubeObject, R, type WatchEvent } from '../../lib/kube/client.js';
import { Informer, namespaced, needsList } from '../../lib/kube/informer.js';
import { waitFor } from '../../lib/wait.js';

type Script = (res: http.ServerResponse, socket: net.Socket) => void;

async function scriptedServer(watch: Script, lists: { count: number }) {
  const server = http.createServer((req, res) => {
    if (!req.url?.includes('watch=1')) {
      lists.count++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ metadata: { resourceVersion: String(lists.count) }, items: [] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    // The next tick, as a server that answers headers first would.
    setImmediate(() => watch(res, req.socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    { name: 'c', server: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, skipTLSVerify: true },
    { name: 'u' },
  );
  const client = await KubeClient.fromKubeConfig(kc);
  return {
    client,
    close: () =>
      new Promise<void>((r) => {
        client.close();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const gone = JSON.stringify({
  type: 'ERROR',
  object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' },
});
/** What the informer does with an ERROR event: it throws, to end the watch and re-list. */
const throwOnError = (ev: WatchEvent<KubeObject>) => {
  if (ev.type === 'ERROR') throw new ApiError(410, 'Expired', 'too old resource version', ev.object);
};

describe('watch streams, every way they end', () => {
  const cases: [string, Script, (err: unknown) => void][] = [
    [
      'an ERROR event, the connection left open',
      (res) => res.write(`${gone}\n`),
      (err) => assert.ok(err instanceof ApiError && err.status === 410),
    ],
    ['an ERROR event, then the end', (res) => res.end(`${gone}\n`), (err) => assert.ok(err instanceof ApiError && err.status === 410)],
    [
      'an ERROR event split across chunks',
      (res) => {
        res.write(gone.slice(0, 20));
        setImmediate(() => res.write(`${gone.slice(20)}\n`));
      },
      (err) => assert.ok(err instanceof ApiError),
    ],
    ['a line that is not JSON', (res) => res.write('{"type": "ADDED", "obj\n'), (err) => assert.ok(err instanceof SyntaxError)],
    [
      'the socket torn down mid-stream',
      (_res, socket) => socket.destroy(),
      (err) => assert.match(String((err as Error).message), /aborted|closed|socket hang up|ECONNRESET/),
    ],
    ['the server closing it cleanly', (res) => res.end(), (err) => assert.equal(err, undefined)],
  ];
  for (const [name, script, check] of cases) {
    it(name, async () => {
      const { client, close } = await scriptedServer(script, { count: 0 });
      try {
        const outcome = await client.watch(R.deployments, '1', throwOnError, { timeoutSeconds: 5 }).then(
          () => undefined,
          (err: unknown) => err,
        );
        check(outcome);
      } finally {
        await close();
      }
    });
  }

  it('an abort while the stream is open settles the watch without an error', async () => {
    const { client, close } = await scriptedServer(() => undefined, { count: 0 });
    try {
      const ac = new AbortController();
      const watching = client.watch(R.deployments, '1', throwOnError, { timeoutSeconds: 5, signal: ac.signal });
      setImmediate(() => ac.abort());
      assert.equal(await watching, undefined);
    } finally {
      await close();
    }
  });

  it('the informer re-lists after a 410 ERROR event, and keeps watching', async () => {
    const lists = { count: 0 };
    const { client, close } = await scriptedServer((res) => res.end(`${gone}\n`), lists);
    const errors: unknown[] = [];
    const informer = new Informer(client, R.deployments, { onError: (e) => errors.push(e) });
    try {
      await informer.start();
      await waitFor(() => lists.count >= 3 || undefined, { timeoutMs: 5000, what: 'two re-lists after ERROR events' });
      assert.ok(errors.some((e) => e instanceof ApiError && e.status === 410));
    } finally {
      await informer.stop();
      await close();
    }
  });

  it('the informer resumes from the same resourceVersion after a cut stream, without a list', async () => {
    const lists = { count: 0 };
    const watchedFrom: string[] = [];
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.searchParams.get('watch') !== '1') {
        lists.count++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ metadata: { resourceVersion: '7' }, items: [] }));
        return;
      }
      watchedFrom.push(url.searchParams.get('resourceVersion') ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      // Cut in transit, as an apiserver that is killed or a load balancer that drops it.
      setImmediate(() => req.socket.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser(
      { name: 'c', server: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, skipTLSVerify: true },
      { name: 'u' },
    );
    const client = await KubeClient.fromKubeConfig(kc);
    const informer = new Informer(client, R.deployments, { onError: () => undefined });
    try {
      await informer.start();
      await waitFor(() => watchedFrom.length >= 3 || undefined, { timeoutMs: 5000, what: 'three watches' });
      assert.equal(lists.count, 1, 'no list after a cut stream');
      assert.deepEqual(watchedFrom.slice(0, 3), ['7', '7', '7']);
    } finally {
      await informer.stop();
      client.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('hands a MODIFIED handler the object as it was before, and nothing for ADDED', async () => {
    const obj = (rv: string, ready: number) => ({
      metadata: { name: 'd', namespace: 'n', resourceVersion: rv },
      status: { readyReplicas: ready },
    });
    const { client, close } = await scriptedServer(
      (res) =>
        res.write(
          `${JSON.stringify({ type: 'ADDED', object: obj('2', 0) })}\n${JSON.stringify({ type: 'MODIFIED', object: obj('3', 1) })}\n`,
        ),
      { count: 0 },
    );
    const seen: [string, string | undefined, string | undefined][] = [];
    const informer = new Informer<KubeObject>(client, R.deployments, { onError: () => undefined });
    informer.onChange((type, o, old) => seen.push([type, o.metadata.resourceVersion, old?.metadata.resourceVersion]));
    try {
      await informer.start();
      await waitFor(() => seen.length >= 2 || undefined, { timeoutMs: 5000, what: 'both events' });
      assert.deepEqual(seen.slice(0, 2), [
        ['ADDED', '2', undefined],
        ['MODIFIED', '3', '2'],
      ]);
    } finally {
      await informer.stop();
      await close();
    }
  });

  it('keeps a namespace index that follows adds, moves and deletes, as the store does', async () => {
    const obj = (ns: string, name: string, rv: string) => ({ metadata: { name, namespace: ns, resourceVersion: rv } });
    const events = [
      { type: 'ADDED', object: obj('a', 'x', '2') },
      { type: 'ADDED', object: obj('a', 'y', '3') },
      { type: 'ADDED', object: obj('b', 'x', '4') },
      { type: 'MODIFIED', object: obj('a', 'x', '5') },
      { type: 'DELETED', object: obj('a', 'y', '6') },
    ];
    const { client, close } = await scriptedServer((res) => res.write(events.map((e) => `${JSON.stringify(e)}\n`).join('')), { count: 0 });
    let seen = 0;
    const informer = new Informer<KubeObject>(client, R.deployments, { onError: () => undefined });
    informer.onChange(() => seen++);
    try {
      await informer.start();
      await waitFor(() => seen >= events.length || undefined, { timeoutMs: 5000, what: 'every event' });
      const names = (ns: string) => informer.inNamespace(ns).map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`);
      assert.deepEqual(names('a'), ['x@5']);
      assert.deepEqual(names('b'), ['x@4']);
      assert.deepEqual(names('c'), []);
      assert.deepEqual(
        namespaced(informer, 'a'),
        informer.items().filter((o) => o.metadata.namespace === 'a'),
      );
      // A cache without an index (a test's fake) is filtered.
      const plain = { get: () => undefined, items: () => informer.items() };
      assert.deepEqual(
        namespaced(plain, 'b').map((o) => o.metadata.name),
        ['x'],
      );
    } finally {
      await informer.stop();
      await close();
    }
  });

  it('says which endings need a new list', () => {
    assert.equal(needsList(new ApiError(410, '', 'watch: too old resource version', undefined)), true, '410 at the start of a watch');
    assert.equal(needsList(new ApiError(410, 'WatchError', 'too old', undefined)), true, 'a 410 ERROR event');
    assert.equal(needsList(new ApiError(500, 'WatchError', 'internal', undefined)), true, 'any ERROR event');
    assert.equal(needsList(new SyntaxError('bad line')), true, 'an unreadable line');
    assert.equal(needsList(new ApiError(503, '', 'storage is (re)initializing', undefined)), false, 'an apiserver starting up');
    assert.equal(needsList(new ApiError(403, '', 'forbidden', undefined)), false);
    assert.equal(needsList(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), false);
  });
});
