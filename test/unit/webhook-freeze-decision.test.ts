import assert from 'node:assert/strict';
import jsonPatch from 'fast-json-patch';
import { decideFreeze, type Decision } from '../../webhook/freeze-decision.js';
import { answerMutate } from '../../webhook/admission-review.js';
import { templateRevision } from '../../api/revision.js';
import { controllerUser } from '../world/layout.js';
import { reviewFixture } from './fixtures.js';

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
    for (const n of ['set-image', 'apply-client-side', 'apply-server-side', 'rollout-restart', 'revert-to-stable']) assert.ok(changed(n), n);
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
    assert.deepEqual(answerMutate(dry, flags).review, answerMutate(real, flags).review);
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
    req.oldObject.metadata.annotations = { ...req.oldObject.metadata.annotations, 'sluice.dev/promoting': '0123456789abcdef' };
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
    assert.equal(decideFreeze({ ...base, operation: 'CREATE' }, flags).kind, 'passed');
    assert.equal(decideFreeze({ ...base, kind: { group: 'apps', version: 'v1', kind: 'DaemonSet' } }, flags).kind, 'passed');
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
});
