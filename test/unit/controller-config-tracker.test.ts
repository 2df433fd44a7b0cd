// The config tracker against an in-memory apiserver: reading is only reading, labelling,
// snapshots and their collection are separate writes, and an opted-out or missing config is left alone.
import assert from 'node:assert/strict';
import { annotations as A, labels as L } from '../../api/contract.js';
import { snapshotName, TRACKING_ANNOTATION } from '../../api/tracked-configs.js';
import type { Deployment } from '../../api/workload.js';
import { type ConfigObject, ConfigTracker } from '../../controller/config-tracker.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';
import { deployment, seedCanary } from './controller-fixtures.js';

const NS = 'test';

function setup() {
  const cluster = new MemoryCluster();
  const tracked = (o: KubeObject) => o.metadata.labels?.[L.tracked] !== undefined;
  const tracker = new ConfigTracker(cluster, {
    configmaps: cluster.cache(R.configmaps, tracked),
    secrets: cluster.cache(R.secrets, tracked),
  });
  return { cluster, tracker };
}

function reading(...names: string[]): Deployment {
  const d = deployment('podinfo:6.0.0');
  (d.spec.template.spec as { containers: { envFrom?: unknown[] }[] }).containers[0]!.envFrom = names.map((name) => ({
    configMapRef: { name },
  }));
  return d;
}

const configMap = (name: string, data: Record<string, string>, annotations?: Record<string, string>): ConfigObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: NS, annotations },
  data,
});

describe('config tracker (in-memory apiserver)', () => {
  it('reads without writing, then labels what the informer does not follow yet', async () => {
    const { cluster, tracker } = setup();
    await cluster.create(at(R.configmaps, NS), configMap('settings', { color: 'blue' }));
    const before = cluster.writes.length;
    const t = await tracker.track(reading('settings', 'optional-missing'));
    assert.equal(cluster.writes.length, before, 'track() only reads');
    assert.deepEqual(t.unlabelled, [{ kind: 'ConfigMap', name: 'settings' }]);
    assert.deepEqual(Object.keys(t.snapshots), ['ConfigMap/settings'], 'a missing optional reference is not tracked');
    assert.match(t.hash ?? '', /^[0-9a-f]{16}$/);
    await tracker.label(NS, t);
    const labelled = await cluster.get<ConfigObject>(at(R.configmaps, NS, 'settings'));
    assert.equal(labelled.metadata.labels?.[L.tracked], 'true');
    const again = await tracker.track(reading('settings'));
    assert.deepEqual(again.unlabelled, [], 'once labelled, the informer has it');
    assert.equal(again.hash, t.hash, 'the label is not content');
  });

  it('leaves a config that opted out alone', async () => {
    const { cluster, tracker } = setup();
    await cluster.create(at(R.configmaps, NS), configMap('plain', { a: '1' }, { [TRACKING_ANNOTATION]: 'disabled' }));
    const t = await tracker.track(reading('plain'));
    assert.deepEqual([t.unlabelled, t.snapshots, t.hash], [[], {}, undefined]);
  });

  it('snapshots content once, immutably, and collects snapshots neither the primary nor the candidate uses', async () => {
    const { cluster, tracker } = setup();
    const canary = seedCanary();
    const target = reading('settings');
    await cluster.create(at(R.configmaps, NS), configMap('settings', { color: 'blue' }));
    let t = await tracker.track(target);
    await tracker.label(NS, t);
    await tracker.ensureSnapshots(canary, t);
    const first = t.snapshots['ConfigMap/settings']!;
    const snap = await cluster.get<ConfigObject>(at(R.configmaps, NS, first));
    assert.deepEqual([snap.immutable, snap.data, snap.metadata.annotations?.[A.snapshotOf]], [true, { color: 'blue' }, 'settings']);
    const writes = cluster.writes.length;
    await tracker.ensureSnapshots(canary, t);
    assert.equal(cluster.writes.length, writes, 'an existing snapshot is not written again');

    await cluster.patch(at(R.configmaps, NS, 'settings'), { data: { color: 'green' } });
    t = await tracker.track(target);
    const second = t.snapshots['ConfigMap/settings']!;
    assert.equal(second, snapshotName('settings', t.fingerprints['ConfigMap/settings']!));
    assert.notEqual(second, first);
    await tracker.ensureSnapshots(canary, t);
    // The primary is pinned to the first snapshot: both are kept.
    const pinned = {
      ...target,
      metadata: { ...target.metadata, annotations: { [A.stableConfigs]: JSON.stringify({ 'ConfigMap/settings': first }) } },
    };
    await tracker.collect(canary, pinned, t);
    assert.ok(await cluster.find(at(R.configmaps, NS, first)));
    // Released: the primary moved to the second; the first is collected.
    await tracker.collect(canary, target, t);
    assert.equal(await cluster.find(at(R.configmaps, NS, first)), undefined);
    assert.ok(await cluster.find(at(R.configmaps, NS, second)));
    assert.ok(await cluster.find(at(R.configmaps, NS, 'settings')), 'the live ConfigMap is never collected');
  });
});
