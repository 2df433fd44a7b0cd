// What admission reads from its caches, over an in-memory cluster: the Canary a created
// Deployment falls under, a predecessor's serving pods, the policies of a namespace, the pins of
// primary pods, and "unknown" until every cache has listed.
import assert from 'node:assert/strict';
import { annotations as A, labels as L, values } from '../../api/contract.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import { type ClusterCanaryPolicy, POLICY_REF } from '../../api/policy-types.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import type { ObjectCache } from '../../lib/kube/informer.js';
import { AdmissionCache, slimCanary, slimDaemonSet, slimManaged, slimReplicaSet } from '../../webhook/admission-cache.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';
import { seedCanary } from './controller-fixtures.js';

function setup() {
  const cluster = new MemoryCluster();
  let synced = true;
  // Every cache holds what the webhook's informers keep (their transforms), so each test below
  // also shows that the slimmed objects answer as the whole ones would.
  const cache = new AdmissionCache({
    namespaces: cluster.cache(R.namespaces),
    policies: cluster.cache(POLICY_REF),
    canaries: slimmed(cluster.cache<Canary>(CR.canaries), slimCanary),
    managed: slimmed(
      cluster.cache<KubeObject>(R.deployments, (d) => d.metadata.labels?.[L.managed] === values.managed),
      slimManaged,
    ),
    daemonSets: slimmed(
      cluster.cache<KubeObject>(R.daemonsets, (d) => d.metadata.labels?.[L.managed] === values.managed),
      slimDaemonSet,
    ),
    replicaSets: slimmed(cluster.cache<KubeObject>(R.replicasets), (r) => slimReplicaSet(r)),
    synced: () => synced,
    start: () => undefined,
  });
  return { cluster, cache, setSynced: (v: boolean) => void (synced = v) };
}
/** A cache read through a transform, as an informer with that transform holds it. */
function slimmed<T extends KubeObject, S extends KubeObject>(c: ObjectCache<T>, f: (o: T) => S): ObjectCache<S> {
  return {
    get: (ns, n) => {
      const o = c.get(ns, n);
      return o ? f(o) : undefined;
    },
    items: () => c.items().map(f),
  } as ObjectCache<S>;
}

function replicaSet(name: string, ready: number, owner?: string): KubeObject & { status: unknown } {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: 'test',
      labels: { app: 'podinfo' },
      ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: owner, uid: 'u', controller: true }] } : {}),
    },
    status: { readyReplicas: ready },
  };
}

describe('admission cache', () => {
  it('finds the live Canary targeting a Deployment, with its stable revision', async () => {
    const { cluster, cache } = setup();
    const canary = seedCanary();
    delete canary.status;
    await cluster.create(at(CR.canaries, 'test'), canary);
    cluster.setStatus(at(CR.canaries, 'test', 'podinfo'), { phase: 'Initialized', lastPromotedSpec: 'abc' });
    assert.deepEqual(cache.freeze.canaryFor('test', 'podinfo', 'Deployment'), { name: 'podinfo', stableRevision: 'abc' });
    assert.equal(cache.freeze.canaryFor('test', 'other', 'Deployment'), undefined);
    assert.equal(cache.freeze.canaryFor('elsewhere', 'podinfo', 'Deployment'), undefined);
    // A Canary being deleted no longer holds its target.
    await cluster.patch(at(CR.canaries, 'test', 'podinfo'), { metadata: { finalizers: ['x'] } });
    await cluster.delete(at(CR.canaries, 'test', 'podinfo'));
    assert.equal(cache.freeze.canaryFor('test', 'podinfo', 'Deployment'), undefined);
  });

  it("counts a predecessor's serving pods: orphaned ReplicaSets or ones still naming the Deployment, matching its selector", async () => {
    const { cluster, cache } = setup();
    for (const rs of [replicaSet('orphan', 2), replicaSet('still-named', 1, 'podinfo'), replicaSet('someone-elses', 5, 'other')]) {
      await cluster.create(at(R.replicasets, 'test'), rs);
      cluster.setStatus(at(R.replicasets, 'test', rs.metadata.name), rs.status);
    }
    assert.equal(cache.freeze.servingPods('test', 'podinfo', { matchLabels: { app: 'podinfo' } }), 3);
    assert.equal(cache.freeze.servingPods('test', 'podinfo', { matchLabels: { app: 'another' } }), 0);
  });

  it('answers policies per namespace, and "unknown" until synced (a Canary is then assumed to exist)', async () => {
    const { cluster, cache, setSynced } = setup();
    await cluster.create(at(R.namespaces, undefined), { metadata: { name: 'shop', labels: { [L.rollouts]: values.rolloutsEnabled } } });
    const policy: ClusterCanaryPolicy = {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'ClusterCanaryPolicy',
      metadata: { name: 'p' },
      spec: {},
    };
    await cluster.create(at(POLICY_REF, undefined), policy);
    assert.deepEqual(
      cache.context.policiesFor('shop')?.map((p) => p.metadata.name),
      ['p'],
    );
    assert.deepEqual(cache.context.policiesFor('not-opted-in'), []);
    assert.equal(cache.context.canaryExists('shop', 'nope'), false);
    setSynced(false);
    assert.equal(cache.context.policiesFor('shop'), undefined);
    assert.equal(cache.context.canaryExists('shop', 'nope'), true);
    assert.equal(cache.freeze.canaryFor('shop', 'x', 'Deployment'), undefined);
  });

  it("reads the pins of a managed Deployment's primary pods, and ignores a broken annotation", async () => {
    const { cluster, cache } = setup();
    const pins = { 'ConfigMap/settings': 'settings-sluice-abc' };
    const managed = (name: string, value: string) => ({
      metadata: { name, namespace: 'test', labels: { [L.managed]: values.managed }, annotations: { [A.stableConfigs]: value } },
    });
    await cluster.create(at(R.deployments, 'test'), managed('a', JSON.stringify(pins)));
    await cluster.create(at(R.deployments, 'test'), managed('b', '{not json'));
    await cluster.create(at(R.deployments, 'test'), {
      metadata: { name: 'c', namespace: 'test', annotations: { [A.stableConfigs]: JSON.stringify(pins) } },
    });
    assert.deepEqual(cache.pins('test', 'a'), pins);
    assert.equal(cache.pins('test', 'b'), undefined);
    assert.equal(cache.pins('test', 'c'), undefined, 'only managed Deployments are followed');
  });

  it('keeps only what it needs of a ReplicaSet', () => {
    const rs = { ...replicaSet('r', 3, 'podinfo'), spec: { template: { spec: { containers: [{ image: 'big' }] } } } };
    const s = slimReplicaSet(rs as KubeObject & { status: { readyReplicas: number } });
    assert.deepEqual(Object.keys(s).sort(), ['metadata', 'status']);
    assert.equal(s.status.readyReplicas, 3);
  });
});
