// Branches of a reconcile pass no other unit test reaches, on the in-memory apiserver: a template
// change that bypassed the webhook, a policy's Canary giving way to an explicit one, and a status
// write that loses to someone else's write.
import assert from 'node:assert/strict';
import { annotations as A, labels as L, MANAGED_BY } from '../../api/contract.js';
import { CR } from '../../api/flagger-types.js';
import type { Deployment } from '../../api/workload.js';
import { at, R } from '../../lib/kube/client.js';
import { deployment, rev, seedCanary } from './controller-fixtures.js';
import { bootstrapped, Harness, KEY, NS, prometheusStub, V1 } from './reconciler-harness.js';

describe('reconciler: branches of a pass', () => {
  let prom: Awaited<ReturnType<typeof prometheusStub>>;
  before(async () => {
    prom = await prometheusStub();
  });
  after(() => prom.close());

  it('a template change that reached the target unpaused (webhook bypassed) is paused again, said, and analysed', async () => {
    const h = await bootstrapped(prom.url);
    const t = await h.target();
    // What `kubectl set image` does with the webhook out of the way: the template changes, unpaused.
    await h.cluster.patch(at(R.deployments, NS, 'podinfo'), {
      metadata: { resourceVersion: t.metadata.resourceVersion },
      spec: { template: { spec: { containers: [{ name: 'podinfod', image: V1 }] } } },
    });
    await h.settle();
    const target = await h.target();
    assert.equal(target.spec.paused, true, 'held again until analysis releases it');
    const warning = h.events().find((e) => /was the webhook bypassed\?/.test(e));
    assert.ok(warning, h.events().join('\n'));
    assert.match(
      warning,
      /^podinfo\.test changed to revision .* without being paused \(was the webhook bypassed\?\); paused it until analysis releases the revision$/,
    );
    const canary = await h.canary();
    assert.equal(canary.status?.lastAppliedSpec, rev(V1), 'the bypassing revision is the one analysed');
    assert.equal(canary.status?.lastPromotedSpec, rev('podinfo:6.0.0'), 'the stable revision is unchanged');
  });

  it("a policy's Canary gives way to an explicit one for the same workload: it writes nothing", async () => {
    const h = new Harness(prom.url);
    const target: Deployment = deployment('podinfo:6.0.0');
    delete target.status;
    await h.cluster.create(at(R.deployments, NS), target);
    h.rollOut('podinfo');
    // The generated one is `podinfo` (the key the harness drives); the explicit one targets the same Deployment.
    const generated = seedCanary({ analysis: { interval: '1m' } });
    delete generated.status;
    generated.metadata.labels = { ...MANAGED_BY, [L.policy]: 'default' };
    await h.cluster.create(at(CR.canaries, NS), generated);
    const explicit = seedCanary({ analysis: { interval: '1m' } });
    delete explicit.status;
    explicit.metadata.name = 'podinfo-explicit';
    await h.cluster.create(at(CR.canaries, NS), explicit);
    await h.settle();
    const after = await h.canary();
    assert.equal(after.status, undefined, 'no status written: it does not act');
    const t = await h.target();
    assert.equal(t.metadata.labels?.[L.managed], undefined, 'the target is not taken');
    assert.equal(t.metadata.annotations?.[A.canary], undefined);
    assert.equal(await h.cluster.find(at(R.services, NS, 'podinfo-primary')), undefined, 'no object generated for it');
    assert.equal(await h.cluster.find(at(R.httproutes, NS, 'podinfo')), undefined);
    assert.equal(await h.copy(), undefined);
  });

  it('a status write that loses to another write changes nothing and is decided again from the newer Canary', async () => {
    const h = await bootstrapped(prom.url);
    await h.pushImage(V1);
    // The watch lags: the cache still holds the Canary as it was before a person's edit.
    h.lagging = await h.canary();
    const c = await h.canary();
    await h.cluster.patch(at(CR.canaries, NS, 'podinfo'), {
      metadata: { resourceVersion: c.metadata.resourceVersion, labels: { team: 'checkout' } },
    });
    const before = await h.canary();
    const lost = await h.reconciler.reconcile(KEY);
    assert.deepEqual(lost, { requeueAfterMs: 0 }, 'comes back at once');
    const unchanged = await h.canary();
    assert.equal(unchanged.metadata.resourceVersion, before.metadata.resourceVersion, 'nothing was written over the edit');
    assert.equal(unchanged.status?.phase, 'Initialized');
    assert.ok(!h.events().some((e) => /New revision detected/.test(e)), 'nothing announced for a decision that was not recorded');
    // The next pass reads the Canary it lost to (not the lagging cache) and takes the step, once.
    await h.settle();
    const now = await h.canary();
    assert.equal(now.metadata.labels?.team, 'checkout', "the person's edit is kept");
    assert.equal(now.status?.lastAppliedSpec, rev(V1));
    assert.equal(now.status?.phase, 'Progressing');
    assert.equal(h.events().filter((e) => /New revision detected/.test(e)).length, 1);
  });
});
