// The kinds' arithmetic, condition by condition: when a StatefulSet's or a DaemonSet's own rollout
// is done, when its canary is ready, which node a pod is for, what an edited annotation reads as.
// Each case moves one fact across its boundary, so a condition dropped or turned around fails.
import assert from 'node:assert/strict';
import { annotations as A } from '../../api/contract.js';
import {
  canaryNodesOf,
  canaryNodesProgress,
  daemonSetProgress,
  daemonSetRevision,
  heldBySluice,
  heldStrategyOf,
  nodeOfPod,
  nodesOf,
  ownOnDelete,
} from '../../api/daemonset.js';
import { canaryOrdinalsProgress, FROZEN_PARTITION, partitionOf, statefulSetProgress } from '../../api/statefulset.js';
import type { DaemonSet, StatefulSet } from '../../api/workload.js';

type DsStatus = NonNullable<DaemonSet['status']>;
function ds(
  status: DsStatus | undefined,
  o: { generation?: number; annotations?: Record<string, string>; strategy?: string } = {},
): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'agent', namespace: 'test', generation: o.generation ?? 2, ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [] } },
      ...(o.strategy ? { updateStrategy: { type: o.strategy } } : {}),
    },
    ...(status ? { status: { observedGeneration: 2, ...status } } : {}),
  } as DaemonSet;
}
const progress = (p: { done: boolean; updated: number; available: number; desired: number }) => [p.done, p.updated, p.available, p.desired];

describe("the kinds' arithmetic", () => {
  describe('DaemonSet', () => {
    const all = { desiredNumberScheduled: 4, updatedNumberScheduled: 4, numberAvailable: 4, numberReady: 4 };

    it('its own rollout: done only when current, not held, every node updated and enough available', () => {
      assert.deepEqual(progress(daemonSetProgress(ds(all))), [true, 4, 4, 4]);
      assert.deepEqual(
        progress(daemonSetProgress(ds({ ...all, numberAvailable: 9 }))),
        [true, 4, 4, 4],
        'available counts updated pods only',
      );
      assert.deepEqual(progress(daemonSetProgress(ds({ ...all, updatedNumberScheduled: 3 }))), [false, 3, 3, 4]);
      assert.deepEqual(progress(daemonSetProgress(ds({ ...all, numberAvailable: 3 }))), [false, 4, 3, 4]);
      assert.deepEqual(progress(daemonSetProgress(ds({ ...all, numberAvailable: 3 }), 75)), [true, 4, 3, 4]);
      assert.deepEqual(progress(daemonSetProgress(ds({ ...all, numberAvailable: 2 }), 75)), [false, 4, 2, 4]);
      assert.deepEqual(progress(daemonSetProgress(ds(all, { generation: 3 }))), [false, 4, 4, 4], 'status of an older generation');
      const held = ds(all, { strategy: 'OnDelete', annotations: { [A.heldStrategy]: '{"type":"RollingUpdate"}' } });
      assert.equal(daemonSetProgress(held).done, false, 'held by sluice');
      assert.equal(daemonSetProgress(ds(all, { strategy: 'OnDelete' })).done, true, 'its own OnDelete');
      assert.deepEqual(progress(daemonSetProgress(ds({ desiredNumberScheduled: 0 }))), [true, 0, 0, 0], 'no node: nothing to wait for');
      assert.deepEqual(progress(daemonSetProgress(ds(undefined, { generation: 0 }))), [true, 0, 0, 0]);
      assert.equal(nodesOf(ds(undefined)), 0);
    });

    it('its canary: exactly the nodes wanted on the candidate, chosen, and every pod ready', () => {
      const one = (s: Partial<DsStatus>, nodes = 'n-0', want = 1, threshold?: number) =>
        progress(canaryNodesProgress(ds({ ...all, ...s }, { annotations: { [A.canaryNodes]: nodes } }), want, threshold));
      assert.deepEqual(one({ updatedNumberScheduled: 1 }), [true, 1, 1, 1]);
      assert.deepEqual(one({ updatedNumberScheduled: 1, numberReady: 3 }), [false, 1, 0, 1], 'a primary pod not ready counts against it');
      assert.deepEqual(one({ updatedNumberScheduled: 2 }), [false, 2, 1, 1], 'one more than chosen: a pod that slipped past');
      assert.deepEqual(one({ updatedNumberScheduled: 1 }, ''), [false, 1, 1, 1], 'not yet recorded which');
      assert.deepEqual(one({ updatedNumberScheduled: 0 }, '', 0), [true, 0, 0, 0]);
      assert.deepEqual(one({ updatedNumberScheduled: 2, numberReady: 3 }, 'n-0,n-1', 2), [false, 2, 1, 2]);
      assert.deepEqual(one({ updatedNumberScheduled: 2, numberReady: 3 }, 'n-0,n-1', 2, 50), [true, 2, 1, 2]);
      assert.deepEqual(one({ updatedNumberScheduled: 1, numberReady: 0 }), [false, 1, 0, 1], 'never below zero');
    });

    it('the node a pod is for: its nodeName, else the one node its required affinity names', () => {
      const term = (f: Record<string, unknown>) => ({ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n-2'], ...f }] });
      const pod = (...terms: unknown[]) => ({
        spec: {
          nodeName: '',
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } },
        },
      });
      assert.equal(nodeOfPod(pod(term({}))), 'n-2', 'an empty nodeName is not a node');
      assert.equal(nodeOfPod(pod(term({ key: 'metadata.labels' }))), undefined);
      assert.equal(nodeOfPod(pod(term({ operator: 'NotIn' }))), undefined);
      assert.equal(nodeOfPod(pod(term({ values: ['n-1', 'n-2'] }))), undefined, 'one of several nodes is none');
      assert.equal(nodeOfPod(pod(term({ values: [7] }))), undefined);
      assert.equal(nodeOfPod(pod(term({ values: undefined }))), undefined);
      assert.equal(nodeOfPod(pod({}, term({}))), 'n-2', 'a later term');
      assert.equal(nodeOfPod({ spec: { nodeName: 7 } }), undefined);
      assert.equal(nodeOfPod({ spec: { affinity: {} } }), undefined);
    });

    it('who holds OnDelete, and what a set-aside strategy reads as when anyone may have edited it', () => {
      const bare = { metadata: {}, spec: { updateStrategy: { type: 'OnDelete' } } };
      assert.equal(heldBySluice(bare), false);
      assert.equal(ownOnDelete(bare), true);
      assert.equal(heldStrategyOf(bare), undefined);
      const aside = (raw: string) => heldStrategyOf({ metadata: { annotations: { [A.heldStrategy]: raw } }, spec: {} });
      const own = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } };
      assert.deepEqual(aside(JSON.stringify(own)), own);
      for (const raw of ['{"type":"OnDelete"}', 'null', '{"type":5}', '[]', '7', 'not json', '{}'])
        assert.deepEqual(aside(raw), { type: 'RollingUpdate' }, raw);
    });

    it('the canary nodes as recorded: trimmed, empty entries dropped, sorted', () => {
      assert.deepEqual(canaryNodesOf({ metadata: { annotations: { [A.canaryNodes]: ' n-2 , n-1,, ' } } }), ['n-1', 'n-2']);
      assert.deepEqual(canaryNodesOf({ metadata: {} }), []);
    });

    it('a ControllerRevision counts only when this DaemonSet controls it and it holds a template', () => {
      const cr = (o: {
        refs?: unknown[];
        labels?: Record<string, string> | null;
        data?: unknown;
        annotations?: Record<string, string>;
      }) => ({
        apiVersion: 'apps/v1',
        kind: 'ControllerRevision',
        metadata: {
          name: 'agent-h1',
          ...(o.refs ? { ownerReferences: o.refs } : {}),
          ...(o.labels === null ? {} : { labels: o.labels ?? { 'controller-revision-hash': 'h1' } }),
          ...(o.annotations ? { annotations: o.annotations } : {}),
        },
        data: 'data' in o ? o.data : { spec: { template: { metadata: {}, spec: { containers: [] }, $patch: 'replace' } } },
      });
      const owner = { kind: 'DaemonSet', uid: 'ds', controller: true };
      assert.deepEqual(daemonSetRevision(cr({ refs: [{ kind: 'Pod', uid: 'x' }, owner] }) as never, 'ds'), {
        name: 'agent-h1',
        hash: 'h1',
        template: { metadata: {}, spec: { containers: [] } },
      });
      assert.equal(
        daemonSetRevision(cr({ refs: [owner], annotations: { 'deprecated.daemonset.template.generation': '3' } }) as never, 'ds')
          ?.generation,
        '3',
      );
      assert.equal(daemonSetRevision(cr({ refs: [{ ...owner, controller: false }] }) as never, 'ds'), undefined);
      assert.equal(daemonSetRevision(cr({ refs: [{ ...owner, uid: 'other' }] }) as never, 'ds'), undefined);
      assert.equal(daemonSetRevision(cr({ refs: [{ ...owner, kind: 'StatefulSet' }] }) as never, 'ds'), undefined);
      assert.equal(daemonSetRevision(cr({}) as never, 'ds'), undefined, 'no owner');
      assert.equal(daemonSetRevision(cr({ refs: [owner], labels: null }) as never, 'ds'), undefined, 'no hash');
      assert.equal(daemonSetRevision(cr({ refs: [owner], data: undefined }) as never, 'ds'), undefined);
      assert.equal(daemonSetRevision(cr({ refs: [owner], data: { spec: {} } }) as never, 'ds'), undefined);
      assert.equal(daemonSetRevision(cr({ refs: [owner], data: { spec: { template: null } } }) as never, 'ds'), undefined);
    });
  });

  describe('StatefulSet', () => {
    type StsStatus = NonNullable<StatefulSet['status']>;
    const sts = (status: Partial<StsStatus> | undefined, partition?: number, generation = 2, replicas = 4): StatefulSet =>
      ({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db', namespace: 'test', generation },
        spec: {
          replicas,
          selector: { matchLabels: { app: 'db' } },
          template: { metadata: { labels: { app: 'db' } }, spec: { containers: [] } },
          ...(partition === undefined ? {} : { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } } }),
        },
        ...(status ? { status: { observedGeneration: 2, ...status } } : {}),
      }) as StatefulSet;
    const rolled = { replicas: 4, updatedReplicas: 4, readyReplicas: 4, currentRevision: 'r2', updateRevision: 'r2' };

    it('its own rollout: done only when current, the partition at 0, the revisions one, every ordinal updated and ready', () => {
      assert.deepEqual(progress(statefulSetProgress(sts(rolled))), [true, 4, 4, 4]);
      assert.deepEqual(progress(statefulSetProgress(sts(rolled, 0))), [true, 4, 4, 4]);
      assert.deepEqual(progress(statefulSetProgress(sts({ ...rolled, readyReplicas: 9 }))), [true, 4, 4, 4]);
      assert.equal(statefulSetProgress(sts(rolled, 1)).done, false, 'a partition left');
      assert.equal(statefulSetProgress(sts({ ...rolled, currentRevision: 'r1' })).done, false, 'revisions differ');
      assert.equal(statefulSetProgress(sts({ ...rolled, currentRevision: undefined, updateRevision: undefined })).done, false);
      assert.equal(statefulSetProgress(sts(rolled, undefined, 3)).done, false, 'status of an older generation');
      assert.deepEqual(progress(statefulSetProgress(sts({ ...rolled, updatedReplicas: 3 }))), [false, 3, 3, 4]);
      assert.deepEqual(progress(statefulSetProgress(sts({ ...rolled, readyReplicas: 3 }))), [false, 4, 3, 4]);
      assert.deepEqual(progress(statefulSetProgress(sts({ ...rolled, readyReplicas: 3 }), 75)), [true, 4, 3, 4]);
      assert.deepEqual(progress(statefulSetProgress(sts({ ...rolled, readyReplicas: 2 }), 75)), [false, 4, 2, 4]);
      assert.deepEqual(progress(statefulSetProgress(sts({ ...rolled, replicas: 0, updatedReplicas: 0, readyReplicas: 0 }, 0, 2, 0))), [
        true,
        0,
        0,
        0,
      ]);
    });

    it('its canary: the partition lowered to the wanted ordinals, them updated, every pod ready', () => {
      const canary = { replicas: 4, updatedReplicas: 1, readyReplicas: 4, currentRevision: 'r1', updateRevision: 'r2' };
      const one = (s: Partial<StsStatus>, partition: number, want = 1, threshold?: number) =>
        progress(canaryOrdinalsProgress(sts({ ...canary, ...s }, partition), want, threshold));
      assert.deepEqual(one({}, 3), [true, 1, 1, 1]);
      assert.deepEqual(one({}, 2), [true, 1, 1, 1], 'a lower partition is lowered enough');
      assert.deepEqual(one({}, 4), [false, 1, 1, 1], 'partition not lowered yet');
      assert.deepEqual(one({}, FROZEN_PARTITION), [false, 1, 1, 1]);
      assert.deepEqual(one({ updatedReplicas: 0 }, 3), [false, 0, 0, 1]);
      assert.deepEqual(one({ readyReplicas: 3 }, 3), [false, 1, 0, 1], 'a primary pod not ready counts against it');
      assert.deepEqual(one({ currentRevision: 'r2', updatedReplicas: 0 }, 3), [true, 4, 1, 1], 'one revision: every ordinal runs it');
      assert.deepEqual(one({ updatedReplicas: 2, readyReplicas: 3 }, 2, 2), [false, 2, 1, 2]);
      assert.deepEqual(one({ updatedReplicas: 2, readyReplicas: 3 }, 2, 2, 50), [true, 2, 1, 2]);
      assert.deepEqual(one({ updatedReplicas: 0, readyReplicas: 4 }, 4, 0), [true, 0, 0, 0]);
      assert.equal(canaryOrdinalsProgress(sts(canary, 3, 3), 1).done, false, 'status of an older generation');
    });

    it('the partition of a StatefulSet without a rolling update is 0', () => {
      assert.equal(partitionOf(sts(undefined)), 0);
      const onDelete = sts(undefined);
      onDelete.spec.updateStrategy = { type: 'OnDelete' };
      assert.equal(partitionOf(onDelete), 0);
    });
  });
});
