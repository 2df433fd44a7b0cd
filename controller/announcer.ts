// What a decision says to the world beyond the Kubernetes objects, after its status is written:
// alerts (through the notifier), event hooks for every event, and post-rollout hooks once a
// rollout ends. None can change the outcome, so none holds up the reconcile pass.
import { hooksOf } from '../api/canary-analysis.js';
import type { Canary, CanaryStatus } from '../api/flagger-types.js';
import { phase as phaseFacts } from '../api/phases.js';
import type { Logger } from '../lib/logger.js';
import type { Notifier } from './alerts/notifier.js';
import type { CanaryEvent } from './check-results.js';
import { callHook, hookPayload } from './hooks/call-hook.js';

/** Passes' worth of event/post-rollout hook calls one Canary may have waiting. */
const MAX_PENDING_ANNOUNCEMENTS = 50;

export class Announcer {
  /** Per Canary, the tail of its event/post-rollout hook calls (so they arrive in order) and how many passes wait in it. */
  private readonly announcing = new Map<string, { tail: Promise<void>; pending: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly notifier?: Notifier,
  ) {}

  /**
   * After the status is written: alerts go out, event hooks get every event, post-rollout hooks
   * run once the rollout ends (Succeeded or Failed). None can change the outcome, so they run in
   * the background, one Canary's calls in order, and a failure is logged.
   */
  announce(canary: Canary, next: CanaryStatus, events: CanaryEvent[]): void {
    const key = `${canary.metadata.namespace}/${canary.metadata.name}`;
    const ended = next.phase !== canary.status?.phase && phaseFacts(next.phase).outcome;
    const eventHooks = hooksOf(canary, 'event');
    const postHooks = ended ? hooksOf(canary, 'post-rollout') : [];
    const view: Canary = { ...canary, status: next };
    this.notifier?.notify(view, events);
    if ((eventHooks.length === 0 || events.length === 0) && postHooks.length === 0) return;
    // A hook that hangs costs its timeout per call; behind it, calls queue up. Past a bound the
    // newest are dropped (and said so) rather than held in memory without end.
    const queue = this.announcing.get(key) ?? { tail: Promise.resolve(), pending: 0 };
    if (queue.pending >= MAX_PENDING_ANNOUNCEMENTS) {
      this.logger.warn(
        `event/post-rollout hooks are ${queue.pending} passes behind (a hook is slow or hanging); these events were not sent to them`,
        { key },
      );
      return;
    }
    queue.pending++;
    queue.tail = queue.tail
      .then(async () => {
        for (const ev of events) {
          for (const h of eventHooks) {
            const r = await callHook(
              h,
              hookPayload(view, h, next.phase, { eventMessage: ev.message, eventType: ev.type, timestamp: String(Date.now()) }),
            );
            if (!r.ok) this.logger.warn(`event hook ${h.name} ${r.message}`, { key });
          }
        }
        for (const h of postHooks) {
          const r = await callHook(h, hookPayload(view, h, next.phase));
          if (!r.ok) this.logger.warn(`post-rollout hook ${h.name} ${r.message}`, { key });
        }
      })
      .finally(() => {
        if (--queue.pending === 0) this.announcing.delete(key);
      });
    this.announcing.set(key, queue);
  }
}
