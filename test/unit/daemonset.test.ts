// DaemonSets (docs/workloads.md): OnDelete as the freeze with the user's strategy set aside, the
// canary nodes per weight, what the controller reads of the DaemonSet's status and revisions,
// which pods it recreates, and the stable template a frozen DaemonSet's pod gets off the canary
// nodes at admission.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  canaryNodeCount,
  canaryNodesProgress,
  daemonSetProgress,
  daemonSetRevision,
  FROZEN_STRATEGY,
  heldStrategyOf,
  nodeOfPod,
} from '../../api/daemonset.js';
import type { CanaryStatus } from '../../api/flagger-types.js';
import { templateRevision } from '../../api/revision.js';
import { type DaemonSet, revisionOf } from '../../api/workload.js';
import { chooseCanaryNodes, DaemonSetNodes, RETRY_OFF_CANARY_MS, wrongRevision } from '../../controller/daemonset-nodes.js';
import { targetPatch } from '../../controller/desired-state.js';
import { DRIVERS, desiredState, handBackPatch, servicesFor } from '../../controller/kinds/index.js';
import { decide } from '../../controller/state-machine.js';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { type DaemonPodSources, type DaemonSetFacts, daemonSetFacts, decideDaemonPod } from '../../webhook/daemon-pod-decision.js';
import { decideFreeze } from '../../webhook/freeze-decision.js';
import { reviewFixture } from '../fixtures/admission-fixtures.js';
import { podCreate } from '../fixtures/pod-review.js';
import { controllerUser } from '../world/layout.js';
import { seedCanary } from './controller-fixtures.js';
import { runs } from './runs.js';

const HELD = 'sluice.dev/held-update-strategy';
const NODES = 'sluice.dev/canary-nodes';
const template = (image: string) => ({
  metadata: { creationTimestamp: null, labels: { app: 'agent' } },
  spec: {
    containers: [{ name: 'agent', image, volumeMounts: [{ name: 'conf', mountPath: '/etc/agent' }] }],
    volumes: [{ name: 'conf', configMap: { name: 'agent' } }],
  },
});
const V1 = templateRevision(template('agent:1'));
const V2 = templateRevision(template('agent:2'));

function daemonSet(
  image: string,
  o: {
    status?: DaemonSet['status'];
    stable?: string;
    annotations?: Record<string, string>;
    strategy?: DaemonSet['spec']['updateStrategy'];
  } = {},
): DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name: 'agent',
      namespace: 'test',
      uid: 'ds-uid',
      generation: 2,
      labels: { app: 'agent' },
      annotations: { ...(o.stable ? { 'sluice.dev/stable-revision': o.stable, 'sluice.dev/canary': 'agent' } : {}), ...o.annotations },
    },
    spec: {
      selector: { matchLabels: { app: 'agent' } },
      template: template(image),
      updateStrategy: o.strategy ?? { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
    },
    status: o.status ?? {
      observedGeneration: 2,
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      updatedNumberScheduled: 3,
      numberReady: 3,
      numberAvailable: 3,
    },
  };
}

/** agent:2 frozen by sluice, `updated` nodes on it. */
const frozen = (o: Partial<NonNullable<DaemonSet['status']>> = {}, nodes?: string) =>
  daemonSet('agent:2', {
    stable: V1,
    strategy: FROZEN_STRATEGY,
    annotations: { [HELD]: '{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":2}}', ...(nodes ? { [NODES]: nodes } : {}) },
    status: {
      observedGeneration: 2,
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      updatedNumberScheduled: 1,
      numberReady: 3,
      numberAvailable: 3,
      ...o,
    },
  });

const canaryFor = (status?: CanaryStatus) =>
  seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent' }, autoscalerRef: undefined }, status });

describe('DaemonSet canary nodes', () => {
  it('takes the weight’s share of 3 nodes, one at least, never all three', () => {
    assert.deepEqual(
      [0, 10, 20, 30, 40, 50, 100].map((w) => canaryNodeCount(3, w)),
      [1, 1, 1, 1, 2, 2, 2],
    );
    assert.equal(canaryNodeCount(1, 50), 1);
    assert.equal(canaryNodeCount(0, 50), 0);
  });

  it('grows the recorded set, never moves it, and agrees pass after pass', () => {
    const eligible = ['n-2', 'n-0', 'n-1', 'n-3'];
    assert.deepEqual(chooseCanaryNodes([], eligible, 1), ['n-0']);
    assert.deepEqual(chooseCanaryNodes(['n-3'], eligible, 2), ['n-0', 'n-3'], 'n-3 stays a canary node');
    assert.deepEqual(chooseCanaryNodes(['n-3', 'gone'], eligible, 1), ['n-3'], 'a node that left is dropped');
    assert.deepEqual(chooseCanaryNodes(['n-1', 'n-3'], eligible, 0), []);
  });

  it('for any nodes and steps: the chosen count is min(count, nodes), each earlier choice kept', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 6 }),
        (nodes, weights) => {
          let recorded: string[] = [];
          for (const w of [...weights].sort((a, b) => a - b)) {
            const next = chooseCanaryNodes(recorded, nodes, canaryNodeCount(nodes.length, w));
            if (next.length !== Math.min(canaryNodeCount(nodes.length, w), nodes.length)) return false;
            if (!recorded.every((n) => next.includes(n))) return false;
            recorded = next;
          }
          return true;
        },
      ),
      { numRuns: runs(1000) },
    );
  });

  it('recreates a pod on a canary node unless it runs the candidate, and elsewhere unless stable', () => {
    const pod = (name: string, node: string, hash: string, bound = true) => ({
      metadata: { name, labels: { 'controller-revision-hash': hash } },
      spec: bound
        ? { nodeName: node }
        : {
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
                },
              },
            },
          },
    });
    const pods = [pod('a', 'n-0', 'v2'), pod('b', 'n-1', 'v2', false), pod('c', 'n-2', 'v1'), pod('d', 'n-3', 'v1')];
    assert.deepEqual(
      wrongRevision(pods, ['n-0', 'n-3'], { stable: 'v1', candidate: 'v2' }).map((p) => p.metadata.name),
      ['b', 'd'],
    );
    assert.deepEqual(
      wrongRevision(pods, [], { stable: 'v1' }).map((p) => p.metadata.name),
      ['a', 'b'],
      'rolled back: every candidate pod',
    );
    assert.deepEqual(wrongRevision(pods, ['n-0'], {}), [], 'nothing is deleted while a hash is unknown');
  });

  it('finds a pod’s node by its binding or by the DaemonSet controller’s field affinity, and nothing else', () => {
    assert.equal(nodeOfPod({ spec: { nodeName: 'n-1' } }), 'n-1');
    assert.equal(nodeOfPod({ spec: {} }), undefined);
    assert.equal(
      nodeOfPod({
        spec: {
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['a', 'b'] }] }],
              },
            },
          },
        },
      }),
      undefined,
    );
    assert.equal(nodeOfPod({ spec: 'nonsense' }), undefined);
  });
});

describe('DaemonSet status and revisions as the controller reads them', () => {
  it('the canary is ready when exactly the chosen nodes run the template and every pod is ready', () => {
    assert.equal(canaryNodesProgress(frozen({}, 'n-0'), 1).done, true);
    assert.equal(canaryNodesProgress(frozen({}), 1).done, false, 'no node recorded yet');
    assert.equal(canaryNodesProgress(frozen({ numberReady: 2 }, 'n-0'), 1).done, false, 'a pod is not ready');
    assert.equal(canaryNodesProgress(frozen({ updatedNumberScheduled: 2 }, 'n-0'), 1).done, false, 'a pod slipped onto the candidate');
    assert.equal(canaryNodesProgress(frozen({ observedGeneration: 1 }, 'n-0'), 1).done, false, 'the status is stale');
  });

  it('its own rollout is done only when its strategy is its own again and every node runs the template', () => {
    assert.equal(daemonSetProgress(daemonSet('agent:1')).done, true);
    assert.equal(daemonSetProgress(frozen({ updatedNumberScheduled: 3 })).done, false, 'still held by sluice');
    assert.equal(
      daemonSetProgress(
        daemonSet('agent:2', {
          status: { observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 2, numberAvailable: 3 },
        }),
      ).done,
      false,
    );
  });

  it('reads a ControllerRevision of this DaemonSet only, without the controller’s patch directive', () => {
    const cr = {
      metadata: {
        name: 'agent-abc',
        labels: { 'controller-revision-hash': 'abc' },
        annotations: { 'deprecated.daemonset.template.generation': '4' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }],
      },
      data: { spec: { template: { ...template('agent:1'), $patch: 'replace' } } },
    };
    const r = daemonSetRevision(cr, 'ds-uid')!;
    assert.equal(r.hash, 'abc');
    assert.equal(r.generation, '4');
    assert.equal(templateRevision(r.template), V1, 'the same revision sluice computes from the DaemonSet');
    assert.equal(daemonSetRevision(cr, 'other-uid'), undefined);
    assert.equal(daemonSetRevision({ ...cr, data: { spec: { template: 'x' } } }, 'ds-uid'), undefined);
  });

  it('a frozen DaemonSet’s Services select by hash, once both are known; at rest they select every pod', () => {
    const s = servicesFor(canaryFor(), frozen(), { stable: 'h1', candidate: 'h2' })!;
    assert.deepEqual(s.primary.spec.selector, { app: 'agent', 'controller-revision-hash': 'h1' });
    assert.deepEqual(s.canary.spec.selector, { app: 'agent', 'controller-revision-hash': 'h2' });
    assert.equal(servicesFor(canaryFor(), frozen(), { stable: 'h1' }), undefined);
    const rest = servicesFor(canaryFor(), daemonSet('agent:1'))!;
    assert.deepEqual(rest.primary.spec.selector, { app: 'agent' });
  });

  it('an annotation anyone may edit never restores OnDelete or garbage', () => {
    const ds = (v: string) => daemonSet('agent:1', { annotations: { [HELD]: v } });
    assert.deepEqual(heldStrategyOf(ds('{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}')), {
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1 },
    });
    for (const bad of ['{"type":"OnDelete"}', 'not json', '[]', 'null', '{"type":3}'])
      assert.deepEqual(heldStrategyOf(ds(bad)), { type: 'RollingUpdate' }, bad);
    assert.equal(heldStrategyOf(daemonSet('agent:1')), undefined);
  });
});

describe('DaemonSet desired state', () => {
  const at = (phase: CanaryStatus['phase'], canaryWeight: number, ds: DaemonSet = frozen()) => {
    const st = { phase, canaryWeight, lastAppliedSpec: V2, lastPromotedSpec: V1 };
    return desiredState(canaryFor(st), st, ds, undefined, undefined);
  };
  it('analysed: the weight’s share of its nodes; otherwise none; released: its own strategy back', () => {
    assert.equal(at('Progressing', 10).target?.canaryNodes, 1);
    assert.equal(at('Progressing', 50).target?.canaryNodes, 2);
    assert.equal(at('Failed', 0).target?.canaryNodes, 0);
    assert.equal(at('Progressing', 30).copy, undefined, 'no copy for a DaemonSet');
    assert.equal(at('Progressing', 30).target?.updateStrategy, undefined, 'already held: the strategy stays');
    const promoting = at('Promoting', 100).target!;
    assert.deepEqual(promoting.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } });
    assert.equal(promoting.annotations[HELD], null);
    assert.deepEqual(targetPatch(frozen(), promoting)?.spec, {
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 2 } },
    });
  });
  it('freezes a DaemonSet changed behind the webhook’s back, setting its own strategy aside', () => {
    const bypassed = daemonSet('agent:2', { stable: V1 });
    const want = at('Progressing', 0, bypassed).target!;
    assert.deepEqual(targetPatch(bypassed, want)?.spec, { updateStrategy: { rollingUpdate: null, type: 'OnDelete' } });
    assert.deepEqual(JSON.parse(want.annotations[HELD]!), bypassed.spec.updateStrategy);
  });
  it('hands back its own strategy when tested, and its canary nodes in any case', () => {
    const tested = handBackPatch(frozen({}, 'n-0'), true, DRIVERS.DaemonSet) as {
      spec?: unknown;
      metadata: { annotations: Record<string, null> };
    };
    assert.deepEqual(tested.spec, { updateStrategy: { rollingUpdate: { maxUnavailable: 2 }, type: 'RollingUpdate' } });
    assert.equal(tested.metadata.annotations[NODES], null);
    const untested = handBackPatch(frozen({}, 'n-0'), false, DRIVERS.DaemonSet) as {
      spec?: unknown;
      metadata: { annotations: Record<string, null> };
    };
    assert.equal(untested.spec, undefined, 'stays frozen on an untested template');
    assert.equal(untested.metadata.annotations[NODES], null);
  });
  it('the state machine waits for the canary nodes, then steps; an OnDelete of the owner’s own blocks it', () => {
    const settings = { minIntervalMs: 1000, pollMs: 1000 };
    const st: CanaryStatus = {
      phase: 'Progressing',
      canaryWeight: 0,
      iterations: 0,
      lastAppliedSpec: V2,
      lastPromotedSpec: V1,
      lastTransitionTime: new Date().toISOString(),
    };
    const obs = (t: DaemonSet) => ({ target: t, revision: revisionOf(t), canaryCopy: undefined, autoscaler: undefined });
    const waiting = decide(canaryFor(st), obs(frozen({ numberReady: 2 }, 'n-0')), undefined, new Date(), settings);
    assert.match(waiting.events[0]?.message ?? '', /Waiting for the pods on the canary nodes of agent\.test rollout to finish: 0 of 1/);
    assert.equal(decide(canaryFor(st), obs(frozen({}, 'n-0')), undefined, new Date(), settings).status.canaryWeight, 10);
    const own = daemonSet('agent:1', { strategy: { type: 'OnDelete' } });
    assert.match(
      decide(canaryFor(), obs(own), undefined, new Date(), settings).status.conditions?.[0]?.message ?? '',
      /OnDelete.*RollingUpdate/,
    );
  });
});

describe('DaemonSet freeze at admission', () => {
  const flags = { controllerUsers: [controllerUser] };
  const dsReview = (mut: (r: ReturnType<typeof reviewFixture>['request']) => void = () => {}) => {
    const r = reviewFixture('set-image').request;
    r.kind = { group: 'apps', version: 'v1', kind: 'DaemonSet' };
    for (const o of [r.object, r.oldObject]) {
      delete o.spec.paused;
      o.spec.updateStrategy = { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
    }
    mut(r);
    return r;
  };
  it('a template change sets OnDelete and keeps the owner’s strategy in an annotation', () => {
    const d = decideFreeze(dsReview(), flags);
    assert.ok(d.kind === 'frozen');
    assert.deepEqual(d.mutated.spec.updateStrategy, { type: 'OnDelete' });
    assert.deepEqual(JSON.parse(d.mutated.metadata.annotations![HELD]!), {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
    assert.equal(d.mutated.spec.paused, undefined);
  });
  it('a second change while frozen keeps what was set aside, even when the write drops it', () => {
    const d = decideFreeze(
      dsReview((r) => {
        r.oldObject.spec.updateStrategy = { type: 'OnDelete' };
        r.oldObject.metadata.annotations = {
          ...r.oldObject.metadata.annotations,
          [HELD]: '{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}',
        };
        r.object.spec.updateStrategy = { type: 'OnDelete' };
      }),
      flags,
    );
    assert.ok(d.kind === 'frozen');
    assert.equal(d.mutated.metadata.annotations![HELD], '{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}');
  });
  it('a write restoring RollingUpdate under an untested template is held', () => {
    const d = decideFreeze(
      dsReview((r) => {
        r.object.spec.template = r.oldObject.spec.template;
        r.oldObject.metadata.annotations = {
          ...r.oldObject.metadata.annotations,
          'sluice.dev/stable-revision': '0000000000000000',
          [HELD]: '{"type":"RollingUpdate"}',
        };
        r.oldObject.spec.updateStrategy = { type: 'OnDelete' };
      }),
      flags,
    );
    assert.ok(d.kind === 're-paused');
    assert.deepEqual(d.mutated.spec.updateStrategy, { type: 'OnDelete' });
    assert.equal(d.mutated.metadata.annotations![HELD], '{"type":"RollingUpdate"}');
  });
  it('a write to one stored unheld under an untested template (the webhook was bypassed) freezes it, never leaves it rolling', () => {
    const d = decideFreeze(
      dsReview((r) => {
        r.object.spec.template = r.oldObject.spec.template;
        r.oldObject.metadata.annotations = { ...r.oldObject.metadata.annotations, 'sluice.dev/stable-revision': '0000000000000000' };
      }),
      flags,
    );
    assert.ok(d.kind === 're-paused');
    assert.deepEqual(d.mutated.spec.updateStrategy, { type: 'OnDelete' });
    assert.deepEqual(JSON.parse(d.mutated.metadata.annotations![HELD]!), {
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
  });
  it('refuses a template change of a DaemonSet that updates OnDelete by its owner’s choice', () => {
    const d = decideFreeze(
      dsReview((r) => {
        r.object.spec.updateStrategy = { type: 'OnDelete' };
        r.oldObject.spec.updateStrategy = { type: 'OnDelete' };
      }),
      flags,
    );
    assert.ok(d.kind === 'refused');
    assert.match(d.message, /DaemonSet podinfo\.fixtures.*OnDelete.*RollingUpdate/);
  });
});

describe('a frozen DaemonSet’s pod at admission', () => {
  const stable = { name: 'agent-h1', hash: 'h1', generation: '1', template: template('agent:1') };
  const candidate = { name: 'agent-h2', hash: 'h2', generation: '2', template: template('agent:2') };
  /** The pod the DaemonSet controller creates from agent:2 for `node`, after the ServiceAccount admission plugin. */
  const podFor = (node: string) => ({
    metadata: {
      generateName: 'agent-',
      namespace: 'test',
      labels: { app: 'agent', 'controller-revision-hash': 'h2', 'pod-template-generation': '2' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }],
    },
    spec: {
      containers: [
        {
          name: 'agent',
          image: 'agent:2',
          volumeMounts: [
            { name: 'conf', mountPath: '/etc/agent' },
            { name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
          ],
        },
      ],
      volumes: [
        { name: 'conf', configMap: { name: 'agent' } },
        { name: 'kube-api-access-x', projected: { sources: [] } },
      ],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
          },
        },
      },
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }],
    },
  });
  const request = (pod: unknown): AdmissionRequest =>
    podCreate(pod, { userInfo: { username: 'system:serviceaccount:kube-system:daemon-set-controller' } });
  const facts = (nodes: string, tpl = 'agent:2'): DaemonSetFacts =>
    daemonSetFacts({
      metadata: { uid: 'ds-uid', annotations: { 'sluice.dev/stable-revision': V1, [NODES]: nodes } },
      spec: { template: template(tpl), selector: { matchLabels: { app: 'agent' } } },
    });
  const sources = (cached: DaemonSetFacts | undefined, fresh = cached, revisions = [stable, candidate]) => {
    const reads = { fresh: 0, revisions: 0 };
    const s: DaemonPodSources = {
      managed: () => cached,
      fresh: async () => {
        reads.fresh++;
        return fresh;
      },
      revisions: async () => {
        reads.revisions++;
        return revisions;
      },
    };
    return { s, reads };
  };

  it('off the canary nodes: the templates’ difference applied, what others added kept, its labels saying stable', async () => {
    const { s } = sources(facts('n-0'));
    const d = await decideDaemonPod(request(podFor('n-1')), s);
    assert.ok('swapped' in d && d.swapped);
    const pod = d.pod as ReturnType<typeof podFor>;
    assert.equal(pod.spec.containers[0]!.image, 'agent:1');
    assert.equal(pod.spec.containers[0]!.volumeMounts.length, 2, 'the service account mount stays');
    assert.equal(pod.spec.volumes.length, 2);
    assert.deepEqual(pod.spec.affinity, podFor('n-1').spec.affinity, 'the node stays');
    assert.deepEqual(pod.spec.tolerations, podFor('n-1').spec.tolerations);
    assert.equal(pod.metadata.labels['controller-revision-hash'], 'h1');
    assert.equal(pod.metadata.labels['pod-template-generation'], '1');
    assert.deepEqual(pod.metadata.ownerReferences, podFor('n-1').metadata.ownerReferences);
  });

  it('on a canary node, on a DaemonSet at rest or unmanaged, and for a pod already stable: passed as it is', async () => {
    const canaryNode = await decideDaemonPod(request(podFor('n-0')), sources(facts('n-0')).s);
    assert.ok('swapped' in canaryNode && !canaryNode.swapped && /canary node/.test(canaryNode.reason));
    const atRest = await decideDaemonPod(request(podFor('n-1')), sources(facts('', 'agent:1')).s);
    assert.ok('swapped' in atRest && !atRest.swapped);
    const unmanaged = await decideDaemonPod(request(podFor('n-1')), sources(undefined).s);
    assert.ok('swapped' in unmanaged && !unmanaged.swapped);
    const stablePod = podFor('n-1');
    stablePod.metadata.labels['controller-revision-hash'] = 'h1';
    const already = await decideDaemonPod(request(stablePod), sources(facts('n-0')).s);
    assert.ok('swapped' in already && !already.swapped);
  });

  it('asks the apiserver for the canary nodes when the cache has not seen the new one yet', async () => {
    const { s, reads } = sources(facts('n-0'), facts('n-0,n-1'));
    const d = await decideDaemonPod(request(podFor('n-1')), s);
    assert.ok('swapped' in d && !d.swapped);
    assert.equal(reads.fresh, 1);
    assert.equal(reads.revisions, 0);
  });

  it('answers any damaged pod of a frozen DaemonSet with a decision, never by throwing (a crash would refuse the pod)', async () => {
    const junk = fc.oneof(fc.constant(null), fc.string(), fc.integer(), fc.array(fc.string()), fc.dictionary(fc.string(), fc.string()));
    const paths = [
      ['metadata'],
      ['metadata', 'labels'],
      ['metadata', 'ownerReferences'],
      ['spec'],
      ['spec', 'containers'],
      ['spec', 'affinity'],
      ['spec', 'volumes'],
    ];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...paths), junk), { maxLength: 3 }), async (damage) => {
        const pod = structuredClone(podFor('n-1')) as unknown as Record<string, Record<string, unknown>>;
        for (const [p, v] of damage) {
          if (p.length === 1) pod[p[0]!] = v as Record<string, unknown>;
          else if (typeof pod[p[0]!] === 'object' && pod[p[0]!] !== null) pod[p[0]!]![p[1]!] = v;
        }
        // A TypeError from reading a damaged field would surface as a refused pod, not as a decision.
        const d = await decideDaemonPod(request(pod), sources(facts('n-0')).s);
        return typeof d === 'object' && d !== null;
      }),
      { numRuns: runs(500) },
    );
  });

  it('refuses, naming the DaemonSet, when no revision holds the stable template or the pod’s own', async () => {
    const none = await decideDaemonPod(request(podFor('n-1')), sources(facts('n-0'), facts('n-0'), [candidate]).s);
    assert.ok('refused' in none && /DaemonSet agent\.test is frozen/.test(none.message));
    const noSource = await decideDaemonPod(request(podFor('n-1')), sources(facts('n-0'), facts('n-0'), [stable]).s);
    assert.ok('refused' in noSource && /no ControllerRevision for the hash h2/.test(noSource.message));
  });
});

describe('DaemonSet pods recreated off the canary nodes', () => {
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as never;
  const pod = (name: string, node: string, hash: string, created: number) => ({
    metadata: {
      name,
      creationTimestamp: new Date(created).toISOString(),
      labels: { app: 'agent', 'controller-revision-hash': hash },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: 'ds-uid' }],
    },
    spec: { nodeName: node },
  });
  function setup(pods: () => ReturnType<typeof pod>[]) {
    const deleted: string[] = [];
    const client = {
      delete: async (ref: { name?: string }) => {
        deleted.push(ref.name!);
        return true;
      },
      patch: async () => ({ status: 200, body: {} }),
      find: async () => ({ metadata: { name: 'n' } }),
    } as never;
    const nodes = new DaemonSetNodes(client, async () => pods(), undefined, silent);
    return { nodes, deleted };
  }
  // Rolled back: no canary node, one pod still on the candidate.
  const ds = frozen({ updatedNumberScheduled: 1 });
  const hashes = { stable: 'v1', candidate: 'v2' };
  const t0 = Date.parse('2026-12-04T10:00:00Z');

  it('recreates it once; when it comes back on the candidate (the webhook unreachable) waits before the next try', async () => {
    let current = [pod('a', 'n-0', 'v2', t0 - 60_000), pod('b', 'n-1', 'v1', t0 - 60_000)];
    const { nodes, deleted } = setup(() => current);
    assert.equal(await nodes.converge(ds, 0, hashes, t0), undefined);
    assert.deepEqual(deleted, ['a']);
    current = [pod('a2', 'n-0', 'v2', t0 + 2000), current[1]!];
    const retry = await nodes.converge(ds, 0, hashes, t0 + 3000);
    assert.deepEqual(deleted, ['a'], 'not recreated again at once');
    assert.equal(retry, RETRY_OFF_CANARY_MS - 3000);
    assert.equal(await nodes.converge(ds, 0, hashes, t0 + RETRY_OFF_CANARY_MS + 1), undefined);
    assert.deepEqual(deleted, ['a', 'a2'], 'tried again after the wait');
  });

  it('a node that was a canary node since is not held back by an earlier recreation', async () => {
    let current = [pod('a', 'n-0', 'v2', t0 - 60_000), pod('b', 'n-1', 'v1', t0 - 60_000)];
    const { nodes, deleted } = setup(() => current);
    await nodes.converge(ds, 0, hashes, t0);
    // The next rollout makes n-0 its canary node (its pod recreated on the candidate), then fails.
    current = [pod('a2', 'n-0', 'v1', t0 + 2000), current[1]!];
    await nodes.converge(frozen({ updatedNumberScheduled: 0 }), 1, hashes, t0 + 5000);
    current = [pod('a3', 'n-0', 'v2', t0 + 6000), current[1]!];
    assert.equal(await nodes.converge(ds, 0, hashes, t0 + 9000), undefined);
    assert.deepEqual(deleted, ['a', 'a2', 'a3']);
  });
});
