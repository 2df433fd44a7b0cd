// What wakes a Canary: a noisy gateway writing route status, or an HPA controller writing its
// metrics, costs no reconcile; anything else about the objects a Canary uses does.
import assert from 'node:assert/strict';
import { labels as L } from '../../api/contract.js';
import { canariesConcerned } from '../../controller/wake-ups.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { changedBeyondStatus } from '../../lib/kube/informer.js';
import { seedCanary } from './controller-fixtures.js';

const canary = seedCanary(); // test/podinfo, target podinfo, autoscaler podinfo
const route = (
  over: { status?: unknown; weight?: number; rv?: string; annotations?: Record<string, string> } = {},
): KubeObject & Record<string, unknown> => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: {
    name: 'podinfo',
    namespace: 'test',
    resourceVersion: over.rv ?? '1',
    labels: { [L.canaryName]: 'podinfo' },
    annotations: over.annotations,
  },
  spec: { rules: [{ backendRefs: [{ name: 'podinfo-canary', weight: over.weight ?? 10 }] }] },
  status: over.status ?? { parents: [{ controllerName: 'gw', conditions: [{ type: 'Accepted', status: 'True' }] }] },
});

describe('what wakes a Canary', () => {
  it('a route status written by the gateway wakes nobody, in whatever key order it comes back', () => {
    const reordered = { parents: [{ conditions: [{ status: 'True', type: 'Accepted' }], controllerName: 'gw' }] };
    assert.deepEqual(canariesConcerned('route', 'MODIFIED', route({ rv: '2', status: reordered }), route(), [canary]), []);
    assert.deepEqual(canariesConcerned('route', 'MODIFIED', route({ rv: '3', status: { parents: [] } }), route(), [canary]), []);
  });

  it('a route whose rules or annotations changed wakes its Canary, and so do its creation and deletion', () => {
    assert.deepEqual(canariesConcerned('route', 'MODIFIED', route({ rv: '2', weight: 50 }), route(), [canary]), ['test/podinfo']);
    assert.deepEqual(canariesConcerned('route', 'MODIFIED', route({ rv: '2', annotations: { a: 'b' } }), route(), [canary]), [
      'test/podinfo',
    ]);
    assert.deepEqual(canariesConcerned('route', 'ADDED', route(), undefined, [canary]), ['test/podinfo']);
    assert.deepEqual(canariesConcerned('route', 'DELETED', route(), undefined, [canary]), ['test/podinfo']);
  });

  it("an HPA's metrics wake nobody; its spec wakes the Canary that names it", () => {
    const hpa = (max: number, current: number): KubeObject & Record<string, unknown> => ({
      metadata: { name: 'podinfo', namespace: 'test', resourceVersion: String(current) },
      spec: { maxReplicas: max, scaleTargetRef: { kind: 'Deployment', name: 'podinfo' } },
      status: { currentReplicas: current },
    });
    assert.deepEqual(canariesConcerned('hpa', 'MODIFIED', hpa(4, 3), hpa(4, 2), [canary]), []);
    assert.deepEqual(canariesConcerned('hpa', 'MODIFIED', hpa(6, 3), hpa(4, 2), [canary]), ['test/podinfo']);
  });

  it("a target's status (its rollout) always wakes its Canary; another namespace's Deployment does not", () => {
    const d = (ns: string, ready: number): KubeObject & Record<string, unknown> => ({
      metadata: { name: 'podinfo', namespace: ns, resourceVersion: String(ready) },
      spec: {},
      status: { readyReplicas: ready },
    });
    assert.deepEqual(canariesConcerned('deployment', 'MODIFIED', d('test', 2), d('test', 1), [canary]), ['test/podinfo']);
    assert.deepEqual(canariesConcerned('deployment', 'MODIFIED', d('other', 2), d('other', 1), [canary]), []);
  });

  it('changedBeyondStatus ignores only status and the bookkeeping metadata', () => {
    const base = route();
    const withFields = { ...base, metadata: { ...base.metadata, resourceVersion: '9', managedFields: [{ manager: 'x' }] } };
    assert.equal(changedBeyondStatus(base, withFields), false);
    assert.equal(changedBeyondStatus(base, { ...base, metadata: { ...base.metadata, labels: {} } }), true);
    assert.equal(changedBeyondStatus(undefined, base), true);
  });
});
