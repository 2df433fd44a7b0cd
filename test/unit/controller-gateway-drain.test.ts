// A real gateway applies a route write a moment after it (docs/real-gateway.md measured it): the
// canary copy keeps its pods after a rollback until every gateway reports the route's new
// generation, and goes to zero at once where no gateway reports status, or after a ceiling.
import assert from 'node:assert/strict';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { analysing, bootstrapped, type Harness, NS, prometheusStub, step } from './reconciler-harness.js';

const route = at(R.httproutes, NS, 'podinfo');

/** A gateway's report on the route: Accepted, at the generation it has taken up. */
function report(h: Harness, observedGeneration: number): void {
  h.cluster.setStatus(route, {
    parents: [
      {
        parentRef: { name: 'gw', namespace: 'gw' },
        controllerName: 'example.com/gateway',
        conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration }],
      },
    ],
  });
}

const generation = async (h: Harness) => (await h.cluster.get<KubeObject>(route)).metadata.generation ?? 0;

describe('the canary copy scales down only once the gateways serve the route without it', () => {
  let prom: Awaited<ReturnType<typeof prometheusStub>>;
  before(async () => {
    prom = await prometheusStub();
  });
  after(() => prom.close());

  async function rolledBack(h: Harness) {
    prom.setRate(100);
    await analysing(h);
    assert.equal((await h.canary()).status?.canaryWeight, 10);
    report(h, await generation(h));
    prom.setRate(50);
    const before = await generation(h);
    const canary = await step(h);
    assert.equal(canary.status?.phase, 'Failed');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 100, 'podinfo-canary': 0 });
    assert.ok((await generation(h)) > before, 'the rollback wrote the route');
  }

  it('keeps the canary pods while the gateway reports an older generation, and scales them down once it reports the new one', async () => {
    const h = await bootstrapped(prom.url, { threshold: 1 });
    await rolledBack(h);
    assert.ok(((await h.copy())?.spec.replicas ?? 0) > 0, 'the gateway may still send the canary traffic: its pods stay');
    const again = await h.pass();
    assert.equal(again.requeueAfterMs, 250, 'and the controller looks again soon');
    report(h, await generation(h));
    await h.pass();
    assert.equal((await h.copy())?.spec.replicas, 0);
    assert.ok(!h.events().some((m) => /have not reported the route/.test(m)));
  });

  it('scales down anyway after 30 s of a gateway that never catches up, and says so', async () => {
    const h = await bootstrapped(prom.url, { threshold: 1 });
    await rolledBack(h);
    h.tick(29_000);
    await h.pass();
    assert.ok(((await h.copy())?.spec.replicas ?? 0) > 0);
    h.tick(2_000);
    await h.pass();
    assert.equal((await h.copy())?.spec.replicas, 0);
    assert.ok(
      h.events().some((m) => /the gateways have not reported the route of podinfo\.test as applied within 30 s/.test(m)),
      h.events().join('\n'),
    );
  });

  it('keeps them for the drain delay even once the gateway reports, as a gateway serves a little after it reports', async () => {
    const h = await bootstrapped(prom.url, { threshold: 1 }, 5_000);
    await rolledBack(h);
    report(h, await generation(h));
    h.tick(4_000);
    const waiting = await h.pass();
    assert.ok(((await h.copy())?.spec.replicas ?? 0) > 0, 'within the drain delay the pods stay');
    assert.equal(waiting.requeueAfterMs, 1_000, 'the rest of the delay in one wait, not a pass every 250 ms');
    h.tick(1_500);
    await h.pass();
    assert.equal((await h.copy())?.spec.replicas, 0);
  });

  it('releases the primary at promotion only once the gateway serves the route that sends everything to the canary', async () => {
    const h = await bootstrapped(prom.url, { maxWeight: 10 }, 0);
    prom.setRate(100);
    await analysing(h);
    report(h, await generation(h));
    const canary = await step(h);
    assert.equal(canary.status?.phase, 'Promoting');
    assert.deepEqual(await h.weights(), { 'podinfo-primary': 0, 'podinfo-canary': 100 });
    assert.equal((await h.target()).spec.paused, true, 'the primary keeps its pods while the gateway still splits');
    report(h, await generation(h));
    await h.pass();
    assert.notEqual((await h.target()).spec.paused, true, 'released once the gateway reports the route');
  });

  it('scales down in the same pass where no gateway writes status for the route', async () => {
    const h = await bootstrapped(prom.url, { threshold: 1 });
    prom.setRate(100);
    await analysing(h);
    prom.setRate(50);
    assert.equal((await step(h)).status?.phase, 'Failed');
    assert.equal((await h.copy())?.spec.replicas, 0);
  });
});
