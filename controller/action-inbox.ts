// The CanaryActions waiting for one Canary (api/canary-action.ts): which one the next decision
// takes, their outcome written back on them, and their removal an hour after. The decision itself
// is the state machine's (act() in state-machine.ts); this is the bookkeeping around it.

import {
  ACTION_EXPIRY_MS,
  ACTION_REF,
  ACTION_RETENTION_MS,
  type ActionResult,
  BREAK_GLASS_VERB,
  byAge,
  type CanaryAction,
  type CanaryActionStatus,
  isPending,
  VERBS,
} from '../api/canary-action.js';
import { GROUP, objectName } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import type { ClusterCanaryPolicy } from '../api/policy-types.js';
import { at, isNotFound, type KubeObject, type ObjectClient } from '../lib/kube/client.js';
import { namespaced, type ObjectCache } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import { actionRefusal } from '../policy/constraints.js';
import type { EventRecorder } from './event-recorder.js';
import type { ActionRequest } from './state-machine.js';

const SAR_REF = { group: 'authorization.k8s.io', version: 'v1', plural: 'subjectaccessreviews' } as const;

export class ActionInbox {
  constructor(
    private readonly client: ObjectClient,
    private readonly cache: ObjectCache<CanaryAction>,
    private readonly events: EventRecorder,
    private readonly logger: Logger,
  ) {}

  private of(ns: string, canary: string): CanaryAction[] {
    return namespaced(this.cache, ns)
      .filter((a) => a.spec?.canary === canary)
      .sort(byAge);
  }

  /** Whether actions still wait for this Canary (after the one this pass takes). */
  waiting(ns: string, canary: string): boolean {
    return this.of(ns, canary).some(isPending);
  }

  /**
   * The oldest pending action the state machine should decide now. On the way: an action the
   * Canary's status already records as taken only gets its own status written (the pass that took
   * it stopped before); a stale one, or one no admission stamped with a user, is refused here.
   */
  async next(canary: Canary, now: Date, policies: ClusterCanaryPolicy[] = []): Promise<ActionRequest | undefined> {
    const ns = canary.metadata.namespace!;
    for (const a of this.of(ns, canary.metadata.name).filter(isPending)) {
      const last = canary.status?.lastAction;
      if (last?.name === a.metadata.name) {
        await this.complete(a, last.result, last.message, canary.status?.phase, now);
        continue;
      }
      const age = now.getTime() - (Date.parse(a.metadata.creationTimestamp ?? '') || now.getTime());
      const problem = !(VERBS as readonly string[]).includes(a.spec.action)
        ? `unknown action "${String(a.spec.action)}"; one of ${VERBS.join(', ')}`
        : !a.spec.username
          ? 'no requesting user was recorded at admission (was it created while sluice-webhook was not called?); create it again'
          : age > ACTION_EXPIRY_MS
            ? `not acted on within ${ACTION_EXPIRY_MS / 60_000} minutes of being asked (the controller was away); the rollout may have moved on, so ask again if it is still wanted`
            : // Refused at admission too; here for an action admitted before the policy, or while the webhook was away.
              (actionRefusal(a.spec.action, policies) ?? (a.spec.action === 'break-glass' ? await this.breakGlassRefusal(a) : undefined));
      if (problem) {
        await this.refuse(canary, a, problem, now);
        continue;
      }
      return { name: a.metadata.name, verb: a.spec.action, by: a.spec.username!, reason: a.spec.reason };
    }
    return undefined;
  }

  /**
   * A break-glass needs a reason and the breakglass right, which sluice-break-glass-right (a
   * ValidatingAdmissionPolicy) checked at admission; asked again of the apiserver for the user
   * admission recorded, in case the action was admitted while that policy was not installed.
   */
  private async breakGlassRefusal(a: CanaryAction): Promise<string | undefined> {
    if (!a.spec.reason?.trim()) return 'a break-glass needs a reason (kubectl sluice break-glass NAME --reason "...")';
    const review = await this.client.create<KubeObject & { status?: { allowed?: boolean } }>(SAR_REF, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: a.spec.username,
        ...(a.spec.uid ? { uid: a.spec.uid } : {}),
        groups: a.spec.groups ?? [],
        resourceAttributes: { group: GROUP, resource: ACTION_REF.plural, verb: BREAK_GLASS_VERB, namespace: a.metadata.namespace },
      },
    });
    return review.status?.allowed === true
      ? undefined
      : `${a.spec.username} may not break glass in namespace ${a.metadata.namespace}: it needs the ${BREAK_GLASS_VERB} right on canaryactions.sluice.dev (ClusterRole sluice-break-glass)`;
  }

  private async refuse(canary: Canary, a: CanaryAction, why: string, now: Date): Promise<void> {
    const by = a.spec.username ?? 'an unknown user';
    this.events.record(canary, {
      type: 'Warning',
      message: `Refused ${a.spec.action} of ${objectName(canary.metadata.name, canary.metadata.namespace)} requested by ${by}: ${why}`,
    });
    await this.complete(a, 'Rejected', why, canary.status?.phase, now);
  }

  /** An action's outcome, on its status subresource. */
  async complete(a: CanaryAction, result: ActionResult, message: string, canaryPhase: string | undefined, now: Date): Promise<void> {
    const status: CanaryActionStatus = { result, message, canaryPhase: canaryPhase ?? '', completionTime: now.toISOString() };
    try {
      await this.client.patch(at(ACTION_REF, a.metadata.namespace, a.metadata.name, 'status'), { status });
    } catch (err) {
      // Deleted meanwhile: its Event says what happened.
      if (!isNotFound(err)) throw err;
    }
  }

  /** By name, once the state machine has decided it. */
  async completeNamed(ns: string, name: string, result: ActionResult, message: string, canaryPhase: string | undefined, now: Date) {
    const a = this.cache.get(ns, name);
    if (a && isPending(a)) await this.complete(a, result, message, canaryPhase, now);
  }

  /** Actions for a Canary that does not exist: refused, so whoever waits on them hears why. */
  async orphaned(ns: string, canary: string, now: Date): Promise<void> {
    for (const a of this.of(ns, canary).filter(isPending))
      await this.complete(a, 'Rejected', `no Canary ${objectName(canary, ns)}`, undefined, now);
  }

  /** Completed actions are removed an hour after; the Events they caused remain. */
  async prune(ns: string, canary: string, now: Date): Promise<void> {
    for (const a of this.of(ns, canary)) {
      const done = Date.parse(a.status?.completionTime ?? '');
      if (!Number.isFinite(done) || now.getTime() - done < ACTION_RETENTION_MS) continue;
      await this.client.delete(at(ACTION_REF, ns, a.metadata.name));
      this.logger.debug('completed action removed', { key: `${ns}/${canary}`, action: a.metadata.name });
    }
  }
}
