// The seed guide on the local world: its manifests from examples/, in a namespace of the test's,
// with intervals of seconds instead of minutes (the only adaptation besides the Prometheus address).
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { type Canary, type CanaryAnalysis, CR } from '../../api/flagger-types.js';
import { POLICY_REF } from '../../api/policy-types.js';
import { templateRevision } from '../../api/revision.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { root } from './layout.js';
import { installManifests, startController, startWebhook } from './sluice.js';
import { admin, type Deployment, deleteNamespace, deploymentManifest, simulator, testNamespace } from './test-clients.js';
import { buildBinaries, kubectlAsync, runKubectl } from './world.js';

export const ANALYSIS_INTERVAL = '2s';
export const METRIC_INTERVAL = '6s';

function example(file: string, namespace: string): KubeObject[] {
  return YAML.parseAllDocuments(fs.readFileSync(path.join(root, 'examples/podinfo', file), 'utf8'))
    .map((d) => d.toJSON() as KubeObject)
    .map((o) => (o.metadata.namespace === 'test' ? { ...o, metadata: { ...o.metadata, namespace } } : o));
}

export interface Intervals {
  analysisInterval: string;
  metricInterval: string;
}

export function seedCanaryManifest(
  namespace: string,
  iv: Intervals = { analysisInterval: ANALYSIS_INTERVAL, metricInterval: METRIC_INTERVAL },
): Canary {
  const [canary] = example('canary.yaml', namespace) as Canary[];
  canary!.spec.analysis!.interval = iv.analysisInterval;
  for (const m of canary!.spec.analysis!.metrics ?? []) m.interval = iv.metricInterval;
  return canary!;
}

/** Applies the seed's MetricTemplates (shared, in flagger-system), Deployment, HPA and Canary. */
export async function applySeed(namespace: string, iv?: Intervals): Promise<void> {
  const client = await admin();
  for (const o of example('metric-templates.yaml', namespace)) {
    const ref = o.kind === 'Namespace' ? R.namespaces : at(CR.metrictemplates, o.metadata.namespace);
    await client.apply(at(ref, o.metadata.namespace, o.metadata.name), o, 'sluice-e2e');
  }
  for (const o of example('deployment.yaml', namespace)) await client.create(at(R.deployments, namespace), o);
  for (const o of example('hpa.yaml', namespace)) await client.create(at(R.hpas, namespace), o);
  await client.create(at(CR.canaries, namespace), seedCanaryManifest(namespace, iv));
}

/**
 * A Deployment of podinfo 6.0.0 (container `app`) and a Canary for it behind the world's gateway
 * (or as `service` says), with `analysis` as given: the shape most e2e tests start from.
 */
export async function deploymentWithCanary(
  namespace: string,
  name: string,
  analysis: CanaryAnalysis,
  opts: { replicas?: number; service?: Canary['spec']['service'] } = {},
): Promise<void> {
  const client = await admin();
  await client.create(at(R.deployments, namespace), deploymentManifest(namespace, name, { replicas: opts.replicas ?? 1 }));
  await client.create(at(CR.canaries, namespace), {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      service: opts.service ?? { port: 9898, gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
      analysis,
    },
  });
}

/**
 * `kubectl set image` of the podinfo container (`app`) of Deployment `name` to `tag`, as a person
 * does it; answers the revision of the template now stored (what the webhook froze).
 */
export async function setImage(namespace: string, name: string, tag: string): Promise<string> {
  const r = await runKubectl(buildBinaries().binDir, [
    '-n',
    namespace,
    'set',
    'image',
    `deployment/${name}`,
    `app=ghcr.io/stefanprodan/podinfo:${tag}`,
  ]);
  if (r.code !== 0) throw new Error(`kubectl set image deployment/${name} failed: ${r.stderr}`);
  return templateRevision((await (await admin()).get<Deployment>(at(R.deployments, namespace, name))).spec.template);
}

export async function getCanary(namespace: string, name = 'podinfo'): Promise<Canary> {
  return (await admin()).get<Canary>(at(CR.canaries, namespace, name));
}

/**
 * Waits for `phase` (one name, or several when any end will do and the caller asserts which); with
 * `revision`, for that phase reached by that revision (not a previous one's).
 */
export async function waitPhase(
  namespace: string,
  phase: string | readonly string[],
  timeoutMs = 120_000,
  revision?: string,
  name = 'podinfo',
): Promise<Canary> {
  const phases: readonly string[] = typeof phase === 'string' ? [phase] : phase;
  return waitFor(
    async () => {
      const c = await getCanary(namespace, name);
      const at = c.status?.phase;
      return at !== undefined && phases.includes(at) && (revision === undefined || c.status?.lastAppliedSpec === revision) ? c : undefined;
    },
    {
      timeoutMs,
      intervalMs: 250,
      what: `Canary ${name}.${namespace} to reach ${phases.join(' or ')}${revision ? ` with revision ${revision}` : ''}`,
    },
  );
}

export interface EventRow {
  name: string;
  message: string;
  type: string;
  count: number;
  first: number;
  last: number;
}

/** The Canary's events, oldest first by creation (sluice names events by creation time). */
export async function canaryEvents(namespace: string, name = 'podinfo'): Promise<EventRow[]> {
  const list = await (await admin()).list<
    KubeObject & {
      message: string;
      type: string;
      count?: number;
      firstTimestamp?: string;
      lastTimestamp?: string;
      involvedObject: { kind: string; name: string };
    }
  >(at(R.events, namespace), { fieldSelector: `involvedObject.kind=Canary,involvedObject.name=${name}` });
  return list.items
    .map((e) => ({
      name: e.metadata.name,
      message: e.message,
      type: e.type,
      count: e.count ?? 1,
      first: Date.parse(e.firstTimestamp ?? ''),
      last: Date.parse(e.lastTimestamp ?? ''),
    }))
    .sort((a, b) => a.name.length - b.name.length || a.name.localeCompare(b.name));
}

/**
 * inOrder, waited for: events are written just after the status write that decides them, so a
 * test that has seen the phase can be a moment ahead of its events. Undefined once they are all
 * there; otherwise, after the deadline, what is missing.
 */
export async function eventuallyInOrder(
  read: () => Promise<EventRow[]>,
  expected: (string | RegExp)[],
  timeoutMs = 15_000,
): Promise<string | undefined> {
  let problem: string | undefined = 'events never read';
  try {
    await waitFor(
      async () => {
        problem = inOrder(await read(), expected);
        return problem === undefined || undefined;
      },
      { timeoutMs, intervalMs: 200, what: 'the events' },
    );
  } catch {
    // `problem` says what the last reading lacked.
  }
  return problem;
}

/** Asserts `expected` messages occur in this order among `rows` (others may come between). */
export function inOrder(rows: EventRow[], expected: (string | RegExp)[]): string | undefined {
  let i = 0;
  for (const row of rows) {
    const want = expected[i];
    if (want === undefined) break;
    if (typeof want === 'string' ? row.message === want : want.test(row.message)) i++;
  }
  return i === expected.length
    ? undefined
    : `missing, in order: ${String(expected[i])}\nevents:\n${rows.map((r) => `  ${r.type} ${r.message} (x${r.count})`).join('\n')}`;
}

/** sluice installed and running on the world (idempotent), and a fresh namespace for one test file. */
export async function sluiceAndNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  installManifests(buildBinaries().binDir);
  await startWebhook();
  await startController();
  return testNamespace(prefix, labels);
}

/**
 * The release-control suites' world: podinfo under a Canary (two steps of `stepWeight` up to 40,
 * one success-rate check), Initialized, with traffic, and a ClusterCanaryPolicy selecting only its
 * namespace and generating nothing, for the test to set stopTheLine or changeWindows on. `remove`
 * takes it all away again.
 */
export async function podinfoUnderPolicy(
  prefix: string,
  stepWeight: number,
): Promise<{ ns: string; policy: string; remove: () => Promise<void> }> {
  const ns = await sluiceAndNamespace(prefix);
  const policy = `${prefix}-${ns}`;
  await deploymentWithCanary(ns, 'podinfo', {
    interval: '2s',
    threshold: 2,
    stepWeight,
    maxWeight: 40,
    metrics: [{ name: 'request-success-rate', interval: '6s', thresholdRange: { min: 99 } }],
  });
  await waitPhase(ns, 'Initialized', 60_000);
  await simulator('PUT', `/traffic/${ns}/podinfo`, { ratePerSecond: 100 });
  await (await admin()).create(POLICY_REF, {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'ClusterCanaryPolicy',
    metadata: { name: policy },
    spec: {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      deploymentSelector: { matchLabels: { 'sluice.dev/selects': 'nothing' } },
    },
  });
  return {
    ns,
    policy,
    remove: async () => {
      await (await admin()).delete(at(POLICY_REF, undefined, policy)).catch(() => undefined);
      await simulator('DELETE', `/traffic/${ns}/podinfo`).catch(() => undefined);
      await deleteNamespace(ns);
    },
  };
}

/**
 * A ServiceAccount `who` of namespace `ns`, bound there to each of `clusterRoles`, as a kubeconfig
 * file in `dir` (its context's namespace `ns`): a test acting with that identity's credentials.
 */
export async function userKubeconfig(ns: string, dir: string, who: string, clusterRoles: string[] = []): Promise<string> {
  const { binDir } = buildBinaries();
  await kubectlAsync(binDir, ['-n', ns, 'create', 'serviceaccount', who]);
  for (const role of clusterRoles)
    await kubectlAsync(binDir, [
      '-n',
      ns,
      'create',
      'rolebinding',
      `${who}-${role}`,
      `--clusterrole=${role}`,
      `--serviceaccount=${ns}:${who}`,
    ]);
  const token = (await kubectlAsync(binDir, ['-n', ns, 'create', 'token', who, '--duration=1h'])).trim();
  const view = YAML.parse(await kubectlAsync(binDir, ['config', 'view', '--raw', '--minify', '-o', 'yaml']));
  view.users = [{ name: who, user: { token } }];
  view.contexts[0].context.user = who;
  view.contexts[0].context.namespace = ns;
  const file = path.join(dir, `${who}.kubeconfig`);
  fs.writeFileSync(file, YAML.stringify(view), { mode: 0o600 });
  return file;
}
