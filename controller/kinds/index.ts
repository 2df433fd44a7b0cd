// The workload drivers, one per kind a Canary may target, and what the rest of the controller
// asks of "the target's kind" without naming one.
import { annotations as A, labels as L } from '../../api/contract.js';
import type { Canary, CanaryStatus } from '../../api/flagger-types.js';
import { type Deployment, type HorizontalPodAutoscaler, targetKindName, type Workload, type WorkloadKind } from '../../api/workload.js';
import type { DaemonSetHashes } from '../daemonset-nodes.js';
import type { Desired, TrackedNow } from '../desired-state.js';
import { generatedServices } from '../generated-objects.js';
import { daemonSetDriver } from './daemonset.js';
import { deploymentDriver } from './deployment.js';
import { statefulSetDriver } from './statefulset.js';
import type { WorkloadDriver } from './workload-driver.js';

export type { WorkloadDriver } from './workload-driver.js';

/** The drivers a controller uses, by the kind a targetRef names. */
export type DriverTable = Readonly<Record<string, WorkloadDriver>>;

/** A kind missing here fails to compile (Record over the WorkloadKind union). */
export const DRIVERS: Record<WorkloadKind, WorkloadDriver> = {
  Deployment: deploymentDriver,
  StatefulSet: statefulSetDriver,
  DaemonSet: daemonSetDriver,
};

/** The driver of the kind a Canary targets, or undefined for a kind sluice does not manage. */
export function driverOf(canary: Canary, table: DriverTable = DRIVERS): WorkloadDriver | undefined {
  // By the name as written, not the WorkloadKind union: a table may carry a kind of its own (a test's).
  const kind = targetKindName(canary.spec.targetRef);
  return Object.hasOwn(table, kind) ? table[kind] : undefined;
}

/** What the world should look like for a Canary's status (its kind's driver decides). Pure. */
export function desiredState(
  canary: Canary,
  status: CanaryStatus,
  target: Workload,
  copy: Deployment | undefined,
  autoscaler: HorizontalPodAutoscaler | undefined,
  tracked?: TrackedNow,
): Desired {
  const driver = driverOf(canary);
  if (!driver)
    throw new Error(`desiredState: targetRef kind ${canary.spec.targetRef.kind} has no driver (a bug: decide() blocks it first)`);
  return driver.desired(canary, status, target, copy, autoscaler, tracked);
}

/** The primary, canary and apex Services for the target; undefined while its selectors cannot be known. */
export function servicesFor(canary: Canary, target: Workload, hashes?: DaemonSetHashes, driver = driverOf(canary)) {
  const selectors = driver?.selectors(target, hashes);
  return selectors ? generatedServices(canary, selectors) : undefined;
}

/**
 * The merge patch that hands a target back when its Canary goes: the contract's label and
 * annotations removed, and what its kind hands back (a Deployment unpaused, a StatefulSet's
 * partition at 0, a DaemonSet's own strategy) only if it holds a tested template. Conditional on
 * the resourceVersion read, so a concurrent writer makes it a retry.
 */
export function handBackPatch(target: Workload, tested: boolean, driver: WorkloadDriver): Record<string, unknown> {
  const own = driver.handBack(target, tested);
  return {
    metadata: {
      resourceVersion: target.metadata.resourceVersion,
      labels: { [L.managed]: null },
      annotations: { [A.stableRevision]: null, [A.canary]: null, [A.promoting]: null, [A.stableConfigs]: null, ...own.annotations },
    },
    ...(Object.keys(own.spec).length > 0 ? { spec: own.spec } : {}),
  };
}
