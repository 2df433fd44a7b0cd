// Each kind's hold at admission (webhook/workload-freeze.ts), field by field: what a freeze writes,
// what it sets aside, what a re-hold restores, and which objects cannot be held at all.
import assert from 'node:assert/strict';
import { annotations as A } from '../../api/contract.js';
import { FROZEN_PARTITION } from '../../api/statefulset.js';
import type { AdmittedWorkload } from '../../api/workload.js';
import { HOLDS } from '../../webhook/workload-freeze.js';

const w = (kind: string, strategy?: Record<string, unknown>, annotations?: Record<string, string>): AdmittedWorkload =>
  ({
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: 'x', ...(annotations ? { annotations } : {}) },
    spec: { template: {}, ...(strategy ? { updateStrategy: strategy } : {}) },
  }) as AdmittedWorkload;
const ds = HOLDS.get('DaemonSet')!;
const sts = HOLDS.get('StatefulSet')!;
const HELD = A.heldStrategy;

describe('holds at admission, kind by kind', () => {
  describe('DaemonSet', () => {
    it('freezing sets its own strategy aside (the default when it has none) and updates OnDelete', () => {
      const own = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 3 } };
      assert.deepEqual(ds.freeze(w('DaemonSet', own), undefined).metadata.annotations, { [HELD]: JSON.stringify(own) });
      assert.deepEqual(ds.freeze(w('DaemonSet', own), undefined).spec.updateStrategy, { type: 'OnDelete' });
      assert.deepEqual(ds.freeze(w('DaemonSet'), undefined).metadata.annotations, { [HELD]: '{"type":"RollingUpdate"}' });
    });

    it('a write already held keeps what was set aside; a write to OnDelete keeps the stored one', () => {
      const held = w('DaemonSet', { type: 'OnDelete' }, { [HELD]: '{"type":"RollingUpdate"}', other: 'kept' });
      assert.equal(ds.freeze(held, undefined), held, 'already held: as written');
      const storedAside = w('DaemonSet', { type: 'OnDelete' }, { [HELD]: '{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}' });
      const toOnDelete = ds.freeze(w('DaemonSet', { type: 'OnDelete' }), storedAside);
      assert.deepEqual(toOnDelete.metadata.annotations, { [HELD]: '{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}' });
      // Nothing stored to keep: no annotation at all, not an empty one.
      assert.deepEqual(ds.freeze(w('DaemonSet', { type: 'OnDelete' }, { other: 'kept' }), w('DaemonSet')).metadata.annotations, {
        other: 'kept',
      });
      assert.deepEqual(ds.freeze(w('DaemonSet', { type: 'OnDelete' }), undefined).metadata.annotations, {});
    });

    it('a re-hold restores the stored hold; a stored object not held is frozen with its own strategy set aside', () => {
      const stored = w('DaemonSet', { type: 'OnDelete' }, { [HELD]: '{"type":"RollingUpdate"}' });
      const loosened = w('DaemonSet', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 9 } });
      const again = ds.hold(loosened, stored);
      assert.deepEqual([again.spec.updateStrategy, again.metadata.annotations?.[HELD]], [{ type: 'OnDelete' }, '{"type":"RollingUpdate"}']);
      const bypassed = w('DaemonSet', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 3 } });
      const frozenNow = ds.hold(w('DaemonSet', { type: 'OnDelete' }), bypassed);
      assert.deepEqual(
        [frozenNow.spec.updateStrategy, frozenNow.metadata.annotations?.[HELD]],
        [{ type: 'OnDelete' }, '{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":3}}'],
      );
      const noneStored = ds.hold(w('DaemonSet', { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2 } }), w('DaemonSet'));
      assert.equal(noneStored.metadata.annotations?.[HELD], '{"type":"RollingUpdate","rollingUpdate":{"maxSurge":2}}');
    });

    it('its own OnDelete cannot be held, on creation or on update; one sluice set can', () => {
      const own = w('DaemonSet', { type: 'OnDelete' });
      assert.match(ds.unfreezable!(own, undefined) ?? '', /updates OnDelete by its own choice/);
      assert.match(ds.unfreezable!(own, own) ?? '', /updates OnDelete by its own choice/);
      assert.equal(ds.unfreezable!(own, w('DaemonSet', { type: 'OnDelete' }, { [HELD]: '{}' })), undefined);
      assert.equal(ds.unfreezable!(w('DaemonSet'), undefined), undefined);
    });
  });

  describe('StatefulSet', () => {
    it('freezing keeps its rolling update settings and sets the partition to the top', () => {
      const frozen = sts.freeze(w('StatefulSet', { rollingUpdate: { maxUnavailable: 2 } }), undefined);
      assert.deepEqual(frozen.spec.updateStrategy, {
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: 2, partition: FROZEN_PARTITION },
      });
      assert.deepEqual(sts.freeze(w('StatefulSet'), undefined).spec.updateStrategy, {
        type: 'RollingUpdate',
        rollingUpdate: { partition: FROZEN_PARTITION },
      });
    });

    it('a lower partition, OnDelete, or no strategy loosens the hold; the same or a higher one does not', () => {
      const at = (p?: number) =>
        w('StatefulSet', p === undefined ? { type: 'RollingUpdate' } : { type: 'RollingUpdate', rollingUpdate: { partition: p } });
      assert.equal(sts.loosens(at(3), at(5)), true);
      assert.equal(sts.loosens(at(5), at(5)), false);
      assert.equal(sts.loosens(at(7), at(5)), false);
      assert.equal(sts.loosens(at(), at(5)), true, 'no partition is 0');
      assert.equal(sts.loosens(w('StatefulSet'), at(5)), true, 'no strategy is partition 0');
      assert.equal(sts.loosens(w('StatefulSet', { type: 'OnDelete' }), at(5)), true);
      assert.equal(
        sts.loosens(w('StatefulSet', { type: 'RollingUpdate', rollingUpdate: { partition: '9' } }), at(5)),
        true,
        'a partition that is not a number is 0',
      );
      assert.deepEqual(sts.hold(at(0), at(5)).spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 5 } });
    });
  });

  describe('Deployment', () => {
    it('paused is the hold; anything else loosens it', () => {
      const d = HOLDS.get('Deployment')!;
      assert.equal(d.freeze(w('Deployment'), undefined).spec.paused, true);
      assert.equal(d.loosens(w('Deployment'), w('Deployment')), true);
      assert.equal(d.loosens({ ...w('Deployment'), spec: { template: {}, paused: true } } as AdmittedWorkload, w('Deployment')), false);
      assert.equal(d.hold(w('Deployment'), w('Deployment')).spec.paused, true);
      assert.equal(HOLDS.get('constructor'), undefined, 'a kind named like an object property finds nothing');
    });
  });
});
