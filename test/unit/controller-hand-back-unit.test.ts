// HandBack.finalize on its own, on the in-memory apiserver: what it writes and in which order,
// for each way a deleted Canary can find its target (its own, claimed by another, gone), with a
// successor or without, tested or not. controller-finalize.test.ts runs the same through the reconciler.
import assert from 'node:assert/strict';
import { annotations as A, FINALIZER, labels as L } from '../../api/contract.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import type { CanaryEvent } from '../../controller/check-results.js';
import { HandBack } from '../../controller/hand-back.js';
import { DRIVERS } from '../../controller/kinds/index.js';
import { at, type KubeObject, R, type ResourceRef } from '../../lib/kube/client.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';
import { deployment, rev, seedCanary } from './controller-fixtures.js';

const V0 = 'podinfo:6.0.0';
const V1 = 'podinfo:6.0.1';

async function world(
  o: { image?: string; paused?: boolean; owner?: string | null; finalizers?: string[]; status?: Canary['status'] | null } = {},
) {
  const cluster = new MemoryCluster();
  const annotations: Record<string, string> = { [A.stableRevision]: rev(V0) };
  if (o.owner !== null) annotations[A.canary] = o.owner ?? 'podinfo';
  const d = deployment(o.image ?? V1, { paused: o.paused ?? true, annotations });
  d.metadata.labels = { ...d.metadata.labels, [L.managed]: 'true' };
  await cluster.create(at(R.deployments, 'test'), d);
  const c = seedCanary({
    status: o.status === null ? undefined : (o.status ?? { phase: 'Progressing', lastPromotedSpec: rev(V0), lastAppliedSpec: rev(V1) }),
  });
  (c.metadata as { finalizers?: string[] }).finalizers = o.finalizers ?? [FINALIZER];
  await cluster.create(at(CR.canaries, 'test'), { ...c, status: undefined });
  const stored = await cluster.get<Canary>(at(CR.canaries, 'test', 'podinfo'));
  stored.status = c.status;
  const events: { on: string; ev: CanaryEvent }[] = [];
  const takenOver: string[] = [];
  const ownership = {
    successorOf: () => undefined as Canary | undefined,
    objectsNamedFor: (): [ResourceRef, KubeObject][] => [],
    takeOver: async (_ref: ResourceRef, obj: KubeObject, owner: Canary) =>
      void takenOver.push(`${obj.metadata.name}→${owner.metadata.name}`),
  };
  const recorder = { record: (obj: KubeObject, ev: CanaryEvent) => void events.push({ on: `${obj.kind}/${obj.metadata.name}`, ev }) };
  const hb = new HandBack(cluster, ownership as never, recorder as never, DRIVERS);
  cluster.writes.length = 0;
  return {
    cluster,
    stored,
    events,
    takenOver,
    ownership,
    hb,
    target: () => cluster.get<ReturnType<typeof deployment>>(at(R.deployments, 'test', 'podinfo')),
  };
}
const finalizersOf = async (cluster: MemoryCluster) =>
  (await cluster.find<KubeObject & { metadata: { finalizers?: string[] } }>(at(CR.canaries, 'test', 'podinfo')))?.metadata.finalizers;

describe('HandBack.finalize', () => {
  it('without its finalizer, writes nothing at all', async () => {
    const w = await world({ finalizers: ['example.com/other'] });
    await w.hb.finalize(w.stored);
    assert.deepEqual(w.cluster.writes, []);
    assert.deepEqual(w.events, []);
  });

  it('removes only its own finalizer, wherever it is in the list', async () => {
    const w = await world({ finalizers: ['example.com/other', FINALIZER, 'example.com/last'] });
    await w.hb.finalize(w.stored);
    assert.deepEqual(await finalizersOf(w.cluster), ['example.com/other', 'example.com/last']);
  });

  it('untested: the target stays held, unmanaged, with the same Warning on the Canary and on the target', async () => {
    const w = await world();
    await w.hb.finalize(w.stored);
    const t = await w.target();
    assert.equal(t.spec.paused, true);
    assert.equal(t.metadata.labels?.[L.managed], undefined);
    const message = `podinfo.test stays paused on revision ${rev(V1).slice(0, 10)}…, which never passed analysis; run "kubectl rollout resume deployment/podinfo -n test" to release it unanalysed, or revert its template`;
    assert.deepEqual(w.events, [
      { on: 'Canary/podinfo', ev: { type: 'Warning', message } },
      { on: 'Deployment/podinfo', ev: { type: 'Warning', message } },
    ]);
    assert.deepEqual(
      w.cluster.writes.map((x) => `${x.verb} ${x.ref.plural}`),
      ['patch deployments', 'patch canaries'],
      'the target first, then the finalizer',
    );
  });

  it('a Canary that never recorded a status hands back an untested target', async () => {
    const w = await world({ status: null });
    await w.hb.finalize(w.stored);
    assert.equal((await w.target()).spec.paused, true);
    assert.equal(w.events.length, 2);
  });

  it('untested but not held (released by hand meanwhile): no Warning', async () => {
    const w = await world({ paused: false });
    await w.hb.finalize(w.stored);
    assert.deepEqual(w.events, []);
    assert.equal((await w.target()).metadata.annotations?.[A.canary], undefined);
  });

  it('tested: released, no Warning', async () => {
    const w = await world({ image: V0 });
    await w.hb.finalize(w.stored);
    assert.equal((await w.target()).spec.paused, false);
    assert.deepEqual(w.events, []);
  });

  it('a target another Canary claims, or none claims, is not touched; the finalizer still goes', async () => {
    for (const owner of ['other', null] as const) {
      const w = await world({ owner });
      await w.hb.finalize(w.stored);
      assert.deepEqual(
        w.cluster.writes.map((x) => x.ref.plural),
        ['canaries'],
        String(owner),
      );
      assert.equal((await w.target()).metadata.labels?.[L.managed], 'true');
      assert.deepEqual(await finalizersOf(w.cluster), []);
    }
  });

  it('hands its own generated objects to a successor before anything else; objects named for it but another’s stay', async () => {
    const w = await world();
    const successor = seedCanary();
    successor.metadata.name = 'podinfo-explicit';
    const mine = { metadata: { name: 'podinfo-canary', labels: { [L.canaryName]: 'podinfo' } } } as KubeObject;
    const theirs = { metadata: { name: 'podinfo-primary', labels: { [L.canaryName]: 'someone-else' } } } as KubeObject;
    w.ownership.successorOf = () => successor;
    w.ownership.objectsNamedFor = () => [
      [R.services, mine],
      [R.services, theirs],
    ];
    await w.hb.finalize(w.stored);
    assert.deepEqual(w.takenOver, ['podinfo-canary→podinfo-explicit']);
    // Without a successor nothing is taken over.
    const alone = await world();
    alone.ownership.objectsNamedFor = () => [[R.services, mine]];
    await alone.hb.finalize(alone.stored);
    assert.deepEqual(alone.takenOver, []);
  });
});

describe('HandBack.finalize: a target gone or bare', () => {
  it('a target that no longer exists: only the finalizer goes', async () => {
    const w = await world();
    await w.cluster.delete(at(R.deployments, 'test', 'podinfo'));
    w.cluster.writes.length = 0;
    await w.hb.finalize(w.stored);
    assert.deepEqual(
      w.cluster.writes.map((x) => `${x.verb} ${x.ref.plural}`),
      ['patch canaries'],
    );
  });

  it('a target without annotations is nobody’s: left alone', async () => {
    const w = await world();
    await w.cluster.patch(at(R.deployments, 'test', 'podinfo'), { metadata: { annotations: null } }, 'merge');
    w.cluster.writes.length = 0;
    await w.hb.finalize(w.stored);
    assert.deepEqual(
      w.cluster.writes.map((x) => `${x.verb} ${x.ref.plural}`),
      ['patch canaries'],
    );
  });
});
