// The freeze, through the real apiserver of the local world calling the webhook over TLS.
import assert from 'node:assert/strict';
import { annotations, labels } from '../../api/contract.js';
import { templateRevision } from '../../api/revision.js';
import { at, KubeClient, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { paths } from '../world/layout.js';
import { installManifests, startWebhook, stopWebhook } from '../world/sluice.js';
import {
  admin,
  type Deployment,
  deleteNamespace,
  deploymentManifest,
  testNamespace,
  waitAvailable,
  webhookRequestCount,
} from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

describe('webhook through the real apiserver', function () {
  this.timeout(120_000);
  const { binDir } = buildBinaries();
  const kubectl = (...args: string[]) => runKubectl(binDir, args);
  let ns: string;
  let controller: KubeClient;

  /** A Deployment as the controller leaves it after bootstrap: managed, stable revision recorded. */
  async function managedDeployment(name: string, replicas = 2): Promise<Deployment> {
    const client = await admin();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, name, { replicas }));
    const d = await waitAvailable(ns, name, replicas);
    await controller.patch(at(R.deployments, ns, name), {
      metadata: {
        labels: { [labels.managed]: 'true' },
        annotations: { [annotations.stableRevision]: templateRevision(d.spec.template), [annotations.canary]: name },
      },
    });
    return client.get<Deployment>(at(R.deployments, ns, name));
  }

  async function settled(name: string, generation: number): Promise<Deployment> {
    const client = await admin();
    return waitFor(
      async () => {
        const d = await client.get<Deployment>(at(R.deployments, ns, name));
        return (d.status?.observedGeneration ?? 0) >= generation ? d : undefined;
      },
      { timeoutMs: 30_000, what: `the deployment controller to observe ${name} generation ${generation}` },
    );
  }

  async function replicaSets(name: string): Promise<number> {
    return (await (await admin()).list(at(R.replicasets, ns), { labelSelector: `app=${name}` })).items.length;
  }

  before(async () => {
    installManifests(binDir);
    await startWebhook();
    controller = await KubeClient.load(paths.controllerKubeconfig, 'sluice-controller-test');
    ns = await testNamespace('webhook');
  });
  after(async () => {
    await deleteNamespace(ns);
    controller.close();
  });

  it('freezes kubectl set image: paused with the new template, no new ReplicaSet, a warning printed', async () => {
    await managedDeployment('setimage');
    const r = await kubectl('set', 'image', '-n', ns, 'deployment/setimage', 'app=ghcr.io/stefanprodan/podinfo:6.0.1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `Warning: sluice: setimage\\.${ns} frozen at revision [0-9a-f]{10}…; revision [0-9a-f]{10}… will roll out through canary setimage`,
      ),
    );
    const d = await (await admin()).get<Deployment>(at(R.deployments, ns, 'setimage'));
    assert.equal(d.spec.paused, true);
    assert.equal(d.spec.template.spec.containers[0]?.image, 'ghcr.io/stefanprodan/podinfo:6.0.1', "the user's intent stays in the spec");
    await settled('setimage', d.metadata.generation ?? 0);
    assert.equal(await replicaSets('setimage'), 1);
  });

  it('persists nothing for --dry-run=server, yet answers the same', async () => {
    const before = await managedDeployment('dryrun');
    const r = await kubectl(
      'set',
      'image',
      '-n',
      ns,
      'deployment/dryrun',
      'app=ghcr.io/stefanprodan/podinfo:6.0.9',
      '--dry-run=server',
      '-o',
      'json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /frozen at revision/);
    assert.equal(JSON.parse(r.stdout).spec.paused, true, 'the dry-run result shows the freeze');
    const after = await (await admin()).get<Deployment>(at(R.deployments, ns, 'dryrun'));
    // Status writes by the deployment controller move resourceVersion; only spec moves generation.
    assert.equal(after.metadata.generation, before.metadata.generation);
    assert.equal(after.spec.template.spec.containers[0]?.image, 'ghcr.io/stefanprodan/podinfo:6.0.0');
    assert.notEqual(after.spec.paused, true);
  });

  it('lets the controller unpause, and re-pauses a non-controller kubectl rollout resume', async () => {
    await managedDeployment('resume');
    await kubectl('set', 'image', '-n', ns, 'deployment/resume', 'app=ghcr.io/stefanprodan/podinfo:6.0.1');
    const r = await kubectl('rollout', 'resume', '-n', ns, 'deployment/resume');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /stays paused: revision [0-9a-f]{10}… has not passed analysis/);
    const client = await admin();
    let d = await client.get<Deployment>(at(R.deployments, ns, 'resume'));
    assert.equal(d.spec.paused, true);
    // The controller releases: records the new stable revision and unpauses in one write.
    await controller.patch(at(R.deployments, ns, 'resume'), {
      metadata: { annotations: { [annotations.stableRevision]: templateRevision(d.spec.template) } },
      spec: { paused: false },
    });
    d = await client.get<Deployment>(at(R.deployments, ns, 'resume'));
    assert.notEqual(d.spec.paused, true);
    await waitFor(
      async () => {
        const rolled = await client.get<Deployment>(at(R.deployments, ns, 'resume'));
        return rolled.status?.updatedReplicas === 2 && rolled.status.observedGeneration === rolled.metadata.generation;
      },
      { timeoutMs: 60_000, what: 'the released template to roll out' },
    );
  });

  it('never sees an unmanaged Deployment, which rolls out as usual', async () => {
    const client = await admin();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'plain'));
    await waitAvailable(ns, 'plain', 1);
    const before = await webhookRequestCount();
    const r = await kubectl('set', 'image', '-n', ns, 'deployment/plain', 'app=ghcr.io/stefanprodan/podinfo:6.0.1');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /sluice/);
    const d = await client.get<Deployment>(at(R.deployments, ns, 'plain'));
    assert.notEqual(d.spec.paused, true);
    await settled('plain', d.metadata.generation ?? 0);
    assert.equal(await replicaSets('plain'), 2, 'a new ReplicaSet, as Kubernetes does without sluice');
    assert.equal(await webhookRequestCount(), before, 'the webhook was not called');
  });

  it("refuses the update with the apiserver's error while the webhook is down, and recovers", async () => {
    await managedDeployment('down');
    await stopWebhook();
    try {
      const r = await kubectl('set', 'image', '-n', ns, 'deployment/down', 'app=ghcr.io/stefanprodan/podinfo:6.0.1');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /failed calling webhook "freeze\.deployments\.sluice\.dev"/);
      const d = await (await admin()).get<Deployment>(at(R.deployments, ns, 'down'));
      assert.equal(d.spec.template.spec.containers[0]?.image, 'ghcr.io/stefanprodan/podinfo:6.0.0', 'nothing changed');
    } finally {
      await startWebhook();
    }
    const r = await kubectl('set', 'image', '-n', ns, 'deployment/down', 'app=ghcr.io/stefanprodan/podinfo:6.0.1');
    assert.equal(r.code, 0, r.stderr);
  });

  it('rotates its CA and serving certificate under a steady stream of updates without failing one', async function () {
    this.timeout(180_000);
    const client = await admin();
    await managedDeployment('stream', 1);
    // Start from a fresh, short-lived CA: staged at 16 s, promoted at 19 s, retired at 22 s;
    // the serving certificate is reissued every 6 s.
    await stopWebhook();
    await client.delete(at(R.secrets, 'sluice-system', 'sluice-webhook-tls'));
    const short = ['--ca-lifetime=24', '--cert-lifetime=9', '--rotation-propagation=3', '--cert-check-interval=0.5'];
    await startWebhook({ extraArgs: short });
    type Secret = KubeObject & { data: Record<string, string> };
    const firstCa = (await client.get<Secret>(at(R.secrets, 'sluice-system', 'sluice-webhook-tls'))).data['ca.crt'];
    let sent = 0;
    const failures: string[] = [];
    let caRotated = false;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        await client.patch(at(R.deployments, ns, 'stream'), { metadata: { annotations: { tick: String(sent) } } });
      } catch (err) {
        failures.push((err as Error).message);
      }
      sent++;
      const secret = await client.get<Secret>(at(R.secrets, 'sluice-system', 'sluice-webhook-tls'));
      // Done once a new CA serves and the old one has left the bundle.
      if (secret.data['ca.crt'] !== firstCa && secret.data['previous-ca.crt'] === undefined) {
        caRotated = true;
        if (sent > 200) break;
      }
    }
    await stopWebhook();
    await client.delete(at(R.secrets, 'sluice-system', 'sluice-webhook-tls'));
    await startWebhook();
    assert.ok(caRotated, 'the CA went through stage, promote and retire');
    assert.ok(sent > 200, `only ${sent} updates sent`);
    assert.deepEqual(failures, [], `${failures.length} of ${sent} updates failed`);
  });
});
