// What a target keeps when its Canary is deleted: the patch that hands it back to its owner.
import assert from 'node:assert/strict';
import type { Deployment, WorkloadKind } from '../../api/workload.js';
import { DRIVERS, handBackPatch } from '../../controller/kinds/index.js';

const target = (pinned: boolean): Deployment =>
  ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'podinfo',
      namespace: 'test',
      resourceVersion: '42',
      labels: { 'sluice.dev/managed': 'true' },
      annotations: { 'sluice.dev/stable-revision': 'abc' },
    },
    spec: {
      replicas: 2,
      paused: true,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' }, ...(pinned ? { annotations: { 'sluice.dev/config-revision': 'r1' } } : {}) },
        spec: { containers: [] },
      },
    },
  }) as unknown as Deployment;

describe('handing a target back when its Canary goes', () => {
  for (const [pinned, tested] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    it(`${pinned ? 'pinned to config snapshots' : 'not pinned'}, ${tested ? 'on a tested template' : 'on an untested template'}`, () => {
      const p = handBackPatch(target(pinned), tested, DRIVERS.Deployment) as {
        metadata: { resourceVersion: string; labels: Record<string, null>; annotations: Record<string, null> };
        spec?: { paused?: boolean; template?: unknown };
      };
      assert.equal(p.metadata.resourceVersion, '42', 'conditional on what was read');
      assert.deepEqual(p.metadata.labels, { 'sluice.dev/managed': null });
      assert.equal(p.metadata.annotations['sluice.dev/stable-revision'], null);
      // Both spec changes survive together (one once replaced the other).
      assert.equal(p.spec?.paused, tested ? false : undefined);
      assert.deepEqual(p.spec?.template, pinned ? { metadata: { annotations: { 'sluice.dev/config-revision': null } } } : undefined);
    });
  }

  for (const kind of ['StatefulSet', 'DaemonSet'] as WorkloadKind[]) {
    it(`never touches a ${kind}'s template, even one carrying a config revision (its admission policy refuses that, wedging the finalizer)`, () => {
      const t = target(true);
      const p = handBackPatch({ ...t, kind } as unknown as Deployment, true, DRIVERS[kind]) as { spec?: { template?: unknown } };
      assert.equal(p.spec?.template, undefined);
    });
  }
});
