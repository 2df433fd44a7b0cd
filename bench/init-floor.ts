// The floor under the scale benchmark's init figure: what any Flagger-compatible controller that
// hands Deployments back must write while N Canaries initialise, written by a plain client with
// sluice's controller stopped, in the same world and just before the run it is compared with.
//
// Why beside every run: identical writes took 49.0 s once and 68.8–69.1 s twice in the same world
// over one evening (diagnostic runs, docs/scale.md): what the machine and the world give varies as
// much as what sluice adds, or more. A figure without its floor cannot say which of the two moved.
//
// Per Canary, as sluice writes them: the Canary created (20 at a time, as the benchmark applies
// them; it passes the Canary webhook), then, `concurrency` at a time as the controller's workers:
// a finalizer, three Services (each a ClusterIP), a copy Deployment at 0 replicas, an HTTPRoute on
// the world's Gateway, a mark on the target, an Event, and the Initialized status. Less than
// sluice does: no reads, no admission of the copy (the canary-copies webhook judges only the
// controller's writes), no watches of its own.
import { performance } from 'node:perf_hooks';
import { CR } from '../api/flagger-types.js';
import { at, type KubeClient, R, type ResourceRef } from '../lib/kube/client.js';
import { waitFor } from '../lib/wait.js';
import { cpuNow, cpuSaid, inBatches } from './process-sample.js';
import { round } from './results.js';

/** Every object the floor writes carries this label, and is deleted by it. */
const FLOOR_LABEL = 'bench.sluice.dev/floor';
const FLOOR_FINALIZER = 'bench.sluice.dev/floor';
const floorSelector = `${FLOOR_LABEL}=any-controller`;
/** The targets' mark: a key of its own, so that deleting the floor's objects by label never takes a target. */
const TARGET_MARK = 'bench.sluice.dev/floor-target';
const labelled = { [FLOOR_LABEL]: 'any-controller' };

export interface FloorJob {
  ns: string;
  name: string;
}

export interface InitFloor {
  seconds: number;
  /** CPU seconds each world process took meanwhile. */
  cpu: string;
}

/** The minimum writes for `jobs` Canaries on their running Deployments; see the file's head. */
export async function anyControllerInit(
  client: KubeClient,
  jobs: FloorJob[],
  concurrency: number,
  canary: (ns: string, name: string) => { metadata: { labels?: Record<string, string> } },
): Promise<InitFloor> {
  const ready: FloorJob[] = [];
  const wake: (() => void)[] = [];
  let created = false;
  const t0 = performance.now();
  const cpuBefore = cpuNow();
  const producer = (async () => {
    try {
      await inBatches(jobs, 20, async (j) => {
        const c = canary(j.ns, j.name);
        await client.create(at(CR.canaries, j.ns), { ...c, metadata: { ...c.metadata, labels: { ...c.metadata.labels, ...labelled } } });
        ready.push(j);
        wake.shift()?.();
      });
    } finally {
      created = true;
      for (const w of wake.splice(0)) w();
    }
  })();
  const next = async (): Promise<FloorJob | undefined> => {
    for (;;) {
      const j = ready.shift();
      if (j || created) return j;
      await new Promise<void>((resolve) => wake.push(resolve));
    }
  };
  await Promise.all([
    producer,
    ...Array.from({ length: concurrency }, async () => {
      for (let j = await next(); j !== undefined; j = await next()) await initialise(client, j);
    }),
  ]);
  return { seconds: round((performance.now() - t0) / 1000, 1), cpu: cpuSaid(cpuBefore, cpuNow()) };
}

async function initialise(client: KubeClient, { ns, name }: FloorJob): Promise<void> {
  await client.patch(at(CR.canaries, ns, name), [{ op: 'add', path: '/metadata/finalizers', value: [FLOOR_FINALIZER] }], 'json');
  for (const svc of [name, `${name}-primary`, `${name}-canary`])
    await client.create(at(R.services, ns), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: svc, labels: labelled },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 9898, targetPort: 9898 }] },
    });
  // Its own selector: the target's would take over the target's pods. The label reaches its ReplicaSets.
  const copyLabels = { app: `${name}-canary`, ...labelled };
  await client.create(at(R.deployments, ns), {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: `${name}-canary`, labels: labelled },
    spec: {
      replicas: 0,
      selector: { matchLabels: copyLabels },
      template: { metadata: { labels: copyLabels }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
    },
  });
  // Attached to the world's Gateway as sluice's are; what the simulator sends through it is the
  // benchmark's setting for the route (made before any run), left as it is.
  await client.create(at(R.httproutes, ns), {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, labels: labelled },
    spec: {
      parentRefs: [{ name: 'cilium', namespace: 'cilium' }],
      rules: [
        {
          backendRefs: [
            { name: `${name}-primary`, port: 9898, weight: 100 },
            { name: `${name}-canary`, port: 9898, weight: 0 },
          ],
        },
      ],
    },
  });
  await client.patch(at(R.deployments, ns, name), {
    metadata: { labels: { [TARGET_MARK]: 'true' }, annotations: { [TARGET_MARK]: 'stable' } },
  });
  const now = new Date().toISOString();
  await client.create(at(R.events, ns), {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${name}.` },
    involvedObject: { apiVersion: 'flagger.app/v1beta1', kind: 'Canary', name, namespace: ns },
    reason: 'Synced',
    type: 'Normal',
    message: `Initialization done! ${name}.${ns}`,
    source: { component: 'sluice-bench-floor' },
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  });
  await client.patch(at(CR.canaries, ns, name, 'status'), {
    status: { phase: 'Initialized', canaryWeight: 0, failedChecks: 0, iterations: 0, lastTransitionTime: now },
  });
}

/**
 * Takes everything the floor wrote away again, the targets' mark included, and waits until none of
 * it is left: the run after it creates objects of the same names.
 */
export async function removeFloor(client: KubeClient, jobs: FloorJob[], namespaces: string[]): Promise<void> {
  await inBatches(jobs, 20, async ({ ns, name }) => {
    await client.patch(at(R.deployments, ns, name), {
      metadata: { labels: { [TARGET_MARK]: null }, annotations: { [TARGET_MARK]: null } },
    });
    await client.patch(at(CR.canaries, ns, name), { metadata: { finalizers: null } });
  });
  // Services' labels reach their EndpointSlices and Endpoints; the copies' template label their ReplicaSets.
  const kinds: ResourceRef[] = [CR.canaries, R.deployments, R.services, R.httproutes, R.endpointslices, R.endpoints, R.replicasets];
  const deleteAll = () =>
    inBatches(namespaces, 10, (ns) => Promise.all(kinds.map((ref) => client.delete(at(ref, ns), { labelSelector: floorSelector }))));
  await deleteAll();
  // The targets' mark counts too: a run must start from targets as the benchmark made them.
  const remnants: [ResourceRef, string][] = [
    ...[CR.canaries, R.deployments, R.services, R.httproutes].map((ref): [ResourceRef, string] => [ref, floorSelector]),
    [R.deployments, TARGET_MARK],
  ];
  const left = async () => {
    for (const [ref, labelSelector] of remnants) if ((await client.list(ref, { labelSelector, limit: 1 })).items.length > 0) return true;
    return false;
  };
  await waitFor(async () => !(await left()), { timeoutMs: 600_000, intervalMs: 1_000, what: "the floor's objects to be gone" });
  // Anything the controller-manager wrote for them meanwhile.
  await deleteAll();
}
