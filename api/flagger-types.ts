// Flagger's flagger.app/v1beta1 kinds, as far as sluice reads them. The CRDs accept every field
// Flagger documents; fields not listed here are reported as unsupported (controller/spec-check.ts).

import type { KubeObject } from '../lib/kube/client.js';
import type { JudgementReport } from './canary-judge.js';

export const FLAGGER_GROUP = 'flagger.app';
export const FLAGGER_VERSION = 'v1beta1';

export interface CrossNamespaceRef {
  apiVersion?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface MetricThreshold {
  min?: number;
  max?: number;
}

export interface CanaryMetric {
  name: string;
  interval?: string;
  threshold?: number;
  thresholdRange?: MetricThreshold;
  query?: string;
  templateRef?: CrossNamespaceRef;
  templateVariables?: Record<string, string>;
  /** sluice's: queried, judged and reported like any metric, but never fails a step (docs/analysis.md). */
  dryRun?: boolean;
}

export interface CanaryWebhook {
  name: string;
  type?: string;
  url: string;
  timeout?: string;
  retries?: number;
  muteAlert?: boolean;
  metadata?: Record<string, string>;
}

export interface GatewayRef {
  name: string;
  namespace?: string;
  group?: string;
  kind?: string;
  sectionName?: string;
  port?: number;
}

export interface CanaryService {
  name?: string;
  port: number;
  portName?: string;
  targetPort?: number | string;
  gatewayRefs?: GatewayRef[];
  hosts?: string[];
  match?: unknown[];
  timeout?: string;
  [k: string]: unknown;
}

export interface CanaryAnalysis {
  interval?: string;
  iterations?: number;
  threshold?: number;
  maxWeight?: number;
  stepWeight?: number;
  stepWeights?: number[];
  stepWeightPromotion?: number;
  primaryReadyThreshold?: number;
  canaryReadyThreshold?: number;
  metrics?: CanaryMetric[];
  webhooks?: CanaryWebhook[];
  match?: unknown[];
  alerts?: unknown[];
  /** sluice's: every metric (and the CanaryJudge) of this analysis is a dry run (docs/analysis.md). */
  dryRun?: boolean;
  [k: string]: unknown;
}

export interface CanarySpec {
  targetRef: { apiVersion?: string; kind: string; name: string };
  autoscalerRef?: { apiVersion?: string; kind: string; name: string };
  service: CanaryService;
  analysis?: CanaryAnalysis;
  progressDeadlineSeconds?: number;
  skipAnalysis?: boolean;
  suspend?: boolean;
  revertOnDeletion?: boolean;
  [k: string]: unknown;
}

export type Phase =
  | ''
  | 'Initializing'
  | 'Initialized'
  | 'Waiting'
  | 'Progressing'
  | 'WaitingPromotion'
  | 'Promoting'
  | 'Finalising'
  | 'Succeeded'
  | 'Failed'
  | 'Terminating';

export interface CanaryCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface CanaryStatus {
  phase?: Phase;
  canaryWeight?: number;
  failedChecks?: number;
  iterations?: number;
  lastAppliedSpec?: string;
  lastPromotedSpec?: string;
  lastTransitionTime?: string;
  conditions?: CanaryCondition[];
  observedGeneration?: number;
  // sluice's own fields, beside Flagger's (docs/operating.md).
  /** Held by a pause action: no step and no check until a resume (the freeze still holds). */
  analysisPaused?: { by: string; at: string };
  /** The last CanaryAction taken, recorded in the same write as its effect (so it is never taken twice). */
  lastAction?: { name: string; action: string; by: string; at: string; result: 'Applied' | 'Rejected'; message: string };
  /** The metrics of the last analysis step: value against bounds, for `kubectl sluice get`. */
  lastChecks?: { name: string; ok: boolean; value?: number; min?: number; max?: number; message?: string; dryRun?: boolean; at: string }[];
  /** Held by a ClusterCanaryPolicy's stopTheLine (docs/policy.md): which policy, why, since when. */
  lineStopped?: { policy: string; reason: string; by?: string; since: string };
  /** Held by a closed change window (docs/policy.md): which policy and window, until when, since when. */
  changeWindow?: { policy: string; window: string; until?: string; message: string; since: string };
  /** A person broke glass for this revision (docs/operating.md): no window or stopped line holds it. */
  breakGlass?: { revision: string; by: string; reason: string; at: string };
  /** Revisions released to the primary, newest first (at most 10): what a fast rollback may return to. */
  releases?: { revision: string; at: string }[];
  /** Released again without analysis (fast rollback): the revision and when it was released before. */
  fastRollback?: { revision: string; releasedAt: string };
  /** The CanaryJudge's last judgement (docs/analysis.md), with when a Marginal verdict began holding the step. */
  judgement?: JudgementReport;
}

export type Canary = KubeObject & { spec: CanarySpec; status?: CanaryStatus };

export interface MetricTemplateSpec {
  provider: { type: string; address?: string; secretRef?: { name: string }; insecureSkipVerify?: boolean };
  query: string;
}

export type MetricTemplate = KubeObject & { spec: MetricTemplateSpec };

export const CR = {
  canaries: { group: FLAGGER_GROUP, version: FLAGGER_VERSION, plural: 'canaries' },
  metrictemplates: { group: FLAGGER_GROUP, version: FLAGGER_VERSION, plural: 'metrictemplates' },
  alertproviders: { group: FLAGGER_GROUP, version: FLAGGER_VERSION, plural: 'alertproviders' },
} as const;
