// The two identities of manifests/rbac.yaml as the apiserver sees them: what `kubectl auth can-i
// --list` says each may do must be what docs/security.md records (with a reason per rule), and the
// controller's identity cannot act outside the contract the ValidatingAdmissionPolicy of
// manifests/controller-policy.yaml states, even where RBAC alone would let it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CR } from '../../api/flagger-types.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { root, urls } from '../world/layout.js';
import { sluiceAndNamespace } from '../world/seed.js';
import { SLUICE_NAMESPACE, serviceAccountDir } from '../world/sluice.js';
import { admin, deleteNamespace, deploymentManifest, testNamespace } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

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
  // An empty kubeconfig, so the admin credentials of the world's own never mix with a token.
  const identityKubeconfig = path.join(root, '.world', 'identity-kubeconfig');
  before(async () => {
    ns = await sluiceAndNamespace('identity');
    fs.writeFileSync(identityKubeconfig, 'apiVersion: v1\nkind: Config\n');
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

  /**
   * kubectl acting with an identity's own credentials: the token sluice's process reads (as a
   * kubelet mounts it), not impersonation, so the apiserver authenticates exactly what a stolen
   * token would present. Exit code and output.
   */
  const asIdentity = async (who: 'controller' | 'webhook', args: string[], manifest?: unknown) => {
    const dir = serviceAccountDir(who);
    return runKubectl(
      binDir,
      [
        `--kubeconfig=${identityKubeconfig}`,
        `--server=${urls.apiserver}`,
        `--certificate-authority=${path.join(dir, 'ca.crt')}`,
        `--token=${fs.readFileSync(path.join(dir, 'token'), 'utf8').trim()}`,
        ...args,
      ],
      manifest === undefined ? undefined : JSON.stringify(manifest),
    );
  };
  const asController = (args: string[], manifest?: unknown) => asIdentity('controller', args, manifest);
  /** A merge patch of `object` in the test's namespace, as the controller. */
  const mergePatchAsController = (object: string, patch: unknown) =>
    asController(['-n', ns, 'patch', object, '--type=merge', '-p', JSON.stringify(patch)]);
  const asWebhook = (args: string[], manifest?: unknown) => asIdentity('webhook', args, manifest);

  it('the controller cannot create a Deployment outside the contract, though RBAC lets it create Deployments', async () => {
    const evil = deploymentManifest(ns, 'miner', { image: 'example.com/miner:1' });
    const denied = await asController(['create', '-f', '-'], evil);
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      /sluice-controller-contract.*denied request: the sluice controller may only create Deployments named <target>-canary \(or <target>-baseline\) labelled sluice.dev\/role=canary \(baseline\) and owned by their Canary/,
    );
    // A -canary name without the label is not enough either, nor the label in kube-system.
    const unlabelled = await asController(['create', '-f', '-'], deploymentManifest(ns, 'miner-canary'));
    assert.match(unlabelled.stderr, /may only create Deployments named <target>-canary/);
    // Labelled and owned as a copy is, in a namespace it may not touch.
    const ownedCopy = (namespace: string, name: string) => {
      const d = deploymentManifest(namespace, name, { labels: { 'sluice.dev/role': 'canary' } });
      const owner = {
        apiVersion: 'flagger.app/v1beta1',
        kind: 'Canary',
        name: 'x',
        uid: '00000000-0000-0000-0000-000000000001',
        controller: true,
      };
      return { ...d, metadata: { ...d.metadata, ownerReferences: [owner] } };
    };
    const inKubeSystem = await asController(['create', '-f', '-'], ownedCopy('kube-system', 'coredns-canary'));
    assert.match(inKubeSystem.stderr, /may not create or change Deployments in kube-system or its own namespace/);
    const inOwn = await asController(['create', '-f', '-', '--dry-run=server'], ownedCopy(SLUICE_NAMESPACE, 'anything-canary'));
    assert.match(inOwn.stderr, /may not create or change Deployments in kube-system or its own namespace/);
    assert.equal(await (await admin()).find(at(R.deployments, ns, 'miner')), undefined);
    // The contract itself is allowed: the policy is not a blanket refusal. The copy of a
    // Deployment a Canary targets, owned by that Canary, running that Deployment's pods.
    const client = await admin();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'web'));
    const canary = await client.create<KubeObject>(at(CR.canaries, ns), {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: 'web', namespace: ns },
      // Suspended: the controller leaves the copy to this test.
      spec: { targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, service: { port: 9898 }, suspend: true },
    });
    copyOwner = canary;
    // The controller bootstraps the Canary and creates the same copy meanwhile: "already exists"
    // is the store's answer, given only once every admission check has passed.
    const copy = await asController(['create', '--dry-run=server', '-f', '-'], copyOf(ns, 'web', canary));
    assert.ok(copy.code === 0 || /already exists/.test(copy.stderr), copy.stderr);
  });

  /** A canary copy of Deployment `target` as the controller writes it, with `pod` merged into its pod spec. */
  let copyOwner: KubeObject;
  function copyOf(namespace: string, target: string, owner: KubeObject, pod: Record<string, unknown> = {}, image?: string) {
    const d = deploymentManifest(namespace, `${target}-canary`, { labels: { 'sluice.dev/role': 'canary' }, image });
    const spec = d.spec.template.spec as Record<string, unknown>;
    Object.assign(spec, pod);
    d.spec.selector.matchLabels = { app: `${target}-canary` };
    d.spec.template.metadata.labels = { app: `${target}-canary`, 'sluice.dev/role': 'canary' } as never;
    return {
      ...d,
      metadata: {
        ...d.metadata,
        ownerReferences: [
          { apiVersion: 'flagger.app/v1beta1', kind: 'Canary', name: owner.metadata.name, uid: owner.metadata.uid, controller: true },
        ],
      },
    };
  }

  it("a canary copy runs its target's pods and nothing else: the apiserver refuses any other workload under that name", async () => {
    const refused: [string, unknown, RegExp][] = [
      [
        'another image',
        copyOf(ns, 'web', copyOwner, {}, 'example.com/miner:1'),
        /canary-copies\.sluice\.dev.*Deployment web-canary\.[^ ]+ must run the pods of Deployment web.*spec\.containers differs/,
      ],
      [
        'a privileged container',
        copyOf(ns, 'web', copyOwner, {
          containers: [{ name: 'app', image: 'ghcr.io/stefanprodan/podinfo:6.0.0', securityContext: { privileged: true } }],
        }),
        /must run the pods of Deployment web.*spec\.containers differs/,
      ],
      ['the host PID namespace', copyOf(ns, 'web', copyOwner, { hostPID: true }), /spec\.hostPID differ/],
      ['another ServiceAccount', copyOf(ns, 'web', copyOwner, { serviceAccountName: 'default' }), /spec\.serviceAccountName differ/],
      ['a hostPath volume', copyOf(ns, 'web', copyOwner, { volumes: [{ name: 'root', hostPath: { path: '/' } }] }), /spec\.volumes differ/],
      // No Deployment `miner` and no Canary for it: only sluice's webhook, another identity, can tell.
      ['a copy of nothing', copyOf(ns, 'miner', copyOwner), /Deployment miner-canary\.[^ ]+ is not the canary copy of anything/],
      [
        'a copy owned by no Canary',
        copyOf(ns, 'web', { metadata: { name: 'web', uid: '00000000-0000-0000-0000-000000000000' } } as KubeObject),
        /must be owned \(controller reference\) by the Canary that targets Deployment web/,
      ],
    ];
    for (const [what, manifest, message] of refused) {
      const r = await asController(['create', '--dry-run=server', '-f', '-'], manifest);
      assert.notEqual(r.code, 0, `${what} was admitted`);
      assert.match(r.stderr, message, what);
    }
    // Nor can an existing copy be turned into something else.
    await waitFor(async () => (await (await admin()).find(at(R.deployments, ns, 'web-canary'))) !== undefined, {
      timeoutMs: 30_000,
      what: 'the controller to create web-canary',
    });
    const rewrite = await asController(['-n', ns, 'set', 'image', 'deployment/web-canary', 'app=example.com/miner:1', '--dry-run=server']);
    assert.match(
      rewrite.stderr,
      /canary-copies\.sluice\.dev.*Deployment web-canary\.[^ ]+ must run the pods of Deployment web.*spec\.containers differs/,
    );
    const empty = await testNamespace('identity-empty');
    try {
      // A namespace without any Deployment has no target: nothing is a copy there.
      const r = await asController(['create', '--dry-run=server', '-f', '-'], copyOf(empty, 'web', copyOwner));
      assert.match(r.stderr, /not the canary copy of anything/);
      assert.notEqual(r.code, 0);
    } finally {
      await deleteNamespace(empty);
    }
  });

  it("a CanaryJudge's baseline runs its target's released revision and nothing else", async () => {
    const client = await admin();
    const web = await waitFor(
      async () => {
        const d = await client.find<
          KubeObject & { spec: { template: { metadata: Record<string, unknown>; spec: Record<string, unknown> } } }
        >(at(R.deployments, ns, 'web'));
        return d?.metadata.annotations?.['sluice.dev/stable-revision'] ? d : undefined;
      },
      { timeoutMs: 30_000, what: 'web to have a released revision' },
    );
    // The baseline as the controller writes it: the target's template with its own labels.
    const baselineOf = (namespace: string, target: string, image?: string) => {
      const d = deploymentManifest(namespace, `${target}-baseline`, { labels: { 'sluice.dev/role': 'baseline' } });
      const template = structuredClone(web.spec.template);
      template.metadata = { ...template.metadata, labels: { app: `${target}-baseline`, 'sluice.dev/role': 'baseline' } };
      if (image) (template.spec.containers as { image: string }[])[0]!.image = image;
      d.spec.selector.matchLabels = { app: `${target}-baseline` };
      return {
        ...d,
        metadata: {
          ...d.metadata,
          ownerReferences: [
            {
              apiVersion: 'flagger.app/v1beta1',
              kind: 'Canary',
              name: copyOwner.metadata.name,
              uid: copyOwner.metadata.uid,
              controller: true,
            },
          ],
        },
        spec: { ...d.spec, template },
      };
    };
    const ok = await asController(['create', '--dry-run=server', '-f', '-'], baselineOf(ns, 'web'));
    assert.equal(ok.code, 0, ok.stderr);
    const otherImage = await asController(['create', '--dry-run=server', '-f', '-'], baselineOf(ns, 'web', 'example.com/miner:1'));
    assert.match(
      otherImage.stderr,
      /canary-copies\.sluice\.dev.*Deployment web-baseline\.[^ ]+ must run the released revision of Deployment web: its pod template is not the released revision/,
    );
    const ofNothing = await asController(['create', '--dry-run=server', '-f', '-'], baselineOf(ns, 'miner'));
    assert.match(ofNothing.stderr, /Deployment miner-baseline\.[^ ]+ is not the baseline of anything/);
    // A baseline's name with a canary's role, or the other way round, is refused by the apiserver's own policy.
    const misnamed = baselineOf(ns, 'web');
    misnamed.metadata = { ...misnamed.metadata, name: 'web-canary2' };
    const r = await asController(['create', '--dry-run=server', '-f', '-'], misnamed);
    assert.match(r.stderr, /may only create Deployments named <target>-canary \(or <target>-baseline\)/);
  });

  it('the controller cannot create a service-account token Secret, whatever it labels it', async () => {
    const token = await asController(['create', '-f', '-'], {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/service-account-token',
      immutable: true,
      metadata: {
        name: 'steal-sluice-0123456789',
        namespace: ns,
        labels: { 'sluice.dev/tracked': 'snapshot' },
        annotations: { 'kubernetes.io/service-account.name': 'default', 'sluice.dev/snapshot-of': 'db' },
      },
    });
    assert.match(
      token.stderr,
      /a snapshot the sluice controller creates is immutable, names what it copies \(sluice.dev\/snapshot-of\) and is never a service-account token/,
    );
    const snapshotSecret = (immutable: boolean) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      ...(immutable ? { immutable } : {}),
      metadata: {
        name: 'db-sluice-0123456789',
        namespace: ns,
        labels: { 'sluice.dev/tracked': 'snapshot' },
        annotations: { 'sluice.dev/snapshot-of': 'db' },
      },
      data: { k: 'dg==' },
    });
    const mutable = await asController(['create', '-f', '-', '--dry-run=server'], snapshotSecret(false));
    assert.match(mutable.stderr, /is immutable/);
    const snapshot = await asController(['create', '-f', '-', '--dry-run=server'], snapshotSecret(true));
    assert.equal(snapshot.code, 0, snapshot.stderr);
  });

  it("the webhook may change its configurations' caBundle and nothing else", async () => {
    const attempts: [string, string, unknown][] = [
      [
        'widen the freeze to every resource',
        'mutatingwebhookconfiguration/sluice',
        [{ op: 'replace', path: '/webhooks/0/rules/0/resources', value: ['*'] }],
      ],
      ['fail open', 'validatingwebhookconfiguration/sluice', [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Ignore' }]],
      ['remove a validating webhook', 'validatingwebhookconfiguration/sluice', [{ op: 'remove', path: '/webhooks/0' }]],
      [
        'point it elsewhere',
        'validatingwebhookconfiguration/sluice',
        [{ op: 'replace', path: '/webhooks/0/clientConfig/service/name', value: 'evil' }],
      ],
      ['drop its conditions', 'validatingwebhookconfiguration/sluice', [{ op: 'remove', path: '/webhooks/0/matchConditions' }]],
      [
        'have another CA injected',
        'validatingwebhookconfiguration/sluice',
        [{ op: 'add', path: '/metadata/annotations', value: { 'cert-manager.io/inject-ca-from': 'x/y' } }],
      ],
    ];
    for (const [what, object, patch] of attempts) {
      const r = await asWebhook(['patch', object, '--type=json', '-p', JSON.stringify(patch), '--dry-run=server']);
      assert.notEqual(r.code, 0, `${what} was admitted`);
      assert.match(r.stderr, /sluice-webhook-ca-bundle-only.*may change only clientConfig.caBundle/, what);
    }
    const ca = Buffer.from('not a real CA').toString('base64');
    const ok = await asWebhook([
      'patch',
      'validatingwebhookconfiguration/sluice',
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'replace', path: '/webhooks/0/clientConfig/caBundle', value: ca }]),
      '--dry-run=server',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it("the controller cannot change a team's images or ServiceAccount, nor the data of their Secrets", async () => {
    const client = await admin();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'team-app'));
    const image = await asController(['-n', ns, 'set', 'image', 'deployment/team-app', 'app=example.com/miner:1']);
    assert.match(image.stderr, /may not change the pod template of a Deployment other than a canary copy/);
    const sa = await asController([
      '-n',
      ns,
      'patch',
      'deployment/team-app',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { template: { spec: { serviceAccountName: 'default' } } } }),
    ]);
    assert.match(sa.stderr, /may not change the pod template of a Deployment other than a canary copy/);
    for (const [what, patch] of [
      ['an init container', { spec: { template: { spec: { initContainers: [{ name: 'x', image: 'example.com/miner:1' }] } } } }],
      ['a command', { spec: { template: { spec: { containers: [{ name: 'app', command: ['/bin/sh', '-c', 'curl evil'] }] } } } }],
      [
        'an environment variable',
        { spec: { template: { spec: { containers: [{ name: 'app', env: [{ name: 'LD_PRELOAD', value: '/x.so' }] }] } } } },
      ],
      ['a security context', { spec: { template: { spec: { securityContext: { runAsUser: 0 } } } } }],
      ['a pod label', { spec: { template: { metadata: { labels: { other: 'service' } } } } }],
    ] as const) {
      const r = await asController(['-n', ns, 'patch', 'deployment/team-app', '--type=strategic', '-p', JSON.stringify(patch)]);
      assert.match(r.stderr, /may not change the pod template of a Deployment other than a canary copy/, what);
    }
    // The config revision that rolls primary pods onto released configs is the one thing it writes there.
    const revision = await asController([
      '-n',
      ns,
      'patch',
      'deployment/team-app',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { template: { metadata: { annotations: { 'sluice.dev/config-revision': 'abc' } } } } }),
      '--dry-run=server',
    ]);
    assert.equal(revision.code, 0, revision.stderr);
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
    const data = await mergePatchAsController('secret/db', { stringData: { password: 'owned' } });
    assert.match(data.stderr, /may label a ConfigMap or Secret, never change its data/);
    await client.create(at(R.configmaps, ns), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg', namespace: ns },
      data: { a: 'b' },
    });
    const binary = await mergePatchAsController('configmap/cfg', { binaryData: { b: 'YQ==' } });
    assert.match(binary.stderr, /never change its data, binaryData/);
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
