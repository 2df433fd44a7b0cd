import assert from 'node:assert/strict';
import { conditionsEqual, routeParentConditions, sameParent, withTransitionTimes } from '../world/simulator/gateway-status.js';

describe('simulator gateway status', () => {
  it('reports Accepted and ResolvedRefs with the observed generation', () => {
    const cs = routeParentConditions(4, []);
    assert.deepEqual(
      cs.map((c) => [c.type, c.status, c.observedGeneration]),
      [
        ['Accepted', 'True', 4],
        ['ResolvedRefs', 'True', 4],
      ],
    );
  });
  it('names missing backends in ResolvedRefs=False', () => {
    const rr = routeParentConditions(1, ['podinfo-canary']).find((c) => c.type === 'ResolvedRefs');
    assert.equal(rr?.status, 'False');
    assert.match(rr?.message ?? '', /podinfo-canary/);
  });
  it('keeps lastTransitionTime while a status holds and moves it when the status flips', () => {
    const before = withTransitionTimes(routeParentConditions(1, []), undefined, 'T1');
    const same = withTransitionTimes(routeParentConditions(2, []), before, 'T2');
    assert.deepEqual(
      same.map((c) => c.lastTransitionTime),
      ['T1', 'T1'],
    );
    const flipped = withTransitionTimes(routeParentConditions(2, ['x']), before, 'T3');
    assert.deepEqual(
      flipped.map((c) => c.lastTransitionTime),
      ['T1', 'T3'],
    );
  });
  it('compares conditions ignoring timestamps and order', () => {
    const a = withTransitionTimes(routeParentConditions(1, []), undefined, 'T1');
    const b = withTransitionTimes(routeParentConditions(1, []), undefined, 'T9').reverse();
    assert.ok(conditionsEqual(a, b));
    assert.ok(!conditionsEqual(a, routeParentConditions(2, [])));
  });
  it('defaults a parentRef namespace to the route namespace', () => {
    assert.ok(sameParent({ name: 'cilium' }, { name: 'cilium', namespace: 'test' }, 'test'));
    assert.ok(!sameParent({ name: 'cilium' }, { name: 'cilium', namespace: 'cilium' }, 'test'));
  });
});
