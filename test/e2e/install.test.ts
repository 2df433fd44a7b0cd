// Installing sluice the two ways a platform team does — manifests/ with kustomize, and the Helm
// chart rendered by a real helm — each applied server-side to the world and followed by the same
// smoke: the seed's Canary initialised, a `kubectl set image` frozen with kubectl's warning (the
// apiserver calling the webhook through its Service), and the revision released.
import assert from 'node:assert/strict';
import { CR } from '../../api/flagger-types.js';
import { templateRevision } from '../../api/revision.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { renderChart, toYamlStream } from '../world/helm.js';
import { paths, ports } from '../world/layout.js';
import { applySeed, waitPhase } from '../world/seed.js';
import {
  controllerSpec,
  ensureServiceAccountToken,
  installManifests,
  SLUICE_NAMESPACE,
  startController,
  startWebhook,
  stopController,
  stopWebhook,
  webhookSpec,
} from '../world/sluice.js';
import { admin, type Deployment, deleteNamespace, testNamespace, webhookRequestCount } from '../world/test-clients.js';
import { buildBinaries, kubectl, runKubectl } from '../world/world.js';

type WebhookConfiguration = KubeObject & {
  webhooks: { name: string; clientConfig: { url?: string; service?: { namespace: string; name: string } } }[];
};

async function forwardedToSluicePods(): Promise<number> {
  const stats = (await (await fetch(`http://127.0.0.1:${ports.podNetwork}/connections`)).json()) as { forwarded: Record<string, number> };
  return Object.entries(stats.forwarded)
    .filter(([k]) => k.startsWith(`${SLUICE_NAMESPACE}/sluice-`) && k.endsWith(':8443'))
    .reduce((n, [, v]) => n + v, 0);
}

describe('installing sluice as a platform team does', function () {
  this.timeout(300_000);
  const { binDir } = buildBinaries();

  /** The seed's Canary through one revision, on whatever install is in place. */
  async function smoke(prefix: string): Promise<void> {
    const ns = await testNamespace(prefix);
    try {
      await applySeed(ns);
      // One step of weight instead of the seed's five: what is under test here is the install
      // (the webhook by Service, the processes' identities); the steps are the walkthrough's.
      await (await admin()).patch(at(CR.canaries, ns, 'podinfo'), { spec: { analysis: { maxWeight: 10 } } });
      await waitPhase(ns, 'Initialized');
      const before = await webhookRequestCount('mutate');
      const r = await runKubectl(binDir, ['-n', ns, 'set', 'image', 'deployment/podinfo', 'podinfod=ghcr.io/stefanprodan/podinfo:6.0.1']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`Warning: sluice: podinfo\\.${ns} frozen at revision`), 'kubectl prints the freeze');
      assert.ok((await webhookRequestCount('mutate')) > before, 'the webhook answered the freeze');
      // The webhook listens on loopback only and is registered by Service: what reached it came
      // through the pod network, at a pod address of Deployment sluice-webhook (kept-alive connections
      // are counted once, so the count is of connections, not requests).
      assert.ok((await forwardedToSluicePods()) > 0, 'the apiserver dialled a pod of Deployment sluice-webhook through the pod network');
      const d = await (await admin()).get<Deployment & { spec: { template: unknown } }>(at(R.deployments, ns, 'podinfo'));
      assert.equal(d.spec.paused, true);
      const rev = templateRevision(d.spec.template as Parameters<typeof templateRevision>[0]);
      const done = await waitPhase(ns, 'Succeeded', 120_000, rev);
      assert.equal(done.status?.lastPromotedSpec, rev);
    } finally {
      await deleteNamespace(ns);
    }
  }

  async function webhookConfigurations(): Promise<WebhookConfiguration[]> {
    const client = await admin();
    return [
      await client.get<WebhookConfiguration>(at(R.mutatingwebhooks, undefined, 'sluice')),
      await client.get<WebhookConfiguration>(at(R.validatingwebhooks, undefined, 'sluice')),
    ];
  }

  it('kustomize: manifests/ applied unchanged, the webhook reached through its Service, the processes on the service account token', async () => {
    installManifests(binDir);
    await startWebhook();
    await startController();
    for (const c of await webhookConfigurations()) {
      for (const w of c.webhooks) {
        assert.equal(w.clientConfig.url, undefined, `${w.name} is not registered by URL`);
        assert.deepEqual(w.clientConfig.service && [w.clientConfig.service.namespace, w.clientConfig.service.name], [
          SLUICE_NAMESPACE,
          'sluice-webhook',
        ]);
      }
    }
    for (const spec of [webhookSpec(), controllerSpec()]) {
      assert.ok(!spec.args.some((a) => a.startsWith('--kubeconfig')), `${spec.name} has no kubeconfig`);
      assert.ok(
        spec.args.some((a) => a.startsWith(`--in-cluster-root=${paths.serviceAccountRoot}/`)),
        `${spec.name} reads the mounted service account`,
      );
    }
    await smoke('kustomize');
  });

  it('helm: the chart, rendered by helm and applied server-side in place of manifests/, passes the same smoke', async () => {
    await stopController();
    await stopWebhook();
    // Everything the kustomize install made but its CRDs and namespace goes, so the chart must
    // create it all again (the service account too: its old tokens die with it).
    const perIdentity = (id: string) => [`deployment/sluice-${id}`, `poddisruptionbudget/sluice-${id}`, `serviceaccount/sluice-${id}`];
    const gone = [
      ...perIdentity('webhook'),
      ...perIdentity('controller'),
      'service/sluice-webhook',
      'role/sluice-webhook-tls',
      'rolebinding/sluice-webhook-tls',
      'role/sluice-controller-lease',
      'rolebinding/sluice-controller-lease',
    ];
    kubectl(binDir, ['delete', '-n', SLUICE_NAMESPACE, '--wait=true', ...gone]);
    kubectl(binDir, [
      'delete',
      '--wait=true',
      'mutatingwebhookconfiguration/sluice',
      'validatingwebhookconfiguration/sluice',
      'clusterrole/sluice-webhook',
      'clusterrole/sluice-controller',
      'clusterrolebinding/sluice-webhook',
      'clusterrolebinding/sluice-controller',
      'validatingadmissionpolicy/sluice-controller-contract',
      'validatingadmissionpolicybinding/sluice-controller-contract',
      'validatingadmissionpolicy/sluice-canary-action-requester',
      'validatingadmissionpolicybinding/sluice-canary-action-requester',
      'validatingadmissionpolicy/sluice-break-glass-right',
      'validatingadmissionpolicybinding/sluice-break-glass-right',
      'validatingadmissionpolicy/sluice-webhook-ca-bundle-only',
      'validatingadmissionpolicybinding/sluice-webhook-ca-bundle-only',
      'clusterrole/sluice-rollout-viewer',
      'clusterrole/sluice-rollout-operator',
      'clusterrole/sluice-break-glass',
    ]);
    try {
      const manifests = renderChart(binDir, SLUICE_NAMESPACE, ['image.repository=registry.example.com/platform/sluice', 'image.tag=test']);
      kubectl(binDir, ['apply', '--server-side', '--field-manager=helm', '-f', '-'], toYamlStream(manifests));
      const dep = await (await admin()).get<KubeObject & { spec: { template: { spec: { containers: { image: string }[] } } } }>(
        at(R.deployments, SLUICE_NAMESPACE, 'sluice-webhook'),
      );
      assert.equal(dep.spec.template.spec.containers[0]!.image, 'registry.example.com/platform/sluice:test');
      assert.equal(dep.metadata.labels?.['helm.sh/chart'], 'sluice-0.1.0');
      for (const who of ['webhook', 'controller'] as const) await ensureServiceAccountToken(await admin(), who, { force: true });
      await startWebhook();
      await startController();
      await smoke('helm');
    } finally {
      // Back to the kustomize install for the tests after this one.
      await stopController();
      await stopWebhook();
      installManifests(binDir);
      for (const who of ['webhook', 'controller'] as const) await ensureServiceAccountToken(await admin(), who, { force: true });
      await startWebhook();
      await startController();
    }
  });
});
