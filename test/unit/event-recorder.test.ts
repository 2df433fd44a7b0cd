// Events are recorded beside the reconcile, not in its way: record() returns before the apiserver
// answers, events reach it in the order they were recorded, a stalled apiserver costs a bounded
// queue (the oldest go first, and that is said), and a failed write is reported, not thrown.
import assert from 'node:assert/strict';
import { EventRecorder } from '../../controller/event-recorder.js';
import { type KubeObject, R, type ResourceRef } from '../../lib/kube/client.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';

const canary: KubeObject = {
  apiVersion: 'flagger.app/v1beta1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'test', uid: 'u-1' },
};

/** A cluster whose Event writes wait until `open()` is called, or fail while `failing` is set. */
class GatedCluster extends MemoryCluster {
  private gate: Promise<void> | undefined;
  private release: (() => void) | undefined;
  failing = false;

  close(): void {
    this.gate = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release?.();
    this.gate = undefined;
  }

  override async create<T extends KubeObject>(ref: ResourceRef, body: unknown): Promise<T> {
    if (this.gate) await this.gate;
    if (this.failing && ref.plural === R.events.plural) throw new Error('the apiserver is unavailable');
    return super.create<T>(ref, body);
  }
}

const messages = (c: MemoryCluster) =>
  c
    .list<KubeObject & { message: string }>(R.events, 'test')
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
    .map((e) => e.message);

describe('event recorder', () => {
  it('returns before the apiserver answers, and writes the events in the order they were recorded', async () => {
    const cluster = new GatedCluster();
    cluster.close();
    const recorder = new EventRecorder(cluster, { minGapMs: 0 });
    for (const m of ['one', 'two', 'three']) recorder.record(canary, { type: 'Normal', message: m });
    // Nothing can be written yet: record() did not wait for the apiserver.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(messages(cluster), []);
    cluster.open();
    await recorder.drained();
    assert.deepEqual(messages(cluster), ['one', 'two', 'three']);
  });

  it('keeps at most its ceiling of events waiting, dropping the oldest, and says how many it dropped', async () => {
    const cluster = new GatedCluster();
    cluster.close();
    const problems: string[] = [];
    const recorder = new EventRecorder(cluster, { minGapMs: 0, onProblem: (m) => problems.push(m), maxPending: 3 });
    for (let i = 0; i < 8; i++) recorder.record(canary, { type: 'Normal', message: `e${i}` });
    cluster.open();
    await recorder.drained();
    // e0 was already being sent when the queue filled; of the rest, only the newest 3 were kept.
    assert.deepEqual(messages(cluster), ['e0', 'e5', 'e6', 'e7']);
    assert.ok(
      problems.some((p) => /^4 events dropped: more than 3 were waiting/.test(p)),
      problems.join('\n'),
    );
  });

  it('reports a write that failed and goes on with the next', async () => {
    const cluster = new GatedCluster();
    const problems: string[] = [];
    const recorder = new EventRecorder(cluster, { minGapMs: 0, onProblem: (m) => problems.push(m) });
    cluster.failing = true;
    recorder.record(canary, { type: 'Warning', message: 'lost' });
    await recorder.drained();
    cluster.failing = false;
    recorder.record(canary, { type: 'Normal', message: 'kept' });
    await recorder.drained();
    assert.deepEqual(messages(cluster), ['kept']);
    assert.deepEqual(problems, ['event on Canary test/podinfo not recorded: the apiserver is unavailable']);
  });
});
