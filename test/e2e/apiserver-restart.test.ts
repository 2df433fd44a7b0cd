// A bad day for the control plane in the middle of a rollout: etcd's history compacted to its
// current revision and the apiserver killed and started again. Every watch of the webhook and the controller
// breaks, and resuming from the resourceVersion it had is answered 410 Gone (compacted): each
// informer must list again and go on. The rollout finishes, and neither process restarts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { annotations } from '../../api/contract.js';
import { templateRevision } from '../../api/revision.js';
import { at, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { logFile, runningPid } from '../world/processes.js';
import { canaryEvents, deploymentWithCanary, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { CONTROLLER, WEBHOOK } from '../world/sluice.js';
import { admin, type Deployment, deleteNamespace } from '../world/test-clients.js';
import { buildBinaries, compactEtcd, restartControlPlane, runKubectl } from '../world/world.js';

/** What a process logged after `offset` bytes of its log (bytes, not characters: the log holds "…" and "→"). */
const logSince = (name: string, offset: number) => fs.readFileSync(logFile(name)).subarray(offset).toString('utf8');
const logSize = (name: string) => fs.statSync(logFile(name)).size;

describe('the apiserver crashed and restarted, and etcd compacted, mid-rollout', function () {
  this.timeout(240_000);
  const { binDir } = buildBinaries();
  let ns: string;
  before(async function () {
    this.timeout(120_000);
    ns = await sluiceAndNamespace('restart');
  });
  after(async () => {
    await deleteNamespace(ns);
  });

  it('the rollout finishes from its step, the informers list again after 410 Gone, no process restarts', async () => {
    const client = await admin();
    await deploymentWithCanary(ns, 'steady', { interval: '3s', threshold: 3, stepWeight: 10, maxWeight: 50 }, { replicas: 2 });
    await waitPhase(ns, 'Initialized', 60_000, undefined, 'steady');
    const pids = { webhook: runningPid(WEBHOOK), controller: runningPid(CONTROLLER) };
    assert.ok(pids.webhook && pids.controller, 'both processes run');
    const offsets = { webhook: logSize(WEBHOOK), controller: logSize(CONTROLLER) };

    const r = await runKubectl(binDir, ['-n', ns, 'set', 'image', 'deployment/steady', 'app=ghcr.io/stefanprodan/podinfo:6.0.1']);
    assert.equal(r.code, 0, r.stderr);
    const rev = templateRevision(
      (await client.get<Deployment & { spec: { template: unknown } }>(at(R.deployments, ns, 'steady'))).spec.template as Parameters<
        typeof templateRevision
      >[0],
    );
    await waitFor(async () => ((await getCanary(ns, 'steady')).status?.canaryWeight ?? 0) >= 10 || undefined, {
      timeoutMs: 30_000,
      what: 'the analysis to advance',
    });

    // Writes after every informer's last event, then history compacted past them.
    for (let i = 0; i < 5; i++)
      await client.create(at(R.configmaps, ns), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `churn-${i}`, namespace: ns } });
    const compactedAt = await compactEtcd();
    await restartControlPlane('kube-apiserver', { crash: true });
    const weightAfter = (await getCanary(ns, 'steady')).status?.canaryWeight ?? 0;
    assert.ok(weightAfter < 50, `the restart came mid-analysis (weight ${weightAfter})`);

    const done = await waitPhase(ns, 'Succeeded', 120_000, rev, 'steady');
    assert.equal(done.status?.lastPromotedSpec, rev);
    // Every weight announced once, in order, none skipped: the analysis went on from its step.
    const advances = (await canaryEvents(ns, 'steady')).filter((e) => /^Advance steady\.\S+ canary weight \d+$/.test(e.message));
    assert.deepEqual(
      advances.map((e) => Number(/(\d+)$/.exec(e.message)![1])),
      [10, 20, 30, 40, 50],
      advances.map((e) => `${e.message} x${e.count}`).join('; '),
    );

    assert.deepEqual({ webhook: runningPid(WEBHOOK), controller: runningPid(CONTROLLER) }, pids, 'the same processes, not restarted ones');
    // The informers met the compaction: a watch resumed from an old resourceVersion was refused,
    // and they listed again (the rollout finishing shows they went on).
    const gone = /"message":"watch [a-z]+: [^"]*too old resource version/;
    for (const [name, offset] of [
      [CONTROLLER, offsets.controller],
      [WEBHOOK, offsets.webhook],
    ] as const) {
      const log = logSince(name, offset);
      assert.match(
        log,
        gone,
        `${name}'s informers resumed from a resourceVersion compacted at etcd revision ${compactedAt} and were told so:\n${log.slice(-3000)}`,
      );
    }

    // The webhook answers from its refilled caches: a template change is still frozen. Succeeded is
    // written before the objects converge to it, so the release's lock (the promoting annotation)
    // is waited for first, as a person told "retry once the release finishes" would.
    await waitFor(
      async () =>
        (await client.get<Deployment>(at(R.deployments, ns, 'steady'))).metadata.annotations?.[annotations.promoting] === undefined ||
        undefined,
      { timeoutMs: 10_000, what: 'the release lock to be lifted from steady' },
    );
    const frozen = await runKubectl(binDir, [
      '-n',
      ns,
      'set',
      'image',
      'deployment/steady',
      'app=ghcr.io/stefanprodan/podinfo:6.0.2',
      '--dry-run=server',
    ]);
    assert.equal(frozen.code, 0, frozen.stderr);
    assert.match(frozen.stderr, /frozen at revision/);
    const webhookLog = logSince(WEBHOOK, offsets.webhook);
    assert.doesNotMatch(webhookLog, /"level":"error"/, 'no error in the webhook through the restart');
  });
});
