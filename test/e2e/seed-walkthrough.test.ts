// The seed guide end to end on the local world: bootstrap, an automated promotion, rollbacks on
// errors and on latency, a newer revision and a revert mid-analysis, and a controller killed
// mid-analysis (alone, then with a standby). Real apiserver, webhook over TLS, Prometheus.
import assert from 'node:assert/strict';
import { annotations, labels } from '../../api/contract.js';
import { templateRevision } from '../../api/revision.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { applySeed, canaryEvents, eventuallyInOrder, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { installManifests, startController, startWebhook, stopController } from '../world/sluice.js';
import { admin, type Deployment, deleteNamespace, simulator } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

const IMG = 'ghcr.io/stefanprodan/podinfo';

describe('the seed guide, end to end', () => {
  const { binDir } = buildBinaries();
  let ns: string;
  const setImage = async (tag: string) => {
    const r = await runKubectl(binDir, ['-n', ns, 'set', 'image', 'deployment/podinfo', `podinfod=${IMG}:${tag}`]);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  const target = async () => (await admin()).get<Deployment>(at(R.deployments, ns, 'podinfo'));
  const primaryPods = async () =>
    (
      await (
        await admin()
      ).list<KubeObject & { spec: { containers: { image: string }[] } }>(at(R.pods, ns), { labelSelector: 'app=podinfo' })
    ).items.filter((p) => !p.metadata.deletionTimestamp);
  const route = async () =>
    (
      await (
        await admin()
      ).get<KubeObject & { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } }>(at(R.httproutes, ns, 'podinfo'))
    ).spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight]);
  // The route is written just after the status that decides it: wait for it, do not race it.
  const routeBecomes = (want: (string | number)[][]) =>
    waitFor(async () => JSON.stringify(await route()) === JSON.stringify(want) || undefined, {
      timeoutMs: 10_000,
      what: `route podinfo to be ${JSON.stringify(want)}`,
    });
  // Events are aggregated (same message: count + 1), and timestamps are whole seconds, so "what
  // happened since" is: Events that are new, or whose count grew, against a snapshot.
  type Snapshot = Map<string, number>;
  const snapshot = async (): Promise<Snapshot> => new Map((await canaryEvents(ns)).map((e) => [e.name, e.count]));
  const eventsSince = async (before: Snapshot) => (await canaryEvents(ns)).filter((e) => (before.get(e.name) ?? 0) < e.count);

  before(async function () {
    this.timeout(120_000);
    ns = await sluiceAndNamespace('seed');
    // A steadier request rate than the default, so a few seconds of data make a clear verdict.
    await simulator('PUT', `/traffic/${ns}/podinfo`, { ratePerSecond: 100 });
  });
  after(async () => {
    await simulator('DELETE', `/faults/${ns}/podinfo-canary`).catch(() => undefined);
    await simulator('DELETE', `/traffic/${ns}/podinfo`).catch(() => undefined);
    await stopController('sluice-controller-2');
    await startController();
    await deleteNamespace(ns);
  });

  it("1. bootstraps the seed's Deployment, HPA and Canary: generated objects, Initialized", async () => {
    await applySeed(ns);
    const canary = await waitPhase(ns, 'Initialized');
    const client = await admin();
    const copy = await client.get<Deployment>(at(R.deployments, ns, 'podinfo-canary'));
    assert.equal(copy.spec.replicas, 0);
    assert.deepEqual(copy.spec.selector.matchLabels, { app: 'podinfo-canary' });
    for (const s of ['podinfo', 'podinfo-primary', 'podinfo-canary']) assert.ok(await client.find(at(R.services, ns, s)), `Service ${s}`);
    assert.ok(await client.find(at(R.hpas, ns, 'podinfo-canary')), 'HPA podinfo-canary');
    assert.deepEqual(await route(), [
      ['podinfo-primary', 100],
      ['podinfo-canary', 0],
    ]);
    const t = await target();
    assert.equal(t.metadata.labels?.[labels.managed], 'true');
    assert.equal(t.metadata.annotations?.[annotations.stableRevision], templateRevision(t.spec.template));
    assert.equal(canary.status?.lastPromotedSpec, templateRevision(t.spec.template));
    assert.equal(await eventuallyInOrder(() => canaryEvents(ns), [`Initialization done! podinfo.${ns}`]), undefined);
  });

  it('2. promotes 6.0.1 through weights 10 to 50, then releases it to the primary', async () => {
    const t0 = await snapshot();
    const r = await setImage('6.0.1');
    assert.match(r.stderr, /frozen at revision/);
    const rev = templateRevision((await target()).spec.template);
    const done = await waitPhase(ns, 'Succeeded', 150_000, rev);
    assert.equal(done.status?.lastPromotedSpec, rev);
    const problem = await eventuallyInOrder(
      () => eventsSince(t0),
      [
        `New revision detected! Scaling up podinfo-canary.${ns}`,
        `Starting canary analysis for podinfo.${ns}`,
        ...[10, 20, 30, 40, 50].map((w) => `Advance podinfo.${ns} canary weight ${w}`),
        'Routing all traffic to canary',
        `Promoting revision ${rev.slice(0, 10)}… to podinfo.${ns}`,
        `Promotion completed! Scaling down podinfo-canary.${ns}`,
      ],
    );
    assert.equal(problem, undefined, problem);
    const t = await target();
    assert.notEqual(t.spec.paused, true);
    await waitFor(
      async () => {
        const pods = await primaryPods();
        return pods.length === 2 && pods.every((p) => p.spec.containers[0]?.image === `${IMG}:6.0.1`);
      },
      { timeoutMs: 60_000, what: 'every primary pod to run 6.0.1' },
    );
    await waitFor(async () => (await (await admin()).get<Deployment>(at(R.deployments, ns, 'podinfo-canary'))).spec.replicas === 0, {
      timeoutMs: 10_000,
      what: 'the canary copy at 0',
    });
    await routeBecomes([
      ['podinfo-primary', 100],
      ['podinfo-canary', 0],
    ]);
  });

  it('3. rolls 6.0.2 back on 50% errors without replacing one primary pod; the Deployment stays paused on 6.0.2', async () => {
    const before = (await primaryPods()).map((p) => p.metadata.uid).sort();
    await simulator('PUT', `/faults/${ns}/podinfo-canary`, { errorRatio: 0.5 });
    const t0 = await snapshot();
    await setImage('6.0.2');
    const failed = await waitPhase(ns, 'Failed', 150_000, templateRevision((await target()).spec.template));
    assert.equal(failed.status?.failedChecks, 5);
    const problem = await eventuallyInOrder(
      () => eventsSince(t0),
      [
        /^Halt podinfo\.\S+ advancement success rate \d+\.\d\d% < 99%$/,
        `Rolling back podinfo.${ns} failed checks threshold reached 5`,
        `Canary failed! Scaling down podinfo-canary.${ns}`,
      ],
    );
    assert.equal(problem, undefined, problem);
    assert.ok(!(await eventsSince(t0)).some((e) => e.message.startsWith('Promoting')), 'nothing was promoted');
    assert.deepEqual((await primaryPods()).map((p) => p.metadata.uid).sort(), before, 'not one primary pod replaced');
    const t = await target();
    assert.equal(t.spec.paused, true);
    assert.equal(t.spec.template.spec.containers[0]?.image, `${IMG}:6.0.2`);
    await routeBecomes([
      ['podinfo-primary', 100],
      ['podinfo-canary', 0],
    ]);
    await simulator('DELETE', `/faults/${ns}/podinfo-canary`);
  });

  it('4. rolls 6.0.3 back on the latency template when the canary is slow', async () => {
    await simulator('PUT', `/faults/${ns}/podinfo-canary`, { latencyMs: 900 });
    const t0 = await snapshot();
    await setImage('6.0.3');
    await waitPhase(ns, 'Failed', 150_000, templateRevision((await target()).spec.template));
    // The rollback messages repeat scenario 3's word for word, so Kubernetes-style aggregation
    // updates those Events; what matters is that they fired again after t0.
    // Each on its own: the aggregated rollback Event sorts where scenario 3 created it.
    for (const want of [
      /^Halt podinfo\.\S+ advancement latency \d+\.\d\d > 0\.5$/,
      `Rolling back podinfo.${ns} failed checks threshold reached 5`,
    ]) {
      const problem = await eventuallyInOrder(() => eventsSince(t0), [want]);
      assert.equal(problem, undefined, problem);
    }
    assert.ok(!(await eventsSince(t0)).some((e) => /success rate/.test(e.message)), 'only latency failed');
    await simulator('DELETE', `/faults/${ns}/podinfo-canary`);
  });

  it('5. restarts analysis for a newer revision mid-analysis, and abandons it on a revert', async () => {
    const t0 = await snapshot();
    await setImage('6.0.4');
    await waitFor(async () => ((await getCanary(ns)).status?.canaryWeight ?? 0) >= 20, { timeoutMs: 60_000, what: 'weight 20 on 6.0.4' });
    await setImage('6.0.5');
    const restarted = await waitFor(
      async () => {
        const c = await getCanary(ns);
        return c.status?.lastAppliedSpec === templateRevision((await target()).spec.template) ? c : undefined;
      },
      { timeoutMs: 30_000, what: 'analysis of 6.0.5' },
    );
    assert.equal(restarted.status?.phase, 'Progressing');
    assert.equal(
      await eventuallyInOrder(() => eventsSince(t0), [`New revision detected! Restarting analysis for podinfo.${ns}`]),
      undefined,
    );
    const stablePods = (await primaryPods()).map((p) => p.metadata.uid).sort();
    await setImage('6.0.1'); // the stable revision
    await waitPhase(ns, 'Initialized', 30_000);
    await waitFor(async () => (await target()).spec.paused !== true, { timeoutMs: 15_000, what: 'the reverted Deployment to be unpaused' });
    await routeBecomes([
      ['podinfo-primary', 100],
      ['podinfo-canary', 0],
    ]);
    assert.deepEqual((await primaryPods()).map((p) => p.metadata.uid).sort(), stablePods, 'the revert replaced no pod');
  });

  it('6a. resumes at the same weight after the controller is killed mid-analysis, without repeating or skipping a step', async () => {
    await setImage('6.0.6');
    const at20 = await waitFor(
      async () => {
        const c = await getCanary(ns);
        return c.status?.phase === 'Progressing' && c.status.canaryWeight === 20 ? c : undefined;
      },
      { timeoutMs: 60_000, what: 'weight 20 on 6.0.6' },
    );
    await stopController('sluice-controller', 'kill');
    const count = async (w: number) =>
      (await canaryEvents(ns)).filter((e) => e.message === `Advance podinfo.${ns} canary weight ${w}`).reduce((n, e) => n + e.count, 0);
    const [c20, c30] = [await count(20), await count(30)];
    // Dead controller: nothing moves.
    assert.equal((await getCanary(ns)).status?.canaryWeight, 20);
    await startController();
    const at30 = await waitFor(
      async () => {
        const c = await getCanary(ns);
        return (c.status?.canaryWeight ?? 0) > 20 ? c : undefined;
      },
      { timeoutMs: 30_000, what: 'the next step after the restart' },
    );
    assert.equal(at30.status?.canaryWeight, 30, 'the next step, not a later one');
    assert.equal(at30.status?.lastAppliedSpec, at20.status?.lastAppliedSpec);
    // The event follows the status write that decided it: wait for it rather than race it.
    await waitFor(async () => (await count(30)) > c30 || undefined, { timeoutMs: 10_000, what: 'the event announcing weight 30' });
    assert.equal(await count(20), c20, 'weight 20 was not announced again');
    assert.equal(await count(30), c30 + 1, 'weight 30 announced once');
  });

  it('6b. hands over to a standby within 20 s when the leader is killed', async () => {
    await startController({ name: 'sluice-controller-2', metricsPort: 28083 });
    type Lease = KubeObject & { spec: { holderIdentity?: string } };
    const holder = async () => (await (await admin()).get<Lease>(at(R.leases, 'sluice-system', 'sluice-controller'))).spec.holderIdentity;
    assert.equal(await holder(), 'sluice-controller');
    await stopController('sluice-controller', 'kill');
    // The 20 s deadline is the requirement itself: waitFor fails the test past it.
    await waitFor(async () => (await holder()) === 'sluice-controller-2', {
      timeoutMs: 20_000,
      intervalMs: 250,
      what: 'the standby to take the Lease within 20 s',
    });
    const rev = templateRevision((await target()).spec.template);
    const done = await waitPhase(ns, 'Succeeded', 120_000, rev);
    assert.equal(done.status?.lastPromotedSpec, rev);
  });

  it('7. pauses at once, with a Warning, a template change that bypassed the webhook', async () => {
    const client = await admin();
    await client.delete(at(R.mutatingwebhooks, undefined, 'sluice'));
    try {
      const t0 = await snapshot();
      const r = await setImage('6.0.7');
      assert.doesNotMatch(r.stderr, /sluice/, 'the webhook really was out of the way');
      await waitFor(async () => (await target()).spec.paused === true, {
        timeoutMs: 15_000,
        intervalMs: 100,
        what: 'the controller to pause the Deployment',
      });
      // The event is recorded right after the pausing write: read until it is there.
      const warning = await waitFor(
        async () =>
          (await eventsSince(t0)).find(
            (e) => e.type === 'Warning' && /without being paused \(was the webhook bypassed\?\); paused it/.test(e.message),
          ),
        { timeoutMs: 10_000, intervalMs: 100, what: 'a Warning event explaining the pause' },
      );
      assert.match(warning.message, /changed to revision \S+ without being paused/);
      await waitPhase(ns, 'Succeeded', 120_000, templateRevision((await target()).spec.template));
    } finally {
      installManifests(binDir);
      await startWebhook();
    }
  });
});
