// The canary gets traffic only once its Service lists a ready pod (controller/canary-endpoints.ts):
// what is kept of an EndpointSlice, the count over a Service's slices, and the state machine
// holding the first step until the count is above zero.
import assert from 'node:assert/strict';
import type { CanaryStatus } from '../../api/flagger-types.js';
import { readyEndpoints, type SlimEndpointSlice, slimEndpointSlice } from '../../controller/canary-endpoints.js';
import { decide } from '../../controller/state-machine.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { copyOf, deployment, observed, rev, seedCanary } from './controller-fixtures.js';

const slice = (name: string, service: string, conditions: ({ ready?: boolean } | undefined)[]) =>
  ({
    metadata: {
      name,
      namespace: 'test',
      resourceVersion: '7',
      labels: {
        'kubernetes.io/service-name': service,
        'sluice.dev/canary-name': 'podinfo',
        'app.kubernetes.io/managed-by': 'sluice',
        team: 'x',
      },
    },
    endpoints: conditions.map((c) => ({ addresses: ['10.0.0.1'], conditions: c })),
  }) as KubeObject;

describe('canary endpoints', () => {
  it('keeps a slice as its Service and its ready count; an endpoint without a ready condition counts as ready', () => {
    const s = slimEndpointSlice(slice('a', 'podinfo-canary', [{ ready: true }, { ready: false }, {}, undefined]));
    assert.equal(s.ready, 3);
    assert.deepEqual(s.metadata.labels, { 'kubernetes.io/service-name': 'podinfo-canary', 'sluice.dev/canary-name': 'podinfo' });
    assert.equal(slimEndpointSlice({ metadata: { name: 'b' }, endpoints: null } as never).ready, 0, 'a slice with no endpoints');
  });

  it('sums a Service’s slices in its namespace only', () => {
    const items: SlimEndpointSlice[] = [
      slimEndpointSlice(slice('a', 'podinfo-canary', [{ ready: true }])),
      slimEndpointSlice(slice('b', 'podinfo-canary', [{ ready: true }, { ready: true }])),
      slimEndpointSlice(slice('c', 'podinfo-primary', [{ ready: true }])),
      {
        ...slimEndpointSlice(slice('d', 'podinfo-canary', [{ ready: true }])),
        metadata: { name: 'd', namespace: 'other', labels: { 'kubernetes.io/service-name': 'podinfo-canary' } },
      },
    ];
    const cache = { get: () => undefined, items: () => items };
    assert.equal(readyEndpoints(cache, 'test', 'podinfo-canary'), 3);
    assert.equal(readyEndpoints(cache, 'test', 'nothing'), 0);
  });

  it('holds the first step while the ready canary is not listed, then takes it', () => {
    const settings = { minIntervalMs: 1000, pollMs: 1000 };
    const st: CanaryStatus = {
      phase: 'Progressing',
      canaryWeight: 0,
      iterations: 0,
      lastPromotedSpec: rev('podinfo:6.0.0'),
      lastAppliedSpec: rev('podinfo:6.0.1'),
      lastTransitionTime: new Date().toISOString(),
    };
    const canary = seedCanary({ status: st });
    const target = deployment('podinfo:6.0.1', { paused: true });
    const look = (canaryEndpoints: number | undefined) =>
      decide(canary, { ...observed(target, copyOf('podinfo:6.0.1', 2)), canaryEndpoints }, undefined, new Date(), settings);
    const held = look(0);
    assert.equal(held.status.canaryWeight, 0);
    assert.match(
      held.events[0]?.message ?? '',
      /Waiting for podinfo-canary\.test to list the ready pods of podinfo-canary\.test: no ready endpoint yet/,
    );
    assert.equal(look(1).status.canaryWeight, 10);
    assert.equal(look(undefined).status.canaryWeight, 10, 'unknown (no EndpointSlice cache): not held');
  });
});
