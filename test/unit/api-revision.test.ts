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
  it('keeps the revisions clusters already record: the canonical form is pinned byte for byte', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { c: 2, b: undefined }, undefined], é: 1, Z: -0 }, s: 'x"y' }),
      '{"a":{"Z":0,"d":[1,{"c":2},null],"é":1},"b":1,"s":"x\\"y"}',
    );
    assert.equal(templateRevision(template), templateRevision(structuredClone(template)));
  });
  it('hashes a template nested 100,000 deep (a hostile review) instead of overflowing the stack', () => {
    let v: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) v = i % 2 ? [v] : { a: v };
    assert.match(templateRevision({ metadata: {}, spec: { containers: [{ name: 'x', image: v }] } }), /^[0-9a-f]{16}$/);
  });
});
