// What a malformed AdmissionReview is answered with: the first problem, naming the field as a
// person reads it (dotted, from the review down), so the 400 says what to fix.
import assert from 'node:assert/strict';
import { reviewShapeProblem } from '../../webhook/admission-schema.js';

const good = () => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'u1',
    kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
    operation: 'UPDATE',
    object: { metadata: { name: 'web', labels: { app: 'web' } }, spec: {} },
  },
});
const problem = (edit: (r: ReturnType<typeof good> & Record<string, unknown>) => void) => {
  const r = good() as ReturnType<typeof good> & Record<string, unknown>;
  edit(r);
  return reviewShapeProblem(r);
};

describe('admission review shape', () => {
  it('a review of the shape sluice reads has no problem', () => {
    assert.equal(reviewShapeProblem(good()), undefined);
    assert.equal(
      problem((r) => void (r.request.object = null as never)),
      undefined,
      'a DELETE carries a null object',
    );
  });

  it('names a missing field at the top, and inside the request with its path', () => {
    assert.equal(
      problem((r) => void delete (r as Partial<typeof r>).request),
      'request is required',
    );
    assert.equal(
      problem((r) => void delete (r.request as Partial<typeof r.request>).uid),
      'request.uid is required',
    );
    assert.equal(
      problem((r) => void delete (r.request.kind as Partial<typeof r.request.kind>).version),
      'request.kind.version is required',
    );
  });

  it('names the value a fixed field must have', () => {
    assert.equal(
      problem((r) => void (r.apiVersion = 'admission.k8s.io/v1beta1')),
      'apiVersion must be "admission.k8s.io/v1"',
    );
    assert.equal(
      problem((r) => void (r.request.operation = 'PATCH')),
      'request.operation must be ["CREATE","UPDATE","DELETE","CONNECT"]',
    );
  });

  it('names a field of the wrong type, however deep', () => {
    assert.equal(
      problem((r) => void (r.request.object.metadata.labels = { app: 7 } as never)),
      'request.object.metadata.labels.app must be string',
    );
    assert.equal(
      problem((r) => void (r.request.uid = '')),
      'request.uid must NOT have fewer than 1 characters',
    );
    assert.equal(reviewShapeProblem('x'), 'the review must be object');
    assert.equal(reviewShapeProblem(null), 'the review must be object');
  });
});
