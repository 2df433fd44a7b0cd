// Which policy covers what: namespaces (opted in and selected), Deployments (selected, not
// excluded, not sluice's own copies), the winner among several policies, and for one namespace the
// whole plan: Canaries to generate, to remove, to let go of, and what could not be applied.
import { annotations as A, labels as L, values } from '../api/contract.js';
import type { Canary } from '../api/flagger-types.js';
import { type ClusterCanaryPolicy, POLICY_KIND, type PolicyProblem } from '../api/policy-types.js';
import type { DaemonSet, Deployment, HorizontalPodAutoscaler, StatefulSet, Workload, WorkloadKind } from '../api/workload.js';
import type { KubeObject } from '../lib/kube/client.js';
import { policyViolations } from './constraints.js';
import { generatedCanary } from './generated-canary.js';
import { selectorMatches } from './label-selector.js';

export const optedIn = (ns: KubeObject) => ns.metadata.labels?.[L.rollouts] === values.rolloutsEnabled;

/**
 * Policies that stop the line in namespace `ns` (docs/policy.md): their namespaceSelector selects
 * it, opted in or not (an on-call halting rollouts means every one of them), first by name.
 */
export function linesStopped(policies: ClusterCanaryPolicy[], ns: KubeObject | undefined): ClusterCanaryPolicy[] {
  if (!ns) return [];
  return policies
    .filter((p) => !p.metadata.deletionTimestamp && p.spec.stopTheLine && selectorMatches(p.spec.namespaceSelector, ns.metadata.labels))
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/** The most a fast rollback may reach back (status.releases keeps ten, the current one among them). */
export const MAX_FAST_ROLLBACK = 9;

/**
 * How many revisions released before the current one a change may return to without analysis
 * (docs/operating.md, "Fast rollback"): the Canary's sluice.dev/fast-rollback annotation, else the
 * highest-priority covering policy's fastRollback.revisions (the smaller on a tie), else 0 (off).
 * An unreadable annotation counts as off.
 */
export function fastRollbackRevisions(c: Canary, covering: ClusterCanaryPolicy[]): number {
  const raw = c.metadata.annotations?.[A.fastRollback];
  if (raw !== undefined) {
    const n = /^\d{1,2}$/.test(raw.trim()) ? Number(raw.trim()) : 0;
    return Math.min(n, MAX_FAST_ROLLBACK);
  }
  const setting = covering.filter((p) => p.spec.fastRollback !== undefined);
  if (setting.length === 0) return 0;
  const top = Math.max(...setting.map((p) => p.spec.priority ?? 0));
  const n = Math.min(...setting.filter((p) => (p.spec.priority ?? 0) === top).map((p) => p.spec.fastRollback!.revisions));
  return Math.max(0, Math.min(Math.floor(n), MAX_FAST_ROLLBACK));
}

/** Policies whose rules hold in namespace `ns`: it opted in and their namespaceSelector selects it. */
export function policiesForNamespace(policies: ClusterCanaryPolicy[], ns: KubeObject | undefined): ClusterCanaryPolicy[] {
  if (!ns || !optedIn(ns) || ns.metadata.deletionTimestamp) return [];
  return policies.filter((p) => !p.metadata.deletionTimestamp && selectorMatches(p.spec.namespaceSelector, ns.metadata.labels));
}

/** sluice's own workload (canary copies, baselines) is never a target. */
export const isSluiceWorkload = (d: Workload) =>
  d.metadata.labels?.[L.role] === values.canaryRole ||
  d.metadata.labels?.[L.role] === values.baselineRole ||
  d.metadata.labels?.[L.managedBy] === values.managedBy;

/** Whether the policy covers workload `d` of `kind` (Deployments unless spec.workloadKinds says otherwise). */
export function selectsDeployment(p: ClusterCanaryPolicy, d: Workload, kind: WorkloadKind = 'Deployment'): boolean {
  if (isSluiceWorkload(d) || d.metadata.deletionTimestamp) return false;
  if (!(p.spec.workloadKinds ?? ['Deployment']).includes(kind)) return false;
  if ((p.spec.exclude ?? []).some((x) => x.name === d.metadata.name && (x.namespace === undefined || x.namespace === d.metadata.namespace)))
    return false;
  return selectorMatches(p.spec.deploymentSelector, d.metadata.labels);
}

export type Choice = { policy: ClusterCanaryPolicy } | { tie: ClusterCanaryPolicy[] } | undefined;

/** The highest priority wins; a tie at the top is a conflict for a person to settle, never guessed. */
export function choosePolicy(candidates: ClusterCanaryPolicy[]): Choice {
  if (candidates.length === 0) return undefined;
  const prio = (p: ClusterCanaryPolicy) => p.spec.priority ?? 0;
  const top = Math.max(...candidates.map(prio));
  const winners = candidates.filter((p) => prio(p) === top);
  return winners.length === 1 ? { policy: winners[0]! } : { tie: winners.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)) };
}

export const isGenerated = (c: Canary) => c.metadata.labels?.[L.policy] !== undefined;

export interface Coverage {
  deployments: string[];
  problems: PolicyProblem[];
}

export interface NamespacePlan {
  /** Generated Canaries as they should be, with the policy that generates each. */
  desired: { canary: Canary; policy: ClusterCanaryPolicy }[];
  /** Generated Canaries nothing asks for any more. */
  remove: Canary[];
  /** Canaries taken over by a person (policy label removed) still owned by a policy. */
  disown: Canary[];
  /** Per policy name: what it covers here and what it could not apply. */
  coverage: Map<string, Coverage>;
}

export interface NamespaceInput {
  namespace: KubeObject | undefined;
  policies: ClusterCanaryPolicy[];
  deployments: Deployment[];
  /** StatefulSets of the namespace: covered by policies that list them in spec.workloadKinds. */
  statefulsets?: StatefulSet[];
  /** DaemonSets of the namespace, likewise. */
  daemonsets?: DaemonSet[];
  canaries: Canary[];
  hpas: HorizontalPodAutoscaler[];
}

export function planNamespace(input: NamespaceInput): NamespacePlan {
  const covering = policiesForNamespace(input.policies, input.namespace);
  const coverage = new Map<string, Coverage>(covering.map((p) => [p.metadata.name, { deployments: [], problems: [] }]));
  const problem = (p: ClusterCanaryPolicy, object: string, reason: string) =>
    coverage.get(p.metadata.name)?.problems.push({ object, reason });
  const live = input.canaries.filter((c) => !c.metadata.deletionTimestamp);
  const explicit = live.filter((c) => !isGenerated(c));
  const desired: NamespacePlan['desired'] = [];

  const workloads: [WorkloadKind, Workload][] = [
    ...input.deployments.map((d): [WorkloadKind, Workload] => ['Deployment', d]),
    ...(input.statefulsets ?? []).map((s): [WorkloadKind, Workload] => ['StatefulSet', s]),
    ...(input.daemonsets ?? []).map((s): [WorkloadKind, Workload] => ['DaemonSet', s]),
  ];
  for (const [kind, d] of workloads) {
    const key = `${d.metadata.namespace}/${d.metadata.name}`;
    const choice = choosePolicy(covering.filter((p) => selectsDeployment(p, d, kind)));
    if (!choice) continue;
    if ('tie' in choice) {
      const names = choice.tie.map((p) => p.metadata.name).join(', ');
      for (const p of choice.tie)
        problem(
          p,
          key,
          `selected by policies ${names} at equal priority ${choice.tie[0]!.spec.priority ?? 0}; give one a higher spec.priority or narrow a selector`,
        );
      continue;
    }
    const { policy } = choice;
    // An explicit Canary for this Deployment wins over any policy.
    if (explicit.some((c) => c.spec.targetRef?.name === d.metadata.name)) continue;
    const squatter = explicit.find((c) => c.metadata.name === d.metadata.name);
    if (squatter) {
      problem(
        policy,
        key,
        `Canary ${key} already exists for ${squatter.spec.targetRef?.kind ?? 'Deployment'} ${squatter.spec.targetRef?.name}; rename one of them`,
      );
      continue;
    }
    const first = desired.find((x) => x.canary.metadata.name === d.metadata.name);
    if (first) {
      const kept = first.canary.spec.targetRef.kind ?? 'Deployment';
      problem(policy, key, `a ${kept} and a ${kind} are both named ${d.metadata.name}; the policy covers the ${kept}, exclude one of them`);
      continue;
    }
    const built = generatedCanary(policy, d, input.hpas, kind);
    if ('problem' in built) {
      problem(policy, key, built.problem);
      continue;
    }
    const broken = policyViolations(built.canary.spec, covering);
    if (broken.length > 0) {
      problem(policy, key, `its canaryTemplate breaks the constraints: ${broken.join('; ')}`);
      continue;
    }
    desired.push({ canary: built.canary, policy });
    coverage.get(policy.metadata.name)!.deployments.push(key);
  }

  // Explicit Canaries that break a rule are analysed within it (controller) and reported here.
  for (const c of explicit) {
    for (const p of covering) {
      const broken = policyViolations(c.spec, [p]);
      if (broken.length > 0)
        problem(
          p,
          `${c.metadata.namespace}/${c.metadata.name}`,
          `Canary breaks the constraints and is analysed within them: ${broken.join('; ')}`,
        );
    }
  }

  const wanted = new Set(desired.map((x) => x.canary.metadata.name));
  return {
    desired,
    remove: live.filter((c) => isGenerated(c) && !wanted.has(c.metadata.name)),
    disown: explicit.filter((c) => (c.metadata.ownerReferences ?? []).some((o) => o.kind === POLICY_KIND)),
    coverage,
  };
}
