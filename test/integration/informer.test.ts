// The informer against the real apiserver: it keeps following after the server ends its watches,
// and its periodic re-list keeps the cache equal to the truth.
import assert from 'node:assert/strict';
import { at, KubeClient, type KubeObject, R } from '../../lib/kube/client.js';
import { type ChangeType, Informer } from '../../lib/kube/informer.js';
import { waitFor } from '../../lib/wait.js';
import { paths } from '../world/layout.js';
import { admin, deleteNamespace, testNamespace } from '../world/test-clients.js';

describe('informer on the real apiserver', function () {
  this.timeout(60_000);
  let ns: string;
  before(async () => {
    ns = await testNamespace('informer');
  });
  after(async () => deleteNamespace(ns));

  it('sees every change across watches the server ends every second, and re-lists', async () => {
    const client = await KubeClient.load(paths.kubeconfig, 'informer-test');
    const seen: [ChangeType, string][] = [];
    const inf = new Informer<KubeObject & { data?: Record<string, string> }>(client, at(R.configmaps, ns), {
      watchTimeoutSeconds: 1,
      relistIntervalMs: 3000,
    });
    inf.onChange((t, o) => seen.push([t, o.metadata.name]));
    await inf.start();
    const a = await admin();
    const watches = () => client.requestCounts.get('WATCH') ?? 0;
    try {
      for (const name of ['one', 'two', 'three']) {
        const w = watches();
        // Each object is created after the previous watch has ended and a new one began.
        await waitFor(() => watches() >= w + 1, { timeoutMs: 10_000, what: 'the next watch' });
        await a.create(at(R.configmaps, ns), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v: '1' } });
        await waitFor(() => inf.get(ns, name), { timeoutMs: 10_000, what: `${name} in the cache` });
      }
      await a.patch(at(R.configmaps, ns, 'two'), { data: { v: '2' } });
      await waitFor(() => inf.get(ns, 'two')?.data?.v === '2', { timeoutMs: 10_000, what: 'the update of two' });
      await a.delete(at(R.configmaps, ns, 'one'));
      await waitFor(() => inf.get(ns, 'one') === undefined, { timeoutMs: 10_000, what: 'the deletion of one' });
      assert.ok(seen.some(([t, n]) => t === 'MODIFIED' && n === 'two'));
      assert.ok(seen.some(([t, n]) => t === 'DELETED' && n === 'one'));
      const lists = client.requestCounts.get('GET') ?? 0;
      await waitFor(() => (client.requestCounts.get('GET') ?? 0) > lists, { timeoutMs: 10_000, what: 'a periodic re-list' });
      const truth = (await a.list(at(R.configmaps, ns))).items.map((o) => o.metadata.name).sort();
      assert.deepEqual(
        inf
          .items()
          .map((o) => o.metadata.name)
          .sort(),
        truth,
      );
    } finally {
      await inf.stop();
      client.close();
    }
  });
});
