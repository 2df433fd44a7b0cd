import assert from 'node:assert/strict';
import type { Canary } from '../../api/flagger-types.js';
import type { ClusterCanaryPolicy, ClusterCanaryPolicySpec } from '../../api/policy-types.js';
import type { DaemonSet, Deployment, HorizontalPodAutoscaler, StatefulSet } from '../../api/workload.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { generatedCanary, TEMPLATE_HASH } from '../../policy/generated-canary.js';
import { selectorMatches } from '../../policy/label-selector.js';
import { choosePolicy, planNamespace, policiesForNamespace } from '../../policy/selection.js';
import { seedCanary } from './controller-fixtures.js';

const ns = (name: string, labels: Record<string, string> = { 'sluice.dev/rollouts': 'enabled' }): KubeObject => ({
  metadata: { name, labels },
});
const policy = (name: string, spec: ClusterCanaryPolicySpec = {}): ClusterCanaryPolicy => ({
  metadata: { name, uid: `uid-${name}`, generation: 1 },
  spec: {
    canaryTemplate: {
      service: { gatewayRefs: [{ name: 'cilium', namespace: 'cilium' }] },
      analysis: { interval: '1m', maxWeight: 50, stepWeight: 10 },
    },
    ...spec,
  },
});
function dep(name: string, opts: { labels?: Record<string, string>; port?: number | null; namespace?: string } = {}): Deployment {
  const ports = opts.port === null ? [] : [{ containerPort: opts.port ?? 8080 }];
  return {
    metadata: { name, namespace: opts.namespace ?? 'shop', labels: opts.labels ?? { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'i', ports }] } },
    },
  };
}
const explicit = (name: string, target: string): Canary => {
  const c = seedCanary({ spec: { targetRef: { kind: 'Deployment', name: target } } });
  c.metadata = { name, namespace: 'shop' };
  return c;
};
const plan = (over: Partial<Parameters<typeof planNamespace>[0]>) =>
  planNamespace({ namespace: ns('shop'), policies: [policy('base')], deployments: [], canaries: [], hpas: [], ...over });

describe('label selectors', () => {
  const labels = { team: 'a', tier: 'web' };
  const cases: [Parameters<typeof selectorMatches>[0], boolean][] = [
    [undefined, true],
    [{}, true],
    [{ matchLabels: { team: 'a' } }, true],
    [{ matchLabels: { team: 'b' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, false],
    [{ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['x'] }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
    [{ matchLabels: { team: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['api'] }] }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'Bogus' as 'In' }] }, false],
  ];
  for (const [i, [sel, want]] of cases.entries())
    it(`case ${i}: ${JSON.stringify(sel)} → ${want}`, () => assert.equal(selectorMatches(sel, labels), want));
});

describe('policy selection', () => {
  it('holds only in namespaces that opted in and that its selector picks', () => {
    const p = policy('p', { namespaceSelector: { matchLabels: { env: 'prod' } } });
    assert.deepEqual(policiesForNamespace([p], ns('a', { 'sluice.dev/rollouts': 'enabled', env: 'prod' })), [p]);
    assert.deepEqual(policiesForNamespace([p], ns('b', { env: 'prod' })), []);
    assert.deepEqual(policiesForNamespace([p], ns('c', { 'sluice.dev/rollouts': 'disabled', env: 'prod' })), []);
    assert.deepEqual(policiesForNamespace([p], ns('d', { 'sluice.dev/rollouts': 'enabled', env: 'dev' })), []);
    assert.deepEqual(policiesForNamespace([p], undefined), []);
  });

  it('picks the highest priority and reports a tie at the top instead of guessing', () => {
    const [a, b, c] = [policy('a', { priority: 1 }), policy('b', { priority: 5 }), policy('c', { priority: 5 })];
    assert.deepEqual(choosePolicy([a, b]), { policy: b });
    assert.deepEqual(choosePolicy([c, a, b]), { tie: [b, c] });
    assert.equal(choosePolicy([]), undefined);
  });
});

describe('generated Canary', () => {
  it("takes the port from the first container port, hosts from the pattern, and the Deployment's HPA", () => {
    const p = policy('base', {
      canaryTemplate: {
        service: { hostPattern: '{name}.{namespace}.example.com', gatewayRefs: [{ name: 'gw' }] },
        analysis: { maxWeight: 30 },
      },
    });
    const hpa: HorizontalPodAutoscaler = {
      metadata: { name: 'web-hpa', namespace: 'shop' },
      spec: { maxReplicas: 4, scaleTargetRef: { kind: 'Deployment', name: 'web' } },
    };
    const out = generatedCanary(p, dep('web', { port: 9898 }), [hpa]);
    assert.ok('canary' in out);
    const c = out.canary;
    assert.equal(c.metadata.name, 'web');
    assert.equal(c.metadata.labels!['sluice.dev/policy'], 'base');
    assert.deepEqual(c.metadata.ownerReferences, [
      {
        apiVersion: 'sluice.dev/v1alpha1',
        kind: 'ClusterCanaryPolicy',
        name: 'base',
        uid: 'uid-base',
        controller: true,
        blockOwnerDeletion: false,
      },
    ]);
    assert.deepEqual(c.spec.service, { gatewayRefs: [{ name: 'gw' }], port: 9898, hosts: ['web.shop.example.com'] });
    assert.deepEqual(c.spec.autoscalerRef, { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', name: 'web-hpa' });
    assert.deepEqual(c.spec.analysis, { maxWeight: 30 });
    assert.match(c.metadata.annotations![TEMPLATE_HASH]!, /^[0-9a-f]{16}$/);
  });

  it("changes its template hash when the policy or the Deployment's port changes, not otherwise", () => {
    const h = (p: ClusterCanaryPolicy, d: Deployment) => {
      const o = generatedCanary(p, d, []);
      assert.ok('canary' in o);
      return o.canary.metadata.annotations![TEMPLATE_HASH];
    };
    const base = h(policy('base'), dep('web'));
    assert.equal(h(policy('base'), dep('web')), base);
    assert.notEqual(h(policy('base'), dep('web', { port: 9090 })), base);
    assert.notEqual(h(policy('base', { canaryTemplate: { analysis: { maxWeight: 20 } } }), dep('web')), base);
  });

  it('names what is missing when no port can be found', () => {
    assert.deepEqual(generatedCanary(policy('base'), dep('web', { port: null }), []), {
      problem: 'no containerPort in the pod template and no canaryTemplate.service.port in the policy; add a port to one of them',
    });
  });
});

describe('namespace plan', () => {
  it("generates one Canary per selected Deployment, never for sluice's own copies or excluded ones", () => {
    const copy = dep('web-canary', {
      labels: { app: 'web-canary', 'sluice.dev/role': 'canary', 'app.kubernetes.io/managed-by': 'sluice' },
    });
    const p = policy('base', {
      deploymentSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['batch'] }] },
      exclude: [{ name: 'legacy' }, { name: 'db', namespace: 'other' }],
    });
    const out = plan({ policies: [p], deployments: [dep('web'), dep('api'), dep('db'), dep('batch'), dep('legacy'), copy] });
    assert.deepEqual(
      out.desired.map((d) => d.canary.metadata.name),
      ['web', 'api', 'db'],
    );
    assert.deepEqual(out.coverage.get('base'), { deployments: ['shop/web', 'shop/api', 'shop/db'], problems: [] });
  });

  it("lets an explicit Canary win and reports a name already taken by another Deployment's Canary", () => {
    const out = plan({ deployments: [dep('web'), dep('api')], canaries: [explicit('mine', 'web'), explicit('api', 'other')] });
    assert.deepEqual(out.desired, []);
    assert.deepEqual(out.coverage.get('base')!.problems, [
      { object: 'shop/api', reason: 'Canary shop/api already exists for Deployment other; rename one of them' },
    ]);
  });

  it('reports a tie on both policies and generates nothing for that Deployment', () => {
    const out = plan({
      policies: [policy('a', { priority: 3 }), policy('b', { priority: 3 }), policy('c', { priority: 1 })],
      deployments: [dep('web')],
    });
    assert.deepEqual(out.desired, []);
    const reason = 'selected by policies a, b at equal priority 3; give one a higher spec.priority or narrow a selector';
    assert.deepEqual(out.coverage.get('a')!.problems, [{ object: 'shop/web', reason }]);
    assert.deepEqual(out.coverage.get('b')!.problems, [{ object: 'shop/web', reason }]);
    assert.deepEqual(out.coverage.get('c')!.problems, []);
  });

  it('refuses to generate from a template that breaks a covering policy, saying which rule', () => {
    const strict = policy('strict', { constraints: { maxWeight: 20 } });
    const out = plan({ policies: [policy('base', { priority: 2 }), strict], deployments: [dep('web')] });
    assert.deepEqual(out.desired, []);
    assert.deepEqual(out.coverage.get('base')!.problems, [
      {
        object: 'shop/web',
        reason: 'its canaryTemplate breaks the constraints: analysis.maxWeight 50 is above the ceiling 20 (ClusterCanaryPolicy strict)',
      },
    ]);
  });

  it('removes generated Canaries when the namespace opts out, and lets go of a Canary taken over by hand', () => {
    const generated = (generatedCanary(policy('base'), dep('web'), []) as { canary: Canary }).canary;
    const adopted = explicit('api', 'api');
    adopted.metadata.ownerReferences = [{ apiVersion: 'sluice.dev/v1alpha1', kind: 'ClusterCanaryPolicy', name: 'base', uid: 'uid-base' }];
    const out = plan({ namespace: ns('shop', {}), deployments: [dep('web'), dep('api')], canaries: [generated, adopted] });
    assert.deepEqual(out.desired, []);
    assert.deepEqual(
      out.remove.map((c) => c.metadata.name),
      ['web'],
    );
    assert.deepEqual(
      out.disown.map((c) => c.metadata.name),
      ['api'],
    );
    assert.equal(out.coverage.size, 0);
  });

  it("reports an explicit Canary that breaks the rules of the namespace's policies", () => {
    const loose = explicit('mine', 'web');
    loose.spec.analysis!.maxWeight = 90;
    const out = plan({ policies: [policy('base', { constraints: { maxWeight: 50 } })], deployments: [dep('web')], canaries: [loose] });
    assert.deepEqual(out.coverage.get('base')!.problems, [
      {
        object: 'shop/mine',
        reason:
          'Canary breaks the constraints and is analysed within them: analysis.maxWeight 90 is above the ceiling 50 (ClusterCanaryPolicy base)',
      },
    ]);
  });
});

describe('policies and StatefulSets', () => {
  const sts = (name: string) => ({ ...dep(name), kind: 'StatefulSet' }) as unknown as StatefulSet;
  it('cover StatefulSets only when spec.workloadKinds lists them, with a Canary targeting the StatefulSet', () => {
    const off = plan({ statefulsets: [sts('db')] });
    assert.deepEqual(off.desired, [], 'Deployments only by default: an upgrade adopts no StatefulSet');
    const on = plan({
      policies: [policy('base', { workloadKinds: ['Deployment', 'StatefulSet'] })],
      statefulsets: [sts('db')],
      deployments: [dep('web')],
    });
    assert.deepEqual(
      on.desired.map((x) => [x.canary.metadata.name, x.canary.spec.targetRef.kind]),
      [
        ['web', 'Deployment'],
        ['db', 'StatefulSet'],
      ],
    );
    assert.equal(on.desired[1]!.canary.spec.autoscalerRef, undefined);
    const onlySts = plan({
      policies: [policy('base', { workloadKinds: ['StatefulSet'] })],
      statefulsets: [sts('db')],
      deployments: [dep('web')],
    });
    assert.deepEqual(
      onlySts.desired.map((x) => x.canary.metadata.name),
      ['db'],
    );
  });
  it('reports a Deployment and a StatefulSet of one name instead of generating two Canaries of that name', () => {
    const p = plan({
      policies: [policy('base', { workloadKinds: ['Deployment', 'StatefulSet'] })],
      statefulsets: [sts('web')],
      deployments: [dep('web')],
    });
    assert.deepEqual(
      p.desired.map((x) => x.canary.spec.targetRef.kind),
      ['Deployment'],
    );
    assert.match(p.coverage.get('base')!.problems[0]!.reason, /both named web/);
  });
});

describe('policies and DaemonSets', () => {
  const ds = (name: string) => ({ ...dep(name), kind: 'DaemonSet' }) as unknown as DaemonSet;
  it('cover DaemonSets only when spec.workloadKinds lists them, and report one sharing a StatefulSet’s name', () => {
    assert.deepEqual(plan({ daemonsets: [ds('agent')] }).desired, [], 'Deployments only by default');
    const on = plan({
      policies: [policy('base', { workloadKinds: ['DaemonSet', 'StatefulSet'] })],
      daemonsets: [ds('agent'), ds('db')],
      statefulsets: [dep('db') as unknown as StatefulSet],
    });
    assert.deepEqual(
      on.desired.map((x) => [x.canary.metadata.name, x.canary.spec.targetRef.kind]),
      [
        ['db', 'StatefulSet'],
        ['agent', 'DaemonSet'],
      ],
    );
    assert.match(
      on.coverage.get('base')!.problems[0]!.reason,
      /a StatefulSet and a DaemonSet are both named db; the policy covers the StatefulSet/,
    );
  });
});
