// What the controller does differently for each kind a Canary can target, as one interface with
// one module per kind (deployment.ts, statefulset.ts, daemonset.ts) registered in index.ts. The
// pure facts the webhook and kubectl-sluice share (how a kind is held, what runs its candidate,
// what it cannot be managed with) come from api/workload-kinds.ts; a driver adds where the
// controller reads it, what the world should look like for a status, how its Services select
// primary and canary pods, what follows a write of the target, and how it is handed back.
// docs/architecture.md "Adding a workload kind" lists every file a new kind touches.
import type { Canary, CanaryStatus } from '../../api/flagger-types.js';
import type { Deployment, HorizontalPodAutoscaler, Workload } from '../../api/workload.js';
import type { KindFacts } from '../../api/workload-kinds.js';
import type { ObjectCache } from '../../lib/kube/informer.js';
import type { DaemonSetHashes, DaemonSetNodes } from '../daemonset-nodes.js';
import type { Desired, DesiredTarget, TrackedNow } from '../desired-state.js';
import type { StatefulSetOrdinals } from '../statefulset-ordinals.js';

/** The informer caches a driver reads its targets from. */
export interface WorkloadCaches {
  deployments: ObjectCache<Deployment>;
  statefulsets: ObjectCache<Workload>;
  daemonsets: ObjectCache<Workload>;
}

/** The writers a driver's converge may call (built once by the reconciler, on its leader-guarded client). */
export interface KindWriters {
  ordinals: StatefulSetOrdinals;
  daemonNodes: DaemonSetNodes;
}

/** The label selectors of the primary and canary Services. */
export interface ServiceSelectors {
  primary: Record<string, string>;
  canary: Record<string, string>;
}

export interface WorkloadDriver extends KindFacts {
  /** The target, from the cache of its kind. */
  read(caches: WorkloadCaches, namespace: string | undefined, name: string): Workload | undefined;
  /** What the copy, the route weight and the target should be for this status. Pure. */
  desired(
    canary: Canary,
    status: CanaryStatus,
    target: Workload,
    copy: Deployment | undefined,
    autoscaler: HorizontalPodAutoscaler | undefined,
    tracked: TrackedNow | undefined,
  ): Desired;
  /**
   * How the primary and canary Services select pods; undefined while that cannot be known (the
   * selectors then stay as they are). `hashes`: what revisionHashes read. Pure.
   */
  selectors(target: Workload, hashes: DaemonSetHashes | undefined): ServiceSelectors | undefined;
  /** Reads the hashes that tell its primary pods from its canary pods, when the selectors need them. */
  revisionHashes(writers: KindWriters, target: Workload, want: DesiredTarget | undefined): Promise<DaemonSetHashes | undefined>;
  /**
   * What follows the target's write on its pods (recreating strays, moving canary nodes); a delay
   * when the pass must come back sooner than its decision says.
   */
  afterTargetWrite(
    writers: KindWriters,
    target: Workload,
    want: DesiredTarget | undefined,
    hashes: DaemonSetHashes | undefined,
  ): Promise<number | undefined>;
  /**
   * What handing the target back changes besides the contract's label and annotations: its spec,
   * and annotations of its own kind. `tested`: its template passed analysis, so it is released.
   */
  handBack(target: Workload, tested: boolean): { spec: Record<string, unknown>; annotations: Record<string, null> };
}
