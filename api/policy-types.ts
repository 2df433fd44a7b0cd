// sluice.dev/v1alpha1 ClusterCanaryPolicy: which Deployments get a generated Canary, from what
// template, and the limits every Canary in the covered namespaces must keep (docs/policy.md).

import type { KubeObject } from '../lib/kube/client.js';
import type { ActionVerb } from './canary-action.js';
import { GROUP } from './contract.js';
import type { CanaryAnalysis, CanaryMetric, CanaryService, CanaryWebhook } from './flagger-types.js';
import type { WorkloadKind } from './workload.js';

export const POLICY_VERSION = 'v1alpha1';
export const POLICY_KIND = 'ClusterCanaryPolicy';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface PolicyConstraints {
  /** Ceiling on analysis.maxWeight and on every entry of stepWeights. */
  maxWeight?: number;
  /** Ceiling on analysis.stepWeight and on each increment of stepWeights. */
  maxStepWeight?: number;
  /** Floor on analysis.interval (a duration such as "30s"). */
  minInterval?: string;
  /** Ceiling on analysis.threshold: how many failed checks a rollout may survive. */
  maxThreshold?: number;
  /** Each must be in analysis.metrics (same name), with bounds no looser than these. */
  requiredMetrics?: CanaryMetric[];
  /** Each must be in analysis.webhooks (same type, and same name when given). */
  requiredWebhooks?: Partial<CanaryWebhook>[];
  /** Refuse `skipAnalysis: true`, which would release revisions unanalysed. */
  forbidSkipAnalysis?: boolean;
  /**
   * The CanaryActions people may ask of Canaries in scope. Unset: every action, except `promote`
   * where the policy forbids skipping analysis or requires a gate (promote would skip both).
   */
  allowedActions?: ActionVerb[];
  /** Refuse a MetricTemplate or AlertProvider of another namespace (Flagger allows them). */
  forbidCrossNamespaceRefs?: boolean;
}

export const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * One change window (policy/change-windows.ts): recurring (days, start, end on the wall clock of
 * changeWindows.timeZone; end before start crosses midnight) or one-off (from, until: RFC 3339).
 */
export interface ChangeWindow {
  name: string;
  /** Default: every day. */
  days?: Weekday[];
  /** HH:MM. */
  start?: string;
  /** HH:MM, up to 24:00. */
  end?: string;
  from?: string;
  until?: string;
}

/**
 * When new revisions may start analysis and be released in the policy's namespaces (docs/policy.md,
 * "Change windows"): never inside a deny window; only inside an allow window when there are any.
 */
export interface ChangeWindows {
  /** IANA time zone the recurring windows are read in; default UTC. */
  timeZone?: string;
  deny?: ChangeWindow[];
  allow?: ChangeWindow[];
  /** Only Canaries whose target's labels match (default: every Canary in the policy's namespaces). */
  workloadSelector?: LabelSelector;
}

export interface CanaryTemplate {
  service?: Partial<CanaryService> & { hostPattern?: string };
  analysis?: CanaryAnalysis;
  progressDeadlineSeconds?: number;
}

export interface ClusterCanaryPolicySpec {
  /** Higher wins when several policies select one Deployment; equal top priorities are a conflict. */
  priority?: number;
  namespaceSelector?: LabelSelector;
  /** Selects workloads of the kinds in workloadKinds (Deployments only by default) by their labels. */
  deploymentSelector?: LabelSelector;
  /** Which kinds the policy covers (docs/workloads.md); default Deployment only, so StatefulSets and DaemonSets are opted in. */
  workloadKinds?: WorkloadKind[];
  exclude?: { name: string; namespace?: string }[];
  canaryTemplate?: CanaryTemplate;
  constraints?: PolicyConstraints;
  /**
   * Stop the line (docs/policy.md): while set, every rollout in the policy's namespaces holds at
   * its step (no weight increase, no promotion, no new analysis); aborts still work. Removed: they go on.
   */
  stopTheLine?: { reason: string; by?: string };
  /** Change windows for every Canary in the policy's namespaces, opted in or not. */
  changeWindows?: ChangeWindows;
  /**
   * Fast rollback (docs/operating.md): a change back to one of this many revisions released
   * before the current one is released at once without analysis. Default 0 (off); a Canary's
   * sluice.dev/fast-rollback annotation wins over it.
   */
  fastRollback?: { revisions: number };
}

export interface PolicyProblem {
  /** `namespace/name` of the Deployment or Canary concerned. */
  object: string;
  reason: string;
}

export interface ClusterCanaryPolicyStatus {
  observedGeneration?: number;
  namespaces?: string[];
  deployments?: string[];
  generated?: number;
  problems?: PolicyProblem[];
  conditions?: { type: string; status: 'True' | 'False'; reason: string; message: string; lastTransitionTime: string }[];
}

export type ClusterCanaryPolicy = KubeObject & { spec: ClusterCanaryPolicySpec; status?: ClusterCanaryPolicyStatus };

export const POLICY_REF = { group: GROUP, version: POLICY_VERSION, plural: 'clustercanarypolicies' } as const;
