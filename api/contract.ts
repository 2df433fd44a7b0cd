// The contract between the webhook and the controller: every label, annotation and name either
// side reads or writes. Nothing else may spell these strings.

export const GROUP = 'sluice.dev';

export const labels = {
  /** On a target Deployment: the webhook's objectSelector; set by the controller at bootstrap. */
  managed: `${GROUP}/managed`,
  /** On the canary copy and its pods. */
  role: `${GROUP}/role`,
  /** On a Namespace: opt-in for cluster policy. */
  rollouts: `${GROUP}/rollouts`,
  /** On a Canary generated from a ClusterCanaryPolicy: the policy's name. Set by the controller only. */
  policy: `${GROUP}/policy`,
} as const;

export const annotations = {
  /** Hash of the template the primary pods run. */
  stableRevision: `${GROUP}/stable-revision`,
  /** Name of the Canary that owns the rollout. */
  canary: `${GROUP}/canary`,
  /** The revision being released; while present, template changes are refused. */
  promoting: `${GROUP}/promoting`,
  /** On the canary copy: the revision of the user's template it runs. */
  revision: `${GROUP}/revision`,
} as const;

export const values = {
  managed: 'true',
  canaryRole: 'canary',
  rolloutsEnabled: 'enabled',
} as const;

/** Names of generated objects (docs/design.md, "Objects"). */
export const names = {
  canaryDeployment: (target: string) => `${target}-canary`,
  canaryHpa: (target: string) => `${target}-canary`,
  primaryService: (apex: string) => `${apex}-primary`,
  canaryService: (apex: string) => `${apex}-canary`,
  apexService: (apex: string) => apex,
  httpRoute: (apex: string) => apex,
};

/** `name.namespace`, the form every message uses to name an object (as Flagger does). */
export const objectName = (name: string, namespace: string | undefined) => (namespace ? `${name}.${namespace}` : name);

/** Shortened revision for messages: enough to tell revisions apart at a glance. */
export const shortRevision = (rev: string | undefined) => (rev ? `${rev.slice(0, 10)}…` : 'unknown');

/** A route rule is sluice's when it routes to the Canary's primary or canary Service. */
export function isManagedRule(rule: { backendRefs?: { name?: string }[] }, apex: string): boolean {
  return (rule.backendRefs ?? []).some((b) => b.name === names.primaryService(apex) || b.name === names.canaryService(apex));
}
