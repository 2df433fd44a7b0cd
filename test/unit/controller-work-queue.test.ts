import assert from 'node:assert/strict';
import { WorkQueue } from '../../controller/work-queue.js';
import { waitFor } from '../../lib/wait.js';

describe('work queue', () => {
  it('never runs one key twice at once, and re-runs a key that changed meanwhile', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    let release: () => void = () => undefined;
    const q = new WorkQueue(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs++;
      if (runs === 1) await new Promise<void>((r) => (release = r));
      active--;
    });
    q.start();
    q.add('a');
    await waitFor(() => runs === 1, { timeoutMs: 1000, what: 'first run' });
    q.add('a');
    q.add('a');
    release();
    await waitFor(() => runs === 2 && active === 0, { timeoutMs: 1000, what: 'the re-run' });
    assert.equal(maxActive, 1);
    assert.equal(runs, 2, 'two adds while running collapse into one re-run');
  });

  it('retries a failing key with growing backoff', async () => {
    const times: number[] = [];
    const errors: number[] = [];
    const q = new WorkQueue(
      async () => {
        times.push(Date.now());
        if (times.length < 3) throw new Error('boom');
      },
      { baseBackoffMs: 20, onError: (_k, _e, retry) => errors.push(retry) },
    );
    q.start();
    q.add('k');
    await waitFor(() => times.length === 3, { timeoutMs: 2000, what: 'three attempts' });
    assert.deepEqual(errors, [20, 40]);
    assert.ok(times[2]! - times[1]! >= 35);
  });

  it('honours requeue-after, keeping the earliest timer', async () => {
    const seen: number[] = [];
    const q = new WorkQueue(async () => void seen.push(Date.now()));
    q.start();
    const t0 = Date.now();
    q.addAfter('k', 500);
    q.addAfter('k', 50);
    await waitFor(() => seen.length === 1, { timeoutMs: 1000, what: 'the delayed run' });
    assert.ok(seen[0]! - t0 < 400, 'the earlier timer won');
  });

  it('never runs a key sooner than asked, however long the wait (Node fires a timer past 2^31-1 ms at once)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(w.name);
    process.on('warning', onWarning);
    let runs = 0;
    const q = new WorkQueue(async () => void runs++);
    q.start();
    for (const ms of [600 * 3_600_000, 2 ** 31, Number.POSITIVE_INFINITY, Number.NaN]) q.addAfter(`k${ms}`, ms);
    // A marker key queued after them runs; none of the long waits has.
    q.addAfter('marker', 50);
    await waitFor(() => runs === 1, { timeoutMs: 1000, what: 'the marker' });
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    assert.equal(runs, 1, 'only the marker ran');
    assert.deepEqual(
      warnings.filter((w) => w === 'TimeoutOverflowWarning'),
      [],
    );
    await q.stop();
  });
});
