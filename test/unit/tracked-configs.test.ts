import assert from 'node:assert/strict';
import { annotations as A } from '../../api/contract.js';
import { Revision, templatePart, templateRevision } from '../../api/revision.js';
import { configHash, configRefs, fingerprint, rewriteRefs, snapshotName } from '../../api/tracked-configs.js';
import { revisionOf } from '../../api/workload.js';
import { targetPatch } from '../../controller/desired-state.js';
import { desiredState } from '../../controller/kinds/index.js';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { decidePin, deploymentOf } from '../../webhook/pin-decision.js';
import { podCreate } from '../fixtures/pod-review.js';
import { deployment, seedCanary } from './controller-fixtures.js';

const podSpec = {
  volumes: [
    { name: 'a', configMap: { name: 'settings' } },
    { name: 'b', secret: { secretName: 'tls' } },
    { name: 'c', projected: { sources: [{ configMap: { name: 'extra' } }, { secret: { name: 'token' } }, { downwardAPI: {} }] } },
    { name: 'd', emptyDir: {} },
  ],
  initContainers: [{ name: 'init', envFrom: [{ configMapRef: { name: 'init-env' } }] }],
  containers: [
    {
      name: 'app',
      env: [
        { name: 'A', value: 'x' },
        { name: 'B', valueFrom: { secretKeyRef: { name: 'creds', key: 'k' } } },
        { name: 'C', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } },
        { name: 'D', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
      envFrom: [{ secretRef: { name: 'creds' } }],
    },
  ],
};

describe('tracked configs', () => {
  it('finds every ConfigMap and Secret a pod spec reads, once each: volumes, projected sources, env and envFrom, init containers', () => {
    assert.deepEqual(
      configRefs(podSpec).map((r) => `${r.kind}/${r.name}`),
      ['ConfigMap/extra', 'ConfigMap/init-env', 'ConfigMap/settings', 'Secret/creds', 'Secret/tls', 'Secret/token'],
    );
    assert.deepEqual(configRefs({ containers: [{ name: 'x' }] }), []);
  });

  it('renames exactly the references it is given, everywhere they occur, without touching the input', () => {
    const before = structuredClone(podSpec);
    const out = rewriteRefs(podSpec, { 'ConfigMap/settings': 'settings-sluice-1', 'Secret/creds': 'creds-sluice-2' }) as typeof podSpec;
    assert.deepEqual(podSpec, before);
    assert.equal(out.volumes[0]!.configMap!.name, 'settings-sluice-1');
    assert.equal(out.containers[0]!.env[2]!.valueFrom!.configMapKeyRef!.name, 'settings-sluice-1');
    assert.equal(out.containers[0]!.env[1]!.valueFrom!.secretKeyRef!.name, 'creds-sluice-2');
    assert.equal(out.containers[0]!.envFrom[0]!.secretRef.name, 'creds-sluice-2');
    assert.equal(out.volumes[1]!.secret!.secretName, 'tls', 'a Secret not in the map keeps its name');
    assert.equal(out.volumes[2]!.projected!.sources[0]!.configMap!.name, 'extra');
  });

  it('fingerprints content, not metadata, and names snapshots after it', () => {
    const a = fingerprint({ data: { color: 'blue', size: 'l' } });
    assert.equal(fingerprint({ data: { size: 'l', color: 'blue' } }), a, 'key order does not matter');
    assert.notEqual(fingerprint({ data: { color: 'green', size: 'l' } }), a);
    assert.notEqual(fingerprint({ data: {}, binaryData: { k: 'AA==' } }), fingerprint({ data: {} }));
    assert.match(snapshotName('settings', a), /^settings-sluice-[0-9a-f]{10}$/);
  });

  it('revisions: unchanged without tracked configs, template+configs with them, and the config restart annotation is not a template change', () => {
    const d = deployment('podinfo:6.0.0');
    const plain = revisionOf(d).id;
    assert.equal(plain, templateRevision(d.spec.template));
    const h = configHash({ 'ConfigMap/settings': fingerprint({ data: { a: '1' } }) })!;
    const withCfg = revisionOf(d, h).id;
    assert.equal(withCfg, `${plain}+${h}`);
    assert.deepEqual(Revision.parse(withCfg), new Revision(plain, h));
    assert.ok(Revision.parse(withCfg).isReleased(plain), 'the stable annotation holds the template part only');
    assert.equal(templatePart(withCfg), plain);
    assert.equal(configHash({}), undefined);
    const restarted = structuredClone(d);
    restarted.spec.template.metadata = { ...restarted.spec.template.metadata, annotations: { [A.configRevision]: h } };
    assert.equal(templateRevision(restarted.spec.template), plain);
  });

  it('desired state pins the primary only once the configs it reads are the released ones', () => {
    const c = seedCanary();
    const d = deployment('podinfo:6.0.0');
    const tracked = { snapshots: { 'ConfigMap/settings': 'settings-sluice-abc' }, hash: 'f'.repeat(16) };
    const view = d;
    const released = revisionOf(d, tracked.hash).id;
    const stable = desiredState(c, { phase: 'Succeeded', lastPromotedSpec: released }, view, undefined, undefined, tracked);
    assert.equal(stable.target!.annotations[A.stableConfigs], JSON.stringify(tracked.snapshots));
    assert.equal(stable.target!.annotations['sluice.dev/stable-revision'], templatePart(released));
    assert.deepEqual(stable.target!.templateAnnotations, { [A.configRevision]: tracked.hash });
    assert.deepEqual(targetPatch(d, stable.target!), {
      metadata: {
        labels: { 'sluice.dev/managed': 'true' },
        annotations: {
          'sluice.dev/stable-revision': templatePart(released),
          'sluice.dev/canary': 'podinfo',
          [A.stableConfigs]: JSON.stringify(tracked.snapshots),
        },
      },
      spec: { template: { metadata: { annotations: { [A.configRevision]: tracked.hash } } } },
    });
    // A config edit under analysis: the primary keeps what it has.
    const edited = d;
    const testing = desiredState(
      c,
      { phase: 'Progressing', lastPromotedSpec: released, lastAppliedSpec: revisionOf(edited, 'e'.repeat(16)).id },
      edited,
      undefined,
      undefined,
      { snapshots: { 'ConfigMap/settings': 'settings-sluice-new' }, hash: 'e'.repeat(16) },
    );
    assert.equal(testing.target!.annotations[A.stableConfigs], undefined);
    assert.equal(testing.target!.templateAnnotations, undefined);
  });

  describe('pinning primary pods', () => {
    const pod = (labels: Record<string, string>, owner = 'cfg-7d9f8b6c5') => ({
      metadata: { generateName: `${owner}-`, labels, ownerReferences: [{ kind: 'ReplicaSet', name: owner, controller: true }] },
      spec: {
        volumes: [{ name: 's', configMap: { name: 'settings' } }],
        containers: [{ name: 'app', envFrom: [{ secretRef: { name: 'creds' } }] }],
      },
    });
    const req = (object: unknown): AdmissionRequest => podCreate(object, { namespace: 'shop' });
    const pins = (ns: string, d: string) =>
      ns === 'shop' && d === 'cfg' ? { 'ConfigMap/settings': 'settings-sluice-1', 'Secret/creds': 'creds-sluice-2' } : undefined;

    it('finds the Deployment from the ReplicaSet and the pod-template-hash', () => {
      assert.equal(deploymentOf(pod({ 'pod-template-hash': '7d9f8b6c5' })), 'cfg');
      assert.equal(deploymentOf(pod({ 'pod-template-hash': 'other' })), undefined);
      assert.equal(deploymentOf({ metadata: { labels: {} } }), undefined);
    });
    it("rewrites a primary pod to the stable snapshots, and leaves canary pods and other Deployments' pods alone", () => {
      const d = decidePin(req(pod({ app: 'cfg', 'pod-template-hash': '7d9f8b6c5' })), pins);
      assert.ok(d.pinned);
      const spec = (
        d.pod as { spec: { volumes: { configMap: { name: string } }[]; containers: { envFrom: { secretRef: { name: string } }[] }[] } }
      ).spec;
      assert.equal(spec.volumes[0]!.configMap.name, 'settings-sluice-1');
      assert.equal(spec.containers[0]!.envFrom[0]!.secretRef.name, 'creds-sluice-2');
      assert.equal(decidePin(req(pod({ 'pod-template-hash': '7d9f8b6c5', 'sluice.dev/role': 'canary' })), pins).pinned, false);
      assert.equal(decidePin(req(pod({ 'pod-template-hash': 'abc' }, 'other-abc')), pins).pinned, false);
      assert.throws(() => decidePin(req(null), pins), /no Pod/);
    });
  });
});
