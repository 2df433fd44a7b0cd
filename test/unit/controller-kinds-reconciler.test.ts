// The reconciler through each kind's driver (controller/kinds/), on the in-memory apiserver:
// a StatefulSet and a DaemonSet bootstrapped and (the StatefulSet) taken into analysis, and a
// fourth kind registered only here — a Deployment-shaped custom resource — rolled out end to end
// without any production file knowing it exists (docs/architecture.md "Adding a workload kind").
import assert from 'node:assert/strict';
import { annotations as A, labels as L, values } from '../../api/contract.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import { canaryOrdinals, FROZEN_PARTITION, partitionFor, REVISION_LABEL } from '../../api/statefulset.js';
import type { DaemonSet, StatefulSet, WorkloadKind } from '../../api/workload.js';
import { DRIVERS, type WorkloadDriver } from '../../controller/kinds/index.js';
import { at, type KubeObject, R, type ResourceRef } from '../../lib/kube/client.js';
import type { ObjectCache } from '../../lib/kube/informer.js';
import { deployment, rev, seedCanary } from './controller-fixtures.js';
import { Harness, NS, prometheusStub, step, V0, V1 } from './reconciler-harness.js';

type Svc = KubeObject & { spec: { selector: Record<string, string> } };
const template = (image: string) => ({ metadata: { labels: { app: 'podinfo' } }, spec: { containers: [{ name: 'podinfod', image }] } });
const canaryOf = (apiVersion: string, kind: string, analysis: NonNullable<Parameters<typeof seedCanary>[0]>['analysis'] = {}) => {
  const c = seedCanary({
    spec: { targetRef: { apiVersion, kind, name: 'podinfo' }, autoscalerRef: undefined },
    analysis: { interval: '1m', metrics: [], ...analysis },
  });
  delete c.status;
  return c;
};

describe('reconciler: one driver per workload kind (in-memory apiserver)', () => {
  let prom: Awaited<ReturnType<typeof prometheusStub>>;
  before(async () => {
    prom = await prometheusStub();
  });
  after(() => prom.close());

  it('a fourth kind registered only in a test is bootstrapped, analysed and released through the same state machine', async () => {
    const WIDGETS: ResourceRef = { group: 'example.dev', version: 'v1', plural: 'widgets' };
    let widgets: ObjectCache<KubeObject> | undefined;
    // A Deployment-shaped resource: the Deployment driver's behaviour, its own name, place and cache.
    const widgetDriver: WorkloadDriver = {
      ...DRIVERS.Deployment,
      kind: 'Widget' as WorkloadKind,
      ref: WIDGETS,
      read: (_caches, ns, name) => widgets!.get(ns, name) as never,
    };
    const h = new Harness(prom.url, { drivers: { ...DRIVERS, Widget: widgetDriver }, targets: WIDGETS });
    widgets = h.cluster.cache(WIDGETS);
    const widget = { ...deployment(V0), apiVersion: 'example.dev/v1', kind: 'Widget' };
    delete (widget as { status?: unknown }).status;
    await h.cluster.create(at(WIDGETS, NS), widget);
    h.rollOut('podinfo');
    await h.cluster.create(at(CR.canaries, NS), canaryOf('example.dev/v1', 'Widget', { maxWeight: 20 }));
    await h.settle();
    let canary = await h.canary();
    assert.equal(canary.status?.phase, 'Initialized', canary.status?.conditions?.map((c) => c.message).join('; '));
    let target = await h.target();
    assert.equal(target.metadata.labels?.[L.managed], values.managed);
    assert.equal(target.metadata.annotations?.[A.stableRevision], rev(V0));
    assert.ok(await h.copy(), 'its copy is created, as its driver says');

    await h.pushImage(V1);
    await h.settle();
    h.rollOut('podinfo-canary');
    await h.settle();
    assert.equal((await h.canary()).status?.phase, 'Progressing');
    canary = await step(h);
    assert.equal(canary.status?.canaryWeight, 20);
    canary = await step(h);
    assert.equal(canary.status?.phase, 'Promoting');
    target = await h.target();
    assert.notEqual(target.spec.paused, true, 'released through its driver: unpaused');
    h.rollOut('podinfo');
    await h.settle();
    canary = await h.canary();
    assert.equal(canary.status?.phase, 'Succeeded');
    assert.equal(canary.status?.lastPromotedSpec, rev(V1));
  });

  it('a StatefulSet: Services select by revision, and a new revision opens the partition to its canary ordinals only', async () => {
    const h = new Harness(prom.url, { targets: R.statefulsets });
    const sts: StatefulSet = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'podinfo', namespace: NS, labels: { app: 'podinfo' } },
      spec: {
        replicas: 5,
        selector: { matchLabels: { app: 'podinfo' } },
        template: template(V0),
        serviceName: 'podinfo',
      } as StatefulSet['spec'],
    };
    await h.cluster.create(at(R.statefulsets, NS), sts);
    const stsStatus = (revision: string, update: string, updated: number) => {
      const now = h.cluster.list<StatefulSet>(R.statefulsets, NS)[0]!;
      h.cluster.setStatus(at(R.statefulsets, NS, 'podinfo'), {
        observedGeneration: now.metadata.generation,
        replicas: 5,
        readyReplicas: 5,
        currentReplicas: 5 - updated,
        updatedReplicas: updated,
        currentRevision: revision,
        updateRevision: update,
      });
    };
    stsStatus('podinfo-v0', 'podinfo-v0', 5);
    await h.cluster.create(at(CR.canaries, NS), canaryOf('apps/v1', 'StatefulSet'));
    await h.settle();
    assert.equal((await h.canary()).status?.phase, 'Initialized');
    const selector = async (name: string) => (await h.cluster.get<Svc>(at(R.services, NS, name))).spec.selector;
    assert.deepEqual(await selector('podinfo-primary'), { app: 'podinfo', [REVISION_LABEL]: 'podinfo-v0' });
    assert.equal(await h.copy(), undefined, 'a StatefulSet has no copy');

    // What the webhook does to a template change: the template kept, the partition frozen.
    await h.cluster.patch(at(R.statefulsets, NS, 'podinfo'), {
      spec: { template: template(V1), updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: FROZEN_PARTITION } } },
    });
    stsStatus('podinfo-v0', 'podinfo-v1', 0);
    await h.settle();
    const canary = await h.canary();
    assert.equal(canary.status?.phase, 'Progressing');
    const partition = (await h.cluster.get<StatefulSet>(at(R.statefulsets, NS, 'podinfo'))).spec.updateStrategy?.rollingUpdate?.partition;
    assert.equal(partition, partitionFor(5, canaryOrdinals(5, canary.status?.canaryWeight ?? 0)), 'exactly the canary ordinals exposed');
    assert.ok(partition! > 0 && partition! < 5, `partition ${partition}: some ordinals, never all`);
    assert.deepEqual(await selector('podinfo-canary'), { app: 'podinfo', [REVISION_LABEL]: 'podinfo-v1' });
  });

  it('a DaemonSet: bootstrapped with its own strategy kept, its Services selecting all its pods at rest', async () => {
    const h = new Harness(prom.url, { targets: R.daemonsets });
    const ds: DaemonSet = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'podinfo', namespace: NS, labels: { app: 'podinfo' } },
      spec: { selector: { matchLabels: { app: 'podinfo' } }, template: template(V0), updateStrategy: { type: 'RollingUpdate' } },
    } as DaemonSet;
    await h.cluster.create(at(R.daemonsets, NS), ds);
    h.cluster.setStatus(at(R.daemonsets, NS, 'podinfo'), {
      observedGeneration: 1,
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      updatedNumberScheduled: 3,
      numberAvailable: 3,
      numberReady: 3,
    });
    await h.cluster.create(at(CR.canaries, NS), canaryOf('apps/v1', 'DaemonSet'));
    await h.settle();
    const canary: Canary = await h.canary();
    assert.equal(canary.status?.phase, 'Initialized', canary.status?.conditions?.map((c) => c.message).join('; '));
    const target = await h.cluster.get<DaemonSet>(at(R.daemonsets, NS, 'podinfo'));
    assert.equal(target.metadata.labels?.[L.managed], values.managed);
    assert.deepEqual(target.spec.updateStrategy, { type: 'RollingUpdate' }, 'released: its own strategy, untouched');
    for (const name of ['podinfo-primary', 'podinfo-canary'])
      assert.deepEqual((await h.cluster.get<Svc>(at(R.services, NS, name))).spec.selector, { app: 'podinfo' });
  });
});
