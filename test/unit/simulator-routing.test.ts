import assert from 'node:assert/strict';
import { envoyClusterName, matchApplies, pickBackend, type RouteRule, type SimRequest, selectRule } from '../world/simulator/routing.js';

const req = (over: Partial<SimRequest> = {}): SimRequest => ({ method: 'GET', path: '/', headers: {}, query: {}, ...over });
const primary = { name: 'podinfo-primary', port: 9898, weight: 90 };
const canary = { name: 'podinfo-canary', port: 9898, weight: 10 };

describe('simulator routing (Gateway API semantics)', () => {
  describe('matchApplies', () => {
    const cases: [string, Parameters<typeof matchApplies>[0], Partial<SimRequest>, boolean][] = [
      ['default prefix / matches anything', { path: { type: 'PathPrefix', value: '/' } }, { path: '/api/x' }, true],
      ['prefix matches on segment boundary', { path: { type: 'PathPrefix', value: '/api' } }, { path: '/api/x' }, true],
      ['prefix does not match a longer segment', { path: { type: 'PathPrefix', value: '/api' } }, { path: '/apix' }, false],
      ['prefix matches itself', { path: { type: 'PathPrefix', value: '/api' } }, { path: '/api' }, true],
      ['exact path', { path: { type: 'Exact', value: '/healthz' } }, { path: '/healthz' }, true],
      ['exact path mismatch', { path: { type: 'Exact', value: '/healthz' } }, { path: '/healthz/x' }, false],
      ['regex path is anchored', { path: { type: 'RegularExpression', value: '/v[0-9]+' } }, { path: '/v12/x' }, false],
      [
        'header exact, case-insensitive name',
        { headers: [{ name: 'X-Canary', value: 'insider' }] },
        { headers: { 'x-canary': 'insider' } },
        true,
      ],
      [
        'header value is case-sensitive',
        { headers: [{ name: 'x-canary', value: 'insider' }] },
        { headers: { 'x-canary': 'Insider' } },
        false,
      ],
      ['missing header', { headers: [{ name: 'x-canary', value: 'insider' }] }, {}, false],
      [
        'cookie by header regex',
        { headers: [{ name: 'cookie', type: 'RegularExpression', value: '^(.*?;)?(canary=always)(;.*)?$' }] },
        { headers: { cookie: 'a=1;canary=always;b=2' } },
        true,
      ],
      [
        'regex header is a full match',
        { headers: [{ name: 'x-v', type: 'RegularExpression', value: 'beta' }] },
        { headers: { 'x-v': 'beta-2' } },
        false,
      ],
      ['query param', { queryParams: [{ name: 'beta', value: 'on' }] }, { query: { beta: 'on' } }, true],
      ['method', { method: 'POST' }, { method: 'GET' }, false],
      [
        'all conditions are ANDed',
        { headers: [{ name: 'a', value: '1' }], queryParams: [{ name: 'b', value: '2' }] },
        { headers: { a: '1' } },
        false,
      ],
    ];
    for (const [name, match, r, expected] of cases) {
      it(name, () => assert.equal(matchApplies(match, req(r)), expected));
    }
  });

  describe('selectRule', () => {
    const abRules: RouteRule[] = [
      { matches: [{ headers: [{ name: 'x-canary', value: 'insider' }] }], backendRefs: [{ ...canary, weight: 100 }] },
      { backendRefs: [{ ...primary, weight: 100 }] },
    ];
    it('routes a request carrying the header to the header rule', () => {
      assert.equal(selectRule(abRules, req({ headers: { 'x-canary': 'insider' } }))?.backendRefs?.[0]?.name, 'podinfo-canary');
    });
    it('routes other requests to the catch-all rule', () => {
      assert.equal(selectRule(abRules, req())?.backendRefs?.[0]?.name, 'podinfo-primary');
    });
    it('prefers the more specific rule even when it comes later', () => {
      const reversed = [...abRules].reverse();
      assert.equal(selectRule(reversed, req({ headers: { 'x-canary': 'insider' } }))?.backendRefs?.[0]?.name, 'podinfo-canary');
    });
    it('prefers an exact path over a prefix, and a longer prefix over a shorter one', () => {
      const rules: RouteRule[] = [
        { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'a' }] },
        { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], backendRefs: [{ name: 'b' }] },
        { matches: [{ path: { type: 'Exact', value: '/api/health' } }], backendRefs: [{ name: 'c' }] },
      ];
      assert.equal(selectRule(rules, req({ path: '/api/health' }))?.backendRefs?.[0]?.name, 'c');
      assert.equal(selectRule(rules, req({ path: '/api/users' }))?.backendRefs?.[0]?.name, 'b');
      assert.equal(selectRule(rules, req({ path: '/web' }))?.backendRefs?.[0]?.name, 'a');
    });
    it('answers undefined when no rule matches', () => {
      assert.equal(selectRule([{ matches: [{ path: { type: 'Exact', value: '/x' } }], backendRefs: [] }], req({ path: '/y' })), undefined);
    });
  });

  describe('pickBackend', () => {
    it('splits by weight across the unit interval', () => {
      const refs = [primary, canary];
      let toCanary = 0;
      for (let i = 0; i < 1000; i++) if (pickBackend(refs, i / 1000)?.name === 'podinfo-canary') toCanary++;
      assert.equal(toCanary, 100);
    });
    it('never picks a zero-weight backend', () => {
      for (let i = 0; i < 100; i++)
        assert.equal(
          pickBackend(
            [
              { ...primary, weight: 100 },
              { ...canary, weight: 0 },
            ],
            i / 100,
          )?.name,
          'podinfo-primary',
        );
    });
    it('weight defaults to 1', () => {
      assert.equal(pickBackend([{ name: 'a' }, { name: 'b' }], 0.75)?.name, 'b');
    });
    it('answers undefined when every weight is zero', () => {
      assert.equal(pickBackend([{ ...primary, weight: 0 }], 0.5), undefined);
    });
  });

  it('names Envoy clusters <namespace>_<service>_<port>', () => {
    assert.equal(envoyClusterName('test', canary), 'test_podinfo-canary_9898');
    assert.equal(envoyClusterName('test', { name: 'x', namespace: 'other' }), 'other_x_80');
  });
});
