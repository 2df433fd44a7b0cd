// The freeze's one promise, checked on generated writes of every kind and operation: whatever a
// person writes to a managed Deployment, StatefulSet or DaemonSet (CREATE or UPDATE, any hold, any
// strategy, a forged stable annotation, a release in progress), the object the apiserver stores
// after sluice's patch never lets a template that has not passed analysis reach more pods than the
// stored object did. Checked on the answer itself: the patch is applied as the apiserver would.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { annotations as A, labels as L } from '../../api/contract.js';
import { Revision } from '../../api/revision.js';
import { FROZEN_PARTITION } from '../../api/statefulset.js';
import type { AdmittedWorkload } from '../../api/workload.js';
import { answerMutate } from '../../webhook/admission-review.js';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { controllerUser } from '../world/layout.js';
import { runs } from './runs.js';

const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
type Kind = (typeof KINDS)[number];
const template = (image: string) => ({ metadata: { labels: { app: 'podinfo' } }, spec: { containers: [{ name: 'app', image }] } });
const IMAGES = ['app:1', 'app:2', 'app:3'];
const STABLE = Revision.of(template(IMAGES[0]!)).id;

type Hold = { spec: Record<string, unknown>; annotations: Record<string, string> };

/** What a person may write as a kind's hold: paused, a strategy, a set-aside annotation. */
const holdOf = (kind: Kind): fc.Arbitrary<Hold> =>
  kind === 'Deployment'
    ? fc.record({ paused: fc.option(fc.boolean(), { nil: undefined }) }).map((h) => ({ spec: h, annotations: {} }))
    : kind === 'StatefulSet'
      ? fc
          .oneof(
            fc.constant(undefined),
            fc.constant({ type: 'OnDelete' }),
            fc.record({
              type: fc.constant('RollingUpdate'),
              rollingUpdate: fc.option(fc.record({ partition: fc.oneof(fc.nat(6), fc.constant(FROZEN_PARTITION)) }), { nil: undefined }),
            }),
          )
          .map((s) => ({ spec: s ? { updateStrategy: s } : {}, annotations: {} }))
      : fc
          .record({
            type: fc.constantFrom(undefined, 'OnDelete', 'RollingUpdate'),
            setAside: fc.option(fc.constant('{"type":"RollingUpdate"}'), { nil: undefined }),
          })
          .map(
            ({ type, setAside }): Hold => ({
              spec: type ? { updateStrategy: { type } } : {},
              annotations: setAside ? { [A.heldStrategy]: setAside } : {},
            }),
          );

interface Case {
  kind: Kind;
  op: 'CREATE' | 'UPDATE';
  oldImage: string;
  newImage: string;
  oldHold: Hold;
  newHold: Hold;
  forged: boolean;
  promoting: boolean;
  controller: boolean;
  servingPods: number;
}

const cases: fc.Arbitrary<Case> = fc.constantFrom(...KINDS).chain((kind) =>
  fc.record({
    kind: fc.constant(kind),
    op: fc.constantFrom('CREATE' as const, 'UPDATE' as const),
    oldImage: fc.constantFrom(...IMAGES),
    newImage: fc.constantFrom(...IMAGES),
    oldHold: holdOf(kind),
    newHold: holdOf(kind),
    forged: fc.boolean(),
    promoting: fc.boolean(),
    controller: fc.boolean(),
    servingPods: fc.nat(3),
  }),
);

function workload(kind: Kind, image: string, hold: Hold, annotations: Record<string, string>): AdmittedWorkload {
  return {
    apiVersion: 'apps/v1',
    kind,
    metadata: { name: 'podinfo', namespace: 'test', labels: { app: 'podinfo' }, annotations: { ...hold.annotations, ...annotations } },
    spec: { replicas: 3, selector: { matchLabels: { app: 'podinfo' } }, template: template(image), ...hold.spec },
  };
}

function review(c: Case): AdmissionRequest {
  const managed = { [A.stableRevision]: STABLE, [A.canary]: 'podinfo', ...(c.promoting ? { [A.promoting]: STABLE } : {}) };
  const oldObject = workload(c.kind, c.oldImage, c.oldHold, managed);
  oldObject.metadata.labels = { ...oldObject.metadata.labels, [L.managed]: 'true' };
  // The person's write keeps what kubectl keeps (labels, annotations) and may forge the stable revision.
  const object = workload(c.kind, c.newImage, c.newHold, {
    ...(c.op === 'UPDATE' ? managed : {}),
    ...(c.forged ? { [A.stableRevision]: Revision.of(template(c.newImage)).id } : {}),
  });
  // As it comes over the wire: JSON, so a field set to undefined is absent.
  return JSON.parse(
    JSON.stringify({
      uid: 'u',
      kind: { group: 'apps', version: 'v1', kind: c.kind },
      resource: { group: 'apps', version: 'v1', resource: `${c.kind.toLowerCase()}s` },
      namespace: 'test',
      name: 'podinfo',
      operation: c.op,
      userInfo: { username: c.controller ? controllerUser : 'alice' },
      object,
      ...(c.op === 'UPDATE' ? { oldObject } : {}),
    }),
  ) as AdmissionRequest;
}

const partitionOf = (w: AdmittedWorkload) =>
  ((w.spec.updateStrategy as { rollingUpdate?: { partition?: number } } | undefined)?.rollingUpdate?.partition ?? 0) as number;
const typeOf = (w: AdmittedWorkload) => (w.spec.updateStrategy as { type?: string } | undefined)?.type ?? 'RollingUpdate';

/** How many of its pods a stored object lets take its template: a lower number holds more back. */
function exposure(w: AdmittedWorkload): number {
  switch (w.kind as Kind) {
    case 'Deployment':
      return w.spec.paused === true ? 0 : 3;
    case 'StatefulSet':
      return typeOf(w) === 'OnDelete' ? 3 : Math.max(0, 3 - partitionOf(w));
    case 'DaemonSet':
      // OnDelete replaces no pod (the pod webhook gives one recreated off the canary nodes the
      // stable template), whether sluice set it or its owner did.
      return typeOf(w) === 'OnDelete' ? 0 : 3;
  }
}

describe('freeze invariant: generated writes of every kind and operation', () => {
  it('never admits an untested template to more pods than the stored object held it from', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(cases, (c) => {
        const req = review(c);
        const ctx = {
          canaryFor: (_ns: string, _name: string, kind: string) =>
            kind === c.kind ? { name: 'podinfo', stableRevision: STABLE } : undefined,
          servingPods: () => c.servingPods,
        };
        const answer = answerMutate(req, { controllerUsers: [controllerUser] }, ctx);
        const r = answer.review.response!;
        const outcome = `${c.kind} ${c.op} ${answer.decision}`;
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        if (!r.allowed) return; // nothing stored
        const patch = r.patch ? JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) : [];
        const stored = jsonPatch.applyPatch(structuredClone(req.object), patch, true, false).newDocument as AdmittedWorkload;
        if (Revision.of(stored.spec.template).id === STABLE) return; // tested: may go anywhere
        if (c.controller) return; // the controller's own writes carry out analysed decisions
        const before = c.op === 'UPDATE' ? exposure(req.oldObject as AdmittedWorkload) : 0;
        const templateChanged = c.op === 'CREATE' || c.oldImage !== c.newImage;
        // Documented exception (docs/webhook.md, "Recreated workloads"): a Deployment recreated
        // with none of its predecessor's pods serving starts as it is, with a warning.
        if (c.op === 'CREATE' && c.kind === 'Deployment' && c.servingPods === 0) {
          assert.ok(
            r.warnings?.some((w) => /starts unanalysed/.test(w)),
            'said so',
          );
          return;
        }
        const allowed = templateChanged ? 0 : before;
        assert.ok(
          exposure(stored) <= allowed,
          `${outcome}: the stored object exposes ${exposure(stored)} pods to an untested template, at most ${allowed} allowed\n${JSON.stringify({ c, spec: stored.spec, annotations: stored.metadata.annotations })}`,
        );
      }),
      { numRuns: runs(5000) },
    );
    // The run reached every kind and operation, and both freezes and refusals.
    for (const kind of KINDS)
      for (const op of ['CREATE', 'UPDATE'])
        assert.ok(
          [...seen.keys()].some((k) => k.startsWith(`${kind} ${op}`)),
          `${kind} ${op} never generated`,
        );
    const decisions = new Set([...seen.keys()].map((k) => k.split(' ')[2]));
    for (const d of ['frozen', 're-paused', 'passed', 'refused'])
      assert.ok(decisions.has(d), `no ${d} answer in ${[...decisions].join(', ')}`);
  });
});
