// The contract between the webhook and the controller: every label, annotation and name either
// side reads or writes. Nothing else may spell these strings.

export const GROUP = 'sluice.dev';

/** What every sluice label and annotation key starts with. */
export const KEY_PREFIX = `${GROUP}/`;

export const labels = {
  /** On a target Deployment: the webhook's objectSelector; set by the controller at bootstrap. */
  managed: `${GROUP}/managed`,
  /** On the canary copy and its pods. */
  role: `${GROUP}/role`,
  /** On a Namespace: opt-in for cluster policy. */
  rollouts: `${GROUP}/rollouts`,
  /** On a Canary generated from a ClusterCanaryPolicy: the policy's name. Set by the controller only. */
  policy: `${GROUP}/policy`,
  /** On every generated object: which Canary it belongs to (ownerReferences say it too; labels are selectable). */
  canaryName: `${GROUP}/canary-name`,
  /** On a tracked ConfigMap or Secret, set by the controller so its informer selects only those. */
  tracked: `${GROUP}/tracked`,
  /** The recommended label, on every generated object (value values.managedBy). */
  managedBy: 'app.kubernetes.io/managed-by',
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
  /** On the HTTPRoute: hash of the spec sluice last wrote, so unchanged routes cost no write despite apiserver defaults. */
  routeHash: `${GROUP}/route-hash`,
  /** On a config snapshot: the ConfigMap or Secret it copies. */
  snapshotOf: `${GROUP}/snapshot-of`,
  /** On the target Deployment: refKey → snapshot name its primary pods are pinned to (names only). */
  stableConfigs: `${GROUP}/stable-configs`,
  /** On the target's pod template: the config hash the primary pods run; changing it rolls them. Not part of the revision. */
  configRevision: `${GROUP}/config-revision`,
  /** On a frozen DaemonSet: the user's own updateStrategy (JSON), set aside while OnDelete holds the template back. */
  heldStrategy: `${GROUP}/held-update-strategy`,
  /** On a DaemonSet under analysis: the nodes (comma-separated) whose pods run the candidate; written by the controller only. */
  canaryNodes: `${GROUP}/canary-nodes`,
  /**
   * On a MetricTemplate or AlertProvider with a secretRef: the namespaces (comma-separated, or *)
   * whose Canaries may use it, and so its credentials. Set by its owners; absent: its own namespace only.
   */
  sharedWith: `${GROUP}/shared-with`,
  /**
   * On a Canary: how many revisions released before the current one a change may go back to
   * without analysis (docs/operating.md, "Fast rollback"); 0 or absent: off. An annotation, so
   * Flagger's schema stays as it is.
   */
  fastRollback: `${GROUP}/fast-rollback`,
} as const;

/** The annotations on a target that record its rollout: written by the controller only (the webhooks keep them so). */
export const targetBookkeeping = [
  annotations.stableRevision,
  annotations.canary,
  annotations.promoting,
  annotations.stableConfigs,
  annotations.canaryNodes,
] as const;

/** Whether the owners of `obj` (a MetricTemplate or AlertProvider) let Canaries of `namespace` use its credentials. */
export function sharesWith(obj: { metadata: { namespace?: string; annotations?: Record<string, string> } }, namespace: string): boolean {
  if (obj.metadata.namespace === namespace) return true;
  const list = obj.metadata.annotations?.[annotations.sharedWith];
  if (!list) return false;
  return list
    .split(',')
    .map((x) => x.trim())
    .some((x) => x === '*' || x === namespace);
}

export const values = {
  managed: 'true',
  canaryRole: 'canary',
  /** A fresh copy of the stable revision a CanaryJudge compares the candidate with (docs/analysis.md). */
  baselineRole: 'baseline',
  rolloutsEnabled: 'enabled',
  tracked: 'true',
  managedBy: 'sluice',
} as const;

/** On a Canary: held until the target has been handed back (controller/reconciler.ts, finalize). */
export const FINALIZER = `${GROUP}/finalizer`;

/** On every generated object and generated Canary. */
export const MANAGED_BY = { [labels.managedBy]: values.managedBy } as const;

/** Names of generated objects (docs/design.md, "Objects"). */
export const names = {
  canaryCopy: (target: string) => `${target}-canary`,
  canaryHpa: (target: string) => `${target}-canary`,
  baselineCopy: (target: string) => `${target}-baseline`,
  baselineService: (apex: string) => `${apex}-baseline`,
  primaryService: (apex: string) => `${apex}-primary`,
  canaryService: (apex: string) => `${apex}-canary`,
  apexService: (apex: string) => apex,
  httpRoute: (apex: string) => apex,
};

/** `name.namespace`, the form every message uses to name an object (as Flagger does). */
export const objectName = (name: string, namespace: string | undefined) => (namespace ? `${name}.${namespace}` : name);

/** Shortened revision for messages: enough to tell revisions apart at a glance. */
export const shortRevision = (rev: string | undefined) => (rev ? `${rev.slice(0, 10)}…` : 'unknown');
