// The validating decision (POST /validate): cluster policy constraints on Canaries, and sluice's
// bookkeeping (generated objects, generated Canaries, the contract's labels and annotations on a
// target) locked to the controller. Pure: the policies come from the webhook's caches, so admission
// never waits on the apiserver and a dry-run gets the same answer.

import { ACTION_KIND } from '../api/canary-action.js';
import { limitProblems } from '../api/canary-limits.js';
import { annotations as A, GROUP, labels as L, objectName, targetBookkeeping, values } from '../api/contract.js';
import type { CanarySpec } from '../api/flagger-types.js';
import { type ChangeWindows, type ClusterCanaryPolicy, POLICY_KIND } from '../api/policy-types.js';
import { routeKindFacts } from '../api/route-kinds.js';
import { isWorkloadKind } from '../api/workload.js';
import { windowProblems, windowState } from '../policy/change-windows.js';
import { actionRefusal, policyViolations } from '../policy/constraints.js';

import type { AdmissionRequest } from './admission-types.js';

export interface ValidateContext {
  controllerUsers: string[];
  /** Policies whose rules hold in a namespace; undefined while the caches are still filling. */
  policiesFor: (namespace: string) => ClusterCanaryPolicy[] | undefined;
  /** Whether a Canary exists (per the cache); decides whether a target's lock still has an owner. */
  canaryExists: (namespace: string, name: string) => boolean;
}

export type Verdict =
  | { allowed: true; reason: string }
  | { allowed: false; code: number; reason: 'Invalid' | 'Forbidden' | 'ServiceUnavailable'; message: string };

/** Labels that tie a generated object to its Canary (generated-objects.ts writes them). */
const GENERATED_LABELS = [L.managedBy, L.canaryName, L.role];

interface Meta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}
interface Obj {
  kind?: string;
  metadata?: Meta;
  spec?: unknown;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const allow = (reason: string): Verdict => ({ allowed: true, reason });
const forbid = (message: string): Verdict => ({ allowed: false, code: 403, reason: 'Forbidden', message });
const invalid = (message: string): Verdict => ({ allowed: false, code: 422, reason: 'Invalid', message });
/** The caches an answer needs are still filling: a retryable refusal, never a guess. */
const notLoaded = (subject: string, what: string): Verdict => ({
  allowed: false,
  code: 503,
  reason: 'ServiceUnavailable',
  message: `${subject}: sluice's webhook has not loaded ${what} yet; retry in a few seconds`,
});
const numbered = (items: string[]) => items.map((b, i) => `${i + 1}) ${b}`).join('; ');

function asObject(value: unknown, what: string): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`the request carries no ${what}`);
  return value as Obj;
}

export function decideValidate(req: AdmissionRequest, ctx: ValidateContext): Verdict {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return allow(`${req.operation} is not checked`);
  if ((req.subResource ?? '') !== '') return allow(`subresource ${req.subResource} is not checked`);
  const obj = asObject(req.object, 'object');
  const old = req.operation === 'UPDATE' ? asObject(req.oldObject, 'oldObject') : undefined;
  const ns = req.namespace ?? obj.metadata?.namespace ?? '';
  const name = req.name ?? obj.metadata?.name ?? '';
  const controller = ctx.controllerUsers.includes(req.userInfo.username ?? '');
  if (req.kind.group === 'flagger.app' && req.kind.kind === 'Canary') return canary(obj, old, ns, name, controller, ctx);
  if (req.kind.group === GROUP && req.kind.kind === ACTION_KIND && req.operation === 'CREATE') return action(obj, ns, name, ctx);
  if (req.kind.group === GROUP && req.kind.kind === POLICY_KIND) return policy(obj, name);
  if (!old || controller) return allow('written by the controller, or a creation');
  const generatedBy = old.metadata?.labels?.[L.canaryName];
  if (old.metadata?.labels?.[L.managedBy] === values.managedBy && generatedBy) {
    return generatedObject(req.kind.kind, obj, old, ns, name, generatedBy);
  }
  if (isWorkloadKind(req.kind.kind) && old.metadata?.labels?.[L.managed] === 'true') return target(req.kind.kind, obj, old, ns, name, ctx);
  return allow('not an object sluice keeps');
}

function canary(obj: Obj, old: Obj | undefined, ns: string, name: string, controller: boolean, ctx: ValidateContext): Verdict {
  const subject = `Canary ${objectName(name, ns)}`;
  // Finalizer removal and other bookkeeping on a Canary being deleted must never be blocked.
  if (obj.metadata?.deletionTimestamp) return allow('being deleted');
  const policyNow = obj.metadata?.labels?.[L.policy];
  const policyBefore = old?.metadata?.labels?.[L.policy];
  const specChanged = !old || !same(old.spec, obj.spec);
  if (!controller) {
    if (policyNow !== undefined && policyBefore === undefined) {
      return forbid(
        `${subject}: the label ${L.policy} is set only by sluice's controller, on the Canaries a ClusterCanaryPolicy generates; remove it`,
      );
    }
    if (policyBefore !== undefined && policyNow !== undefined && (specChanged || policyNow !== policyBefore)) {
      return forbid(
        `${subject} is generated by ClusterCanaryPolicy ${policyBefore} and changed only by sluice's controller. Change the policy's canaryTemplate, ` +
          `or take this Canary over by hand first: kubectl label canary ${name} -n ${ns} ${L.policy}-`,
      );
    }
  }
  if (!specChanged) return allow('spec unchanged');
  const limits = limitProblems((obj.spec ?? {}) as CanarySpec, name);
  if (limits.length > 0) return invalid(`${subject} passes sluice's limits: ${numbered(limits)}`);
  const policies = ctx.policiesFor(ns);
  if (policies === undefined) return notLoaded(subject, 'the cluster policies');
  const broken = policyViolations((obj.spec ?? {}) as CanarySpec, policies, ns);
  if (broken.length === 0) return allow(policies.length > 0 ? `meets ${policies.length} policy(ies)` : 'no policy covers the namespace');
  return invalid(`${subject} breaks cluster policy (${broken.length} violation${broken.length > 1 ? 's' : ''}): ${numbered(broken)}`);
}

/**
 * A ClusterCanaryPolicy's change windows (policy/change-windows.ts): what the CRD's schema cannot
 * check (the time zone, windows that never open again) is refused here, so a freeze is never
 * silently broken or silently permanent. Overlaps are said in the policy's status.
 */
function policy(obj: Obj, name: string): Verdict {
  const windows = (obj.spec as { changeWindows?: ChangeWindows } | undefined)?.changeWindows;
  if (!windows) return allow('no change windows');
  const subject = `ClusterCanaryPolicy ${name}`;
  const problems = windowProblems(windows);
  if (problems.length > 0) return invalid(`${subject}: ${numbered(problems)}`);
  const state = windowState([{ policy: name, windows }], new Date());
  if (!state.open && state.until === undefined)
    return invalid(
      `${subject}: its changeWindows never open again as written (closed now by ${state.closure.kind} window(s) ${state.closure.window}), so nothing in scope could ever be released; to halt every rollout until further notice, use spec.stopTheLine`,
    );
  return allow('change windows can be evaluated');
}

/** A person's CanaryAction: refused at once when a cluster policy covering the namespace does not allow it. */
function action(obj: Obj, ns: string, name: string, ctx: ValidateContext): Verdict {
  const spec = (obj.spec ?? {}) as { action?: unknown; canary?: unknown };
  const policies = ctx.policiesFor(ns);
  if (policies === undefined) return notLoaded(`CanaryAction ${objectName(name, ns)}`, 'the cluster policies');
  const why = actionRefusal(String(spec.action), policies);
  if (why) return forbid(`CanaryAction ${spec.action} of Canary ${objectName(String(spec.canary), ns)}: ${why}`);
  return allow('allowed by cluster policy');
}

function generatedObject(kind: string, obj: Obj, old: Obj, ns: string, name: string, owner: string): Verdict {
  const changed: string[] = [];
  // On a route only sluice's part of it is locked (api/route-kinds.ts): one may add a rule of one's
  // own. A route is named after its Canary's apex Service, the name its rules are judged by.
  const route = routeKindFacts(kind);
  const locked = (o: Obj) => (route ? route.managedPart(o, name) : o.spec);
  if (!same(locked(old), locked(obj))) changed.push(route ? "its routing to the Canary's Services" : 'spec');
  for (const l of GENERATED_LABELS) if (old.metadata?.labels?.[l] !== obj.metadata?.labels?.[l]) changed.push(`label ${l}`);
  // Metadata outside sluice's labels stays open: the Deployment controller annotates revisions and
  // the garbage collector edits owner references and finalizers.
  if (changed.length === 0) return allow('no change to what sluice generates');
  return forbid(
    `${kind} ${objectName(name, ns)} is generated by Canary ${objectName(owner, ns)} and changed only by sluice's controller (you changed ${changed.join(', ')}); ` +
      `change the Canary instead, or suspend it (spec.suspend: true)`,
  );
}

function target(kind: string, obj: Obj, old: Obj, ns: string, name: string, ctx: ValidateContext): Verdict {
  const changed: string[] = [];
  if (old.metadata?.labels?.[L.managed] !== obj.metadata?.labels?.[L.managed]) changed.push(`label ${L.managed}`);
  for (const a of targetBookkeeping) if (old.metadata?.annotations?.[a] !== obj.metadata?.annotations?.[a]) changed.push(`annotation ${a}`);
  if (changed.length === 0) return allow('contract labels and annotations unchanged');
  const owner = old.metadata?.annotations?.[A.canary];
  // A lock whose Canary is gone (its finalizer forced away) would hold forever: let a person clear it.
  if (owner === undefined || !ctx.canaryExists(ns, owner))
    return allow(`contract changed, but no Canary ${owner ?? ''} owns the ${kind} any more`);
  return forbid(
    `${kind} ${objectName(name, ns)}: ${changed.join(', ')} ${changed.length > 1 ? 'are' : 'is'} sluice's record of the rollout owned by Canary ${objectName(owner, ns)}, changed only by its controller. ` +
      `To stop sluice managing this ${kind}, delete the Canary: kubectl delete canary ${owner} -n ${ns}`,
  );
}
