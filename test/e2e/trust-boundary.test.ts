// The trust boundary as the real apiserver enforces it (docs/security.md): what a namespace admin
// can ask of sluice is bounded at admission, and what sluice's webhooks are sent is what they need.
import assert from 'node:assert/strict';
import { ACTION_REF } from '../../api/canary-action.js';
import { labels as L, values } from '../../api/contract.js';
import { CR } from '../../api/flagger-types.js';
import { POLICY_REF } from '../../api/policy-types.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { sluiceAndNamespace } from '../world/seed.js';
import { admin, deleteNamespace, deploymentManifest, webhookRequestCount } from '../world/test-clients.js';

describe('trust boundary: what a namespace admin can ask of sluice', function () {
  this.timeout(120_000);
  let ns: string;
  let policyName: string;
  before(async () => {
    ns = await sluiceAndNamespace('trust', { [L.rollouts]: values.rolloutsEnabled });
    policyName = `e2e-${ns}`;
    const client = await admin();
    // Covers only this namespace, generates nothing (no Deployment matches), forbids skipping analysis.
    await client.create(POLICY_REF, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'ClusterCanaryPolicy',
      metadata: { name: policyName },
      spec: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        deploymentSelector: { matchLabels: { 'sluice.dev/none': 'none' } },
        constraints: { forbidSkipAnalysis: true, forbidCrossNamespaceRefs: true },
      },
    });
  });
  after(async () => {
    await (await admin()).delete(at(POLICY_REF, undefined, policyName)).catch(() => undefined);
    await deleteNamespace(ns);
  });

  const canary = (name: string, target: string, analysis: Record<string, unknown> = {}) => ({
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name, namespace: ns },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target },
      service: { port: 9898 },
      analysis: { interval: '10s', threshold: 2, maxWeight: 50, stepWeight: 10, ...analysis },
    },
  });

  it('a Canary whose generated names Kubernetes would refuse, or past a ceiling, is refused at admission naming the limit', async () => {
    const client = await admin();
    await assert.rejects(
      client.create(at(CR.canaries, ns), canary('long', 'a'.repeat(59))),
      /the generated Service a{59}-primary would be longer than 63 characters; give the Canary a service\.name of at most 55/,
    );
    await assert.rejects(
      client.create(at(CR.canaries, ns), canary('slow', 'app', { interval: '600h' })),
      /analysis\.interval 600h is longer than the ceiling of 24h/,
    );
    await assert.rejects(
      client.create(at(CR.canaries, ns), canary('many', 'app', { stepWeights: Array.from({ length: 500 }, (_, i) => (i % 100) + 1) })),
      /analysis\.stepWeights has 500 entries; at most 100/,
    );
    // Another namespace's MetricTemplate, which this namespace's policy forbids.
    await assert.rejects(
      client.create(
        at(CR.canaries, ns),
        canary('borrowed', 'app', {
          metrics: [{ name: 'latency', templateRef: { name: 'latency', namespace: 'ops' }, thresholdRange: { max: 1 } }],
        }),
      ),
      new RegExp(
        `analysis\\.metrics "latency" uses MetricTemplate ops/latency: another namespace's objects are forbidden \\(ClusterCanaryPolicy ${policyName}\\)`,
      ),
    );
  });

  it("a promote the namespace's policy does not allow is refused at admission, naming the policy; an abort is not", async () => {
    const client = await admin();
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'app'));
    await client.create(at(CR.canaries, ns), canary('app', 'app'));
    const action = (verb: string) => ({
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'CanaryAction',
      metadata: { generateName: `app-${verb}-`, namespace: ns },
      spec: { canary: 'app', action: verb, reason: 'e2e' },
    });
    await assert.rejects(
      client.create(at(ACTION_REF, ns), action('promote')),
      new RegExp(
        `admission webhook "actions\\.sluice\\.dev" denied the request: CanaryAction promote of Canary app\\.${ns}: ClusterCanaryPolicy ${policyName} does not allow promote here`,
      ),
    );
    const abort = await client.create<KubeObject>(at(ACTION_REF, ns), action('abort'));
    assert.ok(abort.metadata.name.startsWith('app-abort-'));
  });

  it("the config-pinning webhook is not called for a pod that reads no ConfigMap or Secret (its ServiceAccount's projected volume is not one)", async () => {
    const client = await admin();
    const before = await webhookRequestCount('mutate-pod');
    await client.create(at(R.deployments, ns), deploymentManifest(ns, 'plain', { replicas: 2 }));
    const pods = await waitFor(
      async () => {
        const items = (
          await client.list<KubeObject & { spec: { volumes?: { name: string; projected?: unknown }[] } }>(at(R.pods, ns), {
            labelSelector: 'app=plain',
          })
        ).items;
        return items.length === 2 ? items : undefined;
      },
      { timeoutMs: 60_000, what: 'the two pods of plain' },
    );
    // The apiserver gave each pod its kube-api-access projected volume: what the old condition matched.
    assert.ok(
      pods.every((p) => (p.spec.volumes ?? []).some((v) => v.name.startsWith('kube-api-access') && v.projected)),
      'projected token volumes',
    );
    assert.equal(await webhookRequestCount('mutate-pod'), before, 'no review sent to /mutate-pod');
  });
});
