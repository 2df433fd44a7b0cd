import assert from 'node:assert/strict';
import { templateRevision } from '../../api/revision.js';
import { canonicalJson } from '../../lib/canonical-json.js';

describe('template revision', () => {
  const template = {
    metadata: { labels: { app: 'podinfo' } },
    spec: { containers: [{ name: 'podinfod', image: 'podinfo:6.0.0', ports: [{ containerPort: 9898 }] }] },
  };

  it('ignores key order at every depth', () => {
    const reordered = {
      spec: { containers: [{ ports: [{ containerPort: 9898 }], image: 'podinfo:6.0.0', name: 'podinfod' }] },
      metadata: { labels: { app: 'podinfo' } },
    };
    assert.equal(templateRevision(reordered), templateRevision(template));
  });
  it('changes with the image', () => {
    const next = structuredClone(template);
    next.spec.containers[0]!.image = 'podinfo:6.0.1';
    assert.notEqual(templateRevision(next), templateRevision(template));
  });
  it('keeps array order significant', () => {
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  });
  it('treats an absent field and an undefined one alike', () => {
    assert.equal(canonicalJson({ a: 1, b: undefined }), canonicalJson({ a: 1 }));
  });
  it('is 16 hex characters', () => {
    assert.match(templateRevision(template), /^[0-9a-f]{16}$/);
  });
});
