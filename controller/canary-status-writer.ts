// The Canary's status, written through the status subresource and conditional on the
// resourceVersion read, and the name clash report that lives there too.
import { type Canary, type CanaryStatus, CR } from '../api/flagger-types.js';
import { at, isConflict, type ObjectClient } from '../lib/kube/client.js';
import type { NewestCanary } from './newest-canary.js';
import { withReadiness } from './readiness.js';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class CanaryStatusWriter {
  constructor(
    /** Leader-guarded (leader-guarded-client.ts). */
    private readonly client: ObjectClient,
    private readonly newest: NewestCanary,
  ) {}

  /** False when someone wrote the Canary meanwhile: the next pass starts from their version. */
  async write(canary: Canary, status: CanaryStatus): Promise<boolean> {
    if (same(status, canary.status ?? {})) return true;
    // A merge patch keeps what it does not name: a field the decision dropped (a lifted pause) is
    // removed with null.
    const removed = Object.keys(canary.status ?? {}).filter((k) => (status as Record<string, unknown>)[k] === undefined);
    try {
      const { body } = await this.client.patch<Canary>(at(CR.canaries, canary.metadata.namespace, canary.metadata.name, 'status'), {
        metadata: { resourceVersion: canary.metadata.resourceVersion },
        status: { ...status, ...Object.fromEntries(removed.map((k) => [k, null])) },
      });
      this.newest.remember(body);
      return true;
    } catch (err) {
      if (!isConflict(err)) throw err;
      // The next pass starts from their version, not the cache's.
      await this.newest.fetch(canary.metadata.namespace!, canary.metadata.name);
      return false;
    }
  }

  /** A name clash, said in the Canary's Promoted condition (written once per message). */
  async nameClash(canary: Canary, message: string, now: string): Promise<void> {
    const others = (canary.status?.conditions ?? []).filter((x) => x.type !== 'Promoted');
    const prev = canary.status?.conditions?.find((x) => x.type === 'Promoted');
    if (prev?.reason === 'NameClash' && prev.message === message) return;
    const condition = {
      type: 'Promoted' as const,
      status: 'False' as const,
      reason: 'NameClash',
      message,
      lastUpdateTime: now,
      lastTransitionTime: now,
    };
    await this.write(
      canary,
      withReadiness(
        { ...(canary.status ?? {}), phase: canary.status?.phase ?? 'Initializing', conditions: [...others, condition] },
        canary.spec.suspend === true,
        now,
      ),
    );
  }
}
