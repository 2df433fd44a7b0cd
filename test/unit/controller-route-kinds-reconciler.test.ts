// A route kind registered only in this test — a "split" ConfigMap that some mesh would read its
// weights from — chosen by its own spec.provider, and a Canary rolled out end to end through it
// by the unchanged reconciler, with no HTTPRoute written (docs/architecture.md "Adding a route
// kind"). A Canary without a provider still gets the HTTPRoute, from the same controller.
import assert from 'node:assert/strict';
import { apexName } from '../../api/canary-analysis.js';
import { labels as L } from '../../api/contract.js';
import { type Canary, type CanaryStatus, CR } from '../../api/flagger-types.js';
import { phase as phaseFacts } from '../../api/phases.js';
import { ROUTE_KINDS, type RouteKind, type RouteKindFacts } from '../../api/route-kinds.js';
import { generatedMeta } from '../../controller/generated-objects.js';
import type { RouteObject, Router } from '../../controller/router/router.js';
import { at, type KubeObject, type ObjectClient, R } from '../../lib/kube/client.js';
import type { ObjectCache } from '../../lib/kube/informer.js';
import { deployment, rev, seedCanary } from './controller-fixtures.js';
import { Harness, NS, prometheusStub, step, V0, V1 } from './reconciler-harness.js';

type Split = KubeObject & { data?: Record<string, string> };

const SPLIT: RouteKindFacts = {
  kind: 'SplitConfig' as RouteKind,
  ref: R.configmaps,
  providers: ['splitmesh'],
  providerVersions: ['v1'],
  described: 'a split ConfigMap',
  objectName: (apex) => `${apex}-split`,
  managedPart: (route) => (route as Split | undefined)?.data,
  split: (route) => {
    const data = (route as Split | undefined)?.data;
    return data ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Number(v)])) : undefined;
  },
};

/** The whole router of the new kind: weights as ConfigMap data, every strategy's traffic as a weight. */
class SplitRouter implements Router {
  readonly facts = SPLIT;
  writes = 0;
  constructor(
    private readonly client: ObjectClient,
    private readonly cache: () => ObjectCache<Split>,
  ) {}

  build(canary: Canary, status: CanaryStatus, canaryWeight: number): KubeObject[] {
    const apex = apexName(canary);
    // At release everything goes to the canary pods; idle, everything to the primary.
    const w = phaseFacts(status.phase ?? '').analysing || status.phase === 'Promoting' ? canaryWeight : 0;
    const split: Split = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: generatedMeta(canary, SPLIT.objectName(apex)),
      data: { [`${apex}-primary`]: String(100 - w), [`${apex}-canary`]: String(w) },
    };
    return [split];
  }

  async ensure(canary: Canary, status: CanaryStatus, canaryWeight: number): Promise<void> {
    const [want] = this.build(canary, status, canaryWeight) as [Split];
    const have = this.cache().get(canary.metadata.namespace, want.metadata.name);
    if (have && JSON.stringify(have.data) === JSON.stringify(want.data)) return;
    this.writes++;
    if (!have) await this.client.create(at(R.configmaps, canary.metadata.namespace), want);
    else await this.client.patch(at(R.configmaps, canary.metadata.namespace, want.metadata.name), { data: want.data });
  }

  /** A ConfigMap has no gateway to report on it: nothing to wait on. */
  served(): boolean | undefined {
    return undefined;
  }

  objects(canary: Canary): RouteObject[] {
    const name = SPLIT.objectName(apexName(canary));
    return [
      {
        ref: at(R.configmaps, canary.metadata.namespace, name),
        kind: 'ConfigMap',
        cached: this.cache().get(canary.metadata.namespace, name),
      },
    ];
  }

  weights(canary: Canary): Record<string, number> | undefined {
    const apex = apexName(canary);
    return SPLIT.split(this.cache().get(canary.metadata.namespace, SPLIT.objectName(apex)), apex);
  }
}

describe('reconciler: one router per route kind, chosen by spec.provider (in-memory apiserver)', () => {
  let prom: Awaited<ReturnType<typeof prometheusStub>>;
  before(async () => {
    prom = await prometheusStub();
  });
  after(() => prom.close());

  /** A controller with the split router beside the HTTPRoute one; `first` runs before the Canary is created. */
  async function withSplitRouter(provider: string | undefined, first: (h: Harness) => Promise<unknown> = async () => undefined) {
    let router: SplitRouter | undefined;
    let splits: ObjectCache<Split> | undefined;
    const h = new Harness(prom.url, {
      targets: R.deployments,
      routers: (client) => {
        router = new SplitRouter(client, () => splits!);
        return [router];
      },
    });
    splits = h.cluster.cache<Split>(R.configmaps, (o) => o.metadata.labels?.[L.canaryName] !== undefined);
    const target = deployment(V0);
    delete target.status;
    await h.cluster.create(at(R.deployments, NS), target);
    h.rollOut('podinfo');
    await first(h);
    const canary = seedCanary({
      spec: { autoscalerRef: undefined, ...(provider ? { provider } : {}) } as never,
      analysis: { interval: '1m', metrics: [], maxWeight: 20, stepWeight: 10 },
    });
    delete canary.status;
    await h.cluster.create(at(CR.canaries, NS), canary);
    await h.settle();
    return { h, router: router!, canary: () => h.canary() };
  }

  it('a route kind registered only in a test carries a whole rollout, and no HTTPRoute is written', async () => {
    const { h, router } = await withSplitRouter('splitmesh:v1');
    const split = async () => router.weights(await h.canary());
    assert.equal((await h.canary()).status?.phase, 'Initialized');
    assert.deepEqual(await split(), { 'podinfo-primary': 100, 'podinfo-canary': 0 });

    await h.pushImage(V1);
    await h.settle();
    h.rollOut('podinfo-canary');
    await h.settle();
    let canary = await h.canary();
    assert.equal(canary.status?.phase, 'Progressing');
    assert.equal(canary.status?.canaryWeight, 10);
    assert.deepEqual(await split(), { 'podinfo-primary': 90, 'podinfo-canary': 10 });
    canary = await step(h);
    assert.equal(canary.status?.canaryWeight, 20);
    assert.deepEqual(await split(), { 'podinfo-primary': 80, 'podinfo-canary': 20 });
    canary = await step(h);
    assert.equal(canary.status?.phase, 'Promoting');
    h.rollOut('podinfo');
    await h.settle();
    canary = await h.canary();
    assert.equal(canary.status?.phase, 'Succeeded');
    assert.equal(canary.status?.lastPromotedSpec, rev(V1));
    assert.deepEqual(await split(), { 'podinfo-primary': 100, 'podinfo-canary': 0 });
    assert.ok(router.writes >= 4, `the split was written at each step (${router.writes} writes)`);
    assert.equal(await h.cluster.find(at(R.httproutes, NS, 'podinfo')), undefined, 'no HTTPRoute for this Canary');
    // The provider is one this controller serves: no "not supported" Warning, unlike an unknown one.
    assert.deepEqual(
      h.events().filter((e) => /spec\.provider/.test(e)),
      [],
    );
  });

  it('a Canary without a provider, or with gatewayapi, still gets the HTTPRoute from the same controller', async () => {
    for (const provider of [undefined, 'gatewayapi:v1']) {
      const { h, router } = await withSplitRouter(provider);
      assert.equal((await h.canary()).status?.phase, 'Initialized', String(provider));
      assert.deepEqual(await h.weights(), { 'podinfo-primary': 100, 'podinfo-canary': 0 }, String(provider));
      assert.equal(router.writes, 0, 'the split router was not asked');
      assert.equal(await h.cluster.find(at(R.configmaps, NS, 'podinfo-split')), undefined);
      // The route kind's facts say which object is the Canary's route.
      assert.equal(ROUTE_KINDS.HTTPRoute.objectName('podinfo'), 'podinfo');
    }
    const { h } = await withSplitRouter('istio');
    assert.ok(await h.cluster.find(at(R.httproutes, NS, 'podinfo')), 'an unknown provider gets the default route kind');
    assert.ok(
      h.events().some((e) => /^spec\.provider "istio" is not supported: sluice shifts traffic through a Gateway API HTTPRoute/.test(e)),
      h.events().join('\n'),
    );
  });

  it("a name clash on the new kind's object is reported as on an HTTPRoute", async () => {
    // Someone else's ConfigMap at the name the new route kind would write.
    const { h, router } = await withSplitRouter('splitmesh', (x) =>
      x.cluster.create(at(R.configmaps, NS), {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'podinfo-split' },
        data: { mine: '1' },
      }),
    );
    const c = await h.canary();
    assert.notEqual(c.status?.phase, 'Initialized');
    const msg = (c.status?.conditions ?? []).map((x) => x.message).join('; ');
    assert.match(msg, /ConfigMap podinfo-split/, msg);
    const theirs = await h.cluster.get<Split>(at(R.configmaps, NS, 'podinfo-split'));
    assert.deepEqual(theirs.data, { mine: '1' }, 'left as it was');
    assert.equal(router.writes, 0);
  });
});
