import assert from 'node:assert/strict';
import { DeadlineError, waitFor } from '../../lib/wait.js';

describe('waitFor (lib/wait.ts)', () => {
  it('returns the first value that is not undefined or false', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? n : undefined), { timeoutMs: 2000, intervalMs: 1, what: 'three polls' });
    assert.equal(v, 3);
  });

  it('treats a probe that throws an ordinary error as "not yet", and names the last error at the deadline', async () => {
    let n = 0;
    const v = await waitFor(
      () => {
        if (++n < 3) throw new Error('connection refused');
        return 'up';
      },
      { timeoutMs: 2000, intervalMs: 1, what: 'the server' },
    );
    assert.equal(v, 'up');
    await assert.rejects(
      waitFor(
        () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 30, intervalMs: 5, what: 'the server' },
      ),
      (err: unknown) => err instanceof DeadlineError && /waiting for the server; last error: connection refused/.test(err.message),
    );
  });

  it('fails at once on an assertion that fails in the probe: "wrong" is not "not yet"', async () => {
    let polls = 0;
    const started = Date.now();
    await assert.rejects(
      waitFor(
        () => {
          polls++;
          assert.equal(1 + 1, 3, 'an invariant broken');
          return true;
        },
        { timeoutMs: 5000, intervalMs: 1, what: 'an invariant' },
      ),
      (err: unknown) => err instanceof assert.AssertionError && /an invariant broken/.test(err.message),
    );
    assert.equal(polls, 1, 'no second poll');
    assert.ok(Date.now() - started < 1000, 'long before the deadline');
  });
});
