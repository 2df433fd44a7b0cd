// Which copy of a Canary a pass acts on: the newest one this controller knows of, without asking
// the apiserver each time. The informer cache is newest unless this controller has just written
// the Canary (or read it after a conflict) and the watch has not delivered that version yet; then
// the object the apiserver answered with is. Acting on an older copy would repeat the step just
// written: its conditional write would fail, but the checks it starts (hooks with side effects
// among them) would already have run.
//
// Versions are compared as Kubernetes defines it since 1.35 (KEP-5504, comparable resource
// versions): positive integers without leading zeros, ordered for objects of one resource. An
// apiserver whose versions are not such integers gets what the controller did before: a GET each
// pass.
import { type Canary, CR } from '../api/flagger-types.js';
import { at, type ObjectClient } from '../lib/kube/client.js';
import type { ObjectCache } from '../lib/kube/informer.js';

/** A resourceVersion that can be ordered: a positive integer without leading zeros. */
export const comparableVersion = (v: string | undefined): v is string => v !== undefined && /^[1-9][0-9]*$/.test(v);

/** -1, 0 or 1 as `a` is older than, the same as or newer than `b`; undefined when either is not a comparable version. */
export function compareResourceVersions(a: string | undefined, b: string | undefined): -1 | 0 | 1 | undefined {
  if (!comparableVersion(a) || !comparableVersion(b)) return undefined;
  // Unbounded integers: longer is larger, equal lengths compare as text.
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

export class NewestCanary {
  /** Per Canary, a copy newer than the cache's, until the cache catches up. */
  private readonly known = new Map<string, Canary>();

  constructor(
    private readonly client: ObjectClient,
    private readonly cache: ObjectCache<Canary>,
  ) {}

  /**
   * The newest copy known, or undefined when the Canary is gone. Asks the apiserver only when the
   * cache cannot answer: the Canary is missing from it (gone, or not delivered yet) or versions
   * cannot be compared.
   */
  async read(namespace: string, name: string): Promise<Canary | undefined> {
    const key = keyOf(namespace, name);
    const cached = this.cache.get(namespace, name);
    const known = this.known.get(key);
    // A version that cannot be compared could be older than one this controller wrote: asked for.
    if (cached && comparableVersion(cached.metadata.resourceVersion)) {
      if (known && compareResourceVersions(known.metadata.resourceVersion, cached.metadata.resourceVersion) === 1) return known;
      this.known.delete(key);
      return cached;
    }
    return this.fetch(namespace, name);
  }

  /** Reads the Canary from the apiserver and keeps it as the newest copy (after a conflict, say). */
  async fetch(namespace: string, name: string): Promise<Canary | undefined> {
    const fresh = await this.client.find<Canary>(at(CR.canaries, namespace, name));
    if (fresh) this.remember(fresh);
    else this.known.delete(keyOf(namespace, name));
    return fresh;
  }

  /** What the apiserver answered a write with: newer than the cache until the watch delivers it. */
  remember(canary: Canary): void {
    if (!comparableVersion(canary.metadata.resourceVersion)) return;
    const key = keyOf(canary.metadata.namespace ?? '', canary.metadata.name);
    const known = this.known.get(key);
    if (known && compareResourceVersions(known.metadata.resourceVersion, canary.metadata.resourceVersion) === 1) return;
    this.known.set(key, canary);
  }

  /** How many copies newer than the cache are kept. */
  get size(): number {
    return this.known.size;
  }
}
