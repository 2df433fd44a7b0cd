// StatefulSets (docs/workloads.md): the partition as the freeze, the canary ordinals per weight,
// what the controller reads of the StatefulSet's status, the Services that select by revision,
// and which pods it recreates.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CanaryStatus } from '../../api/flagger-types.js';
import { templateRevision } from '../../api/revision.js';
import { canaryOrdinals, canaryOrdinalsProgress, FROZEN_PARTITION, partitionFor, statefulSetProgress } from '../../api/statefulset.js';
import { revisionOf, type StatefulSet } from '../../api/workload.js';
import { targetPatch } from '../../controller/desired-state.js';
import { desiredState, servicesFor } from '../../controller/kinds/index.js';
import { decide } from '../../controller/state-machine.js';
import { ordinalOf, strayOrdinals } from '../../controller/statefulset-ordinals.js';
import { decideFreeze } from '../../webhook/freeze-decision.js';
import { reviewFixture } from '../fixtures/admission-fixtures.js';
import { controllerUser } from '../world/layout.js';
import { seedCanary } from './controller-fixtures.js';
import { runs } from './runs.js';

const template = (image: string) => ({ metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image }] } });

function statefulSet(
  image: string,
  o: { replicas?: number; partition?: number; status?: StatefulSet['status']; stable?: string; generation?: number } = {},
): StatefulSet {
  const replicas = o.replicas ?? 5;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name: 'db',
      namespace: 'test',
      uid: 'sts-uid',
      generation: o.generation ?? 2,
      labels: { app: 'db' },
      annotations: o.stable ? { 'sluice.dev/stable-revision': o.stable, 'sluice.dev/canary': 'db' } : undefined,
    },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'db' } },
      template: template(image),
      ...(o.partition !== undefined ? { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: o.partition } } } : {}),
    },
    status: o.status ?? {
      observedGeneration: o.generation ?? 2,
      replicas,
      readyReplicas: replicas,
      currentReplicas: replicas,
      updatedReplicas: replicas,
      currentRevision: 'db-v1',
      updateRevision: 'db-v1',
    },
  };
}

const canaryFor = (status?: CanaryStatus) =>
  seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db' }, autoscalerRef: undefined }, status });

const V1 = templateRevision(template('db:1'));
const V2 = templateRevision(template('db:2'));

describe('StatefulSet canary ordinals', () => {
  it('takes at least the weight’s share of the replicas, one at least, never all of them', () => {
    assert.deepEqual(
      [0, 10, 20, 30, 40, 50].map((w) => canaryOrdinals(5, w)),
      [1, 1, 1, 2, 2, 3],
    );
    assert.equal(canaryOrdinals(1, 50), 1);
    assert.equal(canaryOrdinals(2, 90), 1);
    assert.equal(partitionFor(5, 3), 2);
  });

  it('for any replica count and weight: within [1, replicas-1], and enough pods for the weight unless capped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 500 }), fc.integer({ min: 0, max: 100 }), (replicas, weight) => {
        const n = canaryOrdinals(replicas, weight);
        if (n < 1 || n > replicas - 1) return false;
        return n === replicas - 1 || (n * 100) / replicas >= weight;
      }),
      { numRuns: runs(2000) },
    );
  });
});

/** db:2 under analysis at `partition`: by default one canary ordinal on db-v2, every pod ready. */
const analysing = (o: Partial<NonNullable<StatefulSet['status']>>, partition: number) =>
  statefulSet('db:2', {
    partition,
    status: {
      observedGeneration: 2,
      replicas: 5,
      readyReplicas: 5,
      currentReplicas: 4,
      updatedReplicas: 1,
      currentRevision: 'db-v1',
      updateRevision: 'db-v2',
      ...o,
    },
  });

describe('StatefulSet status as the controller reads it', () => {
  it('the canary is ready once the partition exposes its ordinals, they run the template and every pod is ready', () => {
    assert.equal(canaryOrdinalsProgress(analysing({}, 4), 1).done, true);
    assert.equal(canaryOrdinalsProgress(analysing({}, 4), 2).done, false, 'the partition does not expose two ordinals yet');
    assert.equal(canaryOrdinalsProgress(analysing({ readyReplicas: 4 }, 4), 1).done, false, 'the canary pod is not ready');
    assert.equal(canaryOrdinalsProgress(analysing({ observedGeneration: 1 }, 4), 1).done, false, 'the status is stale');
    assert.equal(canaryOrdinalsProgress(analysing({ updatedReplicas: 2, currentReplicas: 3 }, 3), 2).done, true);
  });

  it('its own rollout is done only at partition 0 with every ordinal on the template', () => {
    assert.equal(statefulSetProgress(statefulSet('db:1')).done, true);
    assert.equal(statefulSetProgress(analysing({ updatedReplicas: 5 }, 0)).done, false, 'currentRevision not advanced yet');
    assert.equal(statefulSetProgress(analysing({}, FROZEN_PARTITION)).done, false);
  });

  it('primary and canary Services select by the revisions the StatefulSet reports, and not at all from a stale status', () => {
    const s = servicesFor(canaryFor(), analysing({}, 4))!;
    assert.deepEqual(s.primary.spec.selector, { app: 'db', 'controller-revision-hash': 'db-v1' });
    assert.deepEqual(s.canary.spec.selector, { app: 'db', 'controller-revision-hash': 'db-v2' });
    assert.deepEqual(s.apex.spec.selector, s.primary.spec.selector, 'an apex sluice creates reaches the primary ordinals only');
    assert.equal(servicesFor(canaryFor(), analysing({ observedGeneration: 1 }, 4)), undefined);
  });
});

describe('StatefulSet desired partition', () => {
  const at = (phase: CanaryStatus['phase'], canaryWeight: number, image = 'db:2') =>
    desiredState(
      canaryFor({ phase, canaryWeight, lastAppliedSpec: V2, lastPromotedSpec: V1 }),
      { phase, canaryWeight, lastAppliedSpec: V2, lastPromotedSpec: V1 },
      statefulSet(image, { partition: FROZEN_PARTITION, stable: V1 }),
      undefined,
      undefined,
    );
  it('exposes the canary ordinals for the weight while analysed, releases at 0, freezes otherwise', () => {
    assert.equal(at('Progressing', 0).target?.partition, 4);
    assert.equal(at('Progressing', 30).target?.partition, 3);
    assert.equal(at('Progressing', 50).target?.partition, 2);
    assert.equal(at('WaitingPromotion', 50).target?.partition, 2);
    assert.equal(at('Promoting', 100).target?.partition, 0);
    assert.equal(at('Failed', 0).target?.partition, FROZEN_PARTITION);
    assert.equal(at('Waiting', 0).target?.partition, FROZEN_PARTITION);
    assert.equal(at('Initialized', 0, 'db:1').target?.partition, 0, 'reverted to the stable revision: nothing held');
    assert.equal(at('Progressing', 30).copy, undefined, 'no copy for a StatefulSet');
  });
  it('writes only the partition, never spec.paused', () => {
    const sts = statefulSet('db:2', { partition: FROZEN_PARTITION, stable: V1 });
    const want = at('Progressing', 30).target!;
    assert.deepEqual(targetPatch(sts, want)?.spec, { updateStrategy: { rollingUpdate: { partition: 3 } } });
  });
});

describe('StatefulSet state machine', () => {
  const settings = { minIntervalMs: 1000, pollMs: 1000 };
  it('waits for the canary ordinals before the first step, then starts the analysis', () => {
    const st: CanaryStatus = {
      phase: 'Progressing',
      canaryWeight: 0,
      iterations: 0,
      lastAppliedSpec: V2,
      lastPromotedSpec: V1,
      lastTransitionTime: new Date().toISOString(),
    };
    const notYet = analysing({ readyReplicas: 4 }, 4);
    const target = analysing({}, 4);
    const obs = (t: StatefulSet) => ({ target: t, revision: revisionOf(t), canaryCopy: undefined, autoscaler: undefined });
    const waiting = decide(canaryFor(st), obs(notYet), undefined, new Date(), settings);
    assert.match(waiting.events[0]?.message ?? '', /Waiting for the canary ordinals of db\.test rollout to finish: 0 of 1/);
    const started = decide(canaryFor(st), obs(target), undefined, new Date(), settings);
    assert.equal(started.status.canaryWeight, 10);
  });
  it('is blocked, with what to do, when the StatefulSet updates OnDelete', () => {
    const sts = statefulSet('db:1');
    sts.spec.updateStrategy = { type: 'OnDelete' };
    const d = decide(
      canaryFor(),
      { target: sts, revision: revisionOf(sts), canaryCopy: undefined, autoscaler: undefined },
      undefined,
      new Date(),
      settings,
    );
    assert.match(d.status.conditions?.[0]?.message ?? '', /OnDelete.*RollingUpdate/);
  });
});

describe('StatefulSet ordinals to recreate', () => {
  // Rolled back from two canary ordinals: frozen again, db-3 still on the candidate.
  const set = analysing({ currentReplicas: 3, updatedReplicas: 2 }, FROZEN_PARTITION);
  const pod = (ordinal: number, revision: string, extra: Record<string, unknown> = {}) => ({
    metadata: {
      name: `db-${ordinal}`,
      namespace: 'test',
      labels: { app: 'db', 'controller-revision-hash': revision },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'sts-uid' }],
      ...extra,
    },
  });
  it('reads ordinals only from the set’s own pod names', () => {
    assert.equal(ordinalOf('db', 'db-12'), 12);
    assert.equal(ordinalOf('db', 'db-x'), undefined);
    assert.equal(ordinalOf('db', 'db-01'), undefined);
    assert.equal(ordinalOf('db', 'dba-1'), undefined);
  });
  it('recreates pods below the partition on another revision, and nothing else', () => {
    const pods = [
      pod(0, 'db-v1'),
      pod(1, 'db-v1'),
      pod(2, 'db-v1'),
      pod(3, 'db-v2'),
      pod(4, 'db-v2', { deletionTimestamp: '2026-11-28T00:00:00Z' }),
      {
        metadata: {
          ...pod(2, 'db-v2').metadata,
          name: 'db-2',
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'other' }],
        },
      },
    ];
    assert.deepEqual(
      strayOrdinals(set, FROZEN_PARTITION, pods).map((p) => p.metadata.name),
      ['db-3'],
    );
    assert.deepEqual(strayOrdinals(set, 3, pods), [], 'db-3 is a canary ordinal at partition 3');
  });
});

describe('StatefulSet freeze at admission', () => {
  const flags = { controllerUsers: [controllerUser] };
  const stsReview = (mut: (r: ReturnType<typeof reviewFixture>['request']) => void = () => {}) => {
    const r = reviewFixture('set-image').request;
    r.kind = { group: 'apps', version: 'v1', kind: 'StatefulSet' };
    mut(r);
    return r;
  };
  it('a template change sets the partition above every ordinal and keeps the rest of the strategy', () => {
    const d = decideFreeze(
      stsReview((r) => {
        r.object.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } };
      }),
      flags,
    );
    assert.ok(d.kind === 'frozen');
    assert.deepEqual(d.mutated.spec.updateStrategy, {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 2, partition: FROZEN_PARTITION },
    });
    assert.equal(d.mutated.spec.paused, undefined);
  });
  it('a write lowering the partition under an untested template is held at the stored one', () => {
    const d = decideFreeze(
      stsReview((r) => {
        r.object.spec.template = r.oldObject.spec.template;
        r.oldObject.metadata.annotations = { ...r.oldObject.metadata.annotations, 'sluice.dev/stable-revision': '0000000000000000' };
        r.oldObject.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 3 } };
        r.object.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
      }),
      flags,
    );
    assert.equal(d.kind, 're-paused');
    assert.ok(
      d.kind === 're-paused' && (d.mutated.spec.updateStrategy as { rollingUpdate: { partition: number } }).rollingUpdate.partition === 3,
    );
  });
  it('a write keeping the partition under an untested template passes as written (only a lower one loosens the hold)', () => {
    const frozenAt = (partition: number, maxUnavailable: number) => ({
      type: 'RollingUpdate',
      rollingUpdate: { partition, maxUnavailable },
    });
    for (const partition of [3, FROZEN_PARTITION]) {
      const d = decideFreeze(
        stsReview((r) => {
          r.object.spec.template = r.oldObject.spec.template;
          for (const o of [r.object, r.oldObject])
            o.metadata.annotations = { ...o.metadata.annotations, 'sluice.dev/stable-revision': '0000000000000000' };
          r.oldObject.spec.updateStrategy = frozenAt(partition, 1);
          r.object.spec.updateStrategy = frozenAt(partition, 2);
        }),
        flags,
      );
      assert.equal(d.kind, 'passed', `partition ${partition}: ${JSON.stringify(d)}`);
    }
  });
  it('refuses a template change it cannot hold back (OnDelete), naming what to change', () => {
    const d = decideFreeze(
      stsReview((r) => {
        r.object.spec.updateStrategy = { type: 'OnDelete' };
      }),
      flags,
    );
    assert.ok(d.kind === 'refused');
    assert.match(d.message, /StatefulSet podinfo\.fixtures.*OnDelete.*RollingUpdate/);
  });
  it('passes an apps kind it does not hold, even one named like an object property', () => {
    for (const kind of ['ReplicaSet', 'constructor', 'toString', '__proto__']) {
      const d = decideFreeze(
        stsReview((r) => {
          r.kind = { group: 'apps', version: 'v1', kind };
        }),
        flags,
      );
      assert.ok(d.kind === 'passed' && d.unexpected, kind);
    }
  });
  it('the controller’s own partition writes pass', () => {
    const d = decideFreeze(
      stsReview((r) => {
        r.userInfo = { username: controllerUser };
      }),
      flags,
    );
    assert.equal(d.kind, 'passed');
  });
});
