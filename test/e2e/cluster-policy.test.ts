// Namespace opt-in and ClusterCanaryPolicy on the local world: a labelled namespace's Deployments
// get Canaries, a change goes through analysis, a late Deployment is covered, the validating
// webhook refuses a Canary above the policy's cap and a hand edit of a generated HTTPRoute, and
// removing the label leaves nothing generated behind and no Deployment paused unexplained.
import assert from 'node:assert/strict';
import { annotations, labels } from '../../api/contract.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import { type ClusterCanaryPolicy, POLICY_REF } from '../../api/policy-types.js';
import { templateRevision } from '../../api/revision.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { canaryEvents, eventuallyInOrder, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { admin, type Deployment, deleteNamespace, deploymentManifest, simulator } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

const IMG = 'ghcr.io/stefanprodan/podinfo';
const APPS = ['web', 'api', 'cart'];

describe('namespace opt-in and cluster policy, end to end', () => {
  const { binDir } = buildBinaries();
  let ns: string;
  let policyName: string;
  const kubectl = (args: string[], stdin?: string) => runKubectl(binDir, args, stdin);
  const canaries = async () => (await (await admin()).list<Canary>(at(CR.canaries, ns))).items;
  const allInitialized = (names: string[]) => async () => {
    const got = await canaries();
    return names.every((n) => ['Initialized', 'Succeeded'].includes(got.find((c) => c.metadata.name === n)?.status?.phase ?? ''))
      ? got
      : undefined;
  };
  const policy = async () => (await admin()).get<ClusterCanaryPolicy>(at(POLICY_REF, undefined, policyName));

  before(async function () {
    this.timeout(120_000);
    ns = await sluiceAndNamespace('policy', { team: 'shop' });
    policyName = `e2e-${ns}`;
    const client = await admin();
    for (const app of APPS) await client.create(at(R.deployments, ns), deploymentManifest(ns, app, { replicas: 2 }));
    // Only this test's namespace, so other tests' namespaces are never touched.
    await client.create(POLICY_REF, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'ClusterCanaryPolicy',
      metadata: { name: policyName },
      spec: {
        priority: 10,
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        exclude: [{ name: 'batch' }],
        canaryTemplate: {
          service: { gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }], hostPattern: '{name}.{namespace}.example.com' },
          analysis: {
            interval: '3s',
            threshold: 3,
            maxWeight: 30,
            stepWeight: 10,
            metrics: [{ name: 'request-success-rate', interval: '6s', thresholdRange: { min: 99 } }],
          },
        },
        constraints: { maxWeight: 50, maxStepWeight: 10, requiredMetrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] },
      },
    });
    for (const app of APPS) await simulator('PUT', `/traffic/${ns}/${app}`, { ratePerSecond: 60 });
  });
  after(async () => {
    for (const app of APPS) await simulator('DELETE', `/traffic/${ns}/${app}`).catch(() => undefined);
    await (await admin()).delete(at(POLICY_REF, undefined, policyName)).catch(() => undefined);
    await deleteNamespace(ns);
  });

  it('1. labelling the namespace gives each of its three Deployments a Canary, Initialized, and the policy says so', async () => {
    assert.deepEqual(await canaries(), [], 'nothing before the namespace opts in');
    const t0 = Date.now();
    const r = await kubectl(['label', 'namespace', ns, `${labels.rollouts}=enabled`]);
    assert.equal(r.code, 0, r.stderr);
    const got = await waitFor(allInitialized(APPS), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: `Canaries ${APPS.join(', ')} in ${ns} to be Initialized`,
    });
    process.stdout.write(`      (three Canaries Initialized ${Date.now() - t0} ms after the label)\n`);
    for (const c of got) {
      assert.equal(c.metadata.labels?.[labels.policy], policyName);
      assert.deepEqual(
        c.metadata.ownerReferences?.map((o) => [o.kind, o.name]),
        [['ClusterCanaryPolicy', policyName]],
      );
      assert.deepEqual(c.spec.service.hosts, [`${c.metadata.name}.${ns}.example.com`]);
      assert.equal(c.spec.service.port, 9898, 'port from the first container port');
    }
    const st = await waitFor(
      async () => {
        const p = await policy();
        return p.status?.generated === 3 ? p.status : undefined;
      },
      { timeoutMs: 10_000, what: `${policyName} status to count 3 Deployments` },
    );
    assert.deepEqual(st.namespaces, [ns]);
    assert.deepEqual(st.deployments, APPS.map((a) => `${ns}/${a}`).sort());
    assert.deepEqual(st.problems, []);
    assert.equal(st.conditions?.[0]?.status, 'True');
  });

  it('2. kubectl set image on one of them goes through analysis to the primary', async () => {
    const r = await kubectl(['-n', ns, 'set', 'image', 'deployment/web', `app=${IMG}:6.0.1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /frozen at revision .* will roll out through canary web/);
    const rev = templateRevision((await (await admin()).get<Deployment>(at(R.deployments, ns, 'web'))).spec.template);
    await waitPhase(ns, 'Succeeded', 120_000, rev, 'web');
    const problem = await eventuallyInOrder(
      () => canaryEvents(ns, 'web'),
      [
        `New revision detected! Scaling up web-canary.${ns}`,
        `Starting canary analysis for web.${ns}`,
        ...[10, 20, 30].map((w) => `Advance web.${ns} canary weight ${w}`),
        `Promotion completed! Scaling down web-canary.${ns}`,
      ],
    );
    assert.equal(problem, undefined, problem);
    const web = await (await admin()).get<Deployment>(at(R.deployments, ns, 'web'));
    assert.notEqual(web.spec.paused, true);
    assert.equal(web.metadata.annotations?.[annotations.stableRevision], rev);
  });

  it('3. a Deployment created later in the namespace is covered; an excluded one is not', async () => {
    const client = await admin();
    const t0 = Date.now();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'late', { replicas: 1 }));
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'batch', { replicas: 1 }));
    await waitFor(allInitialized(['late']), { timeoutMs: 30_000, intervalMs: 200, what: `Canary late.${ns} to be Initialized` });
    process.stdout.write(`      (late Deployment's Canary Initialized ${Date.now() - t0} ms after its creation)\n`);
    await waitFor(async () => (await policy()).status?.generated === 4 || undefined, {
      timeoutMs: 10_000,
      what: `${policyName} status to count 4 Deployments`,
    });
    assert.equal(
      (await canaries()).some((c) => c.metadata.name === 'batch'),
      false,
    );
  });

  it('4. a Canary with maxWeight 90 under a cap of 50 is refused with the reason, and nothing is stored', async () => {
    const manifest = {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: 'greedy', namespace: ns },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'batch' },
        service: { port: 9898 },
        analysis: {
          interval: '3s',
          maxWeight: 90,
          stepWeight: 10,
          metrics: [{ name: 'request-success-rate', thresholdRange: { min: 95 } }],
        },
      },
    };
    for (const dry of [['--dry-run=server'], []]) {
      const r = await kubectl(['apply', ...dry, '-f', '-'], JSON.stringify(manifest));
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /admission webhook "canaries\.sluice\.dev" denied the request: Canary greedy\.policy-[0-9a-f]+ breaks cluster policy \(2 violations\): 1\) analysis\.maxWeight 90 is above the ceiling 50 \(ClusterCanaryPolicy e2e-policy-[0-9a-f]+\); 2\) analysis\.metrics "request-success-rate" thresholdRange\.min 95 is looser than 99/,
      );
    }
    assert.equal(await (await admin()).find(at(CR.canaries, ns, 'greedy')), undefined);
  });

  it('4b. a required metric kept by name and bound but computed another way (a query of its own) is refused', async () => {
    const manifest = {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: 'always-green', namespace: ns },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'batch' },
        service: { port: 9898 },
        analysis: {
          interval: '3s',
          maxWeight: 50,
          stepWeight: 10,
          metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, query: 'vector(100)' }],
        },
      },
    };
    const r = await kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /analysis\.metrics "request-success-rate" must be computed by the builtin query, not query "vector\(100\)"/);
    assert.equal(await (await admin()).find(at(CR.canaries, ns, 'always-green')), undefined);
  });

  it("5. a hand edit of a generated HTTPRoute's weights is refused, naming its Canary", async () => {
    const patch = JSON.stringify({
      spec: {
        rules: [
          {
            backendRefs: [
              { name: 'cart-primary', port: 9898, weight: 0 },
              { name: 'cart-canary', port: 9898, weight: 100 },
            ],
          },
        ],
      },
    });
    const r = await kubectl(['-n', ns, 'patch', 'httproute', 'cart', '--type=merge', '-p', patch]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`denied the request: HTTPRoute cart\\.${ns} is generated by Canary cart\\.${ns} and changed only by sluice's controller`),
    );
    const route = await (await admin()).get<KubeObject & { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } }>(
      at(R.httproutes, ns, 'cart'),
    );
    assert.deepEqual(
      route.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight]),
      [
        ['cart-primary', 100],
        ['cart-canary', 0],
      ],
    );
    // The contract on the target is locked the same way.
    const r2 = await kubectl(['-n', ns, 'label', 'deployment', 'cart', `${labels.managed}-`]);
    assert.notEqual(r2.code, 0);
    assert.match(r2.stderr, /sluice's record of the rollout owned by Canary cart\./);
  });

  it('6. an explicit Canary wins over the policy: the generated one goes, its objects are taken over without being recreated', async () => {
    const client = await admin();
    const uids = async () =>
      Object.fromEntries(
        await Promise.all(
          [
            ['route', at(R.httproutes, ns, 'cart')],
            ['apex', at(R.services, ns, 'cart')],
            ['primary', at(R.services, ns, 'cart-primary')],
            ['copy', at(R.deployments, ns, 'cart-canary')],
          ].map(async ([k, ref]) => [k, (await client.get(ref as ReturnType<typeof at>)).metadata.uid]),
        ),
      );
    const before = await uids();
    await client.create(at(CR.canaries, ns), {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: 'cart-team', namespace: ns },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'cart' },
        service: { name: 'cart', port: 9898, gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
        analysis: {
          interval: '3s',
          threshold: 2,
          maxWeight: 40,
          stepWeight: 10,
          metrics: [{ name: 'request-success-rate', interval: '6s', thresholdRange: { min: 99.5 } }],
        },
      },
    });
    await waitFor(
      async () => {
        const got = await canaries();
        return !got.some((c) => c.metadata.name === 'cart') &&
          got.find((c) => c.metadata.name === 'cart-team')?.status?.phase === 'Initialized'
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: `generated Canary cart.${ns} gone and cart-team Initialized` },
    );
    const route = await waitFor(
      async () => {
        const r = await client.get(at(R.httproutes, ns, 'cart'));
        return r.metadata.ownerReferences?.some((o) => o.name === 'cart-team') ? r : undefined;
      },
      { timeoutMs: 10_000, what: 'HTTPRoute cart owned by cart-team' },
    );
    assert.equal(route.metadata.labels?.['sluice.dev/canary-name'], 'cart-team');
    assert.deepEqual(await uids(), before, 'the same objects, never deleted and recreated');
    assert.equal((await client.get<Deployment>(at(R.deployments, ns, 'cart'))).metadata.annotations?.[annotations.canary], 'cart-team');
  });

  it('7. removing the label mid-rollout removes every generated Canary and its objects, releases tested Deployments, explains the paused one, and leaves the explicit Canary alone', async () => {
    const client = await admin();
    const r = await kubectl(['-n', ns, 'set', 'image', 'deployment/api', `app=${IMG}:6.0.1`]);
    assert.equal(r.code, 0, r.stderr);
    await waitPhase(ns, 'Progressing', 60_000, undefined, 'api');
    const un = await kubectl(['label', 'namespace', ns, `${labels.rollouts}-`]);
    assert.equal(un.code, 0, un.stderr);
    const kinds = [R.deployments, R.services, R.httproutes, R.hpas];
    const removed = ['web', 'api', 'late'];
    await waitFor(
      async () => {
        if ((await canaries()).map((c) => c.metadata.name).join() !== 'cart-team') return undefined;
        for (const k of kinds) {
          const left = (await client.list(at(k, ns), { labelSelector: 'app.kubernetes.io/managed-by=sluice' })).items;
          if (left.some((o) => removed.includes(o.metadata.labels?.['sluice.dev/canary-name'] ?? ''))) return undefined;
        }
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `the generated Canaries in ${ns} and everything they generated to be gone` },
    );
    for (const app of removed) {
      const d = await client.get<Deployment>(at(R.deployments, ns, app));
      assert.equal(d.metadata.labels?.[labels.managed], undefined, `${app} no longer managed`);
      assert.equal(d.metadata.annotations?.[annotations.canary], undefined);
      if (app === 'api') {
        assert.equal(d.spec.paused, true, 'api holds an untested revision: it stays paused');
        // The Warning is written as the Canary goes; wait for it rather than race it.
        await waitFor(
          async () => {
            const evs = (
              await client.list<KubeObject & { message: string; type: string }>(at(R.events, ns), {
                fieldSelector: 'involvedObject.kind=Deployment,involvedObject.name=api',
              })
            ).items;
            return (
              evs.some(
                (e) =>
                  e.type === 'Warning' &&
                  /stays paused on revision .* which never passed analysis; run "kubectl rollout resume deployment\/api/.test(e.message),
              ) || undefined
            );
          },
          { timeoutMs: 15_000, what: 'the Warning on Deployment api saying how to release it' },
        );
      } else {
        assert.notEqual(d.spec.paused, true, `${app} runs its tested revision and is released`);
      }
    }
    // The team's own Canary is not the policy's to remove.
    const cart = await client.get<Deployment>(at(R.deployments, ns, 'cart'));
    assert.equal(cart.metadata.labels?.[labels.managed], 'true');
    assert.ok(await client.find(at(R.httproutes, ns, 'cart')));
    const st = await waitFor(
      async () => {
        const p = await policy();
        return p.status?.generated === 0 ? p.status : undefined;
      },
      { timeoutMs: 10_000, what: `${policyName} status to count 0` },
    );
    assert.deepEqual(st.namespaces, []);
  });
});
