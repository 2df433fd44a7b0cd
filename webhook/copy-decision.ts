// A canary copy written by the controller (POST /validate-copy): the copy of a Deployment some
// live Canary targets, owned by that Canary, running exactly that Deployment's pods (only the
// names of ConfigMaps and Secrets may differ: the copy reads snapshots of its target's). This
// webhook runs as another identity than the controller, so a stolen controller token cannot
// start a workload of its own choosing under a name that merely ends in -canary. A copy is first
// compared with a digest of its target's template kept in the webhook's cache of managed
// Deployments; only when that differs (the target is not managed yet, or the cache has not seen
// the template the user has just pushed) is the target read as last written (one GET). Under a
// wave of rollouts that GET, made while the apiserver waits on the webhook, took 300-400 ms
// (issue 31). A digest match can lag the target by as long as the webhook's watch does: a copy of
// a template the owner wrote just before, never one of the controller's choosing.
//
// Why not a ValidatingAdmissionPolicy with the namespace's Deployments as parameters: on the
// apiserver of Kubernetes 1.36 such a policy loses its parameters for good once its binding is
// deleted and created again (kubernetes/kubernetes#130887): after an uninstall and install every
// copy was refused, until the apiserver restarted (docs/security.md).

import { createHash } from 'node:crypto';
import { annotations as A, labels as L, objectName, values } from '../api/contract.js';
import { templatePart, templateRevision } from '../api/revision.js';
import { withoutSnapshots } from '../api/tracked-configs.js';
import { canonicalJson } from '../lib/canonical-json.js';
import type { AdmissionRequest } from './admission-types.js';
import type { Verdict } from './validate-decision.js';

export interface PodTemplateLike {
  metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export interface TargetLike {
  metadata?: { annotations?: Record<string, string> };
  spec?: { template?: PodTemplateLike; selector?: { matchLabels?: Record<string, string> } };
}

export interface CopySources {
  /** The uids of the live Canaries that target Deployment `deployment`; undefined while the caches fill. */
  canariesTargeting(namespace: string, deployment: string): string[] | undefined;
  /** The Deployment as last written, or undefined when there is none. */
  target(namespace: string, name: string): Promise<TargetLike | undefined>;
  /** templateDigest() of a managed Deployment's pod template as the cache last saw it, if it is cached. */
  cachedTemplateDigest?(namespace: string, name: string): string | undefined;
}

/**
 * What a copy must share with its target, as a digest: the pod spec with snapshot names read
 * back as the configs they copy, and the template's annotations (what copyDifferences compares).
 */
export function templateDigest(template: PodTemplateLike | undefined): string {
  const comparable = canonicalJson({ spec: withoutSnapshots(template?.spec), annotations: template?.metadata?.annotations ?? {} });
  return createHash('sha256').update(comparable).digest('base64url').slice(0, 22);
}

interface OwnerRef {
  kind?: string;
  apiVersion?: string;
  uid?: string;
  controller?: boolean;
}
interface CopyObject {
  metadata?: { name?: string; labels?: Record<string, string>; ownerReferences?: OwnerRef[] };
  spec?: { template?: PodTemplateLike };
}

const forbid = (message: string): Verdict => ({ allowed: false, code: 403, reason: 'Forbidden', message });

/** The fields of the copy's pod spec (and its annotations) that differ from its target's; empty when it runs the target's pods. */
export function copyDifferences(copy: PodTemplateLike | undefined, target: PodTemplateLike | undefined): string[] {
  const a = withoutSnapshots(copy?.spec);
  const b = withoutSnapshots(target?.spec);
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const differ = fields.filter((f) => canonicalJson(a[f]) !== canonicalJson(b[f])).map((f) => `spec.${f}`);
  if (canonicalJson(copy?.metadata?.annotations ?? {}) !== canonicalJson(target?.metadata?.annotations ?? {}))
    differ.push('metadata.annotations');
  return differ;
}

/**
 * Whether a baseline's template is its target's stable revision: the baseline's own labels (the
 * selector values with `-baseline`, the role) and snapshot names read back as the target's, the
 * result must hash to the revision the target's stable-revision annotation records. The webhook
 * cannot see the stable template itself (the target holds the candidate's), only that hash.
 */
export function baselineDifference(baseline: PodTemplateLike | undefined, target: TargetLike): string | undefined {
  const stable = templatePart(target.metadata?.annotations?.[A.stableRevision]);
  if (!stable) return 'its target has no released revision yet';
  const labels = { ...(baseline?.metadata?.labels ?? {}) };
  delete labels[L.role];
  for (const [k, v] of Object.entries(target.spec?.selector?.matchLabels ?? {})) if (labels[k] === `${v}-baseline`) labels[k] = v;
  const restored = { ...baseline, metadata: { ...baseline?.metadata, labels }, spec: withoutSnapshots(baseline?.spec) };
  return templateRevision(restored) === stable ? undefined : `its pod template is not the released revision ${stable}`;
}

const ROLES: Record<string, { suffix: string; what: string }> = {
  [values.canaryRole]: { suffix: '-canary', what: 'canary copy' },
  [values.baselineRole]: { suffix: '-baseline', what: 'baseline' },
};

export async function decideCopy(req: AdmissionRequest, controllerUsers: string[], sources: CopySources): Promise<Verdict> {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { allowed: true, reason: `${req.operation} is not checked` };
  if (!controllerUsers.includes(req.userInfo.username ?? ''))
    return { allowed: true, reason: 'not written by the controller (a person editing a copy is judged by /validate)' };
  const obj = (req.object ?? {}) as CopyObject;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('the request carries no Deployment in object');
  const ns = req.namespace ?? '';
  const name = req.name ?? obj.metadata?.name ?? '';
  const subject = `Deployment ${objectName(name, ns)}`;
  const roleLabel = obj.metadata?.labels?.[L.role] ?? '';
  const role = Object.hasOwn(ROLES, roleLabel) ? ROLES[roleLabel] : undefined;
  if (!role) return { allowed: true, reason: 'not a canary copy' };
  if (!name.endsWith(role.suffix)) return forbid(`${subject} is labelled ${L.role}=${roleLabel} but is not named <target>${role.suffix}`);
  const targetName = name.slice(0, -role.suffix.length);
  const uids = sources.canariesTargeting(ns, targetName);
  if (uids === undefined)
    return {
      allowed: false,
      code: 503,
      reason: 'ServiceUnavailable',
      message: `${subject}: sluice's webhook has not loaded the Canaries yet; retry in a few seconds`,
    };
  if (uids.length === 0)
    return forbid(`${subject} is not the ${role.what} of anything: no Canary in ${ns} targets Deployment ${targetName}`);
  const owner = (obj.metadata?.ownerReferences ?? []).find(
    (o) => o.kind === 'Canary' && o.apiVersion?.startsWith('flagger.app/') && o.controller,
  );
  if (owner?.uid === undefined || !uids.includes(owner.uid))
    return forbid(`${subject} must be owned (controller reference) by the Canary that targets Deployment ${targetName}`);
  const copied = role.suffix === '-canary' ? sources.cachedTemplateDigest?.(ns, targetName) : undefined;
  if (copied !== undefined && copied === templateDigest(obj.spec?.template))
    return { allowed: true, reason: `canary copy of ${targetName}, owned by its Canary, running its pods (as cached)` };
  const target = await sources.target(ns, targetName);
  if (!target) return forbid(`${subject} is the ${role.what} of Deployment ${targetName}, which does not exist`);
  if (role.suffix === '-baseline') {
    const why = baselineDifference(obj.spec?.template, target);
    if (why) return forbid(`${subject} must run the released revision of Deployment ${targetName}: ${why}`);
    return { allowed: true, reason: `baseline of ${targetName}, owned by its Canary, running its released revision` };
  }
  const differ = copyDifferences(obj.spec?.template, target.spec?.template);
  if (differ.length > 0)
    return forbid(
      `${subject} must run the pods of Deployment ${targetName}, only reading snapshots of its ConfigMaps and Secrets; ${differ.join(', ')} differ${differ.length === 1 ? 's' : ''}`,
    );
  return { allowed: true, reason: `canary copy of ${targetName}, owned by its Canary, running its pods` };
}
