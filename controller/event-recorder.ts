// Kubernetes Events on Canaries, as `kubectl describe canary` shows them. A message repeated
// within the window updates the existing Event's count instead of creating another (as client-go's
// correlator does), and at most once per `minGapMs`, so waiting loops do not flood the apiserver.
// Recording never holds up a reconcile (as client-go's broadcaster): events wait in a bounded queue
// and one sender writes them in order. A pass used to await its Events before scaling up the
// canary, so in a wave of new revisions the last canary waited on every Event before it
// (docs/controller.md).
import crypto from 'node:crypto';
import { at, type KubeObject, type ObjectClient, R } from '../lib/kube/client.js';
import type { CanaryEvent } from './check-results.js';

interface Pending {
  obj: KubeObject;
  ev: CanaryEvent;
  now: Date;
}

interface Seen {
  name: string;
  count: number;
  firstTimestamp: string;
  lastSent: number;
}

export class EventRecorder {
  private readonly seen = new Map<string, Seen>();
  private sequence = crypto.randomInt(1_000_000);

  private readonly pending: Pending[] = [];
  private sending: Promise<void> | undefined;
  /** Events dropped because the queue was full (the apiserver was away or slow), since the last report. */
  private dropped = 0;

  private readonly component: string;
  private readonly windowMs: number;
  private readonly minGapMs: number;
  private readonly onProblem: (message: string) => void;
  private readonly maxPending: number;

  constructor(
    private readonly client: ObjectClient,
    opts: {
      component?: string;
      /** How long a repeated message updates its Event instead of creating another. */
      windowMs?: number;
      /** The least time between two updates of one Event's count. */
      minGapMs?: number;
      /** Told of an event that could not be written, and of events dropped from a full queue. */
      onProblem?: (message: string) => void;
      maxPending?: number;
    } = {},
  ) {
    this.component = opts.component ?? 'sluice';
    this.windowMs = opts.windowMs ?? 10 * 60_000;
    this.minGapMs = opts.minGapMs ?? 5_000;
    this.onProblem = opts.onProblem ?? (() => undefined);
    // A bootstrap of 1,000 Canaries queues about as many; each waiting event is a few hundred bytes.
    this.maxPending = opts.maxPending ?? 5_000;
  }

  /** Queues the event and returns at once; the oldest waiting event goes if the queue is full. */
  record(obj: KubeObject, ev: CanaryEvent, now = new Date()): void {
    if (this.pending.length >= this.maxPending) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push({ obj, ev, now });
    this.sending ??= this.drain();
  }

  /** Resolves once every queued event has been sent or given up on (tests, shutdown). */
  async drained(): Promise<void> {
    while (this.sending) await this.sending;
  }

  private async drain(): Promise<void> {
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        try {
          await this.send(next.obj, next.ev, next.now);
        } catch (err) {
          this.onProblem(
            `event on ${next.obj.kind} ${next.obj.metadata.namespace}/${next.obj.metadata.name} not recorded: ${(err as Error).message}`,
          );
        }
        if (this.dropped > 0) {
          this.onProblem(`${this.dropped} events dropped: more than ${this.maxPending} were waiting to be sent`);
          this.dropped = 0;
        }
      }
    } finally {
      this.sending = undefined;
    }
  }

  private async send(obj: KubeObject, ev: CanaryEvent, now: Date): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const key = `${obj.metadata.uid}|${ev.type}|${ev.message}`;
    const prev = this.seen.get(key);
    const iso = now.toISOString();
    if (prev && now.getTime() - Date.parse(prev.firstTimestamp) < this.windowMs) {
      prev.count++;
      if (now.getTime() - prev.lastSent < this.minGapMs) return;
      prev.lastSent = now.getTime();
      try {
        await this.client.patch(at(R.events, ns, prev.name), { count: prev.count, lastTimestamp: iso });
        return;
      } catch {
        /* the Event expired or was deleted: create a new one below */
      }
    }
    // Named by the time in nanoseconds, as client-go does: unique, and sorting by name sorts by
    // creation even where timestamps (whole seconds) tie.
    const name = `${obj.metadata.name}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16)}`;
    this.seen.set(key, { name, count: 1, firstTimestamp: iso, lastSent: now.getTime() });
    if (this.seen.size > 5000) this.seen.delete(this.seen.keys().next().value!);
    await this.client.create(at(R.events, ns), {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: ns },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: ns,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason: 'Synced',
      message: ev.message,
      type: ev.type,
      source: { component: this.component },
      reportingComponent: this.component,
      firstTimestamp: iso,
      lastTimestamp: iso,
      count: 1,
    });
  }
}
