// The pod decisions answer by answer: each reason a pod passes for (what the webhook's log says),
// each refusal, and how the owner and node are read from a pod that may be shaped any way.
import assert from 'node:assert/strict';
import { templateRevision } from '../../api/revision.js';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { type DaemonPodSources, type DaemonSetFacts, daemonSetFacts, decideDaemonPod } from '../../webhook/daemon-pod-decision.js';
import { decidePin, deploymentOf } from '../../webhook/pin-decision.js';
import { podCreate } from '../fixtures/pod-review.js';

const req = (object: unknown, o: Partial<AdmissionRequest> = {}): AdmissionRequest => podCreate(object, { namespace: 'shop', ...o });

describe('pin decision, reason by reason', () => {
  const pod = (labels: Record<string, string> | undefined, refs?: { kind?: string; name?: string; controller?: boolean }[]) => ({
    metadata: { ...(labels ? { labels } : {}), ...(refs ? { ownerReferences: refs } : {}) },
    spec: { volumes: [{ name: 'c', configMap: { name: 'settings' } }], containers: [{ name: 'web' }] },
  });
  const primary = () => pod({ 'pod-template-hash': 'abc' }, [{ kind: 'ReplicaSet', name: 'web-abc', controller: true }]);
  const asked: string[] = [];
  const pins = (ns: string, d: string): Record<string, string> | undefined => {
    asked.push(`${ns}/${d}`);
    return d === 'web' ? { 'ConfigMap/settings': 'settings-sluice-1' } : d === 'empty' ? {} : undefined;
  };

  it('only a pod creation is pinned', () => {
    const notCreation = { pinned: false, reason: 'not a pod creation' };
    assert.deepEqual(decidePin(req(primary(), { operation: 'UPDATE' }), pins), notCreation);
    assert.deepEqual(decidePin(req(primary(), { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), pins), notCreation);
    assert.deepEqual(decidePin(req(primary(), { subResource: 'ephemeralcontainers' }), pins), notCreation);
    assert.throws(() => decidePin(req(null), pins), /the request carries no Pod/);
    assert.throws(() => decidePin(req('pod'), pins), /the request carries no Pod/);
  });

  it('a canary pod, a pod of no Deployment, and a Deployment without tracked configs pass, each saying so', () => {
    assert.deepEqual(
      decidePin(req(pod({ 'sluice.dev/role': 'canary', 'pod-template-hash': 'abc' }, [{ kind: 'ReplicaSet', name: 'web-abc' }])), pins),
      {
        pinned: false,
        reason: 'a canary pod',
      },
    );
    assert.deepEqual(decidePin(req(pod(undefined, [{ kind: 'ReplicaSet', name: 'web-abc' }])), pins), {
      pinned: false,
      reason: 'not created by a Deployment',
    });
    assert.deepEqual(decidePin(req({ spec: {} }), pins), { pinned: false, reason: 'not created by a Deployment' });
    const other = pod({ 'pod-template-hash': 'abc' }, [{ kind: 'ReplicaSet', name: 'api-abc' }]);
    assert.deepEqual(decidePin(req(other), pins), { pinned: false, reason: 'Deployment api has no tracked configs' });
    const empty = pod({ 'pod-template-hash': 'abc' }, [{ kind: 'ReplicaSet', name: 'empty-abc' }]);
    assert.deepEqual(decidePin(req(empty), pins), { pinned: false, reason: 'Deployment empty has no tracked configs' });
  });

  it('pinned: the Deployment named, its references renamed, asked in the pod’s namespace', () => {
    asked.length = 0;
    const d = decidePin(req(primary()), pins);
    assert.ok(d.pinned);
    assert.deepEqual([d.deployment, d.renamed], ['web', 1]);
    assert.deepEqual((d.pod.spec as { volumes: { configMap: { name: string } }[] }).volumes[0]!.configMap.name, 'settings-sluice-1');
    assert.deepEqual(d.pod.metadata, primary().metadata, 'metadata as sent');
    decidePin(req(primary(), { namespace: undefined }), pins);
    assert.deepEqual(asked, ['shop/web', '/web']);
  });

  it('the Deployment behind a pod: its controlling ReplicaSet named <deployment>-<pod-template-hash>', () => {
    const hash = { 'pod-template-hash': 'abc' };
    assert.equal(deploymentOf(pod(hash, [{ kind: 'ReplicaSet', name: 'web-abc' }])), 'web', 'controller unset counts');
    assert.equal(
      deploymentOf(
        pod(hash, [
          { kind: 'ReplicaSet', name: 'x-abc', controller: false },
          { kind: 'ReplicaSet', name: 'web-abc' },
        ]),
      ),
      'web',
    );
    assert.equal(deploymentOf(pod(hash, [{ kind: 'ReplicaSet', name: 'web-abc', controller: false }])), undefined);
    assert.equal(deploymentOf(pod(hash, [{ kind: 'StatefulSet', name: 'web-abc' }])), undefined);
    assert.equal(deploymentOf(pod(hash, [{ kind: 'ReplicaSet', name: 'web-xyz' }])), undefined, 'the hash must match');
    assert.equal(deploymentOf(pod(hash, [{ kind: 'ReplicaSet' }])), undefined);
    assert.equal(deploymentOf(pod(undefined, [{ kind: 'ReplicaSet', name: 'web-abc' }])), undefined);
    assert.equal(deploymentOf(pod(hash)), undefined);
    assert.equal(deploymentOf({}), undefined);
  });
});

describe('daemon pod decision, reason by reason', () => {
  const tpl = (image: string) => ({ metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image }] } });
  const facts = (o: { stable?: string | null; template?: string; nodes?: string; uid?: string | null } = {}): DaemonSetFacts =>
    daemonSetFacts({
      metadata: {
        ...(o.uid === null ? {} : { uid: o.uid ?? 'ds-uid' }),
        annotations: {
          ...(o.stable === null ? {} : { 'sluice.dev/stable-revision': o.stable ?? templateRevision(tpl('agent:1')) }),
          'sluice.dev/canary-nodes': o.nodes ?? 'n-0',
        },
      },
      spec: { template: tpl(o.template ?? 'agent:2'), selector: { matchLabels: { app: 'agent' } } },
    });
  const revisions = [
    { name: 'agent-h1', hash: 'h1', template: tpl('agent:1') as never, generation: '1' },
    { name: 'agent-h2', hash: 'h2', template: tpl('agent:2') as never },
  ];
  const sources = (cached: DaemonSetFacts | undefined, freshOrNone: DaemonSetFacts | null = cached ?? null, revs = revisions) => {
    const fresh = freshOrNone ?? undefined;
    const calls: string[] = [];
    const s: DaemonPodSources = {
      managed: (ns, name) => {
        calls.push(`managed ${ns}/${name}`);
        return cached;
      },
      fresh: async (ns, name) => {
        calls.push(`fresh ${ns}/${name}`);
        return fresh;
      },
      revisions: async (ns, uid, need, selector) => {
        calls.push(`revisions ${ns} ${uid} ${need} ${selector}`);
        return revs;
      },
    };
    return { s, calls };
  };
  const pod = (
    o: { node?: string; hash?: string | null; owner?: Record<string, unknown> | null; annotations?: Record<string, string> } = {},
  ) => ({
    metadata: {
      labels: { app: 'agent', ...(o.hash === null ? {} : { 'controller-revision-hash': o.hash ?? 'h2' }) },
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.owner === null ? {} : { ownerReferences: [{ kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true, ...o.owner }] }),
    },
    spec: { ...(o.node === '' ? {} : { nodeName: o.node ?? 'n-1' }), containers: [{ name: 'agent', image: 'agent:2' }] },
  });

  it('passes what is not its business, saying why', async () => {
    const pass = async (p: unknown, s = sources(facts()).s, o: Partial<AdmissionRequest> = {}) => decideDaemonPod(req(p, o), s);
    assert.deepEqual(await pass(pod(), undefined, { operation: 'UPDATE' }), { swapped: false, reason: 'not a pod creation' });
    assert.deepEqual(await pass(pod(), undefined, { subResource: 'binding' }), { swapped: false, reason: 'not a pod creation' });
    assert.deepEqual(await pass(pod(), undefined, { kind: { group: 'apps', version: 'v1', kind: 'DaemonSet' } }), {
      swapped: false,
      reason: 'not a pod creation',
    });
    await assert.rejects(pass(null), /the request carries no Pod/);
    assert.deepEqual(await pass(pod({ owner: null })), { swapped: false, reason: 'not created by a DaemonSet' });
    assert.deepEqual(await pass(pod({ owner: { controller: false } })), { swapped: false, reason: 'not created by a DaemonSet' });
    assert.deepEqual(await pass(pod({ owner: { kind: 'ReplicaSet' } })), { swapped: false, reason: 'not created by a DaemonSet' });
    assert.deepEqual(await pass(pod({ owner: { name: undefined } })), { swapped: false, reason: 'not created by a DaemonSet' });
    assert.deepEqual(
      await pass(
        { metadata: { ownerReferences: [null, 'x', { kind: 'DaemonSet', name: 'agent', controller: true }] }, spec: {} },
        sources(undefined).s,
      ),
      {
        swapped: false,
        reason: 'DaemonSet agent is not managed by sluice',
      },
    );
    assert.deepEqual(await pass(pod(), sources(undefined).s), { swapped: false, reason: 'DaemonSet agent is not managed by sluice' });
    assert.deepEqual(await pass(pod({ owner: { uid: 'old' } })), { swapped: false, reason: 'DaemonSet agent is not managed by sluice' });
    assert.equal(
      ((await pass(pod({ owner: { uid: undefined } }))) as { swapped: boolean }).swapped,
      true,
      'no uid to compare: the name decides',
    );
    assert.equal(((await pass(pod(), sources(facts({ uid: null })).s)) as { swapped: boolean }).swapped, true);
    assert.deepEqual(await pass(pod(), sources(facts({ template: 'agent:1' })).s), {
      swapped: false,
      reason: 'DaemonSet agent runs its stable revision',
    });
    assert.deepEqual(await pass(pod(), sources(facts({ stable: null })).s), {
      swapped: false,
      reason: 'DaemonSet agent runs its stable revision',
    });
    assert.deepEqual(await pass(pod({ node: '' })), { swapped: false, reason: 'the pod names no node' });
    assert.deepEqual(await pass(pod({ node: 'n-0' })), { swapped: false, reason: 'n-0 is a canary node of DaemonSet agent' });
    assert.deepEqual(await pass(pod(), sources(facts(), facts({ nodes: 'n-0,n-1' })).s), {
      swapped: false,
      reason: 'n-1 is a canary node of DaemonSet agent',
    });
    assert.deepEqual(await pass(pod(), sources(facts(), null).s), {
      swapped: false,
      reason: 'DaemonSet agent runs its stable revision',
    });
    assert.deepEqual(await pass(pod(), sources(facts(), facts({ template: 'agent:1' })).s), {
      swapped: false,
      reason: 'DaemonSet agent runs its stable revision',
    });
    assert.deepEqual(await pass(pod({ hash: null })), { swapped: false, reason: 'the pod carries no revision hash' });
    assert.deepEqual(await pass(pod({ hash: 'h1' })), { swapped: false, reason: 'the pod runs the stable revision' });
  });

  it('asks the sources in the pod’s namespace, for its DaemonSet’s uid and the hash it needs', async () => {
    const { s, calls } = sources(facts());
    await decideDaemonPod(req(pod()), s);
    assert.deepEqual(calls, ['managed shop/agent', 'fresh shop/agent', 'revisions shop ds-uid h2 app=agent']);
    // The cache already says it is a canary node: nothing more is read.
    const onCanary = sources(facts());
    await decideDaemonPod(req(pod({ node: 'n-0' })), onCanary.s);
    assert.deepEqual(onCanary.calls, ['managed shop/agent']);
    const noUid = sources(facts({ uid: null }));
    await decideDaemonPod(req(pod({ owner: { uid: undefined } }), { namespace: undefined }), noUid.s);
    assert.deepEqual(noUid.calls.at(-1), 'revisions   h2 app=agent');
  });

  it('swapped: the stable template, its labels saying so, and a note naming the canary nodes', async () => {
    const d = await decideDaemonPod(
      req(pod({ annotations: { 'kubectl.kubernetes.io/restartedAt': 'x' } })),
      sources(facts({ nodes: '' })).s,
    );
    assert.ok('swapped' in d && d.swapped);
    assert.deepEqual(d.pod.metadata, {
      labels: { app: 'agent', 'controller-revision-hash': 'h1', 'pod-template-generation': '1' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': 'x' },
      ownerReferences: [{ kind: 'DaemonSet', name: 'agent', uid: 'ds-uid', controller: true }],
    });
    assert.match(d.note, /^given the stable template \S+ of DaemonSet agent\.shop: n-1 is not one of its canary nodes \(none\)$/);
    const plain = await decideDaemonPod(req(pod()), sources(facts({ nodes: 'n-0,n-2' })).s);
    assert.ok('swapped' in plain && plain.swapped);
    assert.equal((plain.pod.metadata as { annotations?: unknown }).annotations, undefined, 'no annotations: none added');
    assert.match(plain.note, /\(n-0, n-2\)$/);
    const noGeneration = await decideDaemonPod(
      req(pod()),
      sources(facts(), facts(), [{ ...revisions[0]!, generation: undefined }, revisions[1]!]).s,
    );
    assert.ok('swapped' in noGeneration && noGeneration.swapped);
    assert.equal((noGeneration.pod.metadata as { labels: Record<string, string> }).labels['pod-template-generation'], undefined);
  });

  it('refused with 503, naming the DaemonSet, when a revision it needs is not recorded', async () => {
    const missingStable = await decideDaemonPod(req(pod()), sources(facts(), facts(), [revisions[1]!]).s);
    assert.ok('refused' in missingStable);
    assert.equal(missingStable.code, 503);
    assert.match(
      missingStable.message,
      /^sluice: DaemonSet agent\.shop is frozen at revision \S+, but none of its ControllerRevisions holds that template, so this pod for n-1 cannot be given it/,
    );
    const missingSource = await decideDaemonPod(req(pod()), sources(facts(), facts(), [revisions[0]!]).s);
    assert.deepEqual(missingSource, {
      refused: true,
      code: 503,
      message:
        'sluice: DaemonSet agent.shop has no ControllerRevision for the hash h2 this pod for n-1 carries; the DaemonSet controller retries',
    });
    assert.equal((missingStable as { refused?: boolean }).refused, true);
    // A pod the templates' difference cannot be applied to: refused, and the DaemonSet controller retries.
    const odd = await decideDaemonPod(req({ ...pod(), spec: { nodeName: 'n-1', containers: 'x' } }), sources(facts()).s);
    assert.ok('refused' in odd && odd.refused === true && odd.code === 500, JSON.stringify(odd));
    assert.match(
      odd.message,
      // One line of the patch error, not the pod it was given.
      /^sluice: could not give this pod of DaemonSet agent\.shop for n-1 its stable template: Cannot perform operation at the desired path; the DaemonSet controller retries$/,
    );
  });
});
