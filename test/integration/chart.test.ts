// The Helm chart, rendered by a real helm (built from its Go module) and read against manifests/:
// the chart takes its RBAC rules and webhook rules from manifests/ (one home each), so a kustomize
// install and a Helm install must describe the same objects; values move only what they promise.
import assert from 'node:assert/strict';
import path from 'node:path';
import YAML from 'yaml';
import { chartDir as chart, helm, type Rendered as Obj, renderChart } from '../world/helm.js';
import { root } from '../world/layout.js';
import { buildBinaries, kubectl } from '../world/world.js';

const id = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const find = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind} ${name} rendered`);
  return o;
};
type Container = { name: string; args: string[]; ports: unknown; securityContext: unknown; volumeMounts?: unknown; env?: unknown };
const containers = (d: Obj) => (d.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers;
const podSpec = (d: Obj) => (d.spec as { template: { spec: Record<string, unknown> } }).template.spec;

describe('the Helm chart', function () {
  this.timeout(60_000);
  const { binDir } = buildBinaries();
  const kustomized = () =>
    YAML.parseAllDocuments(kubectl(binDir, ['kustomize', path.join(root, 'manifests')]))
      .map((d) => d.toJSON() as Obj)
      .filter((o) => o?.kind);

  it('passes helm lint, in both certificate modes', () => {
    helm(binDir, ['lint', chart]);
    helm(binDir, ['lint', chart, '--set', 'certificates.mode=cert-manager']);
  });

  it('describes what manifests/ describes: the same objects, RBAC rules, webhook rules and pod security', () => {
    const fromChart = renderChart(binDir, 'sluice-system', [], ['--include-crds']);
    const fromKustomize = kustomized().filter((o) => o.kind !== 'Namespace');
    const chartIds = new Set(fromChart.map(id));
    for (const o of fromKustomize) assert.ok(chartIds.has(id(o)), `${id(o)} is in the chart`);
    const extra = [...chartIds].filter((i) => !fromKustomize.some((o) => id(o) === i));
    assert.deepEqual(extra, ['Service/sluice-system/sluice-metrics'], 'the chart adds only its metrics Service');
    for (const [kind, name, field] of [
      ['ClusterRole', 'sluice-webhook', 'rules'],
      ['ClusterRole', 'sluice-controller', 'rules'],
      ['Role', 'sluice-webhook-tls', 'rules'],
      ['Role', 'sluice-controller-lease', 'rules'],
      ['ValidatingAdmissionPolicy', 'sluice-controller-contract', 'spec'],
      ['ValidatingAdmissionPolicyBinding', 'sluice-controller-contract', 'spec'],
      ['NetworkPolicy', 'sluice-webhook', 'spec'],
      ['NetworkPolicy', 'sluice-controller', 'spec'],
      ['MutatingWebhookConfiguration', 'sluice', 'webhooks'],
      ['ValidatingWebhookConfiguration', 'sluice', 'webhooks'],
      ['CustomResourceDefinition', 'canaries.flagger.app', 'spec'],
      ['CustomResourceDefinition', 'canaryactions.sluice.dev', 'spec'],
      ['ClusterRole', 'sluice-rollout-viewer', 'rules'],
      ['ClusterRole', 'sluice-rollout-operator', 'rules'],
      ['ValidatingAdmissionPolicy', 'sluice-canary-action-requester', 'spec'],
      ['ValidatingAdmissionPolicy', 'sluice-break-glass-right', 'spec'],
      ['ClusterRole', 'sluice-break-glass', 'rules'],
      ['ValidatingAdmissionPolicy', 'sluice-webhook-ca-bundle-only', 'spec'],
    ] as const) {
      assert.deepEqual(find(fromChart, kind, name)[field], find(fromKustomize, kind, name)[field], `${kind} ${name} ${field}`);
    }
    // The people's roles keep their aggregation labels beside the chart's own.
    for (const name of ['sluice-rollout-viewer', 'sluice-rollout-operator']) {
      const labels = find(fromChart, 'ClusterRole', name).metadata.labels ?? {};
      assert.equal(labels['rbac.authorization.k8s.io/aggregate-to-edit'], 'true', `${name} aggregates into edit`);
      assert.equal(labels['helm.sh/chart'], 'sluice-0.1.0');
    }
    for (const name of ['sluice-webhook', 'sluice-controller']) {
      const [chartDep, kustDep] = [find(fromChart, 'Deployment', name), find(fromKustomize, 'Deployment', name)];
      assert.deepEqual(podSpec(chartDep).securityContext, podSpec(kustDep).securityContext);
      assert.equal(podSpec(chartDep).serviceAccountName, podSpec(kustDep).serviceAccountName, `${name}: its own identity`);
      assert.deepEqual((chartDep.spec as { selector: unknown }).selector, (kustDep.spec as { selector: unknown }).selector);
      assert.deepEqual(
        containers(chartDep).map((c) => [c.name, c.ports, c.securityContext]),
        containers(kustDep).map((c) => [c.name, c.ports, c.securityContext]),
      );
      // The webhook's Node.js options (its young generation) are the same either way.
      if (name === 'sluice-webhook') assert.deepEqual(containers(chartDep)[0]!.env, containers(kustDep)[0]!.env, `${name}: env`);
      assert.deepEqual(
        (podSpec(chartDep).securityContext as { seccompProfile: unknown }).seccompProfile,
        { type: 'RuntimeDefault' },
        'restricted Pod Security level',
      );
    }
  });

  it('moves everything namespaced, and every flag that names the namespace, into the release namespace', () => {
    const objs = renderChart(binDir, 'delivery');
    const clusterScoped = new Set([
      'ClusterRole',
      'ClusterRoleBinding',
      'MutatingWebhookConfiguration',
      'ValidatingWebhookConfiguration',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
    for (const o of objs) {
      if (clusterScoped.has(o.kind!)) continue;
      assert.equal(o.metadata.namespace, 'delivery', `${id(o)} in the release namespace`);
    }
    for (const name of ['sluice-webhook', 'sluice-controller'])
      assert.equal((find(objs, 'ClusterRoleBinding', name).subjects as { namespace: string }[])[0]!.namespace, 'delivery');
    const policy = find(objs, 'ValidatingAdmissionPolicy', 'sluice-controller-contract').spec as {
      matchConditions: { expression: string }[];
    };
    assert.match(
      policy.matchConditions[0]!.expression,
      /'system:serviceaccount:delivery:sluice-controller'/,
      "the policy binds the release's controller",
    );
    const webhookOnly = find(objs, 'ValidatingAdmissionPolicy', 'sluice-webhook-ca-bundle-only').spec as typeof policy;
    assert.match(
      webhookOnly.matchConditions[0]!.expression,
      /'system:serviceaccount:delivery:sluice-webhook'/,
      "and the release's webhook",
    );
    const copies = (
      find(objs, 'ValidatingWebhookConfiguration', 'sluice').webhooks as { name: string; matchConditions: { expression: string }[] }[]
    ).find((w) => w.name === 'canary-copies.sluice.dev');
    assert.match(
      copies!.matchConditions[0]!.expression,
      /'system:serviceaccount:delivery:sluice-controller'/,
      "copies are checked for the release's controller",
    );
    const generated = (
      find(objs, 'ValidatingWebhookConfiguration', 'sluice').webhooks as { name: string; matchConditions: { expression: string }[] }[]
    ).find((w) => w.name === 'generated.sluice.dev');
    assert.match(
      generated!.matchConditions[0]!.expression,
      /!= 'system:serviceaccount:delivery:sluice-controller'/,
      "generated objects skip the call only for the release's controller",
    );
    for (const kind of ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      for (const w of find(objs, kind, 'sluice').webhooks as {
        clientConfig: { service: { namespace: string } };
        name: string;
        namespaceSelector?: { matchExpressions: { values: string[] }[] };
      }[]) {
        assert.equal(w.clientConfig.service.namespace, 'delivery');
        // Only the webhook for cluster-scoped policies has no namespace to leave out.
        if (w.name === 'policies.sluice.dev') assert.equal(w.namespaceSelector, undefined);
        else assert.deepEqual(w.namespaceSelector?.matchExpressions[0]?.values, ['kube-system', 'delivery']);
      }
    }
    const [webhook] = containers(find(objs, 'Deployment', 'sluice-webhook'));
    const [controller] = containers(find(objs, 'Deployment', 'sluice-controller'));
    for (const flag of [
      '--controller-user=system:serviceaccount:delivery:sluice-controller',
      '--dns-name=sluice-webhook.delivery.svc',
      '--tls-secret=delivery/sluice-webhook-tls',
    ])
      assert.ok(webhook!.args.includes(flag), flag);
    assert.ok(controller!.args.includes('--lease-namespace=delivery'));
  });

  it('takes image, replicas, leader election and extra flags from values', () => {
    const objs = renderChart(binDir, 'sluice-system', [
      'image.repository=registry.example/sluice',
      'image.tag=1.2.3',
      'replicaCount=1',
      'leaderElection.enabled=false',
      'controller.extraArgs[0]=--min-interval=5',
    ]);
    const [webhookDep, controllerDep] = [find(objs, 'Deployment', 'sluice-webhook'), find(objs, 'Deployment', 'sluice-controller')];
    for (const dep of [webhookDep, controllerDep]) assert.equal((dep.spec as { replicas: number }).replicas, 1);
    const [webhook] = containers(webhookDep);
    const [controller] = containers(controllerDep);
    assert.equal((webhook as unknown as { image: string }).image, 'registry.example/sluice:1.2.3');
    assert.ok(controller!.args.includes('--leader-elect=false'));
    assert.ok(controller!.args.includes('--min-interval=5'));
  });

  it('in cert-manager mode: a Certificate for the Service, the Secret mounted as files, the CA injected by cainjector', () => {
    const objs = renderChart(binDir, 'sluice-system', ['certificates.mode=cert-manager']);
    const cert = find(objs, 'Certificate', 'sluice-webhook');
    assert.deepEqual((cert.spec as { dnsNames: string[] }).dnsNames, [
      'sluice-webhook.sluice-system.svc',
      'sluice-webhook.sluice-system.svc.cluster.local',
    ]);
    assert.ok(find(objs, 'Issuer', 'sluice-selfsigned'), 'a self-signed Issuer when none is given');
    const [webhook] = containers(find(objs, 'Deployment', 'sluice-webhook'));
    assert.ok(webhook!.args.includes('--tls-cert-file=/tls/tls.crt'));
    assert.ok(!webhook!.args.some((a) => a.startsWith('--tls-secret')));
    assert.equal(
      find(objs, 'MutatingWebhookConfiguration', 'sluice').metadata.annotations?.['cert-manager.io/inject-ca-from'],
      'sluice-system/sluice-webhook',
    );
    const withIssuer = renderChart(binDir, 'sluice-system', [
      'certificates.mode=cert-manager',
      'certificates.certManager.issuerRef.name=corp-ca',
      'certificates.certManager.issuerRef.kind=ClusterIssuer',
    ]);
    assert.ok(!withIssuer.some((o) => o.kind === 'Issuer'));
    assert.deepEqual((find(withIssuer, 'Certificate', 'sluice-webhook').spec as { issuerRef: unknown }).issuerRef, {
      name: 'corp-ca',
      kind: 'ClusterIssuer',
    });
  });

  it('refuses an unknown certificate mode by name', () => {
    assert.throws(
      () => renderChart(binDir, 'sluice-system', ['certificates.mode=vault']),
      /certificates.mode must be self-managed or cert-manager, not "vault"/,
    );
  });

  it('renders the dashboard only when asked: its own identity may read, review and ask, never act', () => {
    assert.ok(!renderChart(binDir, 'sluice-system').some((o) => o.metadata.name === 'sluice-dashboard'), 'off by default');
    const objs = renderChart(binDir, 'sluice-system', ['dashboard.enabled=true', 'dashboard.basePath=/sluice']);
    const role = find(objs, 'ClusterRole', 'sluice-dashboard') as Obj & {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    assert.deepEqual(role.rules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${r.apiGroups[0]}/${res}:${v}`))).sort(), [
      'authentication.k8s.io/tokenreviews:create',
      'authorization.k8s.io/subjectaccessreviews:create',
      'flagger.app/canaries:get',
      'flagger.app/canaries:list',
      'flagger.app/canaries:watch',
    ]);
    const dep = find(objs, 'Deployment', 'sluice-dashboard');
    assert.equal(podSpec(dep).serviceAccountName, 'sluice-dashboard');
    assert.deepEqual(containers(dep)[0]!.args, [
      'dashboard',
      '--port=8080',
      '--prometheus=http://prometheus.monitoring:9090',
      '--base-path=/sluice',
    ]);
    assert.deepEqual((podSpec(dep).securityContext as { runAsNonRoot: boolean }).runAsNonRoot, true);
    const policy = find(objs, 'NetworkPolicy', 'sluice-dashboard').spec as {
      ingress: { from: unknown[] }[];
      egress: { ports?: { port: number }[] }[];
    };
    assert.deepEqual(policy.ingress[0]!.from, [{ namespaceSelector: { matchLabels: { 'sluice.dev/dashboard': 'ingress' } } }]);
    assert.ok(
      policy.egress.some((r) => r.ports?.some((p) => p.port === 9090)),
      'egress to Prometheus for the charts',
    );
    assert.ok(find(objs, 'Service', 'sluice-dashboard'));
  });

  it('renders the ServiceMonitor and the policy examples only when asked', () => {
    const plain = renderChart(binDir, 'sluice-system');
    assert.ok(!plain.some((o) => o.kind === 'ServiceMonitor' || o.kind === 'ClusterCanaryPolicy'));
    const all = renderChart(binDir, 'sluice-system', ['metrics.serviceMonitor.enabled=true', 'policyExamples.enabled=true']);
    assert.ok(find(all, 'ServiceMonitor', 'sluice'));
    assert.ok(find(all, 'ClusterCanaryPolicy', 'baseline'));
  });

  it('narrows the admission port and the webhook egress to the control plane, and the metrics ports to their scrapers, when told', () => {
    const objs = renderChart(binDir, 'sluice-system', ['networkPolicy.apiserverCIDRs={10.0.0.10/32,fd00::10/128}']);
    const webhook = find(objs, 'NetworkPolicy', 'sluice-webhook').spec as {
      ingress: { from?: unknown[]; ports: { port: string }[] }[];
      egress: { to?: unknown[]; ports?: { port: number }[] }[];
    };
    const blocks = [{ ipBlock: { cidr: '10.0.0.10/32' } }, { ipBlock: { cidr: 'fd00::10/128' } }];
    assert.deepEqual(webhook.ingress.find((r) => r.ports[0]!.port === 'webhook')?.from, blocks);
    assert.deepEqual(webhook.egress.find((r) => r.ports?.some((p) => p.port === 443))?.to, blocks);
    assert.deepEqual(webhook.ingress.find((r) => r.ports[0]!.port === 'webhook-metrics')?.from, [
      { namespaceSelector: { matchLabels: { 'sluice.dev/metrics': 'scrape' } } },
    ]);
    // Without the value, the admission port is open to any source (the apiserver's address is the cluster's own).
    const plain = find(renderChart(binDir, 'sluice-system'), 'NetworkPolicy', 'sluice-webhook').spec as typeof webhook;
    assert.equal(plain.ingress.find((r) => r.ports[0]!.port === 'webhook')?.from, undefined);
  });
});
