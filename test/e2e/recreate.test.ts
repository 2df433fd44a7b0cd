// A managed Deployment deleted with --cascade=orphan (its pods keep serving) and created again
// with a new template: the new Deployment adopts the old ReplicaSet, and without the freeze on
// CREATE it rolled the untested template onto the primary pods before the controller could pause
// it. Now it is created paused on the stable revision and the template goes through the Canary.
// Deleted with its pods, there is nothing to keep: it starts, and says so.
import assert from 'node:assert/strict';
import { templateRevision } from '../../api/revision.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { deploymentWithCanary, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { admin, type Deployment, deleteNamespace, deploymentManifest } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

type Pod = KubeObject & { spec: { containers: { image: string }[] } };
const IMG = 'ghcr.io/stefanprodan/podinfo';

describe('a managed Deployment deleted and created again', function () {
  this.timeout(180_000);
  const { binDir } = buildBinaries();
  let ns: string;
  before(async function () {
    this.timeout(120_000);
    ns = await sluiceAndNamespace('recreate');
  });
  after(async () => {
    await deleteNamespace(ns);
  });

  const primaryImages = async (name: string) =>
    (await (await admin()).list<Pod>(at(R.pods, ns), { labelSelector: `app=${name}` })).items
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => p.spec.containers[0]!.image);
  /** `kubectl create` of the Deployment at `tag`: its stderr (warnings) and the object as admitted. */
  async function recreate(name: string, tag: string): Promise<{ stderr: string; created: Deployment }> {
    const manifest = deploymentManifest(ns, name, { replicas: 2, image: `${IMG}:${tag}` });
    const r = await runKubectl(binDir, ['create', '-o', 'json', '-f', '-'], JSON.stringify(manifest));
    assert.equal(r.code, 0, r.stderr);
    return { stderr: r.stderr, created: JSON.parse(r.stdout) as Deployment };
  }
  async function managed(name: string): Promise<string> {
    const client = await admin();
    await deploymentWithCanary(ns, name, { interval: '2s', threshold: 3, stepWeight: 25, maxWeight: 50 }, { replicas: 2 });
    const c = await waitPhase(ns, 'Initialized', 60_000, undefined, name);
    await waitFor(
      async () =>
        ((await client.get<Deployment & { status?: { readyReplicas?: number } }>(at(R.deployments, ns, name))).status?.readyReplicas ??
          0) >= 2 || undefined,
      { timeoutMs: 30_000, what: `${name}'s 2 pods ready` },
    );
    return c.status!.lastPromotedSpec!;
  }
  async function deleteAndWait(name: string, cascade: 'orphan' | 'foreground') {
    const r = await runKubectl(binDir, ['-n', ns, 'delete', 'deployment', name, `--cascade=${cascade}`, '--wait=true']);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => (await (await admin()).find(at(R.deployments, ns, name))) === undefined || undefined, {
      timeoutMs: 30_000,
      what: `${name} gone`,
    });
  }

  it('while its pods still serve: created paused on them, the new template analysed on the canary first', async () => {
    const stable = await managed('orphaned');
    await deleteAndWait('orphaned', 'orphan');
    assert.deepEqual(await primaryImages('orphaned'), [`${IMG}:6.0.0`, `${IMG}:6.0.0`], 'its pods kept serving');

    const { stderr, created } = await recreate('orphaned', '6.0.1');
    assert.match(stderr, new RegExp(`Warning: sluice: orphaned\\.${ns} recreated while 2 pod\\(s\\) of its stable revision`));
    assert.equal(created.spec.paused, true, 'created paused');
    assert.equal(created.metadata.annotations?.['sluice.dev/stable-revision'], stable);
    const untested = templateRevision(created.spec.template);

    // Until the Canary releases it, no primary pod runs the untested template.
    let seenUntested: string | undefined;
    const released = await waitFor(
      async () => {
        const c = await getCanary(ns, 'orphaned');
        const releasing = c.status?.phase === 'Promoting' || c.status?.phase === 'Finalising' || c.status?.phase === 'Succeeded';
        if (!releasing && (await primaryImages('orphaned')).includes(`${IMG}:6.0.1`))
          seenUntested ??= `a primary pod ran 6.0.1 in phase ${c.status?.phase}`;
        return c.status?.phase === 'Succeeded' && c.status.lastPromotedSpec?.startsWith(untested) ? c : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: 'the recreated template released through the Canary' },
    );
    assert.equal(seenUntested, undefined, seenUntested);
    assert.equal(released.status?.failedChecks, 0);
    await waitFor(
      async () =>
        ((await primaryImages('orphaned')).every((i) => i === `${IMG}:6.0.1`) && (await primaryImages('orphaned')).length === 2) ||
        undefined,
      { timeoutMs: 30_000, what: 'the primary pods on 6.0.1 after the release' },
    );
  });

  it('with no pod left: it starts as created, with a warning, and the Canary analyses it', async () => {
    await managed('gone');
    await deleteAndWait('gone', 'foreground');
    await waitFor(async () => (await primaryImages('gone')).length === 0 || undefined, { timeoutMs: 30_000, what: 'its pods gone' });

    const { stderr, created } = await recreate('gone', '6.0.1');
    assert.match(stderr, /no pod of the stable revision is left to serve: it starts unanalysed, and canary gone analyses it now/);
    assert.notEqual(created.spec.paused, true, 'not held at zero pods');
    await waitFor(async () => (await primaryImages('gone')).includes(`${IMG}:6.0.1`) || undefined, {
      timeoutMs: 30_000,
      what: 'pods of the new template',
    });
    const analysed = await waitFor(
      async () => {
        const c = await getCanary(ns, 'gone');
        return c.status?.lastAppliedSpec?.startsWith(templateRevision(created.spec.template)) ? c : undefined;
      },
      { timeoutMs: 30_000, what: 'the Canary analysing the recreated template' },
    );
    assert.ok(['Progressing', 'Promoting', 'Finalising', 'Succeeded'].includes(analysed.status?.phase ?? ''), analysed.status?.phase);
  });
});
