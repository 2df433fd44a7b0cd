// What the e2e tests of targets that are their own canary (StatefulSets, DaemonSets) read while a
// rollout runs: the route's weights, consistent samples of which pod runs which image at each
// step, a GitOps tool's verdict on an object, and kubectl sluice as a user runs it.

import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Canary } from '../../api/flagger-types.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { paths } from './layout.js';
import { getCanary } from './seed.js';
import { admin } from './test-clients.js';

/** The HTTPRoute's first rule as [backend, weight] pairs. */
export async function routeWeights(namespace: string, name: string): Promise<[string, number][]> {
  const route = await (await admin()).get<KubeObject & { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } }>(
    at(R.httproutes, namespace, name),
  );
  return route.spec.rules[0]!.backendRefs.map((b) => [b.name, b.weight]);
}

/** One look at a rollout: the Canary's step, where each pod's image tag is (by ordinal or node), the route. */
export interface RolloutSample<K> {
  phase: string;
  weight: number;
  tags: Map<K, string>;
  route: [string, number][];
}

/** The keys whose pod runs `tag`, sorted. */
export const onTag = <K extends string | number>(tags: Map<K, string>, tag: string): K[] =>
  [...tags]
    .filter(([, v]) => v === tag)
    .map(([k]) => k)
    .sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b))));

/**
 * Samples the Canary's rollout every 150 ms until `until` holds, keeping only readings whose step
 * did not change while the pods and the route were read (their pods may belong to either step).
 */
export async function sampleRollout<K>(
  namespace: string,
  name: string,
  tags: () => Promise<Map<K, string>>,
  until: (c: Canary) => boolean,
  timeoutMs = 150_000,
): Promise<RolloutSample<K>[]> {
  const samples: RolloutSample<K>[] = [];
  await waitFor(
    async () => {
      const before = (await getCanary(namespace, name)).status;
      const t = await tags();
      const r = await routeWeights(namespace, name);
      const after = await getCanary(namespace, name);
      if (before?.phase === after.status?.phase && before?.canaryWeight === after.status?.canaryWeight)
        samples.push({ phase: after.status?.phase ?? '', weight: after.status?.canaryWeight ?? 0, tags: t, route: r });
      return until(after) || undefined;
    },
    { timeoutMs, intervalMs: 150, what: `the rollout of ${name}` },
  );
  return samples;
}

/** A GitOps tool's verdict on `obj`: `lua SCRIPT` (Argo CD's health script in gopher-lua) or `kstatus` (Flux). */
export function gitopsHealth(binDir: string, args: string[], obj: unknown): { status: string; message: string } {
  const r = spawnSync(path.join(binDir, 'gitops-health'), args, { input: JSON.stringify(obj), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { status: string; message: string };
}

/** `kubectl sluice ARGS -n NAMESPACE`, found by kubectl on PATH as a user installs it. */
export function kubectlSluice(binDir: string, pluginDir: string, namespace: string, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(path.join(binDir, 'kubectl'), ['sluice', ...args, '-n', namespace], {
    env: { ...process.env, PATH: `${pluginDir}:${process.env.PATH}`, KUBECONFIG: paths.kubeconfig, NO_COLOR: '1' },
    encoding: 'utf8',
  });
}

/** podinfo's pod template at `tag`, labelled app=NAME, as the e2e targets run it. */
export const podinfoTemplate = (name: string, tag: string) => ({
  metadata: { labels: { app: name } },
  spec: { containers: [{ name: 'app', image: `ghcr.io/stefanprodan/podinfo:${tag}`, ports: [{ name: 'http', containerPort: 9898 }] }] },
});

/**
 * The Canary the StatefulSet and DaemonSet e2e tests analyse their target with: the seed's
 * analysis (threshold 5, steps of 10 up to 50, request success rate) every 3 s.
 */
export const analysedCanary = (namespace: string, kind: 'StatefulSet' | 'DaemonSet', name: string) => ({
  apiVersion: 'flagger.app/v1beta1',
  kind: 'Canary',
  metadata: { name, namespace },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind, name },
    progressDeadlineSeconds: 60,
    service: { port: 9898, gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
    analysis: {
      interval: '2s',
      threshold: 5,
      maxWeight: 50,
      stepWeight: 10,
      metrics: [{ name: 'request-success-rate', interval: '6s', thresholdRange: { min: 99 } }],
    },
  },
});

/** Some sample at weight `w` saw the route split 100 − w / w between the primary and canary Services. */
export function assertRouteAt<K>(samples: RolloutSample<K>[], apex: string, w: number): void {
  const want = JSON.stringify([
    [`${apex}-primary`, 100 - w],
    [`${apex}-canary`, w],
  ]);
  assert.ok(
    samples.some((s) => s.weight === w && JSON.stringify(s.route) === want),
    `the route at ${100 - w}/${w}`,
  );
}
