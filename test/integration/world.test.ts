// The local world behaves like a cluster: Deployments become Available on kwok nodes, a paused
// Deployment holds its ReplicaSet, the simulated gateway splits traffic by HTTPRoute weights and
// reports route status, and Prometheus sees it all.
import assert from 'node:assert/strict';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { urls } from '../world/layout.js';
import {
  admin,
  type Deployment,
  deleteNamespace,
  deploymentManifest,
  prometheus,
  serviceManifest,
  simulator,
  testNamespace,
  waitAvailable,
} from '../world/test-clients.js';

describe('the local world', () => {
  let ns: string;
  before(async () => {
    ns = await testNamespace('world');
  });
  after(async () => {
    await deleteNamespace(ns);
  });

  it('runs a Deployment scaled to 3 to Available', async () => {
    const client = await admin();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'three', { replicas: 1 }));
    await waitAvailable(ns, 'three', 1);
    await client.patch(at(R.deployments, ns, 'three'), { spec: { replicas: 3 } });
    const d = await waitAvailable(ns, 'three', 3);
    assert.equal(d.status?.availableReplicas, 3);
    const pods = await client.list<KubeObject & { spec: { nodeName?: string } }>(at(R.pods, ns), { labelSelector: 'app=three' });
    assert.equal(pods.items.length, 3);
    assert.ok(
      pods.items.every((p) => p.spec.nodeName?.startsWith('kwok-node-')),
      'pods are scheduled on kwok nodes',
    );
  });

  it('creates no new ReplicaSet for a paused Deployment whose template changed', async () => {
    const client = await admin();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'held', { replicas: 2 }));
    await waitAvailable(ns, 'held', 2);
    await client.patch(at(R.deployments, ns, 'held'), { spec: { paused: true } });
    const { body } = await client.patch<Deployment>(
      at(R.deployments, ns, 'held'),
      {
        spec: { template: { spec: { containers: [{ name: 'app', image: 'ghcr.io/stefanprodan/podinfo:6.0.1' }] } } },
      },
      'strategic',
    );
    // The deployment controller has seen the change once observedGeneration catches up; only then
    // is "no new ReplicaSet" a fact rather than a race.
    const seen = await waitFor(
      async () => {
        const d = await client.get<Deployment>(at(R.deployments, ns, 'held'));
        return (d.status?.observedGeneration ?? 0) >= (body.metadata.generation ?? Infinity) ? d : undefined;
      },
      { timeoutMs: 30_000, what: 'the deployment controller to observe the paused change' },
    );
    assert.equal(seen.spec.paused, true);
    const sets = await client.list(at(R.replicasets, ns), { labelSelector: 'app=held' });
    assert.equal(sets.items.length, 1, 'still one ReplicaSet');
    const pods = await client.list<KubeObject & { spec: { containers: { image: string }[] } }>(at(R.pods, ns), {
      labelSelector: 'app=held',
    });
    assert.ok(
      pods.items.every((p) => p.spec.containers[0]?.image.endsWith(':6.0.0')),
      'every pod still runs the old image',
    );
  });

  describe('gateway and traffic', () => {
    const route = (name: string, backends: { name: string; weight: number }[]) => ({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name, namespace: ns },
      spec: {
        parentRefs: [{ name: 'cilium', namespace: 'cilium' }],
        rules: [{ backendRefs: backends.map((b) => ({ name: b.name, port: 9898, weight: b.weight })) }],
      },
    });

    before(async () => {
      const client = await admin();
      for (const name of ['web', 'web-canary', 'flaky']) {
        await client.create(at(R.deployments, ns), deploymentManifest(ns, name));
        await client.create(at(R.services, ns), serviceManifest(ns, name, { app: name }));
      }
      for (const name of ['web', 'web-canary', 'flaky']) await waitAvailable(ns, name, 1);
    });

    it('accepts an attached HTTPRoute in status.parents, with its generation', async () => {
      const client = await admin();
      const created = await client.create<KubeObject>(at(R.httproutes, ns), route('status-check', [{ name: 'web', weight: 1 }]));
      type Route = KubeObject & {
        status?: {
          parents?: {
            parentRef: { name: string };
            controllerName: string;
            conditions: { type: string; status: string; observedGeneration?: number }[];
          }[];
        };
      };
      const accepted = await waitFor(
        async () => {
          const r = await client.get<Route>(at(R.httproutes, ns, 'status-check'));
          const parent = r.status?.parents?.find((p) => p.parentRef.name === 'cilium');
          return parent?.conditions.some((c) => c.type === 'Accepted' && c.status === 'True') ? parent : undefined;
        },
        { timeoutMs: 15_000, what: 'HTTPRoute status-check to be Accepted' },
      );
      assert.equal(accepted.controllerName, 'io.cilium/gateway-controller');
      assert.equal(accepted.conditions.find((c) => c.type === 'Accepted')?.observedGeneration, created.metadata.generation);
      assert.equal(accepted.conditions.find((c) => c.type === 'ResolvedRefs')?.status, 'True');
    });

    it('at rest, writes no route status that did not change (a quiet world: a handful of writes a minute at most)', async function () {
      this.timeout(60_000);
      const client = await admin();
      const names = ['quiet-a', 'quiet-b', 'quiet-c', 'quiet-d'];
      for (const name of names) await client.create(at(R.httproutes, ns), route(name, [{ name: 'web', weight: 1 }]));
      type Route = KubeObject & { status?: { parents?: { conditions: { type: string; status: string }[] }[] } };
      const list = await waitFor(
        async () => {
          const l = await client.list<Route>(at(R.httproutes, ns));
          const ours = l.items.filter((r) => names.includes(r.metadata.name));
          const accepted = ours.filter((r) =>
            r.status?.parents?.some((p) => p.conditions.some((c) => c.type === 'Accepted' && c.status === 'True')),
          );
          return accepted.length === names.length ? l : undefined;
        },
        { timeoutMs: 15_000, what: 'the quiet routes to be Accepted' },
      );
      // From here nothing changes, so nothing should be written: over the next 15 s (the watch's
      // own length, ended by the apiserver) every change to these routes is counted, and so is
      // every status PATCH the simulator sends (a PATCH that changes nothing is no change).
      const sent = async () => ((await (await fetch(`${urls.simulator}/status-writes`)).json()) as { statusWrites: number }).statusWrites;
      const sentBefore = await sent();
      const writes: string[] = [];
      await client.watch<Route>(
        at(R.httproutes, ns),
        list.metadata.resourceVersion,
        (ev) => {
          if (ev.type === 'MODIFIED' && names.includes(ev.object.metadata.name)) writes.push(ev.object.metadata.name);
        },
        { timeoutSeconds: 15 },
      );
      assert.ok(writes.length <= 1, `${writes.length} changes in 15 s to 4 routes at rest: ${writes.slice(0, 10).join(', ')}`);
      const patches = (await sent()) - sentBefore;
      assert.ok(patches <= 2, `the simulator sent ${patches} status PATCHes in 15 s with nothing changing`);
      for (const name of names) await client.delete(at(R.httproutes, ns, name));
    });

    it('splits requests 90/10 by weight, as Prometheus sees them (canary share 10% ± 3 points)', async function () {
      this.timeout(120_000);
      const client = await admin();
      await client.create(
        at(R.httproutes, ns),
        route('split', [
          { name: 'web', weight: 90 },
          { name: 'web-canary', weight: 10 },
        ]),
      );
      await simulator('PUT', `/traffic/${ns}/split`, { ratePerSecond: 200 });
      const sel = (svc: string) => `envoy_cluster_upstream_rq{envoy_cluster_name="${ns}_${svc}_9898"}`;
      const counts = async () =>
        [
          await prometheus.value(`sum(${sel('web-canary')}) or vector(0)`),
          await prometheus.value(`sum(${sel('web')}) or vector(0)`),
        ] as const;
      // Counted from the moment both backends answer: until the gateway has seen a backend's
      // endpoints, its requests are answered by the gateway itself and never reach the backend.
      const [c0, p0] = await waitFor(
        async () => {
          const [c, p] = await counts();
          return c > 0 && p > 0 ? [c, p] : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: 'Prometheus to see requests reach both backends of route split' },
      );
      const [canary, total] = await waitFor(
        async () => {
          const [c, p] = await counts();
          return c - c0 + (p - p0) >= 3000 ? [c - c0, c - c0 + (p - p0)] : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 1000, what: 'Prometheus to see 3000 more requests through route split' },
      );
      const share = canary / total;
      assert.ok(Math.abs(share - 0.1) <= 0.03, `canary share ${(share * 100).toFixed(2)}% of ${total} requests`);
      await simulator('DELETE', `/traffic/${ns}/split`);
    });

    it('shows an injected 50% error ratio in a PromQL success rate', async function () {
      this.timeout(120_000);
      const client = await admin();
      await simulator('PUT', `/faults/${ns}/flaky`, { errorRatio: 0.5 });
      await client.create(at(R.httproutes, ns), route('flaky', [{ name: 'flaky', weight: 1 }]));
      await simulator('PUT', `/traffic/${ns}/flaky`, { ratePerSecond: 200 });
      const cluster = `envoy_cluster_name="${ns}_flaky_9898"`;
      const rate = await waitFor(
        async () => {
          const total = await prometheus.value(`sum(envoy_cluster_upstream_rq{${cluster}})`);
          if (total < 2000) return undefined;
          return prometheus.value(
            `sum(envoy_cluster_upstream_rq{${cluster},envoy_response_code!~"5.*"}) / sum(envoy_cluster_upstream_rq{${cluster}}) * 100`,
          );
        },
        { timeoutMs: 90_000, intervalMs: 1000, what: 'Prometheus to see 2000 requests to flaky' },
      );
      assert.ok(Math.abs(rate - 50) <= 5, `success rate ${rate.toFixed(2)}%`);
      // The workload-side series agrees with the gateway's.
      const podSide = await prometheus.value(
        `sum(http_requests_total{namespace="${ns}",service="flaky",status!~"5.*"}) / sum(http_requests_total{namespace="${ns}",service="flaky"}) * 100`,
      );
      assert.ok(Math.abs(podSide - 50) <= 5, `http_requests_total success rate ${podSide.toFixed(2)}%`);
      await simulator('DELETE', `/faults/${ns}/flaky`);
      await simulator('DELETE', `/traffic/${ns}/flaky`);
    });

    it('answers 503 for a backend without ready endpoints', async function () {
      this.timeout(60_000);
      const client = await admin();
      await client.create(at(R.services, ns), serviceManifest(ns, 'empty', { app: 'nothing-here' }));
      await client.create(at(R.httproutes, ns), route('empty', [{ name: 'empty', weight: 1 }]));
      const n = await waitFor(
        () =>
          prometheus
            .value(`sum(envoy_cluster_upstream_rq{envoy_cluster_name="${ns}_empty_9898",envoy_response_code="503"})`)
            .catch(() => undefined),
        {
          timeoutMs: 30_000,
          intervalMs: 1000,
          what: '503s for the Service without endpoints',
        },
      );
      assert.ok(n > 0);
      const ok = await prometheus.query(`envoy_cluster_upstream_rq{envoy_cluster_name="${ns}_empty_9898",envoy_response_code="200"}`);
      assert.equal(ok.length, 0, 'no request succeeded');
    });
  });
});
