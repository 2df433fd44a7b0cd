// A DaemonSet as a Canary's target, on the real control plane's 3 kwok nodes (docs/workloads.md):
// frozen with OnDelete at admission, analysed on its own pods on a share of its nodes, released by
// its own strategy, rolled back by recreating the canary nodes' pods, which the webhook gives the
// stable template. Every sample taken during a rollout is checked against the invariant: no node
// beyond the canary's share runs the untested template.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { annotations, labels } from '../../api/contract.js';
import { canaryNodeCount, nodeOfPod } from '../../api/daemonset.js';
import { type Canary, CR } from '../../api/flagger-types.js';
import { POLICY_REF } from '../../api/policy-types.js';
import { templateRevision } from '../../api/revision.js';
import type { DaemonSet } from '../../api/workload.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { fakeNodeCount, root } from '../world/layout.js';
import {
  analysedCanary,
  assertRouteAt,
  gitopsHealth,
  kubectlSluice,
  onTag,
  podinfoTemplate,
  type RolloutSample,
  sampleRollout,
} from '../world/rollout-samples.js';
import { canaryEvents, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { startController, startWebhook, stopController, stopWebhook } from '../world/sluice.js';
import { admin, deleteNamespace, installKubectlPlugin, simulator, testNamespace } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

const IMG = 'ghcr.io/stefanprodan/podinfo';
const NAME = 'agent';
const NODES = fakeNodeCount;
const OWN_STRATEGY = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2, maxSurge: 0 } };

type Pod = KubeObject & { spec: { containers: { image: string }[]; nodeName?: string }; metadata: { deletionTimestamp?: string } };
type Ds = DaemonSet & { spec: { template: { spec: { containers: { name: string; image: string }[] } } } };

type Sample = RolloutSample<string>;

describe('DaemonSet targets', () => {
  const { binDir } = buildBinaries();
  let ns: string;
  let pluginDir: string;
  const kubectl = (...args: string[]) => runKubectl(binDir, ['-n', ns, ...args]);
  const sluice = (...args: string[]) => kubectlSluice(binDir, pluginDir, ns, ...args);
  /** A GitOps verdict on the DaemonSet: Argo CD's with sluice's script (gopher-lua), or kstatus's (Flux). */
  const health = async (how: 'lua' | 'kstatus') =>
    gitopsHealth(
      binDir,
      how === 'lua' ? ['lua', path.join(root, 'manifests/gitops/argocd/daemonset-health.lua')] : ['kstatus'],
      await ds(),
    );
  const setImage = async (tag: string, ...extra: string[]) => {
    const r = await kubectl('set', 'image', `daemonset/${NAME}`, `app=${IMG}:${tag}`, ...extra);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  const ds = async () => (await admin()).get<Ds>(at(R.daemonsets, ns, NAME));
  const pods = async () =>
    (await (await admin()).list<Pod>(at(R.pods, ns), { labelSelector: `app=${NAME}` })).items.filter((p) => !p.metadata.deletionTimestamp);
  const tags = async () => new Map((await pods()).map((p) => [nodeOfPod(p) ?? '?', p.spec.containers[0]!.image.split(':')[1]!]));
  const uids = async () => new Map((await pods()).map((p) => [nodeOfPod(p) ?? '?', p.metadata.uid]));
  const allOn = (tag: string) =>
    waitFor(
      async () => {
        const t = await tags();
        return (t.size === NODES && [...t.values()].every((v) => v === tag)) || undefined;
      },
      { timeoutMs: 60_000, what: `every node's pod of ${NAME} on ${tag}` },
    );

  const sampleUntil = (until: (c: Canary) => boolean) => sampleRollout(ns, NAME, tags, until);

  /**
   * The invariant: while analysed, no more nodes than the canary's share run `tag`, and the canary
   * never moves (a step adds nodes): over the whole analysis, no more nodes ran it than the last
   * step's share. Answers the nodes that ran it.
   */
  function assertWithinShare(samples: Sample[], tag: string): string[] {
    const ever = new Set<string>();
    let top = 0;
    for (const s of samples) {
      if (!['Progressing', 'WaitingPromotion', 'Waiting'].includes(s.phase)) continue;
      const allowed = s.phase === 'Waiting' ? 0 : canaryNodeCount(NODES, s.weight);
      const exposed = onTag(s.tags, tag);
      assert.ok(exposed.length <= allowed, `at ${s.phase} weight ${s.weight}, nodes ${exposed} run ${tag}; at most ${allowed} may`);
      for (const n of exposed) ever.add(n);
      top = Math.max(top, allowed);
    }
    assert.ok(ever.size <= top, `the canary moved: nodes ${[...ever]} ran ${tag} during the analysis, whose widest share is ${top}`);
    return [...ever].sort();
  }

  before(async function () {
    this.timeout(180_000);
    ns = await sluiceAndNamespace('ds');
    pluginDir = installKubectlPlugin();
    const client = await admin();
    await client.create(at(R.daemonsets, ns), {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: NAME, namespace: ns, labels: { app: NAME } },
      spec: {
        selector: { matchLabels: { app: NAME } },
        updateStrategy: OWN_STRATEGY,
        template: podinfoTemplate(NAME, '6.0.0'),
      },
    });
    await client.create(at(CR.canaries, ns), analysedCanary(ns, 'DaemonSet', NAME));
    await simulator('PUT', `/traffic/${ns}/${NAME}`, { ratePerSecond: 100 });
  });
  after(async () => {
    await simulator('DELETE', `/faults/${ns}/${NAME}-canary`).catch(() => undefined);
    await simulator('DELETE', `/traffic/${ns}/${NAME}`).catch(() => undefined);
    await deleteNamespace(ns);
    fs.rmSync(pluginDir, { recursive: true, force: true });
  });

  it(`1. bootstraps on ${NODES} nodes: managed, its own strategy kept, the Services reaching every pod`, async () => {
    const canary = await waitPhase(ns, 'Initialized', 120_000, undefined, NAME);
    const d = await ds();
    assert.equal(d.metadata.labels?.[labels.managed], 'true');
    assert.equal(canary.status?.lastPromotedSpec, templateRevision(d.spec.template));
    assert.deepEqual(d.spec.updateStrategy, OWN_STRATEGY);
    assert.equal((await tags()).size, NODES, 'one pod per node');
    const client = await admin();
    const selector = async (svc: string) =>
      (await client.get<KubeObject & { spec: { selector: Record<string, string> } }>(at(R.services, ns, svc))).spec.selector;
    assert.deepEqual(await selector(`${NAME}-primary`), { app: NAME });
    assert.equal(await client.find(at(R.deployments, ns, `${NAME}-canary`)), undefined, 'no canary copy for a DaemonSet');
  });

  it('2. set image is frozen with a warning; --dry-run=server shows OnDelete and persists nothing', async () => {
    const stored = await ds();
    const dry = await setImage('6.0.9', '--dry-run=server', '-o', 'json');
    assert.match(dry.stderr, /Warning: sluice: agent\.\S+ frozen at revision/);
    const answered = JSON.parse(dry.stdout) as Ds;
    assert.deepEqual(answered.spec.updateStrategy, { type: 'OnDelete' });
    assert.deepEqual(JSON.parse(answered.metadata.annotations?.[annotations.heldStrategy] ?? '{}'), OWN_STRATEGY);
    const after = await ds();
    assert.equal(after.metadata.resourceVersion, stored.metadata.resourceVersion, 'nothing persisted');
    assert.equal(after.spec.template.spec.containers[0]?.image, `${IMG}:6.0.0`);
  });

  it('3. promotes 6.0.1 on a growing share of nodes, weight by weight, then its own strategy rolls every node', async () => {
    const before = await canaryEvents(ns, NAME);
    const r = await setImage('6.0.1');
    assert.match(r.stderr, /frozen at revision/);
    const rev = templateRevision((await ds()).spec.template);
    const samples = await sampleUntil((c) => c.status?.phase === 'Succeeded' && c.status.lastAppliedSpec === rev);
    assertWithinShare(samples, '6.0.1');
    for (const w of [10, 20, 30, 40, 50]) {
      const want = canaryNodeCount(NODES, w);
      assert.ok(
        samples.some((s) => s.phase === 'Progressing' && s.weight === w && onTag(s.tags, '6.0.1').length === want),
        `a sample at weight ${w} with exactly ${want} node(s) on 6.0.1`,
      );
      assertRouteAt(samples, NAME, w);
    }
    await allOn('6.0.1');
    const d = await ds();
    assert.deepEqual(d.spec.updateStrategy, OWN_STRATEGY, 'its own strategy is back');
    assert.equal(d.metadata.annotations?.[annotations.heldStrategy], undefined);
    assert.equal(d.metadata.annotations?.[annotations.canaryNodes], undefined);
    await waitFor(async () => (await health('lua')).status === 'Healthy' || undefined, {
      timeoutMs: 30_000,
      what: 'Argo CD to call the released DaemonSet Healthy',
    });
    const messages = (await canaryEvents(ns, NAME))
      .filter((e) => !before.some((b) => b.name === e.name && b.count === e.count))
      .map((e) => e.message);
    assert.ok(messages.includes(`New revision detected! Scaling up the pods on the canary nodes of ${NAME}.${ns}`), messages.join('\n'));
    assert.ok(messages.includes(`Promotion completed! Scaling down the pods on the canary nodes of ${NAME}.${ns}`), messages.join('\n'));
  });

  it('4. rolls 6.0.2 back on errors: the canary nodes’ pods come back on 6.0.1, the others are untouched', async () => {
    const primary = await uids();
    await simulator('PUT', `/faults/${ns}/${NAME}-canary`, { errorRatio: 0.5 });
    await setImage('6.0.2');
    const rev = templateRevision((await ds()).spec.template);
    const samples = await sampleUntil((c) => c.status?.phase === 'Failed' && c.status.lastAppliedSpec === rev);
    const canaryNodes = assertWithinShare(samples, '6.0.2');
    assert.ok(canaryNodes.length >= 1, 'the candidate ran on a canary node');
    await allOn('6.0.1');
    const now = await uids();
    for (const [node, uid] of primary) {
      if (canaryNodes.includes(node)) assert.notEqual(now.get(node), uid, `${node} was a canary node: its pod recreated`);
      else assert.equal(now.get(node), uid, `${node} is not a canary node: its pod untouched`);
    }
    const d = await ds();
    assert.deepEqual(d.spec.updateStrategy, { type: 'OnDelete' }, 'frozen again');
    assert.equal(d.spec.template.spec.containers[0]?.image, `${IMG}:6.0.2`, 'the rejected template stays, as for a Deployment');
    assert.equal(d.metadata.annotations?.[annotations.canaryNodes], undefined, 'no canary node any more');
    const argo = await health('lua');
    assert.equal(argo.status, 'Progressing', 'not Healthy, as Argo CD would say of any OnDelete DaemonSet');
    assert.match(argo.message, new RegExp(`held by sluice while Canary ${NAME}`));
    assert.equal((await health('kstatus')).status, 'InProgress');
    // What a person sees: every pod primary again, none on a canary node.
    const view = sluice('get', NAME, '-o', 'json');
    assert.equal(view.status, 0, view.stderr);
    const v = JSON.parse(view.stdout) as {
      pods: { primary: { desired: number }; canary: { desired: number } };
      candidate?: { images: string[] };
    };
    assert.deepEqual([v.pods.primary.desired, v.pods.canary.desired], [NODES, 0]);
    assert.deepEqual(v.candidate?.images, [`${IMG}:6.0.2`]);
    await simulator('DELETE', `/faults/${ns}/${NAME}-canary`);
  });

  it('5. frozen, a pod deleted anywhere (an eviction, a new node) comes back on the stable template, not the rejected one', async () => {
    const [victim] = await pods();
    assert.ok(victim);
    const node = nodeOfPod(victim)!;
    await (await admin()).delete(at(R.pods, ns, victim.metadata.name));
    const replaced = await waitFor(
      async () => (await pods()).find((p) => nodeOfPod(p) === node && p.metadata.uid !== victim.metadata.uid),
      { timeoutMs: 60_000, what: `the DaemonSet to recreate its pod on ${node}` },
    );
    assert.equal(replaced.spec.containers[0]?.image, `${IMG}:6.0.1`, 'the webhook gave it the stable template');
    assert.equal((await getCanary(ns, NAME)).status?.phase, 'Failed', 'and nothing else moved');
    const why = sluice('why', `daemonset/${NAME}`);
    assert.equal(why.status, 0, why.stderr);
    assert.match(why.stdout, new RegExp(`DaemonSet ${NAME}\\.${ns} is frozen by sluice \\(Canary ${NAME}, phase Failed`));
  });

  it('5b. a pod that slipped past the webhook while it was down is recreated on the stable template once it is back', async function () {
    this.timeout(180_000);
    const [victim] = await pods();
    assert.ok(victim);
    const node = nodeOfPod(victim)!;
    // The controller is down too, so it first sees the slipped pod with the webhook back (the
    // controller's retry while the webhook stays down is covered by the unit tests: it waits 30 s).
    await stopController();
    await stopWebhook();
    try {
      await (await admin()).delete(at(R.pods, ns, victim.metadata.name));
      // failurePolicy Ignore: with the webhook gone the DaemonSet's pod starts the rejected template.
      await waitFor(async () => (await pods()).find((p) => nodeOfPod(p) === node && p.spec.containers[0]?.image === `${IMG}:6.0.2`), {
        timeoutMs: 60_000,
        what: `a pod on ${node} admitted on 6.0.2 while the webhook is down`,
      });
    } finally {
      await startWebhook();
      await startController();
    }
    const back = await waitFor(
      async () => {
        const p = (await pods()).find((x) => nodeOfPod(x) === node);
        return p?.spec.containers[0]?.image === `${IMG}:6.0.1` ? p : undefined;
      },
      { timeoutMs: 90_000, what: `the controller to recreate ${node}'s pod, and the webhook to give it 6.0.1` },
    );
    assert.notEqual(back.metadata.uid, victim.metadata.uid);
  });

  it('6. a revert to the stable revision mid-analysis restores the canary node, its own strategy back', async () => {
    await setImage('6.0.3');
    await waitFor(
      async () => {
        const c = await getCanary(ns, NAME);
        return (c.status?.phase === 'Progressing' && onTag(await tags(), '6.0.3').length === 1) || undefined;
      },
      { timeoutMs: 60_000, what: 'a canary node on 6.0.3' },
    );
    const canaryNode = onTag(await tags(), '6.0.3')[0]!;
    const others = new Map([...(await uids())].filter(([n]) => n !== canaryNode));
    await setImage('6.0.1');
    await waitPhase(ns, 'Initialized', 30_000, undefined, NAME);
    await allOn('6.0.1');
    const d = await ds();
    assert.deepEqual(d.spec.updateStrategy, OWN_STRATEGY);
    const now = await uids();
    for (const [node, uid] of others) assert.equal(now.get(node), uid, `${node} was not a canary node: its pod untouched`);
  });

  it('7. a ClusterCanaryPolicy listing DaemonSet in workloadKinds generates its Canary, which bootstraps it', async () => {
    const opted = await testNamespace('ds-policy', { 'sluice.dev/rollouts': 'enabled' });
    const client = await admin();
    const policyName = `e2e-${opted}`;
    try {
      await client.create(at(R.daemonsets, opted), {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'logs', namespace: opted, labels: { app: 'logs' } },
        spec: {
          selector: { matchLabels: { app: 'logs' } },
          template: {
            metadata: { labels: { app: 'logs' } },
            spec: { containers: [{ name: 'app', image: `${IMG}:6.0.0`, ports: [{ name: 'http', containerPort: 9898 }] }] },
          },
        },
      });
      await client.create(POLICY_REF, {
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'ClusterCanaryPolicy',
        metadata: { name: policyName },
        spec: {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': opted } },
          workloadKinds: ['DaemonSet'],
          canaryTemplate: {
            service: { gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
            analysis: { interval: '3s', threshold: 2, maxWeight: 20, stepWeight: 10 },
          },
        },
      });
      const c = await waitPhase(opted, 'Initialized', 60_000, undefined, 'logs');
      assert.equal(c.spec.targetRef.kind, 'DaemonSet');
      const d = await client.get<Ds>(at(R.daemonsets, opted, 'logs'));
      assert.equal(d.metadata.labels?.[labels.managed], 'true');
    } finally {
      await client.delete(at(POLICY_REF, undefined, policyName)).catch(() => undefined);
      await deleteNamespace(opted);
    }
  });
});
