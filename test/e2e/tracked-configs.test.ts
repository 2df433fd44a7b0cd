// Tracked configs on the local world: a ConfigMap (volume) and a Secret (envFrom) that a managed
// Deployment reads are snapshotted; primary pods are pinned to the released snapshots, so an
// in-place edit reaches only the canary until analysis releases it; an opted-out ConfigMap is
// not tracked; no Secret content lands in an annotation.
import assert from 'node:assert/strict';
import { CR } from '../../api/flagger-types.js';
import { at, type KubeObject, R, type ResourceRef } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { canaryEvents, eventuallyInOrder, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { admin, type Deployment, deleteNamespace, simulator } from '../world/test-clients.js';
import { buildBinaries, runKubectl } from '../world/world.js';

type Pod = KubeObject & {
  spec: {
    volumes?: { configMap?: { name: string } }[];
    containers: { envFrom?: { secretRef?: { name: string } }[]; env?: { valueFrom?: { configMapKeyRef?: { name: string } } }[] }[];
  };
};
type Config = KubeObject & { data?: Record<string, string>; immutable?: boolean };

describe('tracked configs, end to end', () => {
  const { binDir } = buildBinaries();
  let ns: string;
  const kubectl = (args: string[]) => runKubectl(binDir, ['-n', ns, ...args]);
  /** What each running pod of `app` (primary) or `app-canary` reads: [volume ConfigMap, envFrom Secret, env ConfigMap]. */
  const reads = async (app: string) => {
    const pods = (await (await admin()).list<Pod>(at(R.pods, ns), { labelSelector: `app=${app}` })).items.filter(
      (p) => !p.metadata.deletionTimestamp,
    );
    return pods.map((p) =>
      [
        p.spec.volumes?.find((v) => v.configMap)?.configMap?.name,
        p.spec.containers[0]!.envFrom?.[0]?.secretRef?.name,
        p.spec.containers[0]!.env?.[0]?.valueFrom?.configMapKeyRef?.name,
      ].join(' '),
    );
  };
  const allRead = (app: string, want: RegExp, count?: number) => async () => {
    const r = await reads(app);
    return r.length > 0 && (count === undefined || r.length === count) && r.every((x) => want.test(x)) ? r : undefined;
  };
  const snapshotsOf = async (kind: ResourceRef, of: string) =>
    (await (await admin()).list<Config>(at(kind, ns), { labelSelector: 'sluice.dev/tracked=snapshot' })).items.filter(
      (o) => o.metadata.annotations?.['sluice.dev/snapshot-of'] === of,
    );

  before(async function () {
    this.timeout(120_000);
    ns = await sluiceAndNamespace('configs');
    const client = await admin();
    await client.create(at(R.configmaps, ns), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: ns },
      data: { color: 'blue' },
    });
    await client.create(at(R.configmaps, ns), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'untracked', namespace: ns, annotations: { 'flagger.app/config-tracking': 'disabled' } },
      data: { x: '1' },
    });
    await client.create(at(R.secrets, ns), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: ns },
      stringData: { token: 'first-secret-token' },
    });
    const app = { app: 'cfg' };
    await client.create(at(R.deployments, ns), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'cfg', namespace: ns, labels: app },
      spec: {
        replicas: 2,
        selector: { matchLabels: app },
        template: {
          metadata: { labels: app },
          spec: {
            volumes: [{ name: 'settings', configMap: { name: 'settings' } }],
            containers: [
              {
                name: 'app',
                image: 'ghcr.io/stefanprodan/podinfo:6.0.0',
                ports: [{ containerPort: 9898 }],
                volumeMounts: [{ name: 'settings', mountPath: '/etc/settings' }],
                envFrom: [{ secretRef: { name: 'creds' } }],
                env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'untracked', key: 'x' } } }],
              },
            ],
          },
        },
      },
    });
    await client.create(at(CR.canaries, ns), {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: 'cfg', namespace: ns },
      spec: {
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'cfg' },
        service: { port: 9898, gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
        analysis: {
          interval: '2s',
          threshold: 3,
          stepWeight: 25,
          maxWeight: 50,
          metrics: [{ name: 'request-success-rate', interval: '6s', thresholdRange: { min: 99 } }],
        },
      },
    });
    await simulator('PUT', `/traffic/${ns}/cfg`, { ratePerSecond: 100 });
  });
  after(async () => {
    await simulator('DELETE', `/traffic/${ns}/cfg`).catch(() => undefined);
    await deleteNamespace(ns);
  });

  it('1. at bootstrap, snapshots the tracked ConfigMap and Secret and pins the primary pods to them; the opted-out one is left alone', async () => {
    await waitPhase(ns, 'Initialized', 60_000, undefined, 'cfg');
    const [settings] = await snapshotsOf(R.configmaps, 'settings');
    const [creds] = await snapshotsOf(R.secrets, 'creds');
    assert.ok(settings && creds, 'one snapshot of each');
    assert.equal(settings.immutable, true);
    assert.deepEqual(settings.data, { color: 'blue' });
    const live = await (await admin()).get<Config>(at(R.secrets, ns, 'creds'));
    assert.deepEqual((creds as Config).data, live.data, 'the snapshot holds the same content');
    const pinned = new RegExp(`^${settings.metadata.name} ${creds.metadata.name} untracked$`);
    await waitFor(allRead('cfg', pinned, 2), { timeoutMs: 60_000, what: 'both primary pods pinned to the snapshots' });
    const untracked = await (await admin()).get<Config>(at(R.configmaps, ns, 'untracked'));
    assert.equal(untracked.metadata.labels?.['sluice.dev/tracked'], undefined);
    assert.deepEqual(await snapshotsOf(R.configmaps, 'untracked'), []);
    // Names and hashes only: the Secret's content appears in no annotation or status.
    const d = await (await admin()).get<Deployment>(at(R.deployments, ns, 'cfg'));
    const canary = await getCanary(ns, 'cfg');
    const text = JSON.stringify([d.metadata.annotations, d.spec, canary.metadata.annotations ?? {}, canary.status]);
    assert.doesNotMatch(text, /first-secret-token/);
    assert.doesNotMatch(text, new RegExp(Buffer.from('first-secret-token').toString('base64')));
  });

  it('2. a ConfigMap edited in place goes through analysis: the canary reads the new content, the primary keeps the old until release', async () => {
    const [before] = await snapshotsOf(R.configmaps, 'settings');
    const [creds] = await snapshotsOf(R.secrets, 'creds');
    const r = await kubectl(['patch', 'configmap', 'settings', '--type=merge', '-p', '{"data":{"color":"green"}}']);
    assert.equal(r.code, 0, r.stderr);
    const c = await waitFor(
      async () => {
        const x = await getCanary(ns, 'cfg');
        return x.status?.phase === 'Progressing' && (x.status.canaryWeight ?? 0) > 0 ? x : undefined;
      },
      { timeoutMs: 30_000, what: 'analysis of the edited ConfigMap' },
    );
    assert.match(c.status!.lastAppliedSpec!, /^[0-9a-f]{16}\+[0-9a-f]{16}$/);
    const after = (await snapshotsOf(R.configmaps, 'settings')).find((s) => s.data?.color === 'green');
    assert.ok(after, 'a snapshot of the new content');
    await waitFor(allRead('cfg-canary', new RegExp(`^${after.metadata.name} ${creds!.metadata.name} untracked$`)), {
      timeoutMs: 30_000,
      what: 'canary pods reading the new snapshot',
    });
    assert.deepEqual(
      [...new Set(await reads('cfg'))],
      [`${before!.metadata.name} ${creds!.metadata.name} untracked`],
      'primary pods untouched while the change is analysed',
    );
    await waitPhase(ns, 'Succeeded', 60_000, c.status!.lastAppliedSpec, 'cfg');
    await waitFor(allRead('cfg', new RegExp(`^${after.metadata.name} `), 2), {
      timeoutMs: 60_000,
      what: 'primary pods rolled onto the released snapshot',
    });
    const problem = await eventuallyInOrder(
      () => canaryEvents(ns, 'cfg'),
      [
        `New revision detected! Scaling up cfg-canary.${ns}`,
        `Advance cfg.${ns} canary weight 50`,
        `Promotion completed! Scaling down cfg-canary.${ns}`,
      ],
    );
    assert.equal(problem, undefined, problem);
    await waitFor(async () => (await snapshotsOf(R.configmaps, 'settings')).length === 1 || undefined, {
      timeoutMs: 20_000,
      what: 'the superseded snapshot to be removed',
    });
  });

  it('3. a Secret edited in place likewise, and the Deployment is never left paused', async () => {
    const r = await kubectl([
      'patch',
      'secret',
      'creds',
      '--type=merge',
      '-p',
      JSON.stringify({ stringData: { token: 'second-secret-token' } }),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const c = await waitFor(
      async () => {
        const x = await getCanary(ns, 'cfg');
        return x.status?.phase === 'Progressing' ? x : undefined;
      },
      { timeoutMs: 30_000, what: 'analysis of the edited Secret' },
    );
    await waitPhase(ns, 'Succeeded', 60_000, c.status!.lastAppliedSpec, 'cfg');
    // The snapshot of the new content (the old one may not be collected yet).
    const creds = (await snapshotsOf(R.secrets, 'creds')).find(
      (o) => o.data?.token === Buffer.from('second-secret-token').toString('base64'),
    );
    assert.ok(creds, 'a snapshot of the new Secret content');
    await waitFor(allRead('cfg', new RegExp(` ${creds.metadata.name} untracked$`), 2), {
      timeoutMs: 60_000,
      what: 'primary pods on the new Secret snapshot',
    });
    assert.notEqual((await (await admin()).get<Deployment>(at(R.deployments, ns, 'cfg'))).spec.paused, true);
  });
});
