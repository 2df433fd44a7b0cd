// The traffic engine with clients that keep cookies, on routes from sluice's own builder: the
// pure version of the session-affinity scenario.
import assert from 'node:assert/strict';
import { routeFor } from '../../controller/router/http-route.js';
import { SimulatorMetrics } from '../world/simulator/metrics.js';
import type { RouteRule } from '../world/simulator/routing.js';
import { TrafficEngine, type TrafficProfile } from '../world/simulator/traffic.js';
import { rev, seedCanary } from './controller-fixtures.js';

function engineFor(rules: unknown[] | (() => unknown[]), profile: TrafficProfile, seed = 42) {
  let s = seed;
  const random = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return new TrafficEngine(
    {
      routes: () => [{ namespace: 'test', name: 'podinfo', rules: (typeof rules === 'function' ? rules() : rules) as RouteRule[] }],
      backend: () => ({ exists: true, readyEndpoints: 2 }),
      fault: () => undefined,
      profile: () => profile,
    },
    new SimulatorMetrics(),
    random,
  );
}

describe('traffic engine with cookie-keeping clients', () => {
  const canary = seedCanary({ analysis: { sessionAffinity: { cookieName: 'flagger-cookie' } } });
  const status = { phase: 'Progressing' as const, lastAppliedSpec: rev('podinfo:6.0.1') };
  const cookie = `flagger-cookie=${rev('podinfo:6.0.1').slice(0, 16)}`;

  it('a client that reached the canary keeps reaching it; the others are split by weight', () => {
    const e = engineFor(routeFor(canary, status, 20).spec.rules, { ratePerSecond: 1000, variants: [{ share: 1, clients: 50 }] });
    e.tick(4000);
    const st = e.stats.get('test/podinfo')!;
    assert.equal(st.requests, 4000);
    const sticky = st.byCookie[cookie]!;
    assert.ok((sticky['podinfo-canary'] ?? 0) > 100, JSON.stringify(st.byCookie));
    assert.equal(sticky['podinfo-primary'], undefined, 'never the primary while it holds the cookie');
    // Without affinity the same traffic would send ~20% of every client's requests to the canary;
    // with it, the clients that ever reached the canary stay there: far more than 20% overall.
    const share = (st.byBackend['podinfo-canary']?.requests ?? 0) / st.requests;
    assert.ok(share > 0.5, `canary share ${share}`);
  });

  it('once the rollout is over, clients still holding the cookie reach the primary', () => {
    let rules = routeFor(canary, status, 20).spec.rules as unknown[];
    const e = engineFor(() => rules, { ratePerSecond: 1000, variants: [{ share: 1, clients: 10 }] });
    e.tick(1000);
    const during = structuredClone(e.stats.get('test/podinfo')!.byCookie[cookie]!);
    assert.ok((during['podinfo-canary'] ?? 0) > 0 && during['podinfo-primary'] === undefined);
    rules = routeFor(canary, { ...status, phase: 'Succeeded' }, 0).spec.rules;
    e.tick(1000);
    const total = e.stats.get('test/podinfo')!.byCookie[cookie]!;
    assert.equal(total['podinfo-canary'], during['podinfo-canary'], 'no more canary requests');
    assert.ok((total['podinfo-primary'] ?? 0) > 0, 'cookie holders now served by the primary');
  });
});
