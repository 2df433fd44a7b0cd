// Which copy of a Canary a pass acts on (controller/newest-canary.ts): the cache's unless this
// controller holds a newer one it wrote, asking the apiserver only when the cache cannot answer.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Canary, CR } from '../../api/flagger-types.js';
import { compareResourceVersions, NewestCanary } from '../../controller/newest-canary.js';
import { at, type KubeObject, type ResourceRef } from '../../lib/kube/client.js';
import type { ObjectCache } from '../../lib/kube/informer.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';
import { runs } from './runs.js';

const NS = 'team';

function canaryNamed(name: string): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace: NS },
    spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, analysis: { interval: '10s' } },
  } as unknown as Canary;
}

/** An informer cache the test moves by hand: it holds what it was last given, however old. */
class LaggingCache implements ObjectCache<Canary> {
  readonly held = new Map<string, Canary>();
  set(c: Canary): void {
    this.held.set(`${c.metadata.namespace}/${c.metadata.name}`, structuredClone(c));
  }
  drop(name: string): void {
    this.held.delete(`${NS}/${name}`);
  }
  get(namespace: string | undefined, name: string): Canary | undefined {
    return this.held.get(`${namespace}/${name}`);
  }
  items(): Canary[] {
    return [...this.held.values()];
  }
}

/** The memory cluster, counting the GETs the code under test sends. */
class CountingCluster extends MemoryCluster {
  gets = 0;
  override async find<T extends KubeObject>(ref: ResourceRef) {
    this.gets++;
    return super.find<T>(ref);
  }
}

/** A Canary "a" in the apiserver and, unless told otherwise, in the cache as created. */
async function created(inCache = true) {
  const cluster = new CountingCluster();
  const cache = new LaggingCache();
  const canary = await cluster.create<Canary>(at(CR.canaries, NS), canaryNamed('a'));
  if (inCache) cache.set(canary);
  return { cluster, cache, canary, newest: new NewestCanary(cluster, cache) };
}

describe('newest canary', () => {
  it('orders resource versions as integers of any length, and refuses what is not one', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 30n }), fc.bigInt({ min: 1n, max: 10n ** 30n }), (a, b) => {
        const want = a < b ? -1 : a > b ? 1 : 0;
        assert.equal(compareResourceVersions(String(a), String(b)), want);
      }),
      { numRuns: runs(1000) },
    );
    for (const bad of ['', '0', '007', '12a', '-3', ' 1', undefined])
      assert.equal(compareResourceVersions(bad, '5'), undefined, `"${bad}" is not a comparable version`);
  });

  it('answers from the cache without a request while the cache is newest', async () => {
    const { cluster, newest } = await created();
    const read = await newest.read(NS, 'a');
    assert.equal(read?.metadata.name, 'a');
    assert.equal(cluster.gets, 0);
  });

  it('answers with its own write while the cache lags, then the cache once it has caught up', async () => {
    const { cluster, cache, newest } = await created();
    const { body: written } = await cluster.patch<Canary>(at(CR.canaries, NS, 'a', 'status'), { status: { phase: 'Progressing' } });
    newest.remember(written);
    // The watch has not delivered the write: the write wins.
    assert.equal((await newest.read(NS, 'a'))?.status?.phase, 'Progressing');
    assert.equal(newest.size, 1);
    // Someone else wrote after it, and the watch delivered both: the cache wins, nothing is kept.
    const { body: later } = await cluster.patch<Canary>(at(CR.canaries, NS, 'a', 'status'), { status: { phase: 'Promoting' } });
    cache.set(later);
    assert.equal((await newest.read(NS, 'a'))?.status?.phase, 'Promoting');
    assert.equal(newest.size, 0);
    assert.equal(cluster.gets, 0);
  });

  it('never goes back to an older copy it is handed', async () => {
    const { cluster, canary, newest } = await created();
    const { body: newer } = await cluster.patch<Canary>(at(CR.canaries, NS, 'a', 'status'), { status: { phase: 'Progressing' } });
    newest.remember(newer);
    newest.remember(canary);
    assert.equal((await newest.read(NS, 'a'))?.status?.phase, 'Progressing');
  });

  it('asks the apiserver when the cache does not hold the Canary, and forgets one that is gone', async () => {
    const { cluster, cache, canary, newest } = await created(false);
    assert.equal((await newest.read(NS, 'a'))?.metadata.uid, canary.metadata.uid, 'not delivered yet: read from the apiserver');
    assert.equal(cluster.gets, 1);
    await cluster.delete(at(CR.canaries, NS, 'a'));
    cache.drop('a');
    assert.equal(await newest.read(NS, 'a'), undefined);
    assert.equal(newest.size, 0);
  });

  it('asks the apiserver every time versions cannot be compared', async () => {
    const { cluster, cache, canary, newest } = await created(false);
    cache.set({ ...canary, metadata: { ...canary.metadata, resourceVersion: 'opaque-1' } });
    await newest.read(NS, 'a');
    await newest.read(NS, 'a');
    assert.equal(cluster.gets, 2);
  });
});
