// Upgrading sluice in the middle of an analysis, as rolling updates of its two Deployments do it:
// two replicas (each a webhook, serving one pod of Deployment sluice-webhook, and a controller),
// replaced one at a time by processes of a new build — the image's tree, built from the Dockerfile. For each
// replica: the new one starts, the old pod is deleted and its processes get SIGTERM together (as a
// kubelet does), the ReplicaSet's new pod is served by the new processes. Meanwhile a steady
// stream of server-side dry-run template changes goes through the webhook: none may fail. The
// analysis must continue from its step: no weight announced twice, none skipped, then released.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { templateRevision } from '../../api/revision.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { buildImageTree } from '../world/image-tree.js';
import { ports, root } from '../world/layout.js';
import { stopComponent } from '../world/processes.js';
import { applySeed, canaryEvents, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import {
  type Build,
  CONTROLLER,
  installManifests,
  routeWebhook,
  SLUICE_NAMESPACE,
  startController,
  startWebhook,
  stopController,
  stopWebhook,
  WEBHOOK,
} from '../world/sluice.js';
import { admin, type Deployment, deleteNamespace, simulator } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

type Pod = KubeObject & { status?: { podIP?: string } };

interface Replica {
  webhook: string;
  controller: string;
  port: number;
  metricsPort: number;
  controllerMetricsPort: number;
}

describe('upgrading sluice mid-analysis, one replica at a time', function () {
  this.timeout(600_000);
  const { binDir } = buildBinaries();
  let ns: string;
  let scratch: string;
  let newBuild: Build;

  const sluicePods = async () =>
    (
      await (
        await admin()
      ).list<Pod>(at(R.pods, SLUICE_NAMESPACE), { labelSelector: 'app.kubernetes.io/name=sluice,app.kubernetes.io/component=webhook' })
    ).items
      .filter((p) => !p.metadata.deletionTimestamp)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  // By pod name: kwok may give the replacement pod the address its predecessor just freed.
  const readyEndpointPods = async () =>
    (
      await (
        await admin()
      ).list<KubeObject & { endpoints?: { targetRef?: { name: string }; conditions?: { ready?: boolean } }[] }>(
        at(R.endpointslices, SLUICE_NAMESPACE),
        { labelSelector: 'kubernetes.io/service-name=sluice-webhook' },
      )
    ).items.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name));

  before(async function () {
    this.timeout(300_000);
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-upgrade-'));
    const tree = buildImageTree(path.join(root, 'Dockerfile'), root, scratch, { npm_config_prefer_offline: 'true' });
    newBuild = { entrypoint: tree.entrypoint };
    ns = await sluiceAndNamespace('upgrade');
    await simulator('PUT', `/traffic/${ns}/podinfo`, { ratePerSecond: 100 });
  });
  after(async () => {
    await simulator('DELETE', `/traffic/${ns}/podinfo`).catch(() => undefined);
    for (const name of ['sluice-webhook-b', 'sluice-webhook-new-a', 'sluice-webhook-new-b']) await stopWebhook(name);
    for (const name of ['sluice-controller-b', 'sluice-controller-new-a', 'sluice-controller-new-b']) await stopController(name);
    installManifests(binDir);
    await startWebhook();
    await startController();
    await deleteNamespace(ns);
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  let pods: Pod[] = [];
  let old: Replica[] = [];

  it('keeps answering every admission and continues the analysis from its step', async () => {
    // Two replicas of this build, each serving its own pod.
    pods = await waitFor(
      async () => {
        const pods = await sluicePods();
        return pods.length === 2 && pods.every((p) => p.status?.podIP) ? pods : undefined;
      },
      { timeoutMs: 30_000, what: 'the two pods of Deployment sluice-webhook' },
    );
    const [podA, podB] = pods;
    old = [
      {
        webhook: WEBHOOK,
        controller: CONTROLLER,
        port: ports.webhook,
        metricsPort: ports.webhookMetrics,
        controllerMetricsPort: ports.controllerMetrics,
      },
      { webhook: 'sluice-webhook-b', controller: 'sluice-controller-b', port: 28444, metricsPort: 28084, controllerMetricsPort: 28083 },
    ];
    await startWebhook({ name: old[1]!.webhook, port: old[1]!.port, metricsPort: old[1]!.metricsPort });
    await startController({ name: old[1]!.controller, metricsPort: old[1]!.controllerMetricsPort });
    routeWebhook(old[0]!.port, podA!.metadata.name);
    routeWebhook(old[1]!.port, podB!.metadata.name);

    // A managed Deployment whose template changes go through /mutate, as dry runs (persisted nowhere).
    await applySeed(ns);
    await waitPhase(ns, 'Initialized');
    let stop = false;
    const admissions = { ok: 0, failed: [] as string[] };
    const stream = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await runKubectl(binDir, [
          '-n',
          ns,
          'set',
          'image',
          'deployment/podinfo',
          `podinfod=ghcr.io/stefanprodan/podinfo:9.9.${i}`,
          '--dry-run=server',
        ]);
        // Answered by the webhook: frozen, or refused while a release is under way (a 409 it gives).
        if ((r.code === 0 && /frozen at revision/.test(r.stderr)) || /sluice: \S+ is releasing revision/.test(r.stderr)) admissions.ok++;
        else admissions.failed.push(`${r.code}: ${r.stderr.trim()}`);
      }
    })();

    try {
      await rollingUpgrade();
    } finally {
      stop = true;
      await stream;
    }
    process.stdout.write(`      (${admissions.ok} admissions answered during the upgrade, ${admissions.failed.length} failed)\n`);
    assert.ok(admissions.ok > 10, `only ${admissions.ok} admissions during the upgrade`);
    assert.deepEqual(
      admissions.failed,
      [],
      `${admissions.failed.length} of ${admissions.ok + admissions.failed.length} admissions failed during the upgrade`,
    );
  });

  async function rollingUpgrade(): Promise<void> {
    const client = await admin();
    const [podA, podB] = pods;
    const r = await runKubectl(binDir, ['-n', ns, 'set', 'image', 'deployment/podinfo', 'podinfod=ghcr.io/stefanprodan/podinfo:6.0.1']);
    assert.equal(r.code, 0, r.stderr);
    const rev = templateRevision(
      (await client.get<Deployment & { spec: { template: unknown } }>(at(R.deployments, ns, 'podinfo'))).spec.template as Parameters<
        typeof templateRevision
      >[0],
    );
    const startWeight = await waitFor(
      async () => {
        const c = await getCanary(ns);
        return c.status?.phase === 'Progressing' && (c.status.canaryWeight ?? 0) >= 10 ? c.status.canaryWeight : undefined;
      },
      { timeoutMs: 60_000, what: 'the analysis to advance' },
    );

    // The rolling update, replica by replica.
    const replaced: string[] = [];
    for (const [i, replica] of old.entries()) {
      const fresh = {
        webhook: `sluice-webhook-new-${'ab'[i]}`,
        controller: `sluice-controller-new-${'ab'[i]}`,
        port: 28445 + i,
        metricsPort: 28085 + i,
        controllerMetricsPort: 28087 + i,
      };
      await startWebhook({ name: fresh.webhook, port: fresh.port, metricsPort: fresh.metricsPort, build: newBuild });
      await startController({ name: fresh.controller, metricsPort: fresh.controllerMetricsPort, build: newBuild });
      // The ReplicaSet's next pod has no rule of its own yet: it is served by the new processes.
      routeWebhook(fresh.port);
      const victim = i === 0 ? podA! : podB!;
      const before = new Set((await sluicePods()).map((p) => p.metadata.name));
      await client.delete(at(R.pods, SLUICE_NAMESPACE, victim.metadata.name));
      // SIGTERM to the deleted pod's webhook, as the kubelet sends it, and to a controller replica.
      await Promise.all([stopComponent(replica.webhook), stopComponent(replica.controller)]);
      const newPod = await waitFor(async () => (await sluicePods()).find((p) => !before.has(p.metadata.name) && p.status?.podIP), {
        timeoutMs: 30_000,
        what: 'the replacement pod',
      });
      routeWebhook(fresh.port, newPod.metadata.name);
      await waitFor(
        async () => {
          const names = await readyEndpointPods();
          return !names.includes(victim.metadata.name) && names.includes(newPod.metadata.name);
        },
        { timeoutMs: 30_000, what: 'the endpoints to drop the old pod and list the new one' },
      );
      replaced.push(victim.metadata.name);
    }
    assert.equal(replaced.length, 2);

    const done = await waitPhase(ns, 'Succeeded', 180_000, rev);
    assert.equal(done.status?.lastPromotedSpec, rev);
    // Every weight announced once, in order, none skipped: the analysis went on from its step.
    const advances = (await canaryEvents(ns)).filter((e) => /^Advance podinfo\.\S+ canary weight \d+$/.test(e.message));
    const weights = advances.map((e) => Number(/(\d+)$/.exec(e.message)![1]));
    assert.deepEqual(weights, [10, 20, 30, 40, 50], `weights announced: ${advances.map((e) => `${e.message} x${e.count}`).join('; ')}`);
    assert.ok(
      advances.every((e) => e.count === 1),
      'no step announced twice',
    );
    assert.ok(startWeight! < 50, 'the upgrade started mid-analysis');
  }
});
