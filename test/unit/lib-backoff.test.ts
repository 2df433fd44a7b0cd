import assert from 'node:assert/strict';
import { backoffDelay } from '../../lib/backoff.js';

describe('backoff', () => {
  it('doubles from the base per retry and stops at the cap', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, 200, 10_000)),
      [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000],
    );
    assert.equal(backoffDelay(-1, 200), 200, 'a negative retry count is the first retry');
    assert.equal(backoffDelay(3, 1000), 8000, 'no cap: unbounded');
  });
});
