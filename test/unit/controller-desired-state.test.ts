import assert from 'node:assert/strict';
import { annotations, labels } from '../../api/contract.js';
import type { Deployment, HorizontalPodAutoscaler } from '../../api/workload.js';
import { copyTemplate, type DesiredTarget, primaryReplicas, targetPatch } from '../../controller/desired-state.js';
import { buildCanaryCopy, canaryHpa } from '../../controller/generated-objects.js';
import { desiredState, servicesFor } from '../../controller/kinds/index.js';
import { desiredRoute } from '../../controller/router/http-route.js';
import { copyOf, deployment, rev, seedCanary } from './controller-fixtures.js';

const V0 = 'podinfo:6.0.0';
const V1 = 'podinfo:6.0.1';
const hpa = (min: number): HorizontalPodAutoscaler => ({
  metadata: { name: 'podinfo', namespace: 'test' },
  spec: { minReplicas: min, maxReplicas: 4, scaleTargetRef: { kind: 'Deployment', name: 'podinfo' }, metrics: [{ type: 'Resource' }] },
});

describe('desired state', () => {
  const c = seedCanary();
  it("runs the revision under test on the copy with the primary's replicas while progressing", () => {
    const want = desiredState(
      c,
      { phase: 'Progressing', lastPromotedSpec: rev(V0), lastAppliedSpec: rev(V1), canaryWeight: 30 },
      deployment(V1, { paused: true, replicas: 2 }),
      copyOf(V0, 0),
      hpa(3),
    );
    assert.equal(want.copy!.revision, rev(V1));
    assert.equal(want.copy!.replicas, 3, 'the HPA minimum when it is higher');
    assert.equal(want.canaryWeight, 30);
    assert.deepEqual(want.target, {
      paused: true,
      labels: { [labels.managed]: 'true' },
      annotations: { [annotations.stableRevision]: rev(V0), [annotations.canary]: 'podinfo', [annotations.promoting]: null },
    });
  });
  it('unpauses the target and marks the release while promoting, with all traffic on the canary', () => {
    const want = desiredState(
      c,
      { phase: 'Promoting', lastPromotedSpec: rev(V0), lastAppliedSpec: rev(V1), canaryWeight: 100 },
      deployment(V1, { paused: true }),
      copyOf(V1, 2),
      undefined,
    );
    assert.equal(want.canaryWeight, 100);
    assert.equal(want.target?.paused, false);
    assert.equal(want.target?.annotations[annotations.promoting], rev(V1));
    assert.equal(want.target?.annotations[annotations.stableRevision], rev(V1));
  });
  it('scales the copy to zero and routes everything to the primary when idle', () => {
    for (const phase of ['Succeeded', 'Failed', 'Initialized'] as const) {
      const want = desiredState(
        c,
        { phase, lastPromotedSpec: rev(V0), lastAppliedSpec: rev(V1) },
        deployment(V1, { paused: true }),
        copyOf(V1, 2),
        undefined,
      );
      assert.equal(want.copy!.replicas, 0, phase);
      assert.equal(want.canaryWeight, 0, phase);
      assert.equal(want.copy!.template, undefined, `${phase}: the copy keeps its template`);
      assert.equal(want.target?.paused, true, `${phase}: an untested template stays paused`);
    }
  });
  it('unpauses a target reverted to the stable revision', () => {
    const want = desiredState(
      c,
      { phase: 'Failed', lastPromotedSpec: rev(V0), lastAppliedSpec: rev(V1) },
      deployment(V0, { paused: true }),
      copyOf(V1, 0),
      undefined,
    );
    assert.equal(want.target?.paused, false);
  });
  it('leaves the target alone before bootstrap', () => {
    assert.equal(desiredState(c, {}, deployment(V0), undefined, undefined).target, undefined);
  });
  it('uses at least one replica', () => {
    assert.equal(primaryReplicas(deployment(V0, { replicas: 0 }), undefined), 1);
  });

  describe('targetPatch', () => {
    const want = {
      paused: true,
      labels: { [labels.managed]: 'true' },
      annotations: { [annotations.stableRevision]: 'abc', [annotations.promoting]: null },
    };
    it('writes only what differs', () => {
      const t = deployment(V1, { paused: true, annotations: { [annotations.stableRevision]: 'abc', [annotations.promoting]: 'x' } });
      t.metadata.labels = { ...t.metadata.labels, [labels.managed]: 'true' };
      assert.deepEqual(targetPatch(t, want), { metadata: { annotations: { [annotations.promoting]: null } } });
    });
    it('answers undefined when nothing differs', () => {
      const t = deployment(V1, { paused: true, annotations: { [annotations.stableRevision]: 'abc' } });
      t.metadata.labels = { [labels.managed]: 'true' };
      assert.equal(targetPatch(t, want), undefined);
    });
  });
});

describe('generated objects', () => {
  const c = seedCanary();
  const target = deployment(V0);
  it("suffixes every selector value with -canary and marks the copy's pods", () => {
    const copy = buildCanaryCopy(c, target, target.spec.template, rev(V0), 2);
    assert.equal(copy.metadata.name, 'podinfo-canary');
    assert.deepEqual(copy.spec.selector.matchLabels, { app: 'podinfo-canary' });
    assert.deepEqual(copy.spec.template.metadata?.labels, { app: 'podinfo-canary', [labels.role]: 'canary' });
    assert.equal(copy.metadata.labels?.[labels.role], 'canary');
    assert.equal(copy.metadata.ownerReferences?.[0]?.kind, 'Canary');
    assert.equal(copy.spec.paused, undefined);
  });
  it('selects primary pods and canary pods with separate Services', () => {
    const s = servicesFor(c, target)!;
    assert.deepEqual(
      [s.primary.metadata.name, s.canary.metadata.name, s.apex.metadata.name],
      ['podinfo-primary', 'podinfo-canary', 'podinfo'],
    );
    assert.deepEqual(s.primary.spec.selector, { app: 'podinfo' });
    assert.deepEqual(s.canary.spec.selector, { app: 'podinfo-canary' });
    assert.deepEqual(s.primary.spec.ports, [{ name: 'http', port: 9898, targetPort: 9898, protocol: 'TCP' }]);
  });
  it('names Services and the route after service.name when given', () => {
    const web = seedCanary({ spec: { service: { name: 'web', port: 80 } } });
    assert.equal(servicesFor(web, target)!.canary.metadata.name, 'web-canary');
    assert.equal(desiredRoute(web, {}, 0).metadata.name, 'web');
  });
  it('splits the route by weight and attaches it to the gateways', () => {
    const r = desiredRoute(c, { phase: 'Progressing' }, 30);
    assert.deepEqual(r.spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'cilium', namespace: 'cilium' }]);
    assert.deepEqual(
      (r.spec.rules[0]!.backendRefs as { name: string; weight: number }[]).map((b) => [b.name, b.weight]),
      [
        ['podinfo-primary', 70],
        ['podinfo-canary', 30],
      ],
    );
  });
  it('points the HPA copy at the canary copy', () => {
    const h = canaryHpa(c, hpa(2), 'podinfo');
    assert.equal(h.metadata.name, 'podinfo-canary');
    assert.equal(h.spec.scaleTargetRef.name, 'podinfo-canary');
    assert.equal(h.spec.minReplicas, 2);
  });
});

describe('desired state: the target patch and the copy, field by field', () => {
  const base = () =>
    ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'test' },
      spec: { selector: { matchLabels: { app: 'web' } }, template: { spec: { containers: [{ name: 'web', image: 'web:1' }] } } },
    }) as unknown as Deployment;
  const want = (o: Partial<DesiredTarget> = {}): DesiredTarget => ({ paused: false, labels: {}, annotations: {}, ...o });

  it('a target with no labels, annotations or template metadata gets exactly what is missing', () => {
    assert.deepEqual(
      targetPatch(base(), want({ labels: { a: '1' }, annotations: { b: '2', gone: null }, templateAnnotations: { c: '3', off: null } })),
      {
        metadata: { labels: { a: '1' }, annotations: { b: '2' } },
        spec: { template: { metadata: { annotations: { c: '3' } } } },
      },
    );
  });

  it('a template annotation: set when different, removed only when present', () => {
    const t = base();
    t.spec.template.metadata = { annotations: { c: '3', off: 'x' } };
    assert.equal(targetPatch(t, want({ templateAnnotations: { c: '3' } })), undefined);
    assert.deepEqual(targetPatch(t, want({ templateAnnotations: { c: '4', off: null } })), {
      spec: { template: { metadata: { annotations: { c: '4', off: null } } } },
    });
  });

  it('a partition is written only when it differs; paused only for a kind without partition or canary nodes', () => {
    const sts = { ...base(), kind: 'StatefulSet' } as unknown as Deployment;
    (sts.spec as Record<string, unknown>).updateStrategy = { rollingUpdate: { partition: 3 } };
    assert.equal(targetPatch(sts, want({ paused: true, partition: 3 })), undefined);
    assert.deepEqual(targetPatch(sts, want({ paused: true, partition: 1 })), {
      spec: { updateStrategy: { rollingUpdate: { partition: 1 } } },
    });
    assert.equal(targetPatch(base(), want({ paused: true, canaryNodes: 2 })), undefined, "a DaemonSet's hold is its strategy, not paused");
    assert.deepEqual(targetPatch(base(), want({ paused: true })), { spec: { paused: true } });
    assert.equal(targetPatch(base(), want({ paused: false })), undefined);
  });

  it("the copy's replicas: the target's, the autoscaler's minimum, at least one", () => {
    const d = base();
    assert.equal(primaryReplicas(d, undefined), 1, 'no replicas: one');
    d.spec.replicas = 0;
    assert.equal(primaryReplicas(d, undefined), 1);
    d.spec.replicas = 3;
    assert.equal(primaryReplicas(d, { spec: { minReplicas: 5 } } as never), 5);
    assert.equal(primaryReplicas(d, { spec: {} } as never), 3);
  });

  it("the copy's template reads the snapshots when there are any, and is the target's very template otherwise", () => {
    const d = base();
    (d.spec.template.spec as Record<string, unknown>).volumes = [{ name: 'c', configMap: { name: 'settings' } }];
    assert.equal(copyTemplate(d, {}), d.spec.template);
    const copied = copyTemplate(d, { 'ConfigMap/settings': 'settings-sluice-1' });
    assert.deepEqual((copied.spec as { volumes: { configMap: { name: string } }[] }).volumes[0]!.configMap.name, 'settings-sluice-1');
    assert.deepEqual((copied.spec as { containers: unknown[] }).containers, (d.spec.template.spec as { containers: unknown[] }).containers);
    assert.equal(
      (d.spec.template.spec as { volumes: { configMap: { name: string } }[] }).volumes[0]!.configMap.name,
      'settings',
      'the target untouched',
    );
  });
});
