// Objects at the names a Canary generates that are not sluice's are never adopted: they are named.

import assert from 'node:assert/strict';
import { labels as L } from '../../api/contract.js';
import { foreignObjects, NameClashError } from '../../controller/generated-objects.js';
import type { KubeObject } from '../../lib/kube/client.js';

const ours = (name: string): KubeObject => ({
  metadata: { name, labels: { [L.canaryName]: 'podinfo', 'app.kubernetes.io/managed-by': 'sluice' } },
});
const theirs = (name: string, labels: Record<string, string> = { app: 'mine' }): KubeObject => ({ metadata: { name, labels } });

describe('name clashes with objects sluice did not generate', () => {
  it("none when nothing exists or everything is sluice's", () => {
    assert.deepEqual(foreignObjects([['Deployment', undefined]]), []);
    assert.deepEqual(
      foreignObjects([
        ['Deployment', ours('podinfo-canary')],
        ['HorizontalPodAutoscaler', ours('podinfo-canary')],
        ['Service', ours('podinfo-primary')],
        ['Service', ours('podinfo-canary')],
        ['HTTPRoute', ours('podinfo')],
      ]),
      [],
    );
  });

  it('names every foreign object, by kind, including one labelled managed-by sluice without its Canary label', () => {
    const found = foreignObjects([
      ['Deployment', theirs('podinfo-canary')],
      ['HorizontalPodAutoscaler', undefined],
      ['Service', theirs('podinfo-primary', { 'app.kubernetes.io/managed-by': 'sluice' })],
      ['Service', ours('podinfo-canary')],
      ['HTTPRoute', theirs('podinfo', {})],
    ]);
    assert.deepEqual(found, [
      { kind: 'Deployment', name: 'podinfo-canary' },
      { kind: 'Service', name: 'podinfo-primary' },
      { kind: 'HTTPRoute', name: 'podinfo' },
    ]);
  });

  it('says what to do, naming the Canary and the objects', () => {
    const err = new NameClashError('podinfo.test', [{ kind: 'HTTPRoute', name: 'podinfo' }]);
    assert.match(
      err.message,
      /^HTTPRoute podinfo already exists and is not sluice's: Canary podinfo\.test will not take it over; rename or delete it, or give the Canary another service\.name$/,
    );
  });
});
