// sluice.dev/v1alpha1 CanaryAction: a person's request to act on one Canary's rollout (promote,
// abort, retry, pause, resume), kept apart from the Canary so that acting never edits a spec a
// GitOps tool owns, and so that RBAC can grant acting without granting editing
// (docs/operating.md, "Control actions"). Who asked is stamped at admission from the request's
// authenticated user, as the apiserver does for a CertificateSigningRequest; the client's own
// value is never believed.
import type { KubeObject } from '../lib/kube/client.js';
import { GROUP } from './contract.js';

export const ACTION_VERSION = 'v1alpha1';
export const ACTION_KIND = 'CanaryAction';
export const ACTION_REF = { group: GROUP, version: ACTION_VERSION, plural: 'canaryactions' } as const;

export const VERBS = ['promote', 'abort', 'retry', 'pause', 'resume', 'break-glass'] as const;
export type ActionVerb = (typeof VERBS)[number];

/** What each verb does, for help texts and the CRD's description. */
export const VERB_MEANING: Record<ActionVerb, string> = {
  promote: 'finish now: skip the remaining analysis steps and release the revision under test',
  abort: 'roll back now: traffic to the primary, the canary copy to zero; the primary pods are untouched',
  retry: 'analyse a Failed revision again, without changing the Deployment',
  pause: 'hold the analysis where it is (no step, no check); the freeze still holds',
  resume: 'go on with a paused analysis',
  'break-glass': 'let the revision under test through a closed change window or a stopped line (needs the breakglass right and a reason)',
};

/** The RBAC verb on canaryactions.sluice.dev that a break-glass needs, granted on its own (ClusterRole sluice-break-glass). */
export const BREAK_GLASS_VERB = 'breakglass';

export interface CanaryActionSpec {
  /** The Canary, in the action's namespace. */
  canary: string;
  action: ActionVerb;
  /** Free text, repeated in the Event. */
  reason?: string;
  /** Set at admission from the requesting user; anything a client sends here is overwritten. */
  username?: string;
  uid?: string;
  groups?: string[];
}

export type ActionResult = 'Applied' | 'Rejected';

export interface CanaryActionStatus {
  result?: ActionResult;
  message?: string;
  /** The Canary's phase after the action. */
  canaryPhase?: string;
  completionTime?: string;
}

export type CanaryAction = KubeObject & { spec: CanaryActionSpec; status?: CanaryActionStatus };

/** An action not acted on within this long is refused as stale: the rollout it was about has moved on. */
export const ACTION_EXPIRY_MS = 10 * 60_000;
/** Completed actions are deleted this long after they completed (their Events stay). */
export const ACTION_RETENTION_MS = 60 * 60_000;

export const isPending = (a: CanaryAction) => a.status?.result === undefined;

/** Oldest first, then by name: the order a Canary's pending actions are taken in. */
export function byAge(a: CanaryAction, b: CanaryAction): number {
  const t = (x: CanaryAction) => Date.parse(x.metadata.creationTimestamp ?? '') || 0;
  return t(a) - t(b) || a.metadata.name.localeCompare(b.metadata.name);
}
