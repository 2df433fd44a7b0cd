// A StatefulSet as a Canary's target, on the real control plane (docs/workloads.md): frozen by its
// partition at admission, analysed on its highest ordinals, released by lowering the partition
// to 0, rolled back by recreating the canary ordinals on the stable revision. Every sample taken
// during a rollout is checked against the invariant: no ordinal below the canary's share runs the
// untested template.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { annotations, labels } from '../../api/contract.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import { POLICY_REF } from '../../api/policy-types.js';
import { templateRevision } from '../../api/revision.js';
import { canaryOrdinals, FROZEN_PARTITION } from '../../api/statefulset.js';
import type { StatefulSet } from '../../api/workload.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { root } from '../world/layout.js';
import {
  analysedCanary,
  assertRouteAt,
  gitopsHealth,
  kubectlSluice,
  onTag,
  podinfoTemplate,
  type RolloutSample,
  routeWeights,
  sampleRollout,
} from '../world/rollout-samples.js';
import { canaryEvents, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { startController, stopController } from '../world/sluice.js';
import { admin, deleteNamespace, deploymentManifest, installKubectlPlugin, simulator, testNamespace } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

const IMG = 'ghcr.io/stefanprodan/podinfo';
const REPLICAS = 5;
const NAME = 'db';

type Pod = KubeObject & { spec: { containers: { image: string }[] }; metadata: { deletionTimestamp?: string } };
type Sts = StatefulSet & { spec: { template: { spec: { containers: { name: string; image: string }[] } } } };

type Sample = RolloutSample<number>;

describe('StatefulSet targets', () => {
  const { binDir } = buildBinaries();
  let ns: string;
  let pluginDir: string;
  const kubectl = (...args: string[]) => runKubectl(binDir, ['-n', ns, ...args]);
  const sluice = (...args: string[]) => kubectlSluice(binDir, pluginDir, ns, ...args);
  /** Argo CD's verdict on the StatefulSet with sluice's health script, run in gopher-lua. */
  const argoHealth = async () =>
    gitopsHealth(binDir, ['lua', path.join(root, 'manifests/gitops/argocd/statefulset-health.lua')], await sts());
  type View = {
    pods: { primary: { ready: number; desired: number }; canary: { ready: number; desired: number } };
    stable?: { images: string[] };
    candidate?: { images: string[] };
  };
  const view = () => {
    const r = sluice('get', NAME, '-o', 'json');
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as View;
  };
  const setImage = async (tag: string, ...extra: string[]) => {
    const r = await kubectl('set', 'image', `statefulset/${NAME}`, `app=${IMG}:${tag}`, ...extra);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  const sts = async () => (await admin()).get<Sts>(at(R.statefulsets, ns, NAME));
  const partition = (s: Sts) => s.spec.updateStrategy?.rollingUpdate?.partition ?? 0;
  const pods = async () =>
    (await (await admin()).list<Pod>(at(R.pods, ns), { labelSelector: `app=${NAME}` })).items.filter((p) => !p.metadata.deletionTimestamp);
  const tags = async () =>
    new Map((await pods()).map((p) => [Number(p.metadata.name.slice(NAME.length + 1)), p.spec.containers[0]!.image.split(':')[1]!]));
  const uids = async () => new Map((await pods()).map((p) => [p.metadata.name, p.metadata.uid]));
  const route = () => routeWeights(ns, NAME);
  /** Ordinals at or above `first` (the canary's), as a sorted list. */
  const top = (n: number) => Array.from({ length: n }, (_, i) => REPLICAS - n + i);
  const allOn = (tag: string) =>
    waitFor(
      async () => {
        const t = await tags();
        return (t.size === REPLICAS && [...t.values()].every((v) => v === tag)) || undefined;
      },
      { timeoutMs: 60_000, what: `every ordinal of ${NAME} on ${tag}` },
    );

  const sampleUntil = (until: (c: Canary) => boolean) => sampleRollout(ns, NAME, tags, until);

  /** The invariant: while analysed, only the canary's share of the highest ordinals runs `tag`. */
  function assertWithinShare(samples: Sample[], tag: string): void {
    for (const s of samples) {
      if (!['Progressing', 'WaitingPromotion', 'Waiting'].includes(s.phase)) continue;
      const allowed = s.phase === 'Waiting' ? [] : top(canaryOrdinals(REPLICAS, s.weight));
      const exposed = onTag(s.tags, tag);
      assert.ok(
        exposed.every((o) => allowed.includes(o)),
        `at ${s.phase} weight ${s.weight}, ordinals ${exposed} run ${tag}; only ${allowed} may`,
      );
    }
  }

  before(async function () {
    this.timeout(180_000);
    ns = await sluiceAndNamespace('sts');
    // The documented install, into a directory of the test's own.
    pluginDir = installKubectlPlugin();
    const client = await admin();
    await client.create(at(R.services, ns), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `${NAME}-headless`, namespace: ns },
      spec: { clusterIP: 'None', selector: { app: NAME }, ports: [{ name: 'http', port: 9898 }] },
    });
    await client.create(at(R.statefulsets, ns), {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: NAME, namespace: ns, labels: { app: NAME } },
      spec: {
        replicas: REPLICAS,
        serviceName: `${NAME}-headless`,
        selector: { matchLabels: { app: NAME } },
        template: podinfoTemplate(NAME, '6.0.0'),
      },
    });
    await client.create(at(CR.canaries, ns), analysedCanary(ns, 'StatefulSet', NAME));
    await simulator('PUT', `/traffic/${ns}/${NAME}`, { ratePerSecond: 100 });
  });
  after(async () => {
    await simulator('DELETE', `/faults/${ns}/${NAME}-canary`).catch(() => undefined);
    await simulator('DELETE', `/traffic/${ns}/${NAME}`).catch(() => undefined);
    await startController();
    await deleteNamespace(ns);
    fs.rmSync(pluginDir, { recursive: true, force: true });
  });

  it('1. bootstraps: the StatefulSet is managed at partition 0, the Services select pods by revision', async () => {
    const canary = await waitPhase(ns, 'Initialized', 120_000, undefined, NAME);
    const s = await sts();
    assert.equal(s.metadata.labels?.[labels.managed], 'true');
    assert.equal(s.metadata.annotations?.[annotations.stableRevision], templateRevision(s.spec.template));
    assert.equal(canary.status?.lastPromotedSpec, templateRevision(s.spec.template));
    assert.equal(partition(s), 0);
    const client = await admin();
    const selector = async (svc: string) =>
      (await client.get<KubeObject & { spec: { selector: Record<string, string> } }>(at(R.services, ns, svc))).spec.selector;
    assert.deepEqual(await selector(`${NAME}-primary`), { app: NAME, 'controller-revision-hash': s.status?.currentRevision });
    assert.deepEqual(await selector(`${NAME}-canary`), { app: NAME, 'controller-revision-hash': s.status?.updateRevision });
    assert.deepEqual(await selector(NAME), await selector(`${NAME}-primary`), 'the apex sluice created reaches the primary ordinals only');
    assert.equal(await client.find(at(R.deployments, ns, `${NAME}-canary`)), undefined, 'no canary copy for a StatefulSet');
    assert.deepEqual(await route(), [
      [`${NAME}-primary`, 100],
      [`${NAME}-canary`, 0],
    ]);
  });

  it('2. set image is frozen with a warning; --dry-run=server shows the freeze and persists nothing', async () => {
    const stored = await sts();
    const dry = await setImage('6.0.9', '--dry-run=server', '-o', 'json');
    assert.match(dry.stderr, /Warning: sluice: db\.\S+ frozen at revision/);
    const answered = JSON.parse(dry.stdout) as Sts;
    assert.equal(partition(answered), FROZEN_PARTITION, 'the dry run shows the partition the freeze would set');
    const after = await sts();
    assert.equal(after.metadata.resourceVersion, stored.metadata.resourceVersion, 'nothing persisted');
    assert.equal(after.spec.template.spec.containers[0]?.image, `${IMG}:6.0.0`);
  });

  it('3. promotes 6.0.1 on its highest ordinals, weight by weight, then releases it to every ordinal', async () => {
    const before = await canaryEvents(ns, NAME);
    const r = await setImage('6.0.1');
    assert.match(r.stderr, /frozen at revision/);
    const rev = templateRevision((await sts()).spec.template);
    const samples = await sampleUntil((c) => c.status?.phase === 'Succeeded' && c.status.lastAppliedSpec === rev);
    assertWithinShare(samples, '6.0.1');
    for (const w of [10, 20, 30, 40, 50]) {
      const want = top(canaryOrdinals(REPLICAS, w));
      assert.ok(
        samples.some((s) => s.phase === 'Progressing' && s.weight === w && JSON.stringify(onTag(s.tags, '6.0.1')) === JSON.stringify(want)),
        `a sample at weight ${w} with exactly ordinals ${want} on 6.0.1`,
      );
      assertRouteAt(samples, NAME, w);
    }
    await allOn('6.0.1');
    const s = await sts();
    assert.equal(partition(s), 0);
    assert.equal(s.status?.currentRevision, s.status?.updateRevision);
    await waitFor(
      async () =>
        JSON.stringify(await route()) ===
          JSON.stringify([
            [`${NAME}-primary`, 100],
            [`${NAME}-canary`, 0],
          ]) || undefined,
      {
        timeoutMs: 15_000,
        what: 'all traffic back on the primary Service',
      },
    );
    const messages = (await canaryEvents(ns, NAME))
      .filter((e) => !before.some((b) => b.name === e.name && b.count === e.count))
      .map((e) => e.message);
    assert.ok(messages.includes(`New revision detected! Scaling up the canary ordinals of ${NAME}.${ns}`), messages.join('\n'));
    assert.ok(messages.includes(`Promotion completed! Scaling down the canary ordinals of ${NAME}.${ns}`), messages.join('\n'));
  });

  it('4. rolls 6.0.2 back on errors: the canary ordinal comes back on 6.0.1, no primary ordinal is touched', async () => {
    const primary = await uids();
    await simulator('PUT', `/faults/${ns}/${NAME}-canary`, { errorRatio: 0.5 });
    await setImage('6.0.2');
    const rev = templateRevision((await sts()).spec.template);
    const samples = await sampleUntil((c) => c.status?.phase === 'Failed' && c.status.lastAppliedSpec === rev);
    assertWithinShare(samples, '6.0.2');
    const highest = Math.max(...samples.filter((x) => x.phase === 'Progressing').map((x) => x.weight));
    const canaryShare = top(canaryOrdinals(REPLICAS, highest)).map((o) => `${NAME}-${o}`);
    await allOn('6.0.1');
    const now = await uids();
    for (const [name, uid] of primary) {
      if (canaryShare.includes(name)) assert.notEqual(now.get(name), uid, `${name} was a canary ordinal: recreated`);
      else assert.equal(now.get(name), uid, `${name} is a primary ordinal: untouched`);
    }
    const s = await sts();
    assert.equal(partition(s), FROZEN_PARTITION, 'frozen again');
    assert.equal(s.spec.template.spec.containers[0]?.image, `${IMG}:6.0.2`, 'the rejected template stays, as for a Deployment');
    await simulator('DELETE', `/faults/${ns}/${NAME}-canary`);
    // What a person sees: the plugin reads the StatefulSet's pods by revision.
    const why = sluice('why', `statefulset/${NAME}`);
    assert.equal(why.status, 0, why.stderr);
    assert.match(why.stdout, new RegExp(`StatefulSet ${NAME}\\.${ns} is frozen by sluice \\(Canary ${NAME}, phase Failed`));
    assert.match(why.stdout, new RegExp(`kubectl sluice retry ${NAME} -n ${ns}`));
    const v = await waitFor(
      async () => {
        const x = view();
        return x.pods.primary.ready === REPLICAS ? x : undefined;
      },
      { timeoutMs: 15_000, what: 'the plugin to show every pod on the stable revision' },
    );
    assert.deepEqual(v.pods.canary, { ready: 0, desired: 0 });
    assert.deepEqual(v.stable?.images, [`${IMG}:6.0.1`]);
  });

  it('5. a revert to the stable revision mid-analysis restores every ordinal', async () => {
    await setImage('6.0.3');
    await waitFor(
      async () => {
        const c = await getCanary(ns, NAME);
        return (
          (c.status?.phase === 'Progressing' && (c.status.canaryWeight ?? 0) >= 30 && onTag(await tags(), '6.0.3').length === 2) ||
          undefined
        );
      },
      { timeoutMs: 60_000, what: 'two canary ordinals on 6.0.3' },
    );
    const primary = new Map(
      [...(await uids())].filter(
        ([n]) =>
          !top(2)
            .map((o) => `${NAME}-${o}`)
            .includes(n),
      ),
    );
    await setImage('6.0.1');
    await waitPhase(ns, 'Initialized', 30_000, undefined, NAME);
    await allOn('6.0.1');
    assert.equal(partition(await sts()), 0);
    const now = await uids();
    for (const [name, uid] of primary) assert.equal(now.get(name), uid, `${name} untouched by the revert`);
  });

  it('6. resumes at the same step after the controller is killed mid-analysis', async () => {
    await setImage('6.0.4');
    const count = async (w: number) =>
      (await canaryEvents(ns, NAME))
        .filter((e) => e.message === `Advance ${NAME}.${ns} canary weight ${w}`)
        .reduce((n, e) => n + e.count, 0);
    const at20 = await waitFor(
      async () => {
        const c = await getCanary(ns, NAME);
        return c.status?.phase === 'Progressing' && c.status.canaryWeight === 20 ? c : undefined;
      },
      { timeoutMs: 60_000, what: 'weight 20 on 6.0.4' },
    );
    const mid = await waitFor(
      async () => {
        const x = view();
        return x.pods.canary.ready === 1 ? x : undefined;
      },
      { timeoutMs: 15_000, what: 'the plugin to show one canary pod' },
    );
    assert.deepEqual(mid.candidate?.images, [`${IMG}:6.0.4`]);
    assert.deepEqual(mid.pods.primary, { ready: REPLICAS - 1, desired: REPLICAS - 1 });
    const held = await argoHealth();
    assert.equal(held.status, 'Progressing', held.message);
    assert.match(held.message, new RegExp(`held by sluice while Canary ${NAME} analyses`));
    await stopController('sluice-controller', 'kill');
    const [c20, c30] = [await count(20), await count(30)];
    await startController();
    const next = await waitFor(
      async () => {
        const c = await getCanary(ns, NAME);
        return (c.status?.canaryWeight ?? 0) > 20 ? c : undefined;
      },
      { timeoutMs: 30_000, what: 'the next step after the restart' },
    );
    assert.equal(next.status?.canaryWeight, 30, 'the next step, not a later one');
    assert.equal(next.status?.lastAppliedSpec, at20.status?.lastAppliedSpec);
    await waitFor(async () => (await count(30)) > c30 || undefined, { timeoutMs: 10_000, what: 'the event announcing weight 30' });
    assert.equal(await count(20), c20, 'weight 20 was not announced again');
    await waitPhase(ns, 'Succeeded', 120_000, at20.status?.lastAppliedSpec, NAME);
    await allOn('6.0.4');
    // Released: partition 0, every ordinal on the template (the wait fails if it never says so).
    await waitFor(async () => ((await argoHealth()).status === 'Healthy' ? true : undefined), {
      timeoutMs: 30_000,
      what: 'Argo CD to call the released StatefulSet Healthy',
    });
  });

  it('7. a ClusterCanaryPolicy listing StatefulSet in workloadKinds generates its Canary; one without it does not', async () => {
    const opted = await testNamespace('sts-policy', { 'sluice.dev/rollouts': 'enabled' });
    const client = await admin();
    const policyName = `e2e-${opted}`;
    try {
      await client.create(at(R.statefulsets, opted), {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'cache', namespace: opted, labels: { app: 'cache' } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'cache' } },
          template: {
            metadata: { labels: { app: 'cache' } },
            spec: { containers: [{ name: 'app', image: `${IMG}:6.0.0`, ports: [{ name: 'http', containerPort: 9898 }] }] },
          },
        },
      });
      await client.create(at(R.deployments, opted), deploymentManifest(opted, 'web'));
      // No workloadKinds: Deployments only, the default; patched in below.
      const spec = {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': opted } },
        canaryTemplate: {
          service: { gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
          analysis: { interval: '3s', threshold: 2, maxWeight: 20, stepWeight: 10 },
        },
      };
      await client.create(POLICY_REF, {
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'ClusterCanaryPolicy',
        metadata: { name: policyName },
        spec,
      });
      // The Deployment's Canary shows the policy's pass has run: the StatefulSet's is not there.
      await waitFor(async () => (await client.find(at(CR.canaries, opted, 'web'))) ?? undefined, {
        timeoutMs: 30_000,
        what: 'the Canary of Deployment web',
      });
      assert.equal(await client.find(at(CR.canaries, opted, 'cache')), undefined, 'Deployments only unless workloadKinds says otherwise');
      await client.patch(at(POLICY_REF, undefined, policyName), { spec: { workloadKinds: ['Deployment', 'StatefulSet'] } });
      const c = await waitPhase(opted, 'Initialized', 60_000, undefined, 'cache');
      assert.equal(c.spec.targetRef.kind, 'StatefulSet');
      const s = await client.get<Sts>(at(R.statefulsets, opted, 'cache'));
      assert.equal(s.metadata.labels?.[labels.managed], 'true');
    } finally {
      await client.delete(at(POLICY_REF, undefined, policyName)).catch(() => undefined);
      await deleteNamespace(opted);
    }
  });
});
