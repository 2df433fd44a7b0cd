// Canaries as the dashboard's feed reads them (dashboard/canary-feed.ts's FeedSource), changed by
// hand: the informer's part, without an apiserver.
import type { Canary } from '../../api/flagger-types.js';
import type { FeedSource } from '../../dashboard/canary-feed.js';
import type { ChangeType } from '../../lib/kube/informer.js';
import { seedCanary } from './controller-fixtures.js';

export class FakeCanaries implements FeedSource {
  readonly store = new Map<string, Canary>();
  private handler: (type: ChangeType, obj: Canary) => void = () => undefined;
  items() {
    return [...this.store.values()];
  }
  get(ns: string, name: string) {
    return this.store.get(`${ns}/${name}`);
  }
  onChange(h: (type: ChangeType, obj: Canary) => void) {
    this.handler = h;
  }
  /** The Canary ns/name Progressing at `weight`, added or changed. */
  put(ns: string, name: string, weight = 0) {
    const c = seedCanary({ status: { phase: 'Progressing', canaryWeight: weight } as Canary['status'] });
    c.metadata = { ...c.metadata, name, namespace: ns };
    const type = this.store.has(`${ns}/${name}`) ? 'MODIFIED' : 'ADDED';
    this.store.set(`${ns}/${name}`, c);
    this.handler(type, c);
  }
  drop(ns: string, name: string) {
    const c = this.store.get(`${ns}/${name}`)!;
    this.store.delete(`${ns}/${name}`);
    this.handler('DELETED', c);
  }
}
