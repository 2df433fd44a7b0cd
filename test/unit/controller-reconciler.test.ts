// The reconciler against an in-memory apiserver (test/fixtures/memory-cluster.ts), a Prometheus
// stub and a clock the test moves: bootstrap, a step, a release, a rollback, and a crash between
// the status write and the object writes. The e2e suite runs the same on the real world; here each
// pass is driven and inspected one at a time.
import assert from 'node:assert/strict';
import { ACTION_REF, type CanaryAction } from '../../api/canary-action.js';
import { annotations as A, FINALIZER, labels as L, values } from '../../api/contract.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { deployment, rev, seedCanary } from './controller-fixtures.js';
import { analysing, bootstrapped, type Harness, NS, prometheusStub, step, V0, V1 } from './reconciler-harness.js';

describe('reconciler (in-memory apiserver)', () => {
  let prom: Awaited<ReturnType<typeof prometheusStub>>;
  before(async () => {
    prom = await prometheusStub();
  });
  after(() => prom.close());
  beforeEach(() => prom.setRate(100));

  it('bootstrap: finalizer, generated objects, the target marked stable and managed, then "Initialization done!"', async () => {
    const h = await bootstrapped(prom.url);
    const canary = await h.canary();
    assert.deepEqual((canary.metadata as { finalizers?: string[] }).finalizers, [FINALIZER]);
    assert.equal(canary.status?.phase, 'Initialized');
    assert.equal(canary.status?.lastPromotedSpec, rev(V0));
    assert.equal(canary.status?.observedGeneration, canary.metadata.generation);
    const target = await h.target();
    assert.equal(target.metadata.labels?.[L.managed], 'true');
    assert.equal(target.metadata.annotations?.[A.stableRevision], rev(V0));
    assert.notEqual(target.spec.paused, true);
    const copy = await h.copy();
    assert.equal(copy?.spec.replicas, 0, 'the canary copy waits at zero replicas');
    const services = h.cluster.list(R.services, NS).map((s) => s.metadata.name);
    assert.deepEqual(services.sort(), ['podinfo', 'podinfo-canary', 'podinfo-primary']);
    assert.ok(await h.cluster.find(at(R.hpas, NS, 'podinfo-canary')), 'the HPA is copied for the canary');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 100, 'podinfo-canary': 0 });
    assert.deepEqual(h.events(), ['Initialization done! podinfo.test']);
    // Objects before status: the status write is the last write of the bootstrap.
    const last = h.cluster.writes.filter((w) => w.ref.plural !== 'events').at(-1)!;
    assert.equal(last.ref.subresource, 'status');
  });

  it("a second Canary with the same service.name never rewrites the first one's Services or route: it waits, naming it", async () => {
    const h = await bootstrapped(prom.url);
    const other = deployment(V0, { name: 'other' });
    delete other.status;
    other.spec.selector = { matchLabels: { app: 'other' } };
    other.spec.template.metadata = { labels: { app: 'other' } };
    await h.cluster.create(at(R.deployments, NS), other);
    h.rollOut('other');
    const second = seedCanary({
      spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'other' }, autoscalerRef: undefined },
    });
    second.metadata = { ...second.metadata, name: 'other', uid: 'uid-2' };
    second.spec.service = { ...second.spec.service, name: 'podinfo' };
    delete second.status;
    await h.cluster.create(at(CR.canaries, NS), second);
    const before = h.cluster.writes.length;
    for (let i = 0; i < 5; i++) await h.reconciler.reconcile(`${NS}/other`);
    const primary = await h.cluster.get<KubeObject & { spec: { selector: Record<string, string> } }>(at(R.services, NS, 'podinfo-primary'));
    assert.deepEqual(primary.spec.selector, { app: 'podinfo' }, "the first Canary's Service still selects its pods");
    assert.equal(primary.metadata.labels?.[L.canaryName], 'podinfo');
    const touched = h.cluster.writes.slice(before).filter((w) => ['services', 'httproutes'].includes(w.ref.plural));
    assert.deepEqual(touched, [], 'no write to any Service or route');
    const otherNow = await h.cluster.get<Canary>(at(CR.canaries, NS, 'other'));
    const condition = otherNow.status?.conditions?.find((c) => c.type === 'Promoted');
    assert.equal(condition?.reason, 'NameClash');
    assert.match(
      condition?.message ?? '',
      /Service podinfo-primary, Service podinfo-canary.*belong to Canary podinfo\.test: Canary other\.test will not take them over; give the Canary another service\.name/,
    );
  });

  it('a step: a new revision scales the copy up, the first weight needs no metrics, the next one queries Prometheus', async () => {
    const h = await bootstrapped(prom.url);
    await h.pushImage(V1);
    await h.settle();
    let canary = await h.canary();
    assert.equal(canary.status?.phase, 'Progressing');
    assert.equal(canary.status?.lastAppliedSpec, rev(V1));
    const copy = (await h.copy())!;
    assert.equal(copy.spec.replicas, 2, "the copy gets the primary's replicas");
    assert.equal(copy.metadata.annotations?.[A.revision], rev(V1));
    assert.equal((copy.spec.template.spec as { containers: { image: string }[] }).containers[0]!.image, V1);
    h.rollOut('podinfo-canary');
    await h.settle();
    canary = await h.canary();
    assert.equal(canary.status?.canaryWeight, 10, 'the first weight once the copy is ready');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 90, 'podinfo-canary': 10 });
    const before = prom.queries();
    await h.settle();
    assert.equal((await h.canary()).status?.canaryWeight, 10, 'nothing moves before the interval has passed');
    assert.equal(prom.queries(), before, 'and nothing is queried');
    canary = await step(h);
    assert.equal(canary.status?.canaryWeight, 20);
    assert.ok(prom.queries() > before, 'the step queried Prometheus');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 80, 'podinfo-canary': 20 });
    assert.equal((await h.target()).spec.paused, true, 'the target stays frozen during the analysis');
  });

  it('release: at maxWeight the target is unpaused with the promoting annotation, rolls out, and the rollout Succeeds', async () => {
    const h = await bootstrapped(prom.url, { maxWeight: 20 });
    await analysing(h);
    let canary = await step(h);
    assert.equal(canary.status?.canaryWeight, 20);
    canary = await step(h);
    assert.equal(canary.status?.phase, 'Promoting');
    let target = await h.target();
    assert.notEqual(target.spec.paused, true, 'released: unpaused');
    assert.equal(target.metadata.annotations?.[A.promoting], rev(V1));
    assert.equal(target.metadata.annotations?.[A.stableRevision], rev(V1));
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 0, 'podinfo-canary': 100 });
    h.rollOut('podinfo');
    await h.settle();
    canary = await h.canary();
    assert.equal(canary.status?.phase, 'Succeeded');
    assert.equal(canary.status?.lastPromotedSpec, rev(V1));
    target = await h.target();
    assert.equal(target.metadata.annotations?.[A.promoting], undefined);
    assert.equal((await h.copy())?.spec.replicas, 0);
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 100, 'podinfo-canary': 0 });
    assert.ok(h.events().includes('Promotion completed! Scaling down podinfo-canary.test'));
  });

  it('rollback: failed checks at the threshold fail the rollout; the target stays paused on the rejected template, the primary untouched', async () => {
    const h = await bootstrapped(prom.url, { threshold: 2 });
    await analysing(h);
    const primaryBefore = (await h.target()).status;
    prom.setRate(50);
    let canary = await step(h);
    assert.equal(canary.status?.failedChecks, 1);
    assert.equal(canary.status?.canaryWeight, 10, 'a failed check holds the weight');
    canary = await step(h);
    assert.equal(canary.status?.phase, 'Failed');
    const target = await h.target();
    assert.equal(target.spec.paused, true);
    assert.equal(target.metadata.annotations?.[A.stableRevision], rev(V0));
    assert.deepEqual(target.status, primaryBefore, 'the primary pods were never rolled');
    assert.equal((await h.copy())?.spec.replicas, 0);
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 100, 'podinfo-canary': 0 });
    assert.ok(h.events().some((m) => m.startsWith('Rolling back podinfo.test failed checks threshold reached 2')));
    // A failed revision stays failed: nothing more happens until the template changes again.
    const writes = h.cluster.writes.length;
    await step(h);
    assert.equal(h.cluster.writes.length, writes);
  });

  it('a crash between the status write and the object writes: the next pass finishes the step without taking it again', async () => {
    const h = await bootstrapped(prom.url);
    await analysing(h);
    h.tick(61_000);
    // The step is decided and written; the route write after it is lost (the process dies there).
    h.cluster.failNext((w) => w.ref.plural === 'httproutes' && w.verb === 'patch');
    await assert.rejects(async () => {
      for (let i = 0; i < 5; i++) await h.pass();
    }, /connection reset/);
    assert.equal((await h.canary()).status?.canaryWeight, 20, 'the step was recorded');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 90, 'podinfo-canary': 10 }, 'but not applied');
    await h.settle();
    assert.equal((await h.canary()).status?.canaryWeight, 20, 'not taken twice');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 80, 'podinfo-canary': 20 }, 'the next pass applied it');
    assert.equal(h.events().filter((m) => m === 'Advance podinfo.test canary weight 20').length, 1, 'announced once');
  });

  it('a lost Lease: a pass writes nothing and ends quietly; leading again, the next pass takes the step', async () => {
    const h = await bootstrapped(prom.url);
    await h.pushImage(V1);
    const before = await h.canary();
    h.leading = false;
    await h.pass();
    assert.equal((await h.copy())?.spec.replicas ?? 0, 0, 'no copy scaled up by a follower');
    assert.equal((await h.canary()).metadata.resourceVersion, before.metadata.resourceVersion, 'no status written by a follower');
    h.leading = true;
    await h.settle();
    assert.equal((await h.canary()).status?.phase, 'Progressing');
    assert.ok(((await h.copy())?.spec.replicas ?? 0) > 0, 'the leader scales the copy up');
  });

  it('a new revision: the copy is scaled up before "Progressing" is written; a pass that dies between the two is finished, or undone after a revert', async () => {
    const h = await bootstrapped(prom.url);
    await h.pushImage(V1);
    const writesBefore = h.cluster.writes.length;
    await h.settle();
    const order = h.cluster.writes
      .slice(writesBefore)
      .filter((w) => w.ref.plural !== 'events')
      .map((w) => `${w.ref.plural}/${w.ref.name}${w.ref.subresource ? `/${w.ref.subresource}` : ''}`);
    const [copyAt, statusAt] = [order.indexOf('deployments/podinfo-canary'), order.indexOf('canaries/podinfo/status')];
    assert.ok(copyAt >= 0 && statusAt >= 0, `both written: ${order.join(', ')}`);
    assert.ok(copyAt < statusAt, `the copy first, then the status: ${order.join(', ')}`);

    // The status write is lost: the copy runs the new revision, the status still says Initialized.
    const h2 = await bootstrapped(prom.url);
    await h2.pushImage(V1);
    h2.cluster.failNext((w) => w.ref.plural === 'canaries' && w.ref.subresource === 'status');
    await assert.rejects(() => h2.pass(), /connection reset/);
    assert.equal((await h2.copy())?.spec.replicas, 2, 'scaled up');
    assert.equal((await h2.canary()).status?.phase, 'Initialized', 'not recorded');
    await h2.settle();
    assert.equal((await h2.canary()).status?.phase, 'Progressing', 'the next pass records the same start');
    assert.equal((await h2.canary()).status?.lastAppliedSpec, rev(V1));
    assert.equal(h2.events().filter((m) => m.startsWith('New revision detected!')).length, 1, 'announced once');

    // Lost again, and the template reverted before the next pass: nothing started, the copy goes back to zero.
    const h3 = await bootstrapped(prom.url);
    await h3.pushImage(V1);
    h3.cluster.failNext((w) => w.ref.plural === 'canaries' && w.ref.subresource === 'status');
    await assert.rejects(() => h3.pass(), /connection reset/);
    assert.equal((await h3.copy())?.spec.replicas, 2);
    await h3.pushImage(V0);
    await h3.settle();
    assert.equal((await h3.canary()).status?.phase, 'Initialized');
    assert.equal((await h3.copy())?.spec.replicas, 0, 'the copy is scaled back down');
    assert.equal(h3.events().filter((m) => m.startsWith('New revision detected!')).length, 0, 'no rollout was announced');
  });

  it('a cache that has not caught up with the step just written: the next passes act on the write, take no step and run no check again', async () => {
    const h = await bootstrapped(prom.url);
    await analysing(h);
    // From here the cache keeps the Canary at weight 10, as a watch that delivers nothing would.
    h.lagging = await h.canary();
    const writeCount = () => h.cluster.writes.length;
    const before = prom.queries();
    const canary = await step(h);
    assert.equal(canary.status?.canaryWeight, 20);
    const queried = prom.queries() - before;
    assert.ok(queried > 0, 'the step queried Prometheus');
    const writes = writeCount();
    for (let i = 0; i < 3; i++) await h.pass();
    assert.equal(prom.queries() - before, queried, 'no check ran again for the step already taken');
    assert.equal(writeCount(), writes, 'nothing was written again');
    assert.equal(h.events().filter((m) => m === 'Advance podinfo.test canary weight 20').length, 1, 'announced once');
    // Caught up: the cache answers again.
    h.lagging = undefined;
    await h.settle();
    assert.equal((await h.canary()).status?.canaryWeight, 20);
  });

  it('suspend: a suspended Canary takes no step and runs no check; resumed, it goes on from where it was', async () => {
    const h = await bootstrapped(prom.url);
    await analysing(h);
    const c = await h.canary();
    await h.cluster.patch(at(CR.canaries, NS, 'podinfo'), {
      spec: { suspend: true },
      metadata: { resourceVersion: c.metadata.resourceVersion },
    });
    const queries = prom.queries();
    let canary = await step(h);
    canary = await step(h);
    assert.equal(canary.status?.canaryWeight, 10);
    assert.equal(prom.queries(), queries, 'no check while suspended');
    assert.equal((await h.target()).spec.paused, true, 'the freeze holds');
    const s = await h.canary();
    await h.cluster.patch(at(CR.canaries, NS, 'podinfo'), {
      spec: { suspend: false },
      metadata: { resourceVersion: s.metadata.resourceVersion },
    });
    canary = await step(h);
    assert.equal(canary.status?.canaryWeight, 20);
  });

  describe('control actions (CanaryAction)', () => {
    const action = async (h: Harness, verb: string, name: string, username = 'alice') => {
      await h.cluster.create(at(ACTION_REF, NS), {
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'CanaryAction',
        metadata: { name, namespace: NS },
        spec: { canary: 'podinfo', action: verb, ...(username ? { username } : {}) },
      });
    };
    const outcome = (h: Harness, name: string) => h.cluster.get<CanaryAction>(at(ACTION_REF, NS, name)).then((a) => a.status);

    it('abort mid-analysis: Failed at once, the outcome on the action, the user in the Event, the primary untouched', async () => {
      const h = await bootstrapped(prom.url);
      await analysing(h);
      const primaryBefore = (await h.target()).status;
      const specBefore = JSON.stringify((await h.canary()).spec);
      await action(h, 'abort', 'podinfo-abort-1');
      await h.settle();
      const canary = await h.canary();
      assert.equal(canary.status?.phase, 'Failed');
      assert.equal(canary.status?.lastAction?.by, 'alice');
      assert.equal(JSON.stringify(canary.spec), specBefore, 'the spec is untouched');
      const s = await outcome(h, 'podinfo-abort-1');
      assert.equal(s?.result, 'Applied');
      assert.equal(s?.canaryPhase, 'Failed');
      assert.ok(h.events().some((m) => /^Accepted abort of podinfo\.test requested by alice: /.test(m)));
      assert.deepEqual((await h.target()).status, primaryBefore);
      assert.deepEqual(await h.weights(), { 'podinfo-primary': 100, 'podinfo-canary': 0 });
      const stalled = canary.status?.conditions?.find((c) => c.type === 'Stalled');
      assert.equal(stalled?.status, 'True');
    });

    it("refuses a promote its namespace's cluster policy does not allow, naming the policy: the gate it requires stays closed", async () => {
      const h = await bootstrapped(prom.url);
      await analysing(h);
      await h.cluster.create(at(R.namespaces, undefined), { metadata: { name: NS, labels: { [L.rollouts]: values.rolloutsEnabled } } });
      await h.cluster.create(at({ group: 'sluice.dev', version: 'v1alpha1', plural: 'clustercanarypolicies' }, undefined), {
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'ClusterCanaryPolicy',
        metadata: { name: 'prod-gates' },
        spec: { constraints: { forbidSkipAnalysis: true } },
      });
      const before = (await h.canary()).status?.phase;
      await action(h, 'promote', 'podinfo-promote-1');
      await h.settle();
      const s = await outcome(h, 'podinfo-promote-1');
      assert.equal(s?.result, 'Rejected');
      assert.match(s?.message ?? '', /^ClusterCanaryPolicy prod-gates does not allow promote here/);
      assert.equal((await h.canary()).status?.phase, before, 'not promoted');
      assert.ok(h.events().some((m) => /^Refused promote of podinfo\.test requested by alice: ClusterCanaryPolicy prod-gates/.test(m)));
      // An action the policy allows is still taken.
      await action(h, 'abort', 'podinfo-abort-2');
      await h.settle();
      assert.equal((await outcome(h, 'podinfo-abort-2'))?.result, 'Applied');
    });

    it('a crash after the Canary recorded the action: the next pass completes the action without taking it twice', async () => {
      const h = await bootstrapped(prom.url);
      await analysing(h);
      await action(h, 'pause', 'podinfo-pause-1');
      h.cluster.failNext((w) => w.ref.plural === 'canaryactions' && w.ref.subresource === 'status');
      await assert.rejects(h.pass(), /connection reset/);
      assert.equal((await h.canary()).status?.lastAction?.name, 'podinfo-pause-1');
      assert.equal((await outcome(h, 'podinfo-pause-1'))?.result, undefined);
      await h.settle();
      assert.equal((await outcome(h, 'podinfo-pause-1'))?.result, 'Applied', 'completed from the recorded outcome');
      assert.equal(h.events().filter((m) => m.startsWith('Accepted pause')).length, 1, 'taken once');
      assert.equal(h.events().filter((m) => m.startsWith('Refused')).length, 0);
    });

    it('refuses an action no admission stamped, one left waiting too long, and one for a Canary that is gone', async () => {
      const h = await bootstrapped(prom.url);
      await action(h, 'pause', 'unstamped', '');
      await h.settle();
      assert.match((await outcome(h, 'unstamped'))?.message ?? '', /no requesting user was recorded/);
      await action(h, 'pause', 'stale');
      h.tick(11 * 60_000);
      await h.settle();
      assert.equal((await outcome(h, 'stale'))?.result, 'Rejected');
      assert.match((await outcome(h, 'stale'))?.message ?? '', /not acted on within 10 minutes/);
      assert.equal((await h.canary()).status?.analysisPaused, undefined, 'neither was taken');
      await h.cluster.create(at(ACTION_REF, NS), {
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'CanaryAction',
        metadata: { name: 'orphan', namespace: NS },
        spec: { canary: 'nosuch', action: 'promote', username: 'alice' },
      });
      await h.reconciler.reconcile(`${NS}/nosuch`);
      assert.match((await outcome(h, 'orphan'))?.message ?? '', /no Canary nosuch\.test/);
    });

    it('completed actions are removed an hour after they completed', async () => {
      const h = await bootstrapped(prom.url);
      await action(h, 'pause', 'p1');
      await h.settle();
      await action(h, 'resume', 'r1');
      await h.settle();
      assert.equal((await outcome(h, 'r1'))?.result, 'Applied');
      assert.equal((await h.canary()).status?.analysisPaused, undefined, 'the pause is lifted in the stored status');
      h.tick(61 * 60_000);
      await h.settle();
      assert.equal(await h.cluster.find(at(ACTION_REF, NS, 'p1')), undefined);
      assert.equal(await h.cluster.find(at(ACTION_REF, NS, 'r1')), undefined);
    });
  });
});
