// What the Canary reconciler is given: the informer caches it reads and the clients, clocks and
// settings it acts with (built by main.ts, and by the unit harness on the in-memory apiserver).
import type { CanaryAction } from '../api/canary-action.js';
import type { CanaryJudge } from '../api/canary-judge.js';
import type { RevisionLister } from '../api/daemonset-revisions.js';
import type { Canary, MetricTemplate } from '../api/flagger-types.js';
import type { ClusterCanaryPolicy } from '../api/policy-types.js';
import type { DaemonSet, Deployment, HorizontalPodAutoscaler, StatefulSet } from '../api/workload.js';
import type { KubeObject, ObjectClient } from '../lib/kube/client.js';
import type { ObjectCache } from '../lib/kube/informer.js';
import type { Logger } from '../lib/logger.js';
import type { Notifier } from './alerts/notifier.js';
import type { SlimEndpointSlice } from './canary-endpoints.js';
import type { ChecksInFlight } from './checks-in-flight.js';
import type { ConfigObject } from './config-tracker.js';
import type { ControllerMetrics } from './controller-metrics.js';
import type { EventRecorder } from './event-recorder.js';
import type { DriverTable } from './kinds/index.js';
import type { Router } from './router/router.js';
import type { Settings } from './state-machine.js';
import type { PodLister } from './statefulset-ordinals.js';

export interface Caches {
  deployments: ObjectCache<Deployment>;
  statefulsets: ObjectCache<StatefulSet>;
  daemonsets: ObjectCache<DaemonSet>;
  services: ObjectCache<KubeObject & { spec?: Record<string, unknown> }>;
  routes: ObjectCache<KubeObject & { spec?: Record<string, unknown> }>;
  hpas: ObjectCache<HorizontalPodAutoscaler>;
  templates: ObjectCache<MetricTemplate>;
  namespaces: ObjectCache<KubeObject>;
  policies: ObjectCache<ClusterCanaryPolicy>;
  canaries: ObjectCache<Canary>;
  /** Tracked ConfigMaps and Secrets and sluice's snapshots of them (label sluice.dev/tracked). */
  configmaps: ObjectCache<ConfigObject>;
  secrets: ObjectCache<ConfigObject>;
  /** CanaryActions (api/canary-action.ts), in every namespace. */
  actions: ObjectCache<CanaryAction>;
  /** CanaryJudges (api/canary-judge.ts): a Canary's statistical judge has its name. */
  judges?: ObjectCache<CanaryJudge>;
  /** The EndpointSlices of sluice's Services, slim (canary-endpoints.ts); without it, traffic is not held for them. */
  endpointSlices?: ObjectCache<SlimEndpointSlice>;
}

export interface ReconcilerDeps {
  /** Leader-guarded (leader-guarded-client.ts): a controller that lost its Lease must not act. */
  client: ObjectClient;
  caches: Caches;
  events: EventRecorder;
  metrics: ControllerMetrics;
  logger: Logger;
  /** drainDelayMs: how long pods the route stopped sending traffic to are kept (0 when unset: the unit harness). */
  settings: Settings & { prometheus: string; prometheusTimeoutMs: number; drainDelayMs?: number };
  notifier?: Notifier;
  /** Where hooks and metric queries run (never on the reconcile worker). */
  checks: ChecksInFlight;
  /** The time decisions are made at (tests move it; the controller uses the wall clock). */
  clock?: () => Date;
  /** Reads a StatefulSet's pods when one of its ordinals may need recreating (statefulset-ordinals.ts). */
  listPods?: PodLister;
  /** The workload drivers by kind (controller/kinds/; default DRIVERS): a test registers another here. */
  drivers?: DriverTable;
  /**
   * Routers beside the HTTPRoute router, built on the reconciler's (leader-guarded) client: each
   * serves the providers its route kind names (router/router-choice.ts). A test registers another here.
   */
  routers?: (client: ObjectClient) => readonly Router[];
  /** Reads a DaemonSet's ControllerRevisions when its revisions' hashes are not known yet (daemonset-nodes.ts). */
  listRevisions?: RevisionLister;
}
