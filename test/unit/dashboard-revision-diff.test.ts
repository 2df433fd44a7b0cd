// The Canary page's revision diff (dashboard/revision-diff.ts): each changed field once, with both
// sides, the ReplicaSet's own hash left out, long values shortened, the list bounded.
import assert from 'node:assert/strict';
import { templateDiff } from '../../dashboard/revision-diff.js';

const template = (image: string, extra: Record<string, unknown> = {}) => ({
  metadata: { labels: { app: 'podinfo', 'pod-template-hash': image.length.toString() } },
  spec: { containers: [{ name: 'app', image, ...extra }] },
});

describe('the revision diff', () => {
  it('names each changed field with the stable and the candidate value', () => {
    const diff = templateDiff(template('podinfo:6.0.0'), template('podinfo:6.0.1', { args: ['--level=debug'] }));
    assert.deepEqual(diff, [
      { op: 'add', path: '/spec/containers/0/args', candidate: '["--level=debug"]' },
      { op: 'replace', path: '/spec/containers/0/image', stable: 'podinfo:6.0.0', candidate: 'podinfo:6.0.1' },
    ]);
  });

  it('leaves out the ReplicaSet hash, and says nothing for equal or missing templates', () => {
    const a = template('podinfo:6.0.0');
    const b = structuredClone(a);
    b.metadata.labels['pod-template-hash'] = 'other';
    assert.deepEqual(templateDiff(a, b), []);
    assert.deepEqual(templateDiff(a, undefined), []);
    assert.deepEqual(templateDiff(undefined, a), []);
  });

  it('shortens long values and bounds the list', () => {
    const long = 'x'.repeat(1000);
    const [change] = templateDiff(template('a'), template(long));
    assert.ok(change!.candidate!.length <= 301 && change!.candidate!.endsWith('…'));
    const many = (n: number) => ({ spec: { env: Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, String(i)])) } });
    assert.equal(templateDiff({ spec: { env: {} } }, many(500)).length, 100);
  });
});
