// A Deployment runs its candidate in a copy, `<target>-canary`, with the copy's selector and its
// own autoscaler; the target itself is paused until analysis releases the revision, and its
// template reads snapshots of the tracked configs once released (docs/tracked-configs.md).
import { annotations as A, labels as L, values } from '../../api/contract.js';
import { phase as phaseFacts } from '../../api/phases.js';
import { templatePart } from '../../api/revision.js';
import { type Deployment, revisionOf } from '../../api/workload.js';
import { KINDS } from '../../api/workload-kinds.js';
import { copyTemplate, type DesiredTarget, primaryReplicas } from '../desired-state.js';
import { canarySelector } from '../generated-objects.js';
import { releasedRevision } from '../state-machine.js';
import type { WorkloadDriver } from './workload-driver.js';

export const deploymentDriver: WorkloadDriver = {
  ...KINDS.Deployment,
  read: (caches, ns, name) => caches.deployments.get(ns, name),
  desired(canary, status, target, copy, autoscaler, tracked = { snapshots: {}, hash: undefined }) {
    const deployment = target as Deployment;
    const phase = status.phase ?? '';
    // A fast rollback releases a revision that ran before: no copy runs it, no traffic is split.
    const active = phaseFacts(phase).copyActive && status.fastRollback === undefined;
    const revision = revisionOf(target, tracked.hash).id;
    // The copy runs the revision under test while a rollout is active; otherwise it keeps what it
    // had (at zero replicas), or the stable template when it is first created.
    const testing = active && revision === status.lastAppliedSpec;
    const fromTarget = testing || copy?.metadata.annotations?.[A.revision] === undefined;
    // decide() records 100 on entering Promoting, so the status weight is the route weight throughout.
    const canaryWeight = active ? (status.canaryWeight ?? 0) : 0;

    let desiredTarget: DesiredTarget | undefined;
    const released = releasedRevision(status);
    if (released !== undefined && !phaseFacts(phase).bootstrapping) {
      desiredTarget = {
        // Unpaused exactly when its template is the released revision: that is the whole freeze.
        paused: revision !== released,
        labels: { [L.managed]: values.managed },
        annotations: {
          // The template part only: the webhook compares it with what it can hash itself.
          [A.stableRevision]: templatePart(released)!,
          [A.canary]: canary.metadata.name,
          [A.promoting]: phase === 'Promoting' ? (status.lastAppliedSpec ?? null) : null,
        },
      };
      // Once the configs the template reads now are the released ones, the primary pods are pinned
      // to their snapshots (the webhook reads the annotation when it admits a primary pod) and rolled
      // onto them by the config revision on the template.
      if (released === revision) {
        desiredTarget.annotations[A.stableConfigs] = tracked.hash ? JSON.stringify(tracked.snapshots) : null;
        desiredTarget.templateAnnotations = { [A.configRevision]: tracked.hash ?? null };
      }
    }
    return {
      copy: {
        template: fromTarget ? copyTemplate(deployment, tracked.snapshots) : undefined,
        revision: fromTarget ? revision : undefined,
        replicas: active ? primaryReplicas(deployment, autoscaler) : 0,
      },
      canaryWeight,
      target: desiredTarget,
    };
  },
  // Its canary pods carry the copy's selector.
  selectors: (target) => {
    const selector = target.spec.selector.matchLabels ?? {};
    return { primary: selector, canary: canarySelector(selector) };
  },
  revisionHashes: async () => undefined,
  afterTargetWrite: async () => undefined,
  handBack(target, tested) {
    const spec: Record<string, unknown> = {};
    // The config pin goes: its pods roll back onto the live ConfigMaps and Secrets before the
    // snapshots are collected.
    if (target.spec.template.metadata?.annotations?.[A.configRevision] !== undefined)
      spec.template = { metadata: { annotations: { [A.configRevision]: null } } };
    if (tested) spec.paused = false;
    return { spec, annotations: {} };
  },
};
