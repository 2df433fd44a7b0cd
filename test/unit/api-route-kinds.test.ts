import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CanaryStatus } from '../../api/flagger-types.js';
import { DEFAULT_ROUTE_KIND, ROUTE_KINDS, routeKindFacts, routeKindFor, routeKindOf } from '../../api/route-kinds.js';
import { mergeRules, routeFor } from '../../controller/router/http-route.js';
import { rev, seedCanary } from './controller-fixtures.js';
import { runs } from './runs.js';

const HTTP = ROUTE_KINDS.HTTPRoute;
const progressing: CanaryStatus = { phase: 'Progressing', lastAppliedSpec: rev('podinfo:6.0.1') };
const asRoute = (spec: unknown) => ({ metadata: { name: 'podinfo' }, spec });

describe('route kinds (api/route-kinds.ts)', () => {
  it('chooses the HTTPRoute for gatewayapi, with a version it knows, and for no provider', () => {
    for (const p of [undefined, null, '', 'gatewayapi', 'gatewayapi:v1', 'gatewayapi:v1beta1'])
      assert.equal(routeKindFor(p), HTTP, String(p));
    for (const p of ['istio', 'gatewayapi:v2', 'gatewayapi:v1:x', 'GatewayAPI', 42, {}, ['gatewayapi']])
      assert.equal(routeKindFor(p), undefined, JSON.stringify(p));
    // An unknown provider still gets a route: the default one (the controller warns about it).
    assert.equal(routeKindOf({ provider: 'linkerd' }), DEFAULT_ROUTE_KIND);
    assert.equal(routeKindFacts('HTTPRoute'), HTTP);
    assert.equal(routeKindFacts('constructor'), undefined);
    assert.equal(routeKindFacts('Service'), undefined);
  });

  it("reads the split of the default rule, not of an A/B match rule before it, nor a person's rule after it", () => {
    const c = seedCanary({ analysis: { iterations: 5, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] } });
    const ours = routeFor(c, progressing, 0).spec.rules;
    // The first rule (one match, both backends) sends its matches to the canary; the default rule does not.
    assert.deepEqual(HTTP.split(asRoute({ rules: ours }), 'podinfo'), { 'podinfo-primary': 100, 'podinfo-canary': 0 });
    const theirs = { matches: [{ path: { type: 'PathPrefix', value: '/old' } }], backendRefs: [{ name: 'legacy', weight: 5 }] };
    const merged = mergeRules(ours, [theirs], 'podinfo');
    assert.deepEqual(HTTP.split(asRoute({ rules: merged }), 'podinfo'), { 'podinfo-primary': 100, 'podinfo-canary': 0 });
    const split = routeFor(seedCanary(), progressing, 30).spec.rules;
    assert.deepEqual(HTTP.split(asRoute({ rules: split }), 'podinfo'), { 'podinfo-primary': 70, 'podinfo-canary': 30 });
    // A backend written without a weight gets the Gateway API's default of 1.
    assert.deepEqual(HTTP.split(asRoute({ rules: [{ backendRefs: [{ name: 'podinfo-primary' }] }] }), 'podinfo'), { 'podinfo-primary': 1 });
    assert.equal(HTTP.split(asRoute({ rules: [theirs] }), 'podinfo'), undefined, "no rule of sluice's: no split");
    assert.equal(HTTP.split(undefined, 'podinfo'), undefined);
  });

  it("locks parents, hostnames and sluice's rules, and leaves a person's rules open", () => {
    const route = routeFor(seedCanary(), progressing, 30).spec;
    const before = HTTP.managedPart(asRoute(route), 'podinfo');
    const withTheirs = { ...route, rules: [...route.rules, { backendRefs: [{ name: 'legacy', weight: 1 }] }] };
    assert.deepEqual(HTTP.managedPart(asRoute(withTheirs), 'podinfo'), before, 'adding a rule of ones own');
    const reweighted = structuredClone(route);
    reweighted.rules[0]!.backendRefs[1]!.weight = 90;
    assert.notDeepEqual(HTTP.managedPart(asRoute(reweighted), 'podinfo'), before, "changing sluice's weights");
    assert.notDeepEqual(HTTP.managedPart(asRoute({ ...route, hostnames: ['evil.example'] }), 'podinfo'), before, 'changing hostnames');
  });

  it('reads any route a person may have written without throwing', () => {
    fc.assert(
      fc.property(fc.anything(), (spec) => {
        const route = asRoute(spec);
        HTTP.managedPart(route, 'podinfo');
        const split = HTTP.split(route, 'podinfo');
        if (split !== undefined) for (const w of Object.values(split)) assert.equal(typeof w, 'number');
      }),
      { numRuns: runs(2000) },
    );
    fc.assert(
      fc.property(fc.array(fc.record({ backendRefs: fc.anything() })), (rules) => {
        HTTP.split(asRoute({ rules }), 'podinfo');
      }),
    );
  });
});
