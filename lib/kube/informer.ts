// List-then-watch cache of one resource, the shape of client-go's reflector: a full list, a
// watch from its resourceVersion, re-watch when the server closes it, re-list after an error or
// an expired resourceVersion, and a periodic re-list that repairs anything a silent watch lost.
// Handlers see every change as (type, object); they must be level-triggered (enqueue a key).

import { backoffDelay } from '../backoff.js';
import { canonicalJson } from '../canonical-json.js';
import { delay } from '../wait.js';
import { ApiError, type KubeClient, type KubeObject, type ResourceRef, type WatchEvent, WatchInterrupted } from './client.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';
/** `old`: the object as the cache held it before a MODIFIED change. */
export type ChangeHandler<T> = (type: ChangeType, obj: T, old?: T) => void;

/** Everything but what its own controllers report (status) and the apiserver's bookkeeping. */
function intent(o: KubeObject & { status?: unknown }): string {
  const { resourceVersion: _rv, managedFields: _mf, ...metadata } = o.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  const { status: _status, ...rest } = o;
  return canonicalJson({ ...rest, metadata });
}

/**
 * Whether a change touched more than the object's status: a gateway writing a route's status, an
 * HPA controller its metrics, cannot change what sluice decides, and must not cost a reconcile.
 */
export function changedBeyondStatus<T extends KubeObject>(old: T | undefined, next: T): boolean {
  return old === undefined || intent(old) !== intent(next);
}

export interface InformerOptions<T = unknown> {
  labelSelector?: string;
  /** Lists again this often besides when a watch cannot resume; by default never (as client-go). */
  relistIntervalMs?: number;
  watchTimeoutSeconds?: number;
  onError?: (err: unknown) => void;
  /**
   * What of each object is kept (as client-go's SetTransform): a cache of a kind that is large
   * and numerous keeps only the fields it answers from. Keep metadata.resourceVersion.
   */
  transform?: (obj: T) => T;
}

/** Transport failures: nothing was read wrongly, the watch can resume from where it was. */
const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

/**
 * Whether a watch that ended with `err` can only go on after a new list. As client-go's reflector:
 * 410 Gone (the resourceVersion was compacted away, or predates a restarted apiserver's cache) and
 * ERROR events or unreadable lines need one; a refused connection, a cut stream or an apiserver
 * answering 403/5xx while it starts is retried from the same resourceVersion, so a restart or a
 * network blip costs a watch, not a list of everything (and the apiserver answers 410 if that
 * resourceVersion is gone by then).
 */
export function needsList(err: unknown): boolean {
  if (err instanceof ApiError) return err.status === 410 || err.reason === 'WatchError';
  if (err instanceof WatchInterrupted) return false;
  const code = (err as { code?: unknown } | undefined)?.code;
  return !(typeof code === 'string' && TRANSIENT.has(code));
}

export const objectKey = (o: KubeObject) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);

/** What readers of an informer need: its objects, by name, by namespace or all of them. */
export interface ObjectCache<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  items(): T[];
  /** The objects of one namespace, from an index (a cache without one is filtered: see namespaced()). */
  inNamespace?(namespace: string): T[];
}

/**
 * The objects of one namespace. A reader that wants one namespace's objects on every change must
 * not scan all of them: at 1,000 Canaries that scan, per watch event, was a large share of the
 * controller's CPU while they initialised (issue 31).
 */
export function namespaced<T extends KubeObject>(cache: ObjectCache<T>, namespace: string): T[] {
  return cache.inNamespace ? cache.inNamespace(namespace) : cache.items().filter((o) => o.metadata.namespace === namespace);
}

export class Informer<T extends KubeObject> implements ObjectCache<T> {
  private readonly store = new Map<string, T>();
  /** namespace → name → object: the same objects as store, for inNamespace(). */
  private readonly byNamespace = new Map<string, Map<string, T>>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private readonly abort = new AbortController();
  private synced = false;
  private resourceVersion: string | undefined;
  private lastList = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly ref: ResourceRef,
    private readonly opts: InformerOptions<T> = {},
  ) {}

  onChange(handler: ChangeHandler<T>): this {
    this.handlers.push(handler);
    return this;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  items(): T[] {
    return [...this.store.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  inNamespace(namespace: string): T[] {
    const objects = this.byNamespace.get(namespace);
    return objects ? [...objects.values()] : [];
  }

  private put(key: string, obj: T): void {
    this.store.set(key, obj);
    const ns = obj.metadata.namespace ?? '';
    let objects = this.byNamespace.get(ns);
    if (!objects) this.byNamespace.set(ns, (objects = new Map()));
    objects.set(obj.metadata.name, obj);
  }

  private remove(key: string, obj: T): void {
    this.store.delete(key);
    const ns = obj.metadata.namespace ?? '';
    const objects = this.byNamespace.get(ns);
    objects?.delete(obj.metadata.name);
    if (objects?.size === 0) this.byNamespace.delete(ns);
  }

  private firstListDone: () => void = () => undefined;
  private readonly firstList = new Promise<void>((resolve) => (this.firstListDone = resolve));

  /** Starts the loop; resolves after the first successful list (errors go to `onError` meanwhile). */
  async start(): Promise<void> {
    this.running ??= this.loop();
    await this.firstList;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private emit(type: ChangeType, obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(type, obj, old);
      } catch (err) {
        this.opts.onError?.(err);
      }
    }
  }

  private async relist(): Promise<void> {
    const list = await this.client.list<T>(this.ref, { labelSelector: this.opts.labelSelector });
    const seen = new Set<string>();
    for (const raw of list.items) {
      const item = this.opts.transform ? this.opts.transform(raw) : raw;
      const key = objectKey(item);
      seen.add(key);
      const prev = this.store.get(key);
      this.put(key, item);
      if (!prev) this.emit('ADDED', item);
      else if (prev.metadata.resourceVersion !== item.metadata.resourceVersion) this.emit('MODIFIED', item, prev);
    }
    for (const [key, obj] of this.store) {
      if (!seen.has(key)) {
        this.remove(key, obj);
        this.emit('DELETED', obj);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion;
    this.lastList = Date.now();
    if (!this.synced) {
      this.synced = true;
      this.firstListDone();
    }
  }

  private apply(ev: WatchEvent<T>): void {
    if (ev.type === 'BOOKMARK') {
      this.resourceVersion = ev.object.metadata.resourceVersion;
      return;
    }
    if (ev.type === 'ERROR') {
      const status = ev.object as unknown as { code?: number; message?: string };
      throw new ApiError(status.code ?? 500, 'WatchError', status.message ?? 'watch error', ev.object);
    }
    const obj = this.opts.transform ? this.opts.transform(ev.object) : ev.object;
    const key = objectKey(obj);
    this.resourceVersion = obj.metadata.resourceVersion;
    const prev = this.store.get(key);
    if (ev.type === 'DELETED') this.remove(key, prev ?? obj);
    else this.put(key, obj);
    this.emit(ev.type, obj, ev.type === 'MODIFIED' ? prev : undefined);
  }

  private async loop(): Promise<void> {
    const relistEvery = this.opts.relistIntervalMs ?? Number.POSITIVE_INFINITY;
    let failures = 0;
    let needList = true;
    let listedForGone = false;
    while (!this.abort.signal.aborted) {
      try {
        if (needList || Date.now() - this.lastList > relistEvery) {
          await this.relist();
          needList = false;
        }
        const watchSeconds = Math.max(
          1,
          Math.min(this.opts.watchTimeoutSeconds ?? 240, Math.ceil((relistEvery - (Date.now() - this.lastList)) / 1000)),
        );
        await this.client.watch<T>(this.ref, this.resourceVersion, (ev) => this.apply(ev), {
          timeoutSeconds: watchSeconds,
          labelSelector: this.opts.labelSelector,
          signal: this.abort.signal,
        });
        failures = 0;
        listedForGone = false;
      } catch (err) {
        if (this.abort.signal.aborted) break;
        needList ||= needsList(err);
        this.opts.onError?.(err);
        // Gone: a new list is the way on, at once (as client-go's reflector); a server that
        // answers 410 again right after that list is backed off like any other failure.
        if (err instanceof ApiError && err.status === 410 && !listedForGone) {
          listedForGone = true;
          continue;
        }
        await delay(backoffDelay(failures++, 200, 10_000));
      }
    }
  }
}
