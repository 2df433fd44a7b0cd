// The freeze decision answer by answer: each way through decideFreeze with the exact reason,
// warning or refusal a person (or the webhook's log) gets, for UPDATEs and for CREATEs of each kind.
import assert from 'node:assert/strict';
import { annotations as A, labels as L } from '../../api/contract.js';
import { Revision } from '../../api/revision.js';
import type { AdmittedWorkload } from '../../api/workload.js';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { decideFreeze, type FreezeContext } from '../../webhook/freeze-decision.js';
import { controllerUser } from '../world/layout.js';

const flags = { controllerUsers: [controllerUser] };
const tpl = (image: string) => ({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } });
const STABLE = Revision.of(tpl('web:1')).id;
const NEXT = Revision.of(tpl('web:2')).id;
const short = (id: string) => `${id.slice(0, 10)}…`;

function workload(
  kind: string,
  image: string,
  o: { annotations?: Record<string, string>; spec?: Record<string, unknown>; namespace?: string | null } = {},
): AdmittedWorkload {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: {
      name: 'web',
      ...(o.namespace === null ? {} : { namespace: o.namespace ?? 'shop' }),
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: tpl(image), ...o.spec },
  } as AdmittedWorkload;
}
const request = (
  op: 'CREATE' | 'UPDATE',
  object: AdmittedWorkload,
  oldObject?: AdmittedWorkload,
  user = 'alice',
  kind = object.kind,
): AdmissionRequest => ({
  uid: 'u',
  kind: { group: 'apps', version: 'v1', kind: kind ?? '' },
  namespace: 'shop',
  name: 'web',
  operation: op,
  userInfo: { username: user },
  object,
  ...(oldObject ? { oldObject } : {}),
});
const ctx = (canary: { name: string; stableRevision?: string } | undefined, serving = 2): FreezeContext & { counted: number } => {
  const c = {
    counted: 0,
    canaryFor: () => canary,
    servingPods: () => {
      c.counted++;
      return serving;
    },
  };
  return c;
};

describe('freeze decision: each answer exactly', () => {
  it('a request the rules should never send is passed and flagged, naming what it was', () => {
    const pod = { ...request('CREATE', workload('Deployment', 'web:1')), kind: { group: '', version: 'v1', kind: 'Pod' } };
    assert.deepEqual(decideFreeze(pod, flags), {
      kind: 'passed',
      unexpected: true,
      reason:
        "not a CREATE of an apps Deployment or an UPDATE of an apps Deployment, StatefulSet or DaemonSet (CREATE /v1 Pod); passed unchanged, check the webhook configuration's rules",
    });
    const scale = { ...request('UPDATE', workload('Deployment', 'web:1'), workload('Deployment', 'web:1')), subResource: 'scale' };
    assert.match((decideFreeze(scale, flags) as { reason: string }).reason, /\(UPDATE apps\/v1 Deployment\/scale\)/);
  });

  describe('CREATE', () => {
    it('the controller’s, one no Canary targets, and one before the Canary released anything pass, saying why', () => {
      const d = workload('Deployment', 'web:2');
      assert.deepEqual(decideFreeze(request('CREATE', d, undefined, controllerUser), flags, ctx({ name: 'web', stableRevision: STABLE })), {
        kind: 'passed',
        reason: 'write by the sluice controller',
      });
      assert.deepEqual(decideFreeze(request('CREATE', d), flags, ctx(undefined)), {
        kind: 'passed',
        reason: 'no Canary targets this Deployment',
      });
      assert.deepEqual(decideFreeze(request('CREATE', d), flags, ctx({ name: 'web' })), {
        kind: 'passed',
        reason: 'canary web has not released a revision yet',
      });
    });

    it('at the stable revision: marked, not frozen', () => {
      const d = decideFreeze(request('CREATE', workload('Deployment', 'web:1')), flags, ctx({ name: 'web', stableRevision: STABLE }));
      assert.equal(d.kind, 'marked');
      assert.equal((d as { reason: string }).reason, 'created at the stable revision of canary web');
      const m = (d as { mutated: AdmittedWorkload }).mutated;
      assert.equal(m.metadata.annotations?.[A.stableRevision], STABLE);
      assert.equal(m.metadata.labels?.[L.managed], 'true');
    });

    it('a Deployment: frozen while its predecessor’s pods serve, counted by any selector; started with a warning when none do', () => {
      const c = ctx({ name: 'web', stableRevision: STABLE }, 2);
      const d = decideFreeze(request('CREATE', workload('Deployment', 'web:2')), flags, c);
      assert.deepEqual(
        [d.kind, (d as { warning: string }).warning],
        [
          'frozen',
          `sluice: web.shop recreated while 2 pod(s) of its stable revision ${short(STABLE)} still serve: created paused on them; revision ${short(NEXT)} will roll out through canary web`,
        ],
      );
      const byExpression = workload('Deployment', 'web:2', {
        spec: { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] } },
      });
      assert.equal(decideFreeze(request('CREATE', byExpression), flags, c).kind, 'frozen');
      assert.equal(c.counted, 2);
      const none = ctx({ name: 'web', stableRevision: STABLE }, 0);
      assert.deepEqual(decideFreeze(request('CREATE', workload('Deployment', 'web:2')), flags, none), {
        kind: 'passed',
        reason: 'recreated with no pod of its predecessor serving',
        warning: `sluice: web.shop is created at revision ${short(NEXT)}, not the stable ${short(STABLE)} of canary web, and no pod of the stable revision is left to serve: it starts unanalysed, and canary web analyses it now`,
      });
      // No selector to count by: nothing can be serving, and nothing is asked.
      const bare = ctx({ name: 'web', stableRevision: STABLE }, 5);
      assert.equal(
        decideFreeze(request('CREATE', workload('Deployment', 'web:2', { spec: { selector: {} } })), flags, bare).kind,
        'passed',
      );
      assert.equal(bare.counted, 0);
    });

    it('a StatefulSet or DaemonSet: always created frozen; one that cannot be held is refused', () => {
      for (const kind of ['StatefulSet', 'DaemonSet']) {
        const d = decideFreeze(
          request('CREATE', workload(kind, 'web:2', { namespace: null })),
          flags,
          ctx({ name: 'web', stableRevision: STABLE }, 0),
        );
        assert.deepEqual(
          [d.kind, (d as { warning: string }).warning],
          [
            'frozen',
            `sluice: ${kind} web.shop created at revision ${short(NEXT)}, not the stable ${short(STABLE)} of canary web: created frozen, so pods of its predecessor that it adopts keep the stable revision; revision ${short(NEXT)} will roll out through canary web`,
          ],
        );
      }
      const sts = workload('StatefulSet', 'web:2', { spec: { updateStrategy: { type: 'OnDelete' } } });
      assert.deepEqual(decideFreeze(request('CREATE', sts), flags, ctx({ name: 'web', stableRevision: STABLE })), {
        kind: 'refused',
        code: 422,
        message:
          'sluice: StatefulSet web.shop is targeted by canary web, but its template cannot be held back: it updates OnDelete, which has no partition to hold the template back (a pod deleted for any reason would come back on it unanalysed); set spec.updateStrategy.type to RollingUpdate',
      });
      assert.throws(
        () => decideFreeze({ ...request('CREATE', sts), object: 'x' }, flags, ctx(undefined)),
        /the request carries no StatefulSet in object/,
      );
    });
  });

  describe('UPDATE', () => {
    const managed = (image: string, extra: Record<string, string> = {}, spec: Record<string, unknown> = {}) =>
      workload('Deployment', image, { annotations: { [A.stableRevision]: STABLE, [A.canary]: 'web-canary-object', ...extra }, spec });

    it('names the Canary by the stored annotation, else by the write’s, else by the workload', () => {
      const warningOf = (prev: AdmittedWorkload, next: AdmittedWorkload) =>
        (decideFreeze(request('UPDATE', next, prev), flags) as { warning: string }).warning;
      assert.match(warningOf(managed('web:1'), managed('web:2')), /through canary web-canary-object$/);
      const unnamedPrev = workload('Deployment', 'web:1', { annotations: { [A.stableRevision]: STABLE } });
      assert.match(
        warningOf(unnamedPrev, managed('web:2')),
        /through canary web-canary-object; kept sluice\.dev\/canary on web\.shop as sluice recorded them/,
      );
      assert.match(
        warningOf(unnamedPrev, workload('Deployment', 'web:2')),
        /through canary web; kept sluice\.dev\/stable-revision on web\.shop/,
      );
    });

    it('the controller’s writes, reverts and other fields pass, each saying why', () => {
      assert.deepEqual(decideFreeze(request('UPDATE', managed('web:2'), managed('web:1'), controllerUser), flags), {
        kind: 'passed',
        reason: 'write by the sluice controller',
      });
      assert.deepEqual(decideFreeze(request('UPDATE', managed('web:1'), managed('web:2', {}, { paused: true })), flags), {
        kind: 'passed',
        reason: 'template reverted to the stable revision',
      });
      assert.deepEqual(decideFreeze(request('UPDATE', managed('web:1', {}, { replicas: 5 }), managed('web:1')), flags), {
        kind: 'passed',
        reason: 'pod template unchanged',
      });
    });

    it('a DaemonSet that updates OnDelete by its own choice cannot be held: refused, saying what to set', () => {
      const own = (image: string) =>
        workload('DaemonSet', image, {
          annotations: { [A.stableRevision]: STABLE, [A.canary]: 'web' },
          spec: { updateStrategy: { type: 'OnDelete' } },
        });
      assert.deepEqual(decideFreeze(request('UPDATE', own('web:2'), own('web:1')), flags), {
        kind: 'refused',
        code: 422,
        message:
          'sluice: DaemonSet web.shop is managed by canary web, but its template change cannot be held back: it updates OnDelete by its own choice, so a release could not roll the tested template onto its nodes; set spec.updateStrategy.type to RollingUpdate',
      });
    });
  });
});

describe('freeze decision on objects without annotations or selector', () => {
  it('an UPDATE whose stored object carries no annotations: not managed by annotation, named by the workload', () => {
    const prev = workload('Deployment', 'web:1');
    const next = workload('Deployment', 'web:2', { namespace: null });
    const d = decideFreeze(request('UPDATE', next, prev), flags);
    assert.deepEqual(d.kind, 'frozen');
    assert.equal(
      (d as { warning: string }).warning,
      `sluice: web.shop frozen at revision unknown; revision ${short(NEXT)} will roll out through canary web`,
    );
    assert.deepEqual(decideFreeze(request('UPDATE', workload('Deployment', 'web:1', { spec: { paused: false } }), prev), flags), {
      kind: 'passed',
      reason: 'pod template unchanged',
    });
  });

  it('a Deployment created with no selector at all is counted as serving nothing', () => {
    const c = ctx({ name: 'web', stableRevision: STABLE }, 3);
    const d = workload('Deployment', 'web:2');
    delete (d.spec as { selector?: unknown }).selector;
    assert.equal(decideFreeze(request('CREATE', d), flags, c).kind, 'passed');
    assert.equal(c.counted, 0);
  });

  it('only a write of the apps group is a workload; a re-pause says how to go on', () => {
    const other = {
      ...request('UPDATE', workload('Deployment', 'web:2'), workload('Deployment', 'web:1')),
      kind: { group: 'example.com', version: 'v1', kind: 'Deployment' },
    };
    assert.equal((decideFreeze(other, flags) as { unexpected?: boolean }).unexpected, true);
    const managed = (image: string, paused: boolean) =>
      workload('Deployment', image, { annotations: { [A.stableRevision]: STABLE, [A.canary]: 'web' }, spec: { paused } });
    const d = decideFreeze(request('UPDATE', managed('web:2', false), managed('web:2', true)), flags);
    assert.deepEqual(
      [d.kind, (d as { warning: string }).warning],
      [
        're-paused',
        `sluice: web.shop stays paused: revision ${short(NEXT)} has not passed analysis (stable is ${short(STABLE)}); canary web releases it, or revert the template to resume at once`,
      ],
    );
    assert.throws(
      () =>
        decideFreeze(
          { ...request('UPDATE', managed('web:2', false), managed('web:2', true)), object: { metadata: null, spec: {} } },
          flags,
        ),
      /carries no Deployment/,
    );
    assert.throws(
      () =>
        decideFreeze(
          { ...request('UPDATE', managed('web:2', false), managed('web:2', true)), object: { metadata: {}, spec: null } },
          flags,
        ),
      /carries no Deployment/,
    );
    assert.throws(
      () => decideFreeze({ ...request('UPDATE', managed('web:2', false), managed('web:2', true)), object: { metadata: {} } }, flags),
      /carries no Deployment/,
    );
    assert.throws(
      () => decideFreeze({ ...request('UPDATE', managed('web:2', false), managed('web:2', true)), object: { spec: {} } }, flags),
      /carries no Deployment/,
    );
    assert.throws(
      () => decideFreeze({ ...request('UPDATE', managed('web:2', false), managed('web:2', true)), object: null }, flags),
      /carries no Deployment/,
    );
  });
});
