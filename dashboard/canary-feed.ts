// Every Canary the person may read, as the list shows them, and the changes to them as numbered
// batches: a page's stream starts from a snapshot, then receives each batch; a page that lost
// its stream sends the last number it saw and gets only what it missed, or a fresh snapshot when
// that is no longer kept (or the dashboard restarted: the epoch differs).

import crypto from 'node:crypto';
import type { Canary } from '../api/flagger-types.js';
import { canaryView, type RolloutView } from '../cli/rollout-view.js';
import type { ChangeType } from '../lib/kube/informer.js';

export const keyOf = (c: { metadata: { namespace?: string; name: string } } | RolloutView) =>
  'metadata' in c ? `${c.metadata.namespace}/${c.metadata.name}` : `${c.namespace}/${c.name}`;

/**
 * What the feed keeps of a Canary: what the list shows comes from its spec and status; its
 * managedFields and annotations (kubectl's last-applied copy of the whole object) are dropped, at
 * a thousand Canaries they were a good part of the process.
 */
export function slimForView(c: Canary): Canary {
  const m = c.metadata;
  return {
    apiVersion: c.apiVersion,
    kind: c.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
    },
    spec: c.spec,
    ...(c.status ? { status: c.status } : {}),
  } as Canary;
}

export interface Batch {
  id: string;
  upserts: RolloutView[];
  removed: string[];
}

export interface Snapshot {
  id: string;
  items: RolloutView[];
}

export interface FeedSource {
  items(): Canary[];
  get(namespace: string, name: string): Canary | undefined;
  onChange(handler: (type: ChangeType, obj: Canary) => void): unknown;
}

export interface FeedOptions {
  /** Changes within this long go out as one batch: a rollout writes its status several times a step. */
  coalesceMs?: number;
  /** How many batches a reconnecting page may catch up from before it gets a snapshot instead. */
  keep?: number;
}

export class CanaryFeed {
  /** Changes each start: a page's Last-Event-ID from a former process never matches a batch here. */
  readonly epoch = crypto.randomBytes(4).toString('hex');
  private seq = 0;
  private readonly kept: Batch[] = [];
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(b: Batch) => void>();
  private readonly coalesceMs: number;
  private readonly keep: number;

  constructor(
    private readonly source: FeedSource,
    opts: FeedOptions = {},
  ) {
    this.coalesceMs = opts.coalesceMs ?? 150;
    this.keep = opts.keep ?? 256;
    source.onChange((_type, obj) => this.mark(keyOf(obj)));
  }

  private id(seq = this.seq): string {
    return `${this.epoch}-${seq}`;
  }

  private mark(key: string): void {
    this.dirty.add(key);
    this.timer ??= setTimeout(() => this.flush(), this.coalesceMs);
  }

  /** Sends what changed since the last batch (tests call it instead of waiting). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.dirty.size === 0) return;
    const upserts: RolloutView[] = [];
    const removed: string[] = [];
    for (const key of this.dirty) {
      const slash = key.indexOf('/');
      const c = this.source.get(key.slice(0, slash), key.slice(slash + 1));
      if (c) upserts.push(canaryView(c));
      else removed.push(key);
    }
    this.dirty.clear();
    const batch = { id: this.id(++this.seq), upserts, removed };
    this.kept.push(batch);
    if (this.kept.length > this.keep) this.kept.shift();
    for (const l of this.listeners) l(batch);
  }

  snapshot(): Snapshot {
    const items = this.source
      .items()
      .map((c) => canaryView(c))
      .sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    return { id: this.id(), items };
  }

  /** The batches after `lastId`, or undefined when they are not all kept (send a snapshot). */
  since(lastId: string | undefined): Batch[] | undefined {
    if (!lastId) return undefined;
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastId);
    if (!m || m[1] !== this.epoch) return undefined;
    const seq = Number(m[2]);
    if (seq > this.seq) return undefined;
    if (seq === this.seq) return [];
    const first = this.kept[0];
    if (!first || Number(first.id.split('-')[1]) > seq + 1) return undefined;
    return this.kept.filter((b) => Number(b.id.split('-')[1]) > seq);
  }

  subscribe(listener: (b: Batch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
  }
}
