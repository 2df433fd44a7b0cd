// The dashboard's feed (dashboard/canary-feed.ts): changes coalesce into numbered batches, a page
// that reconnects gets exactly what it missed, and a snapshot instead when that is no longer kept,
// when the number is from another process (epoch) or from the future.
import assert from 'node:assert/strict';
import { type Batch, CanaryFeed } from '../../dashboard/canary-feed.js';
import { waitFor } from '../../lib/wait.js';
import { FakeCanaries } from './dashboard-fixtures.js';

const weightOf = (b: Batch, name: string) => {
  const v = b.upserts.find((u) => u.name === name);
  return v && 'weight' in v.step ? v.step.weight : undefined;
};

describe('the dashboard feed', () => {
  it('sends the writes of one moment as one batch, each Canary at its latest', async () => {
    const src = new FakeCanaries();
    const feed = new CanaryFeed(src, { coalesceMs: 20 });
    const got: Batch[] = [];
    feed.subscribe((b) => got.push(b));
    src.put('team', 'a', 10);
    src.put('team', 'a', 20);
    src.put('team', 'b', 5);
    await waitFor(() => got.length > 0, { timeoutMs: 2000, intervalMs: 5, what: 'a batch' });
    assert.equal(got.length, 1);
    assert.equal(got[0]!.upserts.length, 2);
    assert.equal(weightOf(got[0]!, 'a'), 20);
    src.drop('team', 'b');
    feed.flush();
    assert.deepEqual(got[1]!.removed, ['team/b']);
    assert.deepEqual(got[1]!.upserts, []);
    feed.close();
  });

  it('gives a reconnecting page what it missed, in order, or a snapshot when it cannot', () => {
    const src = new FakeCanaries();
    const feed = new CanaryFeed(src, { coalesceMs: 60_000, keep: 3 });
    src.put('team', 'a', 0);
    const snap = feed.snapshot();
    assert.equal(snap.items.length, 1);
    assert.deepEqual(feed.since(snap.id), [], 'nothing happened since');
    for (const w of [10, 20, 30]) {
      src.put('team', 'a', w);
      feed.flush();
    }
    const missed = feed.since(snap.id)!;
    assert.deepEqual(
      missed.map((b) => weightOf(b, 'a')),
      [10, 20, 30],
    );
    assert.deepEqual(
      feed.since(missed[1]!.id)!.map((b) => weightOf(b, 'a')),
      [30],
    );
    src.put('team', 'a', 40);
    feed.flush();
    assert.equal(feed.since(snap.id), undefined, 'the first batch after it is no longer kept');
    assert.equal(feed.since(`${'0'.repeat(8)}-1`), undefined, 'another process');
    assert.equal(feed.since(`${feed.epoch}-99`), undefined, 'a number this feed never gave');
    assert.equal(feed.since('garbage'), undefined);
    assert.equal(feed.since(undefined), undefined);
    feed.close();
  });
});
