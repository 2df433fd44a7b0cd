// How much of a workload that is its own canary (a StatefulSet's ordinals, a DaemonSet's nodes)
// runs the candidate at a traffic weight. One rule for both kinds (docs/workloads.md).

/**
 * How many of `total` pods (or nodes) run the candidate at a traffic weight: at least the weight's
 * share (rounded up, so a canary pod never carries more than a primary pod's load), at least one,
 * and never all of them while there are two or more (the primary Service must keep endpoints for
 * the traffic it still gets, and a rollback must have a stable pod left to compare with).
 */
export function canaryShare(total: number, weight: number): number {
  if (total <= 1) return Math.max(0, total);
  return Math.min(total - 1, Math.max(1, Math.ceil((total * weight) / 100)));
}
