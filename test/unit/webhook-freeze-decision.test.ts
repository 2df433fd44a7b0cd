import assert from 'node:assert/strict';
import jsonPatch from 'fast-json-patch';
import { templateRevision } from '../../api/revision.js';
import { answerMutate } from '../../webhook/admission-review.js';
import { type Decision, decideFreeze } from '../../webhook/freeze-decision.js';
import { reviewFixture } from '../fixtures/admission-fixtures.js';
import { controllerUser } from '../world/layout.js';

const flags = { controllerUsers: [controllerUser] };
const decide = (name: string) => decideFreeze(reviewFixture(name).request, flags);

describe('freeze decision on reviews captured from the real apiserver', () => {
  // Each row: the fixture, what kubectl did, and the decision sluice must take.
  const table: [string, Decision['kind']][] = [
    ['bootstrap-by-controller', 'passed'],
    ['set-image', 'frozen'],
    ['set-image-dry-run', 'frozen'],
    ['apply-client-side', 'frozen'],
    ['apply-server-side', 'frozen'],
    ['rollout-restart', 'frozen'],
    ['rollout-pause', 'passed'],
    ['rollout-resume', 're-paused'],
    ['patch-replicas', 're-paused'],
    ['label', 're-paused'],
    ['controller-unpause', 'passed'],
    ['revert-to-stable', 'passed'],
  ];
  for (const [fixture, expected] of table) {
    it(`${fixture} → ${expected}`, () => assert.equal(decide(fixture).kind, expected));
  }

  it('the fixtures really are what they claim (template changed or not)', () => {
    const changed = (n: string) => {
      const r = reviewFixture(n).request;
      return templateRevision(r.object.spec.template) !== templateRevision(r.oldObject.spec.template);
    };
    for (const n of ['set-image', 'apply-client-side', 'apply-server-side', 'rollout-restart', 'revert-to-stable'])
      assert.ok(changed(n), n);
    for (const n of ['rollout-pause', 'rollout-resume', 'patch-replicas', 'label']) assert.ok(!changed(n), n);
    assert.equal(reviewFixture('set-image-dry-run').request.dryRun, true);
    const revert = reviewFixture('revert-to-stable').request;
    assert.equal(templateRevision(revert.object.spec.template), revert.oldObject.metadata.annotations?.['sluice.dev/stable-revision']);
    assert.equal(reviewFixture('controller-unpause').request.userInfo.username, controllerUser);
  });

  it('does not trust a stable revision the same write claims: a forged annotation still freezes', () => {
    const review = reviewFixture('set-image').request;
    const untested = templateRevision(review.object.spec.template);
    review.object.metadata.annotations = { ...review.object.metadata.annotations, 'sluice.dev/stable-revision': untested };
    const d = decideFreeze(review, flags);
    assert.equal(d.kind, 'frozen');
    assert.ok(d.kind === 'frozen' && d.mutated.spec.paused === true);
  });

  it('freezing changes nothing but spec.paused', () => {
    const review = reviewFixture('apply-server-side').request;
    const d = decideFreeze(review, flags);
    assert.ok(d.kind === 'frozen');
    assert.deepEqual(jsonPatch.compare(review.object, d.mutated), [{ op: 'add', path: '/spec/paused', value: true }]);
  });

  it('names the Deployment, both revisions and the Canary in the warning', () => {
    const review = reviewFixture('set-image').request;
    const d = decideFreeze(review, flags);
    assert.ok(d.kind === 'frozen');
    const stable = review.oldObject.metadata.annotations?.['sluice.dev/stable-revision'] ?? '';
    const next = templateRevision(review.object.spec.template);
    assert.ok(d.warning.includes('podinfo.fixtures'));
    assert.ok(d.warning.includes(stable.slice(0, 10)));
    assert.ok(d.warning.includes(next.slice(0, 10)));
    assert.ok(d.warning.includes('canary podinfo'));
  });

  it('gives a dry run exactly the answer of the real request', () => {
    const real = reviewFixture('set-image').request;
    const dry = { ...real, dryRun: true };
    // A guard, not a tautology: the decision never reads dryRun today, and a change that answers
    // dry runs differently (`kubectl apply --dry-run=server` would then show a change going out
    // that the real apply holds) fails here. The answer compared is a real freeze, with its patch.
    const answer = answerMutate(dry, flags);
    assert.equal(answer.decision, 'frozen');
    assert.ok(answer.review.response?.patch, 'the dry run is frozen with a patch, as the real one');
    assert.deepEqual(answer.review, answerMutate(real, flags).review);
  });

  it('changes nothing when invoked again on its own output', () => {
    for (const name of ['set-image', 'apply-client-side', 'rollout-resume', 'label']) {
      const req = reviewFixture(name).request;
      const first = answerMutate(req, flags);
      const patch = JSON.parse(Buffer.from(first.review.response?.patch ?? '', 'base64').toString('utf8'));
      const output = jsonPatch.applyPatch(structuredClone(req.object), patch).newDocument;
      const second = answerMutate({ ...req, object: output }, flags);
      assert.equal(second.review.response?.patch, undefined, name);
      assert.equal(second.review.response?.allowed, true, name);
    }
  });

  it('refuses a template change while promoting, naming the release', () => {
    const req = reviewFixture('set-image').request;
    req.oldObject.metadata.annotations = { ...req.oldObject.metadata.annotations, 'sluice.dev/promoting': '0123456789abcdef' };
    const d = decideFreeze(req, flags);
    assert.ok(d.kind === 'refused');
    assert.equal(d.code, 409);
    assert.match(d.message, /podinfo\.fixtures is releasing revision 0123456789…/);
  });

  it('lets non-template writes through while promoting', () => {
    const req = reviewFixture('rollout-pause').request;
    for (const o of [req.object, req.oldObject])
      o.metadata.annotations = { ...o.metadata.annotations, 'sluice.dev/promoting': '0123456789abcdef' };
    assert.equal(decideFreeze(req, flags).kind, 'passed');
  });

  it('freezes even before the controller recorded a stable revision', () => {
    const req = reviewFixture('set-image').request;
    for (const o of [req.object, req.oldObject]) delete o.metadata.annotations?.['sluice.dev/stable-revision'];
    const d = decideFreeze(req, flags);
    assert.ok(d.kind === 'frozen');
    assert.match(d.warning, /frozen at revision unknown/);
  });

  it('passes other operations, kinds and subresources', () => {
    const base = reviewFixture('set-image').request;
    assert.equal(decideFreeze({ ...base, operation: 'CREATE', oldObject: undefined }, flags).kind, 'passed', 'a CREATE no Canary targets');
    assert.equal(decideFreeze({ ...base, operation: 'DELETE' }, flags).kind, 'passed');
    assert.equal(decideFreeze({ ...base, kind: { group: 'apps', version: 'v1', kind: 'ReplicaSet' } }, flags).kind, 'passed');
    assert.equal(decideFreeze({ ...base, subResource: 'scale' }, flags).kind, 'passed');
  });

  it('throws, for an error answer, when the request carries no Deployment', () => {
    const base = reviewFixture('set-image').request;
    assert.throws(() => decideFreeze({ ...base, oldObject: undefined }, flags), /no Deployment/);
  });

  it('treats only the configured users as the controller', () => {
    const req = reviewFixture('controller-unpause').request;
    assert.equal(decideFreeze(req, { controllerUsers: ['someone-else'] }).kind, 're-paused');
  });

  describe('CREATE of a Deployment a Canary targets (recreated after an orphaning delete)', () => {
    // A CREATE as the apiserver sends it: the Deployment of the set-image fixture, new template,
    // none of sluice's label or annotations (a manifest applied again).
    const create = () => {
      const base = reviewFixture('set-image').request;
      const object = structuredClone(base.object);
      delete object.metadata.annotations;
      object.metadata.labels = { app: 'podinfo' };
      delete object.spec.paused;
      return {
        request: { ...base, operation: 'CREATE' as const, oldObject: undefined, object },
        stable: base.oldObject.metadata.annotations!['sluice.dev/stable-revision']!,
      };
    };
    const ctx = (stable: string | undefined, serving: number, asked: unknown[] = []) => ({
      canaryFor: (ns: string, d: string) =>
        d === 'podinfo' && ns === 'fixtures' ? { name: 'podinfo', stableRevision: stable } : undefined,
      servingPods: (ns: string, d: string, selector: unknown) => {
        asked.push({ ns, d, selector });
        return serving;
      },
    });

    it('freezes it on the stable revision while pods of its predecessor serve', () => {
      const { request, stable } = create();
      const asked: unknown[] = [];
      const d = decideFreeze(request, flags, ctx(stable, 2, asked));
      assert.ok(d.kind === 'frozen', d.kind);
      assert.equal(d.mutated.spec.paused, true);
      assert.equal(d.mutated.metadata.annotations?.['sluice.dev/stable-revision'], stable, "the Canary's stable revision, not the new one");
      assert.equal(d.mutated.metadata.annotations?.['sluice.dev/canary'], 'podinfo');
      assert.equal(d.mutated.metadata.labels?.['sluice.dev/managed'], 'true', 'later UPDATEs reach the freeze');
      assert.match(d.warning, /podinfo\.fixtures recreated while 2 pod\(s\) of its stable revision/);
      assert.deepEqual(asked, [
        {
          ns: 'fixtures',
          d: 'podinfo',
          selector: (request.object.spec as unknown as { selector: unknown }).selector,
        },
      ]);
      // The answer as the apiserver gets it: a patch that pauses and marks, and the warning.
      const answer = answerMutate(request, flags, ctx(stable, 2));
      assert.equal(answer.decision, 'frozen');
      const patched = jsonPatch.applyPatch(
        structuredClone(request.object),
        JSON.parse(Buffer.from(answer.review.response!.patch!, 'base64').toString('utf8')),
      ).newDocument;
      assert.equal(patched.spec.paused, true);
      assert.equal(answer.review.response?.warnings?.length, 1);
    });

    it('does not trust a stable revision the new object claims', () => {
      const { request, stable } = create();
      const untested = templateRevision(request.object.spec.template);
      request.object.metadata.annotations = { 'sluice.dev/stable-revision': untested };
      const d = decideFreeze(request, flags, ctx(stable, 1));
      assert.ok(d.kind === 'frozen');
      assert.equal(d.mutated.metadata.annotations?.['sluice.dev/stable-revision'], stable);
    });

    it('lets it start, with a warning, when no pod is left to serve', () => {
      const { request, stable } = create();
      const d = decideFreeze(request, flags, ctx(stable, 0));
      assert.ok(d.kind === 'passed');
      assert.match(
        d.warning ?? '',
        /no pod of the stable revision is left to serve: it starts unanalysed, and canary podinfo analyses it now/,
      );
      const answer = answerMutate(request, flags, ctx(stable, 0));
      assert.equal(answer.review.response?.patch, undefined);
      assert.deepEqual(answer.review.response?.warnings, [d.warning]);
    });

    it('marks, without pausing, one created at the stable revision', () => {
      const { request } = create();
      const d = decideFreeze(request, flags, ctx(templateRevision(request.object.spec.template), 3));
      assert.ok(d.kind === 'marked');
      assert.equal(d.mutated.spec.paused, undefined);
      assert.equal(d.mutated.metadata.labels?.['sluice.dev/managed'], 'true');
    });

    it('passes the controller, a Canary that released nothing yet, and Deployments no Canary targets', () => {
      const { request, stable } = create();
      assert.equal(decideFreeze({ ...request, userInfo: { username: controllerUser } }, flags, ctx(stable, 2)).kind, 'passed');
      assert.equal(decideFreeze(request, flags, ctx(undefined, 2)).kind, 'passed');
      const other = structuredClone(request);
      other.object.metadata.name = 'other';
      assert.equal(decideFreeze(other, flags, ctx(stable, 2)).kind, 'passed');
    });

    it('compares the template part of a stable revision that includes tracked configs', () => {
      const { request, stable } = create();
      const d = decideFreeze(request, flags, ctx(`${stable}+abc123`, 1));
      assert.ok(d.kind === 'frozen');
      assert.equal(d.mutated.metadata.annotations?.['sluice.dev/stable-revision'], stable);
    });

    it('counts the serving pods of a selector written as matchExpressions (it once counted none and let the untested template out)', () => {
      const { request, stable } = create();
      (request.object.spec as unknown as { selector: unknown }).selector = {
        matchExpressions: [{ key: 'app', operator: 'In', values: ['podinfo'] }],
      };
      const asked: unknown[] = [];
      const d = decideFreeze(request, flags, ctx(stable, 2, asked));
      assert.ok(d.kind === 'frozen', d.kind);
      assert.equal(asked.length, 1);
    });

    for (const kind of ['StatefulSet', 'DaemonSet'] as const) {
      it(`freezes a recreated ${kind} a Canary targets: its adopted pods keep the stable revision`, () => {
        const { request, stable } = create();
        const object = request.object as unknown as { kind: string; spec: Record<string, unknown> };
        object.kind = kind;
        delete object.spec.paused;
        delete object.spec.strategy;
        object.spec.updateStrategy = { type: 'RollingUpdate' };
        const review = {
          ...request,
          kind: { group: 'apps', version: 'v1', kind },
          resource: { group: 'apps', version: 'v1', resource: `${kind.toLowerCase()}s` },
        };
        const asked: string[] = [];
        const context = {
          canaryFor: (_ns: string, _n: string, k?: string) => {
            asked.push(k ?? 'Deployment');
            return k === kind ? { name: 'podinfo', stableRevision: stable } : undefined;
          },
          servingPods: () => 0,
        };
        const d = decideFreeze(review, flags, context);
        assert.deepEqual(asked, [kind], `the Canary is looked up for a ${kind}`);
        assert.ok(d.kind === 'frozen', d.kind);
        assert.equal(d.mutated.metadata.labels?.['sluice.dev/managed'], 'true');
        assert.equal(d.mutated.metadata.annotations?.['sluice.dev/stable-revision'], stable);
        const strategy = d.mutated.spec.updateStrategy as { type?: string; rollingUpdate?: { partition?: number } };
        if (kind === 'StatefulSet') assert.ok((strategy.rollingUpdate?.partition ?? 0) > 1000, 'partition above every ordinal');
        else assert.equal(strategy.type, 'OnDelete');
        assert.match(d.warning, new RegExp(`${kind} podinfo\\.fixtures created at revision .* created frozen`));
      });
    }
  });
});

describe('kubectl rollout undo: stale bookkeeping copied from a ReplicaSet', () => {
  const flags = { controllerUsers: [controllerUser] };
  it("puts sluice's annotations back as stored, so the undo is frozen or released like any change", () => {
    const review = reviewFixture('set-image').request;
    const stored = review.oldObject.metadata.annotations ?? {};
    // What the ReplicaSet recorded when it was created: an older stable revision, no canary name.
    review.object.metadata.annotations = { ...stored, 'sluice.dev/stable-revision': 'an-older-revision', 'sluice.dev/promoting': 'x' };
    delete review.object.metadata.annotations['sluice.dev/canary'];
    const d = decideFreeze(review, flags);
    assert.equal(d.kind, 'frozen');
    assert.ok(d.kind === 'frozen');
    for (const a of ['sluice.dev/stable-revision', 'sluice.dev/canary', 'sluice.dev/promoting'])
      assert.equal(d.mutated.metadata.annotations?.[a], stored[a], a);
    assert.match(
      d.warning,
      /kept sluice\.dev\/stable-revision, sluice\.dev\/canary, sluice\.dev\/promoting on podinfo\.fixtures as sluice recorded them/,
    );
    // Back to the stable template with stale annotations: passed, the annotations restored.
    const revert = reviewFixture('revert-to-stable').request;
    revert.object.metadata.annotations = {
      ...(revert.oldObject.metadata.annotations ?? {}),
      'sluice.dev/stable-revision': 'an-older-revision',
    };
    const r = decideFreeze(revert, flags);
    assert.equal(r.kind, 'marked');
    assert.ok(r.kind === 'marked');
    assert.equal(
      r.mutated.metadata.annotations?.['sluice.dev/stable-revision'],
      revert.oldObject.metadata.annotations?.['sluice.dev/stable-revision'],
    );
  });
});
