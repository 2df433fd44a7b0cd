// The freeze decision: a pure function of one AdmissionRequest and the webhook's flags.
// It never calls the apiserver, so admission stays fast and dry-run requests get the same answer.
import { annotations, labels, objectName, shortRevision, targetBookkeeping, values } from '../api/contract.js';
import type { LabelSelector } from '../api/policy-types.js';
import { Revision, templatePart } from '../api/revision.js';
import type { AdmittedWorkload, WorkloadKind } from '../api/workload.js';
import { KINDS } from '../api/workload-kinds.js';
import type { AdmissionRequest } from './admission-types.js';
import { type FreezeHold, HOLDS } from './workload-freeze.js';

export interface FreezeFlags {
  /** Usernames whose writes pass unchanged (the controller's service account). */
  controllerUsers: string[];
}

/**
 * What a CREATE needs besides the request, from the webhook's caches (admission-cache.ts); an
 * UPDATE needs nothing (the stored object carries the stable revision).
 */
export interface FreezeContext {
  /** The Canary targeting this workload (of `kind`, Deployment by default), if any, and the revision it last released. */
  canaryFor(namespace: string, name: string, kind: WorkloadKind): { name: string; stableRevision?: string } | undefined;
  /** Ready pods of ReplicaSets the Deployment would adopt (its predecessor's, after an orphaning delete). */
  servingPods(namespace: string, deployment: string, selector: LabelSelector): number;
  /** Why a change window holds the workload's new revisions now (policy/change-windows.ts), if one does. */
  closedWindow?(namespace: string, labels: Record<string, string> | undefined): string | undefined;
}

const NO_CONTEXT: FreezeContext = { canaryFor: () => undefined, servingPods: () => 0 };

export type Decision =
  /** `unexpected`: the webhook should never have been sent this (a misconfigured rule): worth a note in the log. */
  | { kind: 'passed'; reason: string; unexpected?: boolean; warning?: string }
  /** Admitted as it is, carrying the label and annotations that put its later updates under the freeze. */
  | { kind: 'marked'; mutated: AdmittedWorkload; reason: string; warning?: string }
  | { kind: 'frozen'; mutated: AdmittedWorkload; warning: string }
  | { kind: 're-paused'; mutated: AdmittedWorkload; warning: string }
  | { kind: 'refused'; code: number; message: string };

export type DecisionKind = Decision['kind'];

function isAdmittedWorkload(value: unknown): value is AdmittedWorkload {
  const d = value as AdmittedWorkload | undefined;
  return (
    typeof d === 'object' &&
    d !== null &&
    typeof d.metadata === 'object' &&
    d.metadata !== null &&
    typeof d.spec === 'object' &&
    d.spec !== null
  );
}

/** `d` carrying what the webhook's objectSelector and the UPDATE freeze read. */
function marked(d: AdmittedWorkload, canary: string, stable: string): AdmittedWorkload {
  return {
    ...d,
    metadata: {
      ...d.metadata,
      labels: { ...d.metadata.labels, [labels.managed]: values.managed },
      annotations: { ...d.metadata.annotations, [annotations.stableRevision]: stable, [annotations.canary]: canary },
    },
  };
}

export function decideFreeze(req: AdmissionRequest, flags: FreezeFlags, ctx: FreezeContext = NO_CONTEXT): Decision {
  const { kind } = req;
  const hold = kind.group === 'apps' && (req.subResource ?? '') === '' ? HOLDS.get(kind.kind) : undefined;
  if (hold && req.operation === 'CREATE') return decideCreate(req, flags, ctx, hold);
  if (req.operation !== 'UPDATE' || !hold) {
    return {
      kind: 'passed',
      unexpected: true,
      reason: `not a CREATE of an apps Deployment or an UPDATE of an apps Deployment, StatefulSet or DaemonSet (${req.operation} ${kind.group}/${kind.version} ${kind.kind}${req.subResource ? `/${req.subResource}` : ''}); passed unchanged, check the webhook configuration's rules`,
    };
  }
  if (!isAdmittedWorkload(req.object) || !isAdmittedWorkload(req.oldObject)) {
    throw new Error(`the request carries no ${hold.kind} in object and oldObject`);
  }
  const prev = req.oldObject;
  const who = req.userInfo.username ?? '(unknown user)';
  if (flags.controllerUsers.includes(who)) return { kind: 'passed', reason: 'write by the sluice controller' };
  const { workload: next, restored } = keepBookkeeping(req.object, prev);
  const decided = decideUpdate(req, hold, next, prev, ctx);
  if (restored.length === 0) return decided;
  // `kubectl rollout undo` copies a ReplicaSet's annotations onto the Deployment, sluice's stale
  // bookkeeping among them: those are put back as stored, so the undo goes through (and is frozen
  // or released like any template change) instead of being refused for touching them.
  const warning = `sluice: kept ${restored.join(', ')} on ${objectName(next.metadata.name, next.metadata.namespace ?? req.namespace)} as sluice recorded them; only its controller changes them`;
  if (decided.kind === 'passed') return { kind: 'marked', mutated: next, reason: decided.reason, warning };
  if (decided.kind === 'frozen' || decided.kind === 're-paused')
    return { ...decided, warning: `${decided.warning}; ${warning.slice('sluice: '.length)}` };
  return decided;
}

/** `next` with sluice's bookkeeping annotations as `prev` stores them, and which ones that changed. */
function keepBookkeeping(next: AdmittedWorkload, prev: AdmittedWorkload): { workload: AdmittedWorkload; restored: string[] } {
  const was = prev.metadata.annotations ?? {};
  const now = { ...(next.metadata.annotations ?? {}) };
  const restored = targetBookkeeping.filter((a) => was[a] !== now[a]);
  if (restored.length === 0) return { workload: next, restored };
  for (const a of restored) {
    if (was[a] === undefined) delete now[a];
    else now[a] = was[a];
  }
  return { workload: { ...next, metadata: { ...next.metadata, annotations: now } }, restored };
}

function decideUpdate(
  req: AdmissionRequest,
  hold: FreezeHold,
  next: AdmittedWorkload,
  prev: AdmittedWorkload,
  ctx: FreezeContext,
): Decision {
  const name = objectName(next.metadata.name, next.metadata.namespace ?? req.namespace);
  // The stable revision is what the stored object says, never what this write claims: a forged
  // annotation in the same write must not make an untested template look released.
  const stable = prev.metadata.annotations?.[annotations.stableRevision];
  // The write's own annotation only names it (keepBookkeeping already put the stored one back).
  const canary =
    prev.metadata.annotations?.[annotations.canary] ??
    (req.object as AdmittedWorkload).metadata.annotations?.[annotations.canary] ??
    next.metadata.name;
  const nextRevision = Revision.of(next.spec.template);
  const nextRev = nextRevision.id;
  const templateChanged = nextRev !== Revision.of(prev.spec.template).id;
  const released = nextRevision.isReleased(stable);
  const promoting = prev.metadata.annotations?.[annotations.promoting];

  if (templateChanged && promoting !== undefined) {
    return {
      kind: 'refused',
      code: 409,
      message:
        `sluice: ${name} is releasing revision ${shortRevision(promoting)} to its primary pods; ` +
        `template changes are refused until the release finishes (watch canary ${canary}), then retry`,
    };
  }
  if (templateChanged && !released) {
    const why = hold.unfreezable?.(next, prev);
    if (why) {
      return {
        kind: 'refused',
        code: 422,
        message: `sluice: ${hold.kind} ${name} is managed by canary ${canary}, but its template change cannot be held back: ${why}`,
      };
    }
    // Said at once, so the person pushing knows it will wait: the freeze is the same either way.
    const closed = ctx.closedWindow?.(next.metadata.namespace ?? req.namespace ?? '', next.metadata.labels);
    const when = closed ? `; ${closed}, and its analysis starts once it opens (a rollback is not held)` : '';
    return {
      kind: 'frozen',
      mutated: hold.freeze(next, prev),
      warning: `sluice: ${name} frozen at revision ${shortRevision(stable)}; revision ${shortRevision(nextRev)} will roll out through canary ${canary}${when}`,
    };
  }
  // Unpausing (or any write leaving it unpaused) while the template is not the stable revision
  // would roll an untested template out to every pod.
  if (stable !== undefined && !released && hold.loosens(next, prev)) {
    return {
      kind: 're-paused',
      mutated: hold.hold(next, prev),
      warning:
        `sluice: ${name} stays ${KINDS[hold.kind].heldWord}: revision ${shortRevision(nextRev)} has not passed analysis ` +
        `(stable is ${shortRevision(stable)}); canary ${canary} releases it, or revert the template to resume at once`,
    };
  }
  return { kind: 'passed', reason: templateChanged ? 'template reverted to the stable revision' : 'pod template unchanged' };
}

/**
 * A workload created under a name a Canary targets: usually the same one deleted with
 * `--cascade=orphan` and applied again, its predecessor's pods still serving. Its new owner adopts
 * them (a Deployment its ReplicaSets, a StatefulSet or DaemonSet the pods themselves) and would
 * then roll its template onto them, unanalysed. So it is frozen like an UPDATE: created held, at
 * the Canary's stable revision, and the new template goes through the Canary. A Deployment with
 * no pod left serving (counted from the ReplicaSets it would adopt, in any selector form) starts
 * as it is, with a warning: freezing would hold it at zero pods for the whole analysis. A
 * StatefulSet or DaemonSet is always created frozen (the webhook keeps no cache of pods to count
 * them): its partition or OnDelete holds back only pods that already exist, so new ones start
 * either way (docs/webhook.md, "Recreated workloads").
 */
function decideCreate(req: AdmissionRequest, flags: FreezeFlags, ctx: FreezeContext, hold: FreezeHold): Decision {
  if (!isAdmittedWorkload(req.object)) throw new Error(`the request carries no ${hold.kind} in object`);
  const next = req.object;
  const who = req.userInfo.username ?? '(unknown user)';
  if (flags.controllerUsers.includes(who)) return { kind: 'passed', reason: 'write by the sluice controller' };
  const ns = next.metadata.namespace ?? req.namespace ?? '';
  const workload = next.metadata.name ?? req.name ?? '';
  const canary = ctx.canaryFor(ns, workload, hold.kind);
  if (!canary) return { kind: 'passed', reason: `no Canary targets this ${hold.kind}` };
  const name = objectName(workload, ns);
  const stable = templatePart(canary.stableRevision);
  // Before the Canary first initialised, whatever is created becomes its stable revision.
  if (stable === undefined) return { kind: 'passed', reason: `canary ${canary.name} has not released a revision yet` };
  const nextRevision = Revision.of(next.spec.template);
  const nextRev = nextRevision.id;
  if (nextRevision.isReleased(stable))
    return {
      kind: 'marked',
      mutated: marked(next, canary.name, stable),
      reason: `created at the stable revision of canary ${canary.name}`,
    };
  const why = hold.unfreezable?.(next);
  if (why) {
    return {
      kind: 'refused',
      code: 422,
      message: `sluice: ${hold.kind} ${name} is targeted by canary ${canary.name}, but its template cannot be held back: ${why}`,
    };
  }
  if (hold.countsPredecessorPods) {
    const selector = (next.spec as { selector?: LabelSelector }).selector;
    const hasSelector = Object.keys(selector?.matchLabels ?? {}).length > 0 || (selector?.matchExpressions ?? []).length > 0;
    const serving = hasSelector ? ctx.servingPods(ns, workload, selector!) : 0;
    if (serving === 0) {
      return {
        kind: 'passed',
        reason: 'recreated with no pod of its predecessor serving',
        warning:
          `sluice: ${name} is created at revision ${shortRevision(nextRev)}, not the stable ${shortRevision(stable)} of canary ${canary.name}, ` +
          `and no pod of the stable revision is left to serve: it starts unanalysed, and canary ${canary.name} analyses it now`,
      };
    }
    return {
      kind: 'frozen',
      mutated: hold.freeze(marked(next, canary.name, stable)),
      warning:
        `sluice: ${name} recreated while ${serving} pod(s) of its stable revision ${shortRevision(stable)} still serve: ` +
        `created ${KINDS[hold.kind].heldWord} on them; revision ${shortRevision(nextRev)} will roll out through canary ${canary.name}`,
    };
  }
  return {
    kind: 'frozen',
    mutated: hold.freeze(marked(next, canary.name, stable)),
    warning:
      `sluice: ${hold.kind} ${name} created at revision ${shortRevision(nextRev)}, not the stable ${shortRevision(stable)} of canary ${canary.name}: ` +
      `created frozen, so pods of its predecessor that it adopts keep the stable revision; revision ${shortRevision(nextRev)} will roll out through canary ${canary.name}`,
  };
}
