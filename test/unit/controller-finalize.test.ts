// A Canary deleted through the reconciler (hand-back.ts), on the in-memory apiserver: its target is
// handed back, released only when it holds the revision that passed analysis, and otherwise left
// held with a Warning saying how to release it; the finalizer goes either way.
import assert from 'node:assert/strict';
import { annotations as A, FINALIZER, labels as L } from '../../api/contract.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import { templateRevision } from '../../api/revision.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { rev } from './controller-fixtures.js';
import { bootstrapped, NS, prometheusStub, V0, V1 } from './reconciler-harness.js';

type Event = KubeObject & { message: string; type: string; involvedObject: { kind: string; name: string } };

describe('reconciler: a deleted Canary hands its target back', () => {
  let prom: Awaited<ReturnType<typeof prometheusStub>>;
  before(async () => {
    prom = await prometheusStub();
  });
  after(() => prom.close());

  const deleteCanary = async (h: Awaited<ReturnType<typeof bootstrapped>>) => {
    await h.cluster.delete(at(CR.canaries, NS, 'podinfo'));
    const deleting = await h.cluster.get<Canary>(at(CR.canaries, NS, 'podinfo'));
    assert.ok(deleting.metadata.deletionTimestamp, 'held by its finalizer');
    await h.pass();
  };
  const warningsOn = (h: Awaited<ReturnType<typeof bootstrapped>>, kind: string) =>
    h.cluster.list<Event>(R.events, NS).filter((e) => e.type === 'Warning' && e.involvedObject.kind === kind);

  it('mid-analysis: the untested revision stays paused, with a Warning on the target naming the release command', async () => {
    const h = await bootstrapped(prom.url);
    await h.pushImage(V1);
    await h.settle();
    h.rollOut('podinfo-canary');
    await h.settle();
    assert.equal((await h.canary()).status?.phase, 'Progressing');

    await deleteCanary(h);
    const target = await h.target();
    assert.equal(target.spec.paused, true, 'an untested revision is never released by a deletion');
    assert.equal(templateRevision(target.spec.template), rev(V1), 'it keeps the new template');
    assert.equal(target.metadata.labels?.[L.managed], undefined, 'no longer managed');
    assert.equal(target.metadata.annotations?.[A.canary], undefined);
    assert.equal(await h.cluster.find(at(CR.canaries, NS, 'podinfo')), undefined, 'the finalizer went, so the Canary is gone');
    const [warning] = warningsOn(h, 'Deployment');
    assert.ok(warning, 'a Warning on the target');
    assert.match(warning.message, /podinfo\.test stays paused on revision .* which never passed analysis/);
    assert.match(warning.message, /kubectl rollout resume deployment\/podinfo -n test/);
  });

  it('on its tested revision: released (unpaused), with no Warning', async () => {
    const h = await bootstrapped(prom.url);
    // Paused by someone on the revision sluice last released: handing back releases it.
    const t = await h.target();
    await h.cluster.patch(at(R.deployments, NS, 'podinfo'), {
      spec: { paused: true },
      metadata: { resourceVersion: t.metadata.resourceVersion },
    });
    assert.equal((await h.canary()).status?.lastPromotedSpec, rev(V0));

    await deleteCanary(h);
    const target = await h.target();
    assert.equal(target.spec.paused, false, 'its template passed analysis: released');
    assert.equal(target.metadata.labels?.[L.managed], undefined);
    assert.deepEqual(warningsOn(h, 'Deployment'), []);
    assert.equal(await h.cluster.find(at(CR.canaries, NS, 'podinfo')), undefined);
  });

  it('a target another Canary now claims is left alone, and the finalizer still goes', async () => {
    const h = await bootstrapped(prom.url);
    await h.pushImage(V1);
    await h.settle();
    const t = await h.target();
    await h.cluster.patch(at(R.deployments, NS, 'podinfo'), {
      metadata: { resourceVersion: t.metadata.resourceVersion, annotations: { [A.canary]: 'someone-else' } },
    });
    const before = await h.target();
    await deleteCanary(h);
    const after = await h.target();
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, 'not written');
    assert.equal(after.spec.paused, true);
    const gone = await h.cluster.find<Canary>(at(CR.canaries, NS, 'podinfo'));
    assert.ok(!gone || !(gone.metadata as { finalizers?: string[] }).finalizers?.includes(FINALIZER));
  });
});
