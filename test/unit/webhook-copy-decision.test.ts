// A canary copy the controller writes must be the copy of a Deployment a live Canary targets,
// owned by that Canary, running exactly that Deployment's pods (snapshots of its configs aside).
import assert from 'node:assert/strict';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { type CopySources, copyDifferences, decideCopy } from '../../webhook/copy-decision.js';
import { controllerUser } from '../world/layout.js';

const pods = (over: Record<string, unknown> = {}) => ({
  metadata: { annotations: { 'prometheus.io/scrape': 'true' } },
  spec: {
    serviceAccountName: 'podinfo',
    containers: [
      {
        name: 'podinfod',
        image: 'ghcr.io/stefanprodan/podinfo:6.0.1',
        env: [{ name: 'CONFIG', valueFrom: { configMapKeyRef: { name: 'podinfo-config', key: 'x' } } }],
      },
    ],
    volumes: [{ name: 'cfg', configMap: { name: 'podinfo-config' } }],
    ...over,
  },
});
/** What the controller writes: the target's pods reading snapshots of its ConfigMaps. */
const asCopy = (t: ReturnType<typeof pods>) => {
  type Refs = {
    spec: { containers: { env?: { valueFrom?: { configMapKeyRef?: { name: string } } }[] }[]; volumes: { configMap?: { name: string } }[] };
  };
  const c = structuredClone(t) as unknown as Refs;
  const ref = c.spec.containers[0]?.env?.[0]?.valueFrom?.configMapKeyRef;
  if (ref) ref.name = 'podinfo-config-sluice-0123456789';
  const vol = c.spec.volumes[0]?.configMap;
  if (vol) vol.name = 'podinfo-config-sluice-0123456789';
  return c as unknown as ReturnType<typeof pods>;
};

const review = (name: string, template: unknown, owner = 'uid-1', user = controllerUser): AdmissionRequest => ({
  uid: 'u',
  kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
  namespace: 'test',
  name,
  operation: 'CREATE',
  userInfo: { username: user },
  object: {
    metadata: {
      name,
      labels: { 'sluice.dev/role': 'canary' },
      ownerReferences: [{ apiVersion: 'flagger.app/v1beta1', kind: 'Canary', name: 'podinfo', uid: owner, controller: true }],
    },
    spec: { template },
  },
});

const sources = (
  target = pods(),
  canaries: Record<string, string[]> | null = { podinfo: ['uid-1'] },
): CopySources & { reads: string[] } => {
  const reads: string[] = [];
  return {
    reads,
    canariesTargeting: (_ns, d) => (canaries === null ? undefined : (canaries[d] ?? [])),
    target: async (ns, name) => {
      reads.push(`${ns}/${name}`);
      return name === 'podinfo' ? { spec: { template: target } } : undefined;
    },
  };
};
const deny = async (r: AdmissionRequest, s: CopySources, message: RegExp) => {
  const v = await decideCopy(r, [controllerUser], s);
  assert.equal(v.allowed, false, String(message));
  assert.match(v.allowed ? '' : v.message, message);
};

describe('canary copies the controller writes', () => {
  it('admits the copy of its target, reading snapshots of its configs, checked against the target as last written', async () => {
    const s = sources();
    const v = await decideCopy(review('podinfo-canary', asCopy(pods())), [controllerUser], s);
    assert.equal(v.allowed, true, v.allowed ? '' : v.message);
    assert.deepEqual(s.reads, ['test/podinfo']);
  });

  it('refuses any other pod: another image, a privileged container, the host PID namespace, another ServiceAccount, a hostPath, an AppArmor annotation', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['another image', asCopy(pods({ containers: [{ name: 'podinfod', image: 'example.com/miner:1' }] })), /spec\.containers differs/],
      ['host PID', asCopy(pods({ hostPID: true })), /spec\.hostPID differs/],
      ['another ServiceAccount', asCopy(pods({ serviceAccountName: 'admin' })), /spec\.serviceAccountName differs/],
      ['a hostPath', asCopy(pods({ volumes: [{ name: 'cfg', hostPath: { path: '/' } }] })), /spec\.volumes differs/],
      [
        'an annotation',
        { ...asCopy(pods()), metadata: { annotations: { 'container.apparmor.security.beta.kubernetes.io/podinfod': 'unconfined' } } },
        /metadata\.annotations differs/,
      ],
      [
        "a ConfigMap that is not a snapshot of the target's",
        { ...pods(), spec: { ...pods().spec, volumes: [{ name: 'cfg', configMap: { name: 'kube-root-ca.crt' } }] } },
        /spec\.volumes differs/,
      ],
    ];
    for (const [what, template, message] of cases) {
      await deny(review('podinfo-canary', template), sources(), message).catch((e: Error) => assert.fail(`${what}: ${e.message}`));
    }
  });

  it('refuses a copy of nothing, one owned by no live Canary, one not named as a copy, and one whose target is gone', async () => {
    await deny(review('miner-canary', pods()), sources(), /not the canary copy of anything: no Canary in test targets Deployment miner/);
    await deny(
      review('podinfo-canary', pods(), 'forged'),
      sources(),
      /must be owned \(controller reference\) by the Canary that targets Deployment podinfo/,
    );
    const named = review('miner', pods());
    await deny(named, sources(), /labelled sluice\.dev\/role=canary but is not named <target>-canary/);
    await deny(review('other-canary', pods()), sources(pods(), { other: ['uid-1'] }), /copy of Deployment other, which does not exist/);
    const unsynced = await decideCopy(review('podinfo-canary', pods()), [controllerUser], sources(pods(), null));
    assert.ok(!unsynced.allowed && unsynced.code === 503, 'caches still filling: retry');
  });

  it("leaves anyone else's write to /validate, and reads nothing for it", async () => {
    const s = sources();
    assert.equal((await decideCopy(review('miner-canary', pods(), 'x', 'alice'), [controllerUser], s)).allowed, true);
    assert.deepEqual(s.reads, []);
  });

  it('names each field that differs, and nothing when only snapshot names do', () => {
    assert.deepEqual(copyDifferences(asCopy(pods()), pods()), []);
    assert.deepEqual(copyDifferences(asCopy(pods({ hostIPC: true, hostNetwork: true })), pods()), ['spec.hostIPC', 'spec.hostNetwork']);
  });
});
