import assert from 'node:assert/strict';
import type { CanaryStatus } from '../../api/flagger-types.js';
import { toGatewayMatch } from '../../controller/router/flagger-match.js';
import { mergeRules, routeFor } from '../../controller/router/http-route.js';
import { rev, seedCanary } from './controller-fixtures.js';

const progressing: CanaryStatus = { phase: 'Progressing', lastAppliedSpec: rev('podinfo:6.0.1') };
const weights = (r: { backendRefs: { name: string; weight: number }[] }) => r.backendRefs.map((b) => `${b.name}=${b.weight}`).join(' ');

describe('HTTPRoute builder', () => {
  it("converts Flagger's Istio-style matches to Gateway API's, cookies included", () => {
    assert.deepEqual(
      toGatewayMatch({
        headers: { 'x-canary': { exact: 'insider' }, cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } },
        uri: { prefix: '/api' },
        method: { exact: 'GET' },
      }),
      {
        headers: [
          { type: 'Exact', name: 'x-canary', value: 'insider' },
          { type: 'RegularExpression', name: 'cookie', value: '^(.*?;)?(canary=always)(;.*)?$' },
        ],
        path: { type: 'PathPrefix', value: '/api' },
        method: 'GET',
      },
    );
    assert.deepEqual(toGatewayMatch({ queryParams: { beta: { prefix: 'y' } } }), {
      queryParams: [{ type: 'RegularExpression', name: 'beta', value: 'y.*' }],
    });
    const native = { headers: [{ type: 'Exact', name: 'x', value: '1' }] };
    assert.deepEqual(toGatewayMatch(native), native);
    assert.throws(() => toGatewayMatch({ headers: { x: {} } }), /match on x needs exact, prefix, suffix or regex/);
  });

  it('A/B: matching requests to the canary while analysing, everything to the primary otherwise', () => {
    const c = seedCanary({ analysis: { iterations: 5, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] } });
    const live = routeFor(c, progressing, 0).spec.rules;
    assert.equal(live.length, 2);
    assert.deepEqual(live[0]!.matches, [{ headers: [{ type: 'Exact', name: 'x-canary', value: 'insider' }] }]);
    assert.equal(weights(live[0]!), 'podinfo-primary=0 podinfo-canary=100');
    assert.equal(weights(live[1]!), 'podinfo-primary=100 podinfo-canary=0');
    const idle = routeFor(c, { phase: 'Succeeded' }, 0).spec.rules;
    assert.deepEqual(idle.map(weights), ['podinfo-primary=100 podinfo-canary=0']);
    const releasing = routeFor(c, { phase: 'Promoting' }, 100).spec.rules;
    assert.deepEqual(releasing.map(weights), ['podinfo-primary=0 podinfo-canary=100']);
  });

  it("A/B within service.match: each A/B match also carries the service's", () => {
    const c = seedCanary({
      spec: { service: { port: 9898, match: [{ uri: { prefix: '/api' } }] } },
      analysis: { iterations: 2, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] },
    });
    assert.deepEqual(routeFor(c, progressing, 0).spec.rules[0]!.matches, [
      { path: { type: 'PathPrefix', value: '/api' }, headers: [{ type: 'Exact', name: 'x-canary', value: 'insider' }] },
    ]);
  });

  it('blue/green: nothing to the canary while analysing, or a mirror of the traffic', () => {
    const plain = routeFor(seedCanary({ analysis: { iterations: 3 } }), progressing, 0).spec.rules;
    assert.deepEqual(plain.map(weights), ['podinfo-primary=100 podinfo-canary=0']);
    assert.equal(plain[0]!.filters, undefined);
    const mirrored = routeFor(seedCanary({ analysis: { iterations: 3, mirror: true } }), progressing, 0).spec.rules;
    assert.deepEqual(mirrored[0]!.filters, [
      { type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'podinfo-canary', port: 9898 } } },
    ]);
  });

  it('session affinity: the canary side sets a cookie for this revision, and a rule sends its holders to the canary', () => {
    const c = seedCanary({
      analysis: { sessionAffinity: { cookieName: 'flagger-cookie', maxAge: 600, primaryCookieName: 'primary-cookie' } },
    });
    const rules = routeFor(c, progressing, 20).spec.rules;
    const value = rev('podinfo:6.0.1').slice(0, 16);
    assert.deepEqual(rules[0]!.matches, [
      { headers: [{ type: 'RegularExpression', name: 'Cookie', value: `(.*; ?)?flagger-cookie=${value}(;.*)?` }] },
    ]);
    assert.equal(weights(rules[0]!), 'podinfo-primary=0 podinfo-canary=100');
    assert.equal(weights(rules[1]!), 'podinfo-primary=100 podinfo-canary=0');
    assert.equal(weights(rules[2]!), 'podinfo-primary=80 podinfo-canary=20');
    assert.deepEqual(rules[2]!.backendRefs[1]!.filters, [
      {
        type: 'ResponseHeaderModifier',
        responseHeaderModifier: { add: [{ name: 'Set-Cookie', value: `flagger-cookie=${value}; Max-Age=600` }] },
      },
    ]);
    // A config-only change (revision template+configs) gets a cookie of its own.
    const cfgRev = `${rev('podinfo:6.0.1')}+${'c'.repeat(16)}`;
    const cfgRules = routeFor(c, { phase: 'Progressing', lastAppliedSpec: cfgRev }, 20).spec.rules;
    assert.match(JSON.stringify(cfgRules[0]!.matches), new RegExp(`flagger-cookie=${rev('podinfo:6.0.1').slice(0, 8)}cccccccc`));
    // Once the rollout is over (or before any weight), no cookie rule: holders are released.
    assert.equal(routeFor(c, { phase: 'Succeeded', lastAppliedSpec: progressing.lastAppliedSpec }, 0).spec.rules.length, 1);
  });

  it('maps headers, rewrite and timeouts onto every rule', () => {
    const c = seedCanary({
      spec: {
        service: {
          port: 9898,
          timeout: '5s',
          backendTimeout: '2s',
          headers: { request: { add: { 'x-env': 'prod' }, remove: ['x-debug'] }, response: { set: { 'x-served-by': 'sluice' } } },
          rewrite: { uri: '/v2' },
        },
      },
    });
    const [rule] = routeFor(c, progressing, 10).spec.rules;
    assert.deepEqual(rule!.filters, [
      { type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-env', value: 'prod' }], remove: ['x-debug'] } },
      { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'x-served-by', value: 'sluice' }] } },
      { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/v2' } } },
    ]);
    assert.deepEqual(rule!.timeouts, { request: '5s', backendRequest: '2s' });
  });

  it('keeps rules and filters it does not own', () => {
    const want = routeFor(seedCanary(), progressing, 30).spec.rules;
    const live = [
      {
        backendRefs: [
          { name: 'podinfo-primary', weight: 100 },
          { name: 'podinfo-canary', weight: 0 },
        ],
        filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }, { type: 'RequestMirror' }],
      },
      { matches: [{ path: { type: 'PathPrefix', value: '/admin' } }], backendRefs: [{ name: 'admin', weight: 1 }] },
    ];
    const merged = mergeRules(want, live, 'podinfo') as { backendRefs: { name: string; weight: number }[]; filters?: unknown[] }[];
    assert.equal(merged.length, 2);
    assert.equal(weights(merged[0]!), 'podinfo-primary=70 podinfo-canary=30');
    assert.deepEqual(
      merged[0]!.filters,
      [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https' } }],
      'their redirect kept, a stale mirror of ours dropped',
    );
    assert.deepEqual(merged[1], live[1]);
  });
});
