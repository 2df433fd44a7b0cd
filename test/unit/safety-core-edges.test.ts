// Edges of the safety core that whole-answer tests do not reach: objects missing a part the code
// reads around, thresholds below 100 %, a target or driver that is not there. Each case is a
// boundary one condition decides.
import assert from 'node:assert/strict';
import { annotations as A } from '../../api/contract.js';
import { canaryNodesProgress, daemonSetProgress, daemonSetRevision, nodeOfPod } from '../../api/daemonset.js';
import type { CanaryStatus } from '../../api/flagger-types.js';
import { Revision } from '../../api/revision.js';
import { canaryOrdinalsProgress, statefulSetProgress } from '../../api/statefulset.js';
import type { DaemonSet, StatefulSet } from '../../api/workload.js';
import { desiredState, servicesFor } from '../../controller/kinds/index.js';
import { actionRefusal, enforce, violations } from '../../policy/constraints.js';
import { decideCopy } from '../../webhook/copy-decision.js';
import { type DaemonPodSources, daemonSetFacts, decideDaemonPod } from '../../webhook/daemon-pod-decision.js';
import { decideValidate } from '../../webhook/validate-decision.js';
import { podCreate } from '../fixtures/pod-review.js';
import { copyOf, deployment, rev, seedCanary } from './controller-fixtures.js';

describe('safety core edges', () => {
  it('own rollouts below a 100 % threshold still need every pod updated', () => {
    const ds = {
      metadata: { name: 'a', generation: 1 },
      spec: {},
      status: { observedGeneration: 1, desiredNumberScheduled: 4, updatedNumberScheduled: 3, numberAvailable: 3, numberReady: 3 },
    } as unknown as DaemonSet;
    assert.equal(daemonSetProgress(ds, 75).done, false);
    const sts = {
      metadata: { name: 'a', generation: 1 },
      spec: { replicas: 4 },
      status: { observedGeneration: 1, updatedReplicas: 3, readyReplicas: 3, currentRevision: 'r', updateRevision: 'r' },
    } as unknown as StatefulSet;
    assert.equal(statefulSetProgress(sts, 75).done, false);
    const canary = {
      metadata: { name: 'a', generation: 1 },
      spec: { replicas: 4, updateStrategy: { rollingUpdate: { partition: 2 } } },
      status: { observedGeneration: 1, updatedReplicas: 1, readyReplicas: 4, currentRevision: 'r1', updateRevision: 'r2' },
    } as unknown as StatefulSet;
    assert.equal(canaryOrdinalsProgress(canary, 2, 50).done, false, 'one of the two canary ordinals updated');
    const nodes = { ...ds, metadata: { ...ds.metadata, annotations: { [A.canaryNodes]: 'a,b' } } } as DaemonSet;
    nodes.status = { ...nodes.status!, updatedNumberScheduled: 1, numberReady: 4 };
    assert.equal(canaryNodesProgress(nodes, 2, 50).done, false);
  });

  it('a pod, a ControllerRevision or a template missing the part read around is read as having none', () => {
    assert.equal(nodeOfPod({ spec: { affinity: { nodeAffinity: {} } } }), undefined);
    const owner = [{ kind: 'DaemonSet', uid: 'ds', controller: true }];
    assert.equal(
      daemonSetRevision(
        { metadata: { name: 'r', ownerReferences: owner, labels: { 'controller-revision-hash': 'h' } }, data: {} } as never,
        'ds',
      ),
      undefined,
    );
    assert.match(Revision.of({ spec: { containers: [] } }).id, /^[0-9a-f]{16}$/, 'a template without metadata');
    assert.equal(typeof Revision.of(undefined).id, 'string');
    assert.deepEqual(daemonSetFacts({ metadata: {} }), daemonSetFacts({ metadata: { annotations: {} }, spec: { selector: {} } }));
    assert.deepEqual(daemonSetFacts({ metadata: {}, spec: {} }).selector, '');
  });

  it('a daemon pod: at rest nothing more is read; no labels is no hash; the uid asked is the DaemonSet’s, else the pod’s owner’s', async () => {
    const tpl = (image: string) => ({ metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'a', image }] } });
    const facts = (template: string, uid?: string) =>
      daemonSetFacts({
        metadata: {
          ...(uid ? { uid } : {}),
          annotations: { [A.stableRevision]: Revision.of(tpl('a:1')).template, [A.canaryNodes]: 'n-0' },
        },
        spec: { template: tpl(template), selector: { matchLabels: { app: 'a' } } },
      });
    const calls: string[] = [];
    const sources = (f: ReturnType<typeof facts>): DaemonPodSources => ({
      managed: () => f,
      fresh: async () => {
        calls.push('fresh');
        return f;
      },
      revisions: async (_ns, uid) => {
        calls.push(`revisions ${uid}`);
        return [];
      },
    });
    const pod = (labels?: Record<string, string>) => ({
      metadata: { ...(labels ? { labels } : {}), ownerReferences: [{ kind: 'DaemonSet', name: 'a', uid: 'pod-owner', controller: true }] },
      spec: { nodeName: 'n-1' },
    });
    assert.deepEqual(await decideDaemonPod(podCreate(pod({ h: 'x' })), sources(facts('a:1'))), {
      swapped: false,
      reason: 'DaemonSet a runs its stable revision',
    });
    assert.deepEqual(calls, []);
    assert.deepEqual(await decideDaemonPod(podCreate(pod()), sources(facts('a:2'))), {
      swapped: false,
      reason: 'the pod carries no revision hash',
    });
    await decideDaemonPod(podCreate(pod({ 'controller-revision-hash': 'h2' })), sources(facts('a:2')));
    assert.equal(calls.at(-1), 'revisions pod-owner');
    await assert.rejects(decideDaemonPod(podCreate('a pod'), sources(facts('a:2'))), /the request carries no Pod/);
  });

  it('policy rules on a spec without analysis, an empty stepWeights, a maxWeight beside stepWeights', () => {
    const bare = { ...seedCanary().spec, analysis: undefined };
    assert.deepEqual(violations(bare, { requiredMetrics: [{ name: 'rate' }] }), ['analysis.metrics has no "rate", which is required']);
    const spec = (analysis: Record<string, unknown>) => ({ ...seedCanary().spec, analysis });
    assert.deepEqual(violations(spec({ stepWeights: [], stepWeight: 30 }), { maxStepWeight: 10 }), [
      'analysis.stepWeight 30 is above the ceiling 10',
    ]);
    assert.deepEqual(violations(spec({ stepWeights: [10, 20], maxWeight: 90 }), { maxWeight: 50 }), [
      'analysis.maxWeight 90 is above the ceiling 50',
    ]);
    assert.deepEqual(
      violations(
        spec({ metrics: [{ name: 'builtin' }, { name: 'theirs', templateRef: { name: 't', namespace: 'ops' } }] }),
        { forbidCrossNamespaceRefs: true },
        'test',
      ),
      ['analysis.metrics "theirs" uses MetricTemplate ops/t: another namespace\'s objects are forbidden'],
    );
    assert.equal(
      enforce(spec({ maxWeight: 60 }), [{ metadata: { name: 'p' }, spec: { constraints: { maxThreshold: 3 } } }]).analysis!.maxWeight,
      60,
    );
    const [m] = enforce(spec({ metrics: [{ name: 'rate', thresholdRange: {} }] }), [
      { metadata: { name: 'p' }, spec: { constraints: { requiredMetrics: [{ name: 'rate', thresholdRange: { min: 99 } }] } } },
    ]).analysis!.metrics!;
    assert.deepEqual(m!.thresholdRange, { min: 99 });
    assert.match(
      actionRefusal('explode', [{ metadata: { name: 'p' }, spec: {} }]) ?? '',
      /does not allow explode here \(it forbids skipping analysis/,
    );
    assert.match(
      actionRefusal('promote', [{ metadata: { name: 'p' }, spec: { constraints: { allowedActions: ['abort', 'pause'] } } }]) ?? '',
      /\(it allows only abort, pause\)/,
    );
  });

  it('a Deployment driver: a newer template keeps the copy on the revision under test; no released revision, no target; unknown kinds have no Services', () => {
    const c = seedCanary();
    const st: CanaryStatus = {
      phase: 'Progressing',
      lastPromotedSpec: rev('podinfo:6.0.0'),
      lastAppliedSpec: rev('podinfo:6.0.1'),
      canaryWeight: 10,
    };
    const newer = desiredState(c, st, deployment('podinfo:6.0.2', { paused: true }), copyOf('podinfo:6.0.1', 2), undefined);
    assert.deepEqual([newer.copy?.template, newer.copy?.revision], [undefined, undefined], 'the copy keeps what it runs');
    const bareCopy = copyOf('podinfo:6.0.1', 0);
    delete bareCopy.metadata.annotations;
    assert.equal(
      desiredState(c, { ...st, phase: 'Succeeded' }, deployment('podinfo:6.0.1'), bareCopy, undefined).copy?.revision,
      rev('podinfo:6.0.1'),
    );
    assert.equal(
      desiredState(
        c,
        { ...st, lastPromotedSpec: undefined },
        deployment('podinfo:6.0.1', { paused: true }),
        copyOf('podinfo:6.0.1', 2),
        undefined,
      ).target,
      undefined,
    );
    const ds = seedCanary({ spec: { targetRef: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'podinfo' } } });
    assert.deepEqual(desiredState(ds, { phase: 'Initializing' }, deployment('podinfo:6.0.1') as never, undefined, undefined), {
      canaryWeight: 0,
      target: undefined,
    });
    const cron = seedCanary();
    cron.spec.targetRef.kind = 'CronJob';
    assert.equal(servicesFor(cron, deployment('podinfo:6.0.1')), undefined);
  });

  it('a copy or a validated object with neither a name nor metadata is judged, never a crash', async () => {
    const bare = {
      uid: 'u',
      kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
      operation: 'CREATE' as const,
      userInfo: { username: 'bot' },
      object: { spec: {} },
    };
    const sources = { canariesTargeting: () => [], target: async () => undefined };
    assert.deepEqual(await decideCopy(bare, ['bot'], sources), { allowed: true, reason: 'not a canary copy' });
    assert.deepEqual(
      decideValidate(
        { ...bare, userInfo: { username: 'alice' } },
        { controllerUsers: [], policiesFor: () => [], canaryExists: () => false },
      ),
      {
        allowed: true,
        reason: 'written by the controller, or a creation',
      },
    );
  });
});
