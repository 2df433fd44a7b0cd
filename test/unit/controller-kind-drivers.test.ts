// Each kind's driver, phase by phase: what it wants of the target (held or not, the partition, the
// update strategy, the canary nodes, the contract's annotations), how it tells primary pods from
// canary pods, what it hands back when its Canary goes, and each kind's facts a message needs.
import assert from 'node:assert/strict';
import { annotations as A } from '../../api/contract.js';
import type { Canary, CanaryStatus } from '../../api/flagger-types.js';
import { templatePart } from '../../api/revision.js';
import { FROZEN_PARTITION } from '../../api/statefulset.js';
import { revisionOf, type Workload } from '../../api/workload.js';
import { KINDS } from '../../api/workload-kinds.js';
import { DRIVERS, desiredState, driverOf, handBackPatch } from '../../controller/kinds/index.js';
import { seedCanary } from './controller-fixtures.js';

const tpl = (image: string) => ({ metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image }] } });
const V0 = revisionOf({ spec: { template: tpl('db:1') } } as unknown as Workload).id;
const V1 = revisionOf({ spec: { template: tpl('db:2') } } as unknown as Workload).id;

function workload(
  kind: 'StatefulSet' | 'DaemonSet' | 'Deployment',
  image: string,
  spec: Record<string, unknown> = {},
  meta: Record<string, unknown> = {},
): Workload {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: 'db', namespace: 'test', generation: 2, resourceVersion: '7', ...meta },
    spec: { replicas: 4, selector: { matchLabels: { app: 'db' } }, template: tpl(image), ...spec },
    status: { observedGeneration: 2, desiredNumberScheduled: 4, currentRevision: 'r1', updateRevision: 'r2' },
  } as unknown as Workload;
}
const canaryFor = (kind: string): Canary => seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind, name: 'db' } } });
const status = (phase: CanaryStatus['phase'], over: Partial<CanaryStatus> = {}): CanaryStatus => ({
  phase,
  lastPromotedSpec: V0,
  lastAppliedSpec: V1,
  canaryWeight: 50,
  ...over,
});
const contract = (promoting: string | null = null) => ({
  [A.stableRevision]: templatePart(V0)!,
  [A.canary]: 'podinfo',
  [A.promoting]: promoting,
});

describe('workload drivers, phase by phase', () => {
  describe('StatefulSet', () => {
    const want = (st: CanaryStatus, image = 'db:2', spec: Record<string, unknown> = {}) =>
      desiredState(canaryFor('StatefulSet'), st, workload('StatefulSet', image, spec), undefined, undefined);

    it('analysed: the partition exposes the ordinals the weight asks for; otherwise frozen; released: 0', () => {
      assert.deepEqual(want(status('Progressing')), {
        canaryWeight: 50,
        target: { paused: true, partition: 2, labels: { 'sluice.dev/managed': 'true' }, annotations: contract() },
      });
      assert.equal(want(status('Progressing', { canaryWeight: 25 })).target?.partition, 3);
      assert.deepEqual(want(status('Failed')), {
        canaryWeight: 0,
        target: { paused: true, partition: FROZEN_PARTITION, labels: { 'sluice.dev/managed': 'true' }, annotations: contract() },
      });
      // A newer template than the one under test: held at the freeze, not exposed.
      const newer = want(status('Progressing'), 'db:3');
      assert.deepEqual([newer.target?.paused, newer.target?.partition], [true, FROZEN_PARTITION]);
      const released = want(status('Promoting', { canaryWeight: 100 }));
      assert.deepEqual(released.target, {
        paused: false,
        partition: 0,
        labels: { 'sluice.dev/managed': 'true' },
        annotations: { ...contract(V1), [A.stableRevision]: templatePart(V1)! },
      });
      assert.deepEqual(want(status('Succeeded', { lastPromotedSpec: V1 })).target?.partition, 0);
      assert.equal(
        want(status('Progressing'), 'db:2', { replicas: undefined }).target?.partition,
        0,
        'one replica: its one ordinal at 50 %',
      );
    });

    it('not bootstrapped, or nothing released yet: the target is left alone', () => {
      assert.deepEqual(want(status('Initializing')), { canaryWeight: 0, target: undefined });
      assert.deepEqual(want(status('Progressing', { lastPromotedSpec: undefined })), { canaryWeight: 50, target: undefined });
    });

    it('primary and canary pods by the revision its controller labels them with, once its status is current', () => {
      const d = DRIVERS.StatefulSet;
      assert.deepEqual(d.selectors(workload('StatefulSet', 'db:2'), undefined), {
        primary: { app: 'db', 'controller-revision-hash': 'r1' },
        canary: { app: 'db', 'controller-revision-hash': 'r2' },
      });
      const stale = workload('StatefulSet', 'db:2', {}, { generation: 3 });
      assert.equal(d.selectors(stale, undefined), undefined);
      const unknown = workload('StatefulSet', 'db:2');
      delete (unknown.status as { updateRevision?: string }).updateRevision;
      assert.equal(d.selectors(unknown, undefined), undefined);
      const none = workload('StatefulSet', 'db:2');
      delete (none as { status?: unknown }).status;
      (none.metadata as { generation?: number }).generation = 0;
      assert.equal(d.selectors(none, undefined), undefined);
    });

    it('recreates strays after a write that set a partition, and only then', async () => {
      const calls: unknown[] = [];
      const writers = { ordinals: { recreateStrays: async (_t: unknown, p: number) => void calls.push(p) } } as never;
      await DRIVERS.StatefulSet.afterTargetWrite(
        writers,
        workload('StatefulSet', 'db:2'),
        { paused: true, partition: 3, labels: {}, annotations: {} },
        undefined,
      );
      await DRIVERS.StatefulSet.afterTargetWrite(writers, workload('StatefulSet', 'db:2'), undefined, undefined);
      await DRIVERS.StatefulSet.afterTargetWrite(
        writers,
        workload('StatefulSet', 'db:2'),
        { paused: false, labels: {}, annotations: {} },
        undefined,
      );
      assert.deepEqual(calls, [3]);
    });

    it('handed back at partition 0 only when tested and not already there', () => {
      const frozen = workload('StatefulSet', 'db:2', {
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: FROZEN_PARTITION } },
      });
      assert.deepEqual(handBackPatch(frozen, true, DRIVERS.StatefulSet).spec, { updateStrategy: { rollingUpdate: { partition: 0 } } });
      assert.equal(handBackPatch(frozen, false, DRIVERS.StatefulSet).spec, undefined);
      assert.equal(handBackPatch(workload('StatefulSet', 'db:2'), true, DRIVERS.StatefulSet).spec, undefined);
      assert.deepEqual(handBackPatch(frozen, true, DRIVERS.StatefulSet).metadata, {
        resourceVersion: '7',
        labels: { 'sluice.dev/managed': null },
        annotations: { [A.stableRevision]: null, [A.canary]: null, [A.promoting]: null, [A.stableConfigs]: null },
      });
    });
  });

  describe('DaemonSet', () => {
    const ds = (image: string, strategy?: Record<string, unknown>, annotations?: Record<string, string>) =>
      workload('DaemonSet', image, strategy ? { updateStrategy: strategy } : {}, annotations ? { annotations } : {});
    const want = (st: CanaryStatus, target: Workload) => desiredState(canaryFor('DaemonSet'), st, target, undefined, undefined);
    const held = { [A.heldStrategy]: '{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":2}}' };

    it('frozen by sluice when held, its own strategy set aside; the canary nodes the weight asks for', () => {
      assert.deepEqual(want(status('Progressing'), ds('db:2', { type: 'RollingUpdate' })).target, {
        paused: true,
        updateStrategy: { type: 'OnDelete' },
        canaryNodes: 2,
        labels: { 'sluice.dev/managed': 'true' },
        annotations: { ...contract(), [A.heldStrategy]: '{"type":"RollingUpdate"}' },
      });
      assert.equal(
        want(status('Progressing'), ds('db:2'))!.target!.annotations[A.heldStrategy],
        '{"type":"RollingUpdate"}',
        'none: the default',
      );
      // Already held by sluice: nothing to set aside again.
      const again = want(status('Progressing'), ds('db:2', { type: 'OnDelete' }, held)).target!;
      assert.deepEqual([again.updateStrategy, again.annotations[A.heldStrategy], again.canaryNodes], [undefined, undefined, 2]);
      assert.equal(want(status('Failed'), ds('db:2', { type: 'OnDelete' }, held)).target!.canaryNodes, 0, 'rolled back: no canary node');
    });

    it('released: its own strategy back and the annotation gone', () => {
      const t = want(status('Promoting', { canaryWeight: 100 }), ds('db:2', { type: 'OnDelete' }, held)).target!;
      assert.deepEqual(
        [t.paused, t.updateStrategy, t.annotations[A.heldStrategy], t.canaryNodes],
        [false, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } }, null, 0],
      );
      assert.equal(want(status('Initializing'), ds('db:2')).target, undefined);
    });

    it('primary and canary pods by revision hash while frozen; all pods at rest; unknown until both hashes are', () => {
      const d = DRIVERS.DaemonSet;
      const t = ds('db:2');
      assert.deepEqual(d.selectors(t, undefined), { primary: { app: 'db' }, canary: { app: 'db' } });
      assert.deepEqual(d.selectors(t, { stable: 'h1', candidate: 'h2' }), {
        primary: { app: 'db', 'controller-revision-hash': 'h1' },
        canary: { app: 'db', 'controller-revision-hash': 'h2' },
      });
      assert.equal(d.selectors(t, { stable: 'h1' }), undefined);
      assert.equal(d.selectors(t, { candidate: 'h2' }), undefined);
    });

    it('reads the hashes only while held; converges the canary nodes with them, clears them without', async () => {
      const calls: string[] = [];
      const writers = {
        daemonNodes: {
          hashes: async (_t: unknown, stable: string | undefined) => {
            calls.push(`hashes ${stable}`);
            return { stable: 'h1', candidate: 'h2' };
          },
          converge: async (_t: unknown, n: number) => {
            calls.push(`converge ${n}`);
            return 'done';
          },
          clear: async () => void calls.push('clear'),
        },
      } as never;
      const t = ds('db:2');
      const heldWant = { paused: true, canaryNodes: 2, labels: {}, annotations: { [A.stableRevision]: 'abc' } };
      assert.deepEqual(await DRIVERS.DaemonSet.revisionHashes(writers, t, heldWant), { stable: 'h1', candidate: 'h2' });
      assert.equal(await DRIVERS.DaemonSet.revisionHashes(writers, t, { ...heldWant, paused: false }), undefined);
      assert.equal(await DRIVERS.DaemonSet.revisionHashes(writers, t, undefined), undefined);
      assert.equal(await DRIVERS.DaemonSet.afterTargetWrite(writers, t, heldWant, { stable: 'h1', candidate: 'h2' }), 'done');
      assert.equal(await DRIVERS.DaemonSet.afterTargetWrite(writers, t, { ...heldWant, canaryNodes: undefined }, { stable: 'h1' }), 'done');
      assert.equal(await DRIVERS.DaemonSet.afterTargetWrite(writers, t, heldWant, undefined), undefined);
      assert.equal(await DRIVERS.DaemonSet.afterTargetWrite(writers, t, undefined, { stable: 'h1' }), undefined);
      assert.deepEqual(calls, ['hashes abc', 'converge 2', 'converge 0', 'clear']);
    });

    it('handed back with its own strategy only when tested; the canary nodes annotation always goes', () => {
      const frozen = ds('db:2', { type: 'OnDelete' }, held);
      const tested = handBackPatch(frozen, true, DRIVERS.DaemonSet);
      assert.deepEqual(tested.spec, {
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } },
      });
      assert.deepEqual((tested.metadata as { annotations: Record<string, unknown> }).annotations[A.heldStrategy], null);
      const untested = handBackPatch(frozen, false, DRIVERS.DaemonSet);
      assert.equal(untested.spec, undefined);
      assert.equal((untested.metadata as { annotations: Record<string, unknown> }).annotations[A.canaryNodes], null);
      assert.ok(!Object.hasOwn((untested.metadata as { annotations: Record<string, unknown> }).annotations as object, A.heldStrategy));
      assert.equal(handBackPatch(ds('db:2', { type: 'RollingUpdate' }), true, DRIVERS.DaemonSet).spec, undefined, 'not held by sluice');
    });
  });

  describe('Deployment', () => {
    it('handed back unpaused only when tested, its config pin removed either way', () => {
      const pinned = workload('Deployment', 'db:2', { paused: true });
      (pinned.spec.template.metadata as { annotations?: Record<string, string> }).annotations = { [A.configRevision]: 'abc' };
      assert.deepEqual(handBackPatch(pinned, true, DRIVERS.Deployment).spec, {
        template: { metadata: { annotations: { [A.configRevision]: null } } },
        paused: false,
      });
      assert.deepEqual(handBackPatch(pinned, false, DRIVERS.Deployment).spec, {
        template: { metadata: { annotations: { [A.configRevision]: null } } },
      });
      assert.equal(handBackPatch(workload('Deployment', 'db:2', { paused: true }), false, DRIVERS.Deployment).spec, undefined);
      const bare = workload('Deployment', 'db:2');
      delete (bare.spec.template as { metadata?: unknown }).metadata;
      assert.deepEqual(handBackPatch(bare, true, DRIVERS.Deployment).spec, { paused: false });
    });

    it('a copy runs the revision under test only with replicas and the revision recorded', () => {
      const d = KINDS.Deployment;
      const copy = (replicas: number | undefined, revision: string | undefined) =>
        ({
          metadata: { name: 'db-canary', ...(revision ? { annotations: { [A.revision]: revision } } : {}) },
          spec: { ...(replicas === undefined ? {} : { replicas }), selector: {}, template: tpl('db:2') },
          status: { observedGeneration: 0, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 },
        }) as never;
      const st = status('Progressing');
      assert.equal(d.candidate(workload('Deployment', 'db:2'), copy(1, V1), st, 100).runs, true);
      assert.equal(d.candidate(workload('Deployment', 'db:2'), copy(0, V1), st, 100).runs, false);
      assert.equal(d.candidate(workload('Deployment', 'db:2'), copy(undefined, V1), st, 100).runs, false);
      assert.equal(d.candidate(workload('Deployment', 'db:2'), copy(1, V0), st, 100).runs, false);
      assert.equal(d.candidate(workload('Deployment', 'db:2'), copy(1, undefined), st, 100).runs, false);
      assert.deepEqual(d.candidate(workload('Deployment', 'db:2'), undefined, st, 100), { runs: false, progress: undefined });
    });

    it("a selector label too long for the copy's suffix is named, with the room there is", () => {
      const d = KINDS.Deployment;
      const withLabel = (v: string) => workload('Deployment', 'db:2', { selector: { matchLabels: { app: 'db', tier: v } } });
      assert.equal(d.problem(withLabel('a'.repeat(56)), 'db.test'), undefined);
      assert.deepEqual(d.problem(withLabel('a'.repeat(57)), 'db.test'), {
        reason: 'TargetInvalid',
        message: `db.test's selector label tier=${'a'.repeat(57)} leaves no room for the canary copy's suffix -canary (label values are at most 63 characters); shorten it to 56`,
      });
    });
  });

  it("each kind's facts for people: held, problems, how to release by hand", () => {
    const sts = (partition?: number, type = 'RollingUpdate') =>
      workload('StatefulSet', 'db:2', { updateStrategy: { type, ...(partition === undefined ? {} : { rollingUpdate: { partition } }) } });
    assert.deepEqual([KINDS.StatefulSet.held(sts(0)), KINDS.StatefulSet.held(sts(1)), KINDS.StatefulSet.held(sts())], [false, true, false]);
    assert.deepEqual(KINDS.StatefulSet.problem(sts(undefined, 'OnDelete'), 'db.test'), {
      reason: 'TargetNotSupported',
      message:
        'db.test updates OnDelete: sluice freezes a StatefulSet with its rolling update partition; set spec.updateStrategy.type to RollingUpdate',
    });
    assert.equal(KINDS.StatefulSet.problem(sts(0), 'db.test'), undefined);
    assert.deepEqual(KINDS.DaemonSet.problem(workload('DaemonSet', 'db:2', { updateStrategy: { type: 'OnDelete' } }), 'db.test'), {
      reason: 'TargetNotSupported',
      message:
        'db.test updates OnDelete: a release could not roll the tested template onto its nodes; set spec.updateStrategy.type to RollingUpdate',
    });
    assert.equal(
      KINDS.StatefulSet.releaseByHand('db', 'test'),
      `kubectl patch statefulset/db -n test -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}'`,
    );
    assert.equal(
      KINDS.DaemonSet.releaseByHand('db', 'test'),
      `kubectl patch daemonset/db -n test -p '{"spec":{"updateStrategy":{"type":"RollingUpdate"}}}'`,
    );
    assert.equal(KINDS.Deployment.releaseByHand('db', 'test'), 'kubectl rollout resume deployment/db -n test');
    // The canary share of a StatefulSet without replicas (1 replica), and of a status without weight (the least share).
    const one = workload('StatefulSet', 'db:2', { replicas: undefined });
    assert.equal(KINDS.StatefulSet.candidate(one, undefined, { canaryWeight: 50 }, 100).progress?.desired, 1);
    assert.equal(
      KINDS.StatefulSet.candidate(workload('StatefulSet', 'db:2'), undefined, {}, 100).progress?.desired,
      1,
      'no weight: the least share',
    );
    assert.equal(KINDS.StatefulSet.candidate(workload('StatefulSet', 'db:2'), undefined, { canaryWeight: 50 }, 100).progress?.desired, 2);
    assert.equal(KINDS.DaemonSet.candidate(workload('DaemonSet', 'db:2'), undefined, {}, 100).progress?.desired, 1);
    assert.equal(KINDS.DaemonSet.candidate(workload('DaemonSet', 'db:2'), undefined, { canaryWeight: 50 }, 100).progress?.desired, 2);
  });

  it('a kind with no driver is a bug desiredState names; driverOf answers undefined', () => {
    const cron = canaryFor('CronJob');
    assert.equal(driverOf(cron), undefined);
    assert.throws(
      () => desiredState(cron, status('Progressing'), workload('Deployment', 'db:2'), undefined, undefined),
      /targetRef kind CronJob has no driver/,
    );
  });
});
