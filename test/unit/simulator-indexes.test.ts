// What the simulator reads without scanning everything, read as the scans it replaced would: ready
// endpoints per Service, and which routes a status pass must look at.
import assert from 'node:assert/strict';
import { ChangedRoutes, readyEndpointsOf } from '../world/simulator/indexes.js';

const slice = (name: string, service: string | undefined, ready: (boolean | undefined)[], namespace = 'ns') => ({
  metadata: { name, namespace, ...(service ? { labels: { 'kubernetes.io/service-name': service } } : {}) },
  endpoints: ready.map((r) => (r === undefined ? {} : { conditions: { ready: r } })),
});
type Slice = ReturnType<typeof slice>;
/** A cache as the informer is, with its namespace index. */
const cache = (slices: Slice[]) => ({
  items: () => slices,
  get: (ns: string | undefined, name: string) => slices.find((s) => s.metadata.namespace === ns && s.metadata.name === name),
  inNamespace: (ns: string) => slices.filter((s) => s.metadata.namespace === ns),
});

describe('simulator ready endpoints', () => {
  it('sums the ready endpoints of every slice of a Service, counting an unknown readiness as ready', () => {
    const slices = cache([
      slice('a-1', 'a', [true, false, undefined]),
      slice('a-2', 'a', [true]),
      slice('b-1', 'b', [true]),
      slice('a-1', 'a', [true], 'other'),
    ]);
    assert.equal(readyEndpointsOf(slices, 'ns', 'a'), 3);
    assert.equal(readyEndpointsOf(slices, 'ns', 'b'), 1);
    assert.equal(readyEndpointsOf(slices, 'other', 'a'), 1);
    assert.equal(readyEndpointsOf(slices, 'ns', 'c'), 0);
  });

  it('reads what the cache holds now: a modified slice, one relabelled to another Service, one deleted', () => {
    assert.equal(readyEndpointsOf(cache([slice('s', 'a', [true, false])]), 'ns', 'a'), 1);
    const moved = cache([slice('s', 'b', [true, true])]);
    assert.equal(readyEndpointsOf(moved, 'ns', 'a'), 0);
    assert.equal(readyEndpointsOf(moved, 'ns', 'b'), 2);
    assert.equal(readyEndpointsOf(cache([]), 'ns', 'b'), 0);
    assert.equal(readyEndpointsOf(cache([slice('x', undefined, [true])]), 'ns', 'x'), 0, 'a slice of no Service counts for none');
  });

  it('reads only the namespace asked for, from the index', () => {
    const slices = { ...cache([slice('a-1', 'a', [true])]), items: () => assert.fail('every slice scanned') };
    assert.equal(readyEndpointsOf(slices, 'ns', 'a'), 1);
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
