// The two identities of manifests/rbac.yaml as the apiserver sees them: what `kubectl auth can-i
// --list` says each may do must be what docs/security.md records (with a reason per rule), and the
// controller's identity cannot act outside the contract the ValidatingAdmissionPolicy of
// manifests/controller-policy.yaml states, even where RBAC alone would let it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { root } from '../world/layout.js';
import { buildBinaries, runKubectl } from '../world/world.js';
import { SLUICE_NAMESPACE } from '../world/sluice.js';
import { admin, deleteNamespace, deploymentManifest } from '../world/test-clients.js';
import { R, at, type KubeObject } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { sluiceAndNamespace } from '../world/seed.js';

const user = (who: string) => `system:serviceaccount:${SLUICE_NAMESPACE}:sluice-${who}`;

/** The resource rules of `kubectl auth can-i --list` as "resource [names] [verbs]" lines, sorted; self-reviews left out (every user has them). */
function rules(table: string): string[] {
  return table
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s{2,}/))
    .filter((cols) => cols.length === 4 && !/^self\w+reviews\./.test(cols[0]!))
    .map(([resource, , names, verbs]) => `${resource} ${names} ${verbs}`)
    .sort();
}

/** The block docs/security.md records for an identity, between its markers. */
function documented(who: string): string[] {
  const doc = fs.readFileSync(path.join(root, 'docs/security.md'), 'utf8');
  const m = new RegExp(`<!-- can-i ${who} -->\\s*\`\`\`text\\n([\\s\\S]*?)\`\`\``).exec(doc);
  assert.ok(m, `docs/security.md has a can-i block for ${who}`);
  return m[1]!
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .sort();
}

describe('identities: the webhook and the controller, each with only its rights', function () {
  this.timeout(120_000);
  const { binDir } = buildBinaries();
  let ns: string;
  before(async () => {
    ns = await sluiceAndNamespace('identity');
  });
  after(async () => {
    await deleteNamespace(ns);
  });

  for (const who of ['webhook', 'controller']) {
    it(`${who}: kubectl auth can-i --list is what docs/security.md records`, async () => {
      const r = await runKubectl(binDir, ['auth', 'can-i', '--list', `--as=${user(who)}`, '-n', ns]);
      assert.equal(r.code, 0, r.stderr);
      const actual = rules(r.stdout);
      assert.deepEqual(actual, documented(who), `update docs/security.md's block for ${who} to:\n${actual.join('\n')}`);
    });
  }

  it('the webhook cannot read Secrets, nor create or change workloads', async () => {
    for (const [verb, what] of [
      ['get', 'secrets'],
      ['create', 'deployments'],
      ['patch', 'deployments'],
      ['create', 'pods'],
      ['update', 'canaries.flagger.app/status'],
    ]) {
      const r = await runKubectl(binDir, ['auth', 'can-i', verb!, what!, `--as=${user('webhook')}`, '-n', ns]);
      assert.equal(r.stdout.trim(), 'no', `webhook ${verb} ${what}`);
    }
  });

  /** `kubectl create` of `manifest` as the controller: its exit code and stderr. */
  const asController = async (args: string[], manifest?: unknown) =>
    runKubectl(binDir, [...args, `--as=${user('controller')}`], manifest === undefined ? undefined : JSON.stringify(manifest));

  it('the controller cannot create a Deployment outside the contract, though RBAC lets it create Deployments', async () => {
    const evil = deploymentManifest(ns, 'miner', { image: 'example.com/miner:1' });
    const denied = await asController(['create', '-f', '-'], evil);
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /sluice-controller-contract.*denied request: the sluice controller may only create Deployments named <target>-canary labelled sluice.dev\/role=canary/,
    );
    // A -canary name without the label is not enough either, nor the label in kube-system.
    const unlabelled = await asController(['create', '-f', '-'], deploymentManifest(ns, 'miner-canary'));
    assert.match(unlabelled.stderr, /may only create Deployments named <target>-canary/);
    const inKubeSystem = await asController(
      ['create', '-f', '-'],
      deploymentManifest('kube-system', 'coredns-canary', { labels: { 'sluice.dev/role': 'canary' } }),
    );
    assert.match(inKubeSystem.stderr, /may not create or change Deployments in kube-system/);
    assert.equal(await (await admin()).find(at(R.deployments, ns, 'miner')), undefined);
    // The contract itself is allowed: the policy is not a blanket refusal.
    const copy = await asController(
      ['create', '-f', '-'],
      deploymentManifest(ns, 'web-canary', { labels: { 'sluice.dev/role': 'canary' } }),
    );
    assert.equal(copy.code, 0, copy.stderr);
  });

  it("the controller cannot change a team's images or ServiceAccount, nor the data of their Secrets", async () => {
    const client = await admin();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'team-app'));
    const image = await asController(['-n', ns, 'set', 'image', 'deployment/team-app', 'app=example.com/miner:1']);
    assert.match(image.stderr, /may not change the images or ServiceAccount of a Deployment other than a canary copy/);
    const sa = await asController([
      '-n',
      ns,
      'patch',
      'deployment/team-app',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { template: { spec: { serviceAccountName: 'default' } } } }),
    ]);
    assert.match(sa.stderr, /may not change the images or ServiceAccount/);
    // Pausing and labelling, what it does to a target, pass.
    const pause = await asController([
      '-n',
      ns,
      'patch',
      'deployment/team-app',
      '--type=merge',
      '-p',
      JSON.stringify({ metadata: { labels: { 'sluice.dev/managed': 'true' } }, spec: { paused: true } }),
    ]);
    assert.equal(pause.code, 0, pause.stderr);

    await client.create(at(R.secrets, ns), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db', namespace: ns },
      stringData: { password: 'hunter2' },
    });
    const data = await asController([
      '-n',
      ns,
      'patch',
      'secret/db',
      '--type=merge',
      '-p',
      JSON.stringify({ stringData: { password: 'owned' } }),
    ]);
    assert.match(data.stderr, /may label a ConfigMap or Secret, never change its data/);
    const label = await asController(['-n', ns, 'label', 'secret/db', 'sluice.dev/tracked=true']);
    assert.equal(label.code, 0, label.stderr);
    const created = await asController(['-n', ns, 'create', 'secret', 'generic', 'planted', '--from-literal=k=v']);
    assert.match(created.stderr, /may only create ConfigMaps and Secrets that are snapshots/);
    const deleted = await asController(['-n', ns, 'delete', 'secret/db']);
    assert.match(deleted.stderr, /may only delete its own snapshots/);
  });

  it("the controller sets a StatefulSet's partition but never its template, and deletes only a StatefulSet's pods", async () => {
    const client = await admin();
    const app = deploymentManifest(ns, 'team-db');
    await client.create(at(R.statefulsets, ns), {
      ...app,
      kind: 'StatefulSet',
      spec: { ...app.spec, replicas: 1, serviceName: 'team-db' },
    });
    const image = await asController(['-n', ns, 'set', 'image', 'statefulset/team-db', 'app=example.com/miner:1']);
    assert.match(image.stderr, /may not change the pod template of a StatefulSet/);
    const partition = await asController([
      '-n',
      ns,
      'patch',
      'statefulset/team-db',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { updateStrategy: { rollingUpdate: { partition: 1 } } } }),
    ]);
    assert.equal(partition.code, 0, partition.stderr);
    // team-app's pod (a ReplicaSet's, from the test above) is not the controller's to delete.
    const pod = await waitFor(async () => (await client.list<KubeObject>(at(R.pods, ns), { labelSelector: 'app=team-app' })).items[0], {
      timeoutMs: 30_000,
      what: 'a pod of team-app',
    });
    const deleted = await asController(['-n', ns, 'delete', 'pod', pod.metadata.name, '--wait=false']);
    assert.match(deleted.stderr, /may only delete pods of a StatefulSet/);
    const sts = await waitFor(async () => (await client.list<KubeObject>(at(R.pods, ns), { labelSelector: 'app=team-db' })).items[0], {
      timeoutMs: 30_000,
      what: 'the pod of team-db',
    });
    const allowed = await asController(['-n', ns, 'delete', 'pod', sts.metadata.name, '--wait=false']);
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  it("the controller sets a DaemonSet's update strategy but never its template, and may delete its pods", async () => {
    const client = await admin();
    const app = deploymentManifest(ns, 'team-agent');
    const { replicas: _none, ...spec } = app.spec as Record<string, unknown>;
    await client.create(at(R.daemonsets, ns), { ...app, kind: 'DaemonSet', spec });
    const image = await asController(['-n', ns, 'set', 'image', 'daemonset/team-agent', 'app=example.com/miner:1']);
    assert.match(image.stderr, /may not change the pod template of a StatefulSet or DaemonSet/);
    const strategy = await asController([
      '-n',
      ns,
      'patch',
      'daemonset/team-agent',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { updateStrategy: { type: 'OnDelete', rollingUpdate: null } } }),
    ]);
    assert.equal(strategy.code, 0, strategy.stderr);
    const pod = await waitFor(async () => (await client.list<KubeObject>(at(R.pods, ns), { labelSelector: 'app=team-agent' })).items[0], {
      timeoutMs: 30_000,
      what: 'a pod of team-agent',
    });
    const deleted = await asController(['-n', ns, 'delete', 'pod', pod.metadata.name, '--wait=false']);
    assert.equal(deleted.code, 0, deleted.stderr);
  });
});
