// Builders for controller unit tests: the seed's Canary and Deployments in given states.

import { annotations } from '../../api/contract.js';
import type { Canary, CanaryStatus } from '../../api/flagger-types.js';
import type { Deployment } from '../../api/workload.js';
import { revisionOf } from '../../api/workload.js';
import type { Observed } from '../../controller/state-machine.js';

export function seedCanary(
  over: { spec?: Partial<Canary['spec']>; analysis?: Partial<NonNullable<Canary['spec']['analysis']>>; status?: CanaryStatus } = {},
): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'uid-1', generation: 1, resourceVersion: '1' },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      progressDeadlineSeconds: 60,
      autoscalerRef: { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'podinfo' },
      service: { port: 9898, targetPort: 9898, gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
      analysis: {
        interval: '1m',
        threshold: 5,
        maxWeight: 50,
        stepWeight: 10,
        metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }],
        ...over.analysis,
      },
      ...over.spec,
    },
    status: over.status,
  };
}

export function deployment(
  image: string,
  opts: {
    name?: string;
    replicas?: number;
    paused?: boolean;
    rolledOut?: boolean;
    annotations?: Record<string, string>;
    generation?: number;
  } = {},
): Deployment {
  const replicas = opts.replicas ?? 2;
  const rolled = opts.rolledOut ?? true;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: opts.name ?? 'podinfo',
      namespace: 'test',
      generation: opts.generation ?? 3,
      annotations: opts.annotations,
      labels: { app: 'podinfo' },
    },
    spec: {
      replicas,
      paused: opts.paused,
      selector: { matchLabels: { app: 'podinfo' } },
      template: { metadata: { labels: { app: 'podinfo' } }, spec: { containers: [{ name: 'podinfod', image }] } },
    },
    status: {
      observedGeneration: opts.generation ?? 3,
      replicas,
      updatedReplicas: rolled ? replicas : 0,
      availableReplicas: rolled ? replicas : 0,
      readyReplicas: rolled ? replicas : 0,
    },
  };
}

export const rev = (image: string) => revisionOf(deployment(image)).id;

/** The canary copy running `image`'s revision, ready or not. */
export function copyOf(image: string, replicas: number, ready = true): Deployment {
  const d = deployment(image, { name: 'podinfo-canary', replicas, rolledOut: ready });
  d.metadata.annotations = { [annotations.revision]: rev(image) };
  return d;
}

/** What decide() observes: the target, its revision computed as the reconciler does, and the copy. */
export const observed = (target: Deployment, copy: Deployment | undefined): Observed => ({
  target,
  revision: revisionOf(target),
  canaryCopy: copy,
  autoscaler: undefined,
});

/** A status one step into the analysis of 6.0.1 over a stable 6.0.0, the step taken at `since`. */
export const analysingStatus = (since: Date, over: Partial<CanaryStatus> = {}): CanaryStatus => ({
  lastPromotedSpec: rev('podinfo:6.0.0'),
  lastAppliedSpec: rev('podinfo:6.0.1'),
  canaryWeight: 10,
  failedChecks: 0,
  iterations: 1,
  lastTransitionTime: since.toISOString(),
  ...over,
});
