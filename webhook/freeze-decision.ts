// The freeze decision: a pure function of one AdmissionRequest and the webhook's flags.
// It never calls the apiserver, so admission stays fast and dry-run requests get the same answer.
import { annotations, objectName, shortRevision } from '../api/contract.js';
import { templateRevision } from '../api/revision.js';
import type { AdmissionRequest, Deployment } from './admission-types.js';

export interface FreezeFlags {
  /** Usernames whose writes pass unchanged (the controller's service account). */
  controllerUsers: string[];
}

export type Decision =
  /** `unexpected`: the webhook should never have been sent this (a misconfigured rule): worth a note in the log. */
  | { kind: 'passed'; reason: string; unexpected?: boolean }
  | { kind: 'frozen'; mutated: Deployment; warning: string }
  | { kind: 're-paused'; mutated: Deployment; warning: string }
  | { kind: 'refused'; code: number; message: string };

export type DecisionKind = Decision['kind'];

function isDeployment(value: unknown): value is Deployment {
  const d = value as Deployment | undefined;
  return typeof d === 'object' && d !== null && typeof d.metadata === 'object' && d.metadata !== null && typeof d.spec === 'object' && d.spec !== null;
}

function paused(d: Deployment): Deployment {
  return { ...d, spec: { ...d.spec, paused: true } };
}

export function decideFreeze(req: AdmissionRequest, flags: FreezeFlags): Decision {
  const { kind } = req;
  if (req.operation !== 'UPDATE' || kind.group !== 'apps' || kind.kind !== 'Deployment' || (req.subResource ?? '') !== '') {
    return { kind: 'passed', unexpected: true, reason: `not an UPDATE of an apps Deployment (${req.operation} ${kind.group}/${kind.version} ${kind.kind}${req.subResource ? `/${req.subResource}` : ''}); passed unchanged, check the webhook configuration's rules` };
  }
  if (!isDeployment(req.object) || !isDeployment(req.oldObject)) {
    throw new Error('the request carries no Deployment in object and oldObject');
  }
  const next = req.object;
  const prev = req.oldObject;
  const who = req.userInfo.username ?? '(unknown user)';
  if (flags.controllerUsers.includes(who)) return { kind: 'passed', reason: 'write by the sluice controller' };

  const name = objectName(next.metadata.name, next.metadata.namespace ?? req.namespace);
  // The stable revision is what the stored object says, never what this write claims: a forged
  // annotation in the same write must not make an untested template look released.
  const stable = prev.metadata.annotations?.[annotations.stableRevision];
  const canary = prev.metadata.annotations?.[annotations.canary] ?? next.metadata.annotations?.[annotations.canary] ?? next.metadata.name;
  const nextRev = templateRevision(next.spec.template);
  const prevRev = templateRevision(prev.spec.template);
  const templateChanged = nextRev !== prevRev;
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
  if (templateChanged && nextRev !== stable) {
    return {
      kind: 'frozen',
      mutated: paused(next),
      warning: `sluice: ${name} frozen at revision ${shortRevision(stable)}; revision ${shortRevision(nextRev)} will roll out through canary ${canary}`,
    };
  }
  // Unpausing (or any write leaving it unpaused) while the template is not the stable revision
  // would roll an untested template out to every pod.
  if (stable !== undefined && next.spec.paused !== true && nextRev !== stable) {
    return {
      kind: 're-paused',
      mutated: paused(next),
      warning:
        `sluice: ${name} stays paused: revision ${shortRevision(nextRev)} has not passed analysis ` +
        `(stable is ${shortRevision(stable)}); canary ${canary} releases it, or revert the template to resume at once`,
    };
  }
  return { kind: 'passed', reason: templateChanged ? 'template reverted to the stable revision' : 'pod template unchanged' };
}
