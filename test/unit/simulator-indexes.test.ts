// The simulator's indexes follow its watches as the scans they replace would read: ready
// endpoints per Service, and which routes a status pass must look at.
import assert from 'node:assert/strict';
import { ChangedRoutes, ReadyEndpointIndex } from '../world/simulator/indexes.js';

const slice = (name: string, service: string | undefined, ready: (boolean | undefined)[], namespace = 'ns') => ({
  metadata: { name, namespace, ...(service ? { labels: { 'kubernetes.io/service-name': service } } : {}) },
  endpoints: ready.map((r) => (r === undefined ? {} : { conditions: { ready: r } })),
});

describe('simulator ready-endpoint index', () => {
  it('sums the ready endpoints of every slice of a Service, counting an unknown readiness as ready', () => {
    const idx = new ReadyEndpointIndex();
    idx.update('ADDED', slice('a-1', 'a', [true, false, undefined]), undefined);
    idx.update('ADDED', slice('a-2', 'a', [true]), undefined);
    idx.update('ADDED', slice('b-1', 'b', [true]), undefined);
    idx.update('ADDED', slice('a-1', 'a', [true], 'other'), undefined);
    assert.equal(idx.of('ns', 'a'), 3);
    assert.equal(idx.of('ns', 'b'), 1);
    assert.equal(idx.of('other', 'a'), 1);
    assert.equal(idx.of('ns', 'c'), 0);
  });

  it('replaces a modified slice, follows one relabelled to another Service, and forgets a deleted one', () => {
    const idx = new ReadyEndpointIndex();
    const first = slice('s', 'a', [true, true]);
    idx.update('ADDED', first, undefined);
    const fewer = slice('s', 'a', [true, false]);
    idx.update('MODIFIED', fewer, first);
    assert.equal(idx.of('ns', 'a'), 1);
    const moved = slice('s', 'b', [true, true]);
    idx.update('MODIFIED', moved, fewer);
    assert.equal(idx.of('ns', 'a'), 0);
    assert.equal(idx.of('ns', 'b'), 2);
    idx.update('DELETED', moved, moved);
    assert.equal(idx.of('ns', 'b'), 0);
    idx.update('ADDED', slice('x', undefined, [true]), undefined);
    assert.equal(idx.of('ns', 'x'), 0, 'a slice of no Service counts for none');
  });
});

describe('simulator changed routes', () => {
  const store = (keys: string[]) => {
    const items = keys.map((k) => ({ metadata: { namespace: k.split('/')[0]!, name: k.split('/')[1]! } }));
    return {
      items: () => items,
      get: (ns: string, name: string) => items.find((i) => i.metadata.namespace === ns && i.metadata.name === name),
    };
  };
  const names = (rs: { metadata: { namespace?: string; name: string } }[]) =>
    rs.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).sort();

  it('gives every route first, then only what was marked since, once', () => {
    const routes = store(['a/r1', 'a/r2', 'b/r1', 'c/r1']);
    const changed = new ChangedRoutes();
    assert.deepEqual(names(changed.take(routes)), ['a/r1', 'a/r2', 'b/r1', 'c/r1']);
    assert.deepEqual(changed.take(routes), []);
    changed.route('b', 'r1');
    changed.route('gone', 'r9');
    assert.deepEqual(names(changed.take(routes)), ['b/r1'], 'a route deleted since is skipped');
    changed.namespace('a');
    changed.route('c', 'r1');
    assert.deepEqual(names(changed.take(routes)), ['a/r1', 'a/r2', 'c/r1']);
    changed.all();
    assert.equal(changed.take(routes).length, 4);
    assert.deepEqual(changed.take(routes), []);
  });
});
