// The pod webhooks' promises, checked on generated pods through the answers the apiserver gets
// (the patch applied as it would apply it), not on the decisions alone:
// - /mutate-pod: a primary pod of a Deployment with tracked configs never reads a live tracked
//   ConfigMap or Secret, only its snapshot; nothing else in the pod changes; other pods pass as sent.
// - /mutate-daemon-pod: a pod of a frozen DaemonSet for a node that is not one of its canary nodes
//   never starts the candidate template: it gets the stable one (what others added kept) or is
//   refused for the controller to retry; on a canary node, or for a DaemonSet at rest, it passes.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import jsonPatch from 'fast-json-patch';
import { annotations as A, labels as L, values } from '../../api/contract.js';
import { type DaemonSetRevision, REVISION_LABEL, TEMPLATE_GENERATION_LABEL } from '../../api/daemonset.js';
import { templateRevision } from '../../api/revision.js';
import { configRefs, refKey } from '../../api/tracked-configs.js';
import type { Answer } from '../../webhook/admission-review.js';
import { answerDaemonPod, answerPin } from '../../webhook/admission-review.js';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { type DaemonPodSources, daemonSetFacts } from '../../webhook/daemon-pod-decision.js';
import { podCreate } from '../fixtures/pod-review.js';
import { runs } from './runs.js';

type Json = Record<string, unknown>;

// As it comes over the wire: JSON, so a field set to undefined is absent.
const podRequest = (pod: unknown): AdmissionRequest => JSON.parse(JSON.stringify(podCreate(pod))) as AdmissionRequest;

/** The pod the apiserver stores after the answer: undefined when refused. */
function stored(req: AdmissionRequest, answer: Answer): Json | undefined {
  const r = answer.review.response!;
  if (!r.allowed) return undefined;
  const patch = r.patch ? JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8')) : [];
  return jsonPatch.applyPatch(structuredClone(req.object), patch, true, false).newDocument as Json;
}

describe('pod webhooks: invariants on generated pods', () => {
  describe('/mutate-pod pins a primary pod to its config snapshots', () => {
    const NAMES = ['app-config', 'app-secret', 'shared', 'other'];
    const ref = fc.record({ kind: fc.constantFrom('ConfigMap' as const, 'Secret' as const), name: fc.constantFrom(...NAMES) });
    const volume = ref.chain((r) =>
      fc.constantFrom(
        r.kind === 'ConfigMap'
          ? { name: `v-${r.name}`, configMap: { name: r.name } }
          : { name: `v-${r.name}`, secret: { secretName: r.name } },
        {
          name: `p-${r.name}`,
          projected: { sources: [r.kind === 'ConfigMap' ? { configMap: { name: r.name } } : { secret: { name: r.name } }] },
        },
        { name: 'scratch', emptyDir: {} },
      ),
    );
    const env = ref.map((r) => ({
      name: `E_${r.name.replace('-', '_')}`,
      valueFrom: r.kind === 'ConfigMap' ? { configMapKeyRef: { name: r.name, key: 'k' } } : { secretKeyRef: { name: r.name, key: 'k' } },
    }));
    const envFrom = ref.map((r) => (r.kind === 'ConfigMap' ? { configMapRef: { name: r.name } } : { secretRef: { name: r.name } }));
    const container = (name: string) =>
      fc.record({
        name: fc.constant(name),
        image: fc.constantFrom('app:1', 'app:2'),
        env: fc.array(fc.oneof(env, fc.constant({ name: 'PLAIN', value: 'x' })), { maxLength: 3 }),
        envFrom: fc.array(envFrom, { maxLength: 2 }),
      });
    /** Who made the pod: podinfo's ReplicaSet, another Deployment's, a canary copy's, none, or a damaged reference. */
    const origin = fc.constantFrom(
      'primary',
      'primary',
      'primary',
      'canary',
      'other-deployment',
      'bare',
      'hash-mismatch',
      'not-controller',
    );
    const pods = fc.record({
      origin,
      containers: fc.array(container('app'), { minLength: 1, maxLength: 2 }),
      initContainers: fc.array(container('init'), { maxLength: 1 }),
      volumes: fc.array(volume, { maxLength: 4 }),
    });
    /** podinfo's tracked configs: some of the names, each pinned to its snapshot. */
    const pinSets = fc.oneof(
      fc.constant([] as string[]),
      fc.subarray(['ConfigMap/app-config', 'Secret/app-secret', 'ConfigMap/shared', 'Secret/shared']),
    );

    function podOf(p: Json, o: string): Json {
      const hash = '7d4b9c';
      const rs = o === 'other-deployment' ? `backend-${hash}` : o === 'hash-mismatch' ? 'podinfo-abc' : `podinfo-${hash}`;
      const labels: Record<string, string> = { app: 'podinfo', 'pod-template-hash': hash };
      if (o === 'canary') labels[L.role] = values.canaryRole;
      return {
        metadata: {
          generateName: `${rs}-`,
          namespace: 'test',
          labels,
          ...(o === 'bare'
            ? {}
            : {
                ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: 'rs', controller: o !== 'not-controller' }],
              }),
        },
        spec: { ...p, tolerations: [{ key: 'k', operator: 'Exists' }], serviceAccountName: 'podinfo' },
      };
    }

    it('a primary pod of podinfo reads no live tracked config; every other field and every other pod as sent', () => {
      const outcomes = new Map<string, number>();
      fc.assert(
        fc.property(pods, pinSets, (p, pinned) => {
          const { origin: o, ...spec } = p;
          const pins = Object.fromEntries(pinned.map((k) => [k, `${k.split('/')[1]}-sluice-0123456789`]));
          const req = podRequest(podOf(spec, o));
          const answer = answerPin(req, (ns, deployment) => (ns === 'test' && deployment === 'podinfo' ? pins : undefined));
          outcomes.set(`${o} ${answer.decision}`, (outcomes.get(`${o} ${answer.decision}`) ?? 0) + 1);
          const pod = stored(req, answer);
          assert.ok(pod, `a pod is never refused for its configs: ${answer.note}`);
          const sent = req.object as Json;
          const isPrimary = o === 'primary';
          if (!isPrimary || pinned.length === 0) {
            assert.deepEqual(pod, sent, `${o}: passed as sent`);
            return;
          }
          const live = configRefs(pod.spec).map(refKey);
          for (const k of Object.keys(pins)) assert.ok(!live.includes(k), `${k} read live by ${JSON.stringify(pod.spec)}`);
          // Every reference the pod made is still there, under its snapshot's name when tracked.
          const want = configRefs(sent.spec).map((r) => (pins[refKey(r)] ? `${r.kind}/${pins[refKey(r)]}` : refKey(r)));
          assert.deepEqual(live.sort(), [...new Set(want)].sort());
          // Nothing but names changes: the pod read back with snapshot names undone is the pod sent.
          const undone = JSON.parse(JSON.stringify(pod).replace(/"([a-z-]+)-sluice-0123456789"/g, '"$1"'));
          assert.deepEqual(undone, sent);
        }),
        { numRuns: runs(2000) },
      );
      for (const want of ['primary pinned', 'canary passed', 'other-deployment passed', 'bare passed', 'primary passed'])
        assert.ok(outcomes.has(want), `no "${want}" among ${[...outcomes.keys()].join(', ')}`);
    });

    it('any damaged pod is answered, never thrown: admitted as sent, pinned, or refused with a reason', () => {
      const junk = fc.oneof(
        fc.constant(null),
        fc.string(),
        fc.integer(),
        fc.array(fc.anything(), { maxLength: 2 }),
        fc.object({ maxDepth: 1 }),
      );
      const paths = [
        ['metadata'],
        ['metadata', 'ownerReferences'],
        ['metadata', 'labels'],
        ['spec'],
        ['spec', 'volumes'],
        ['spec', 'containers'],
        ['spec', 'containers', '0', 'env'],
        ['spec', 'containers', '0', 'envFrom'],
        ['spec', 'volumes', '0', 'projected'],
      ];
      fc.assert(
        fc.property(pods, fc.constantFrom(...paths), junk, (p, path, value) => {
          const { origin: _o, ...spec } = p;
          const pod = podOf(spec, 'primary');
          let at: Json = pod;
          for (const k of path.slice(0, -1)) {
            if (typeof at[k] !== 'object' || at[k] === null) return;
            at = at[k] as Json;
          }
          at[path.at(-1)!] = value;
          const req = podRequest(pod);
          const answer = answerPin(req, () => ({ 'ConfigMap/app-config': 'app-config-sluice-0123456789' }));
          const r = answer.review.response!;
          if (!r.allowed) assert.match(r.status?.message ?? '', /could not pin Pod/);
          else stored(req, answer);
        }),
        { numRuns: runs(1000) },
      );
    });
  });

  describe('/mutate-daemon-pod gives a pod off the canary nodes the stable template', () => {
    const template = (image: string, extra: Json = {}) => ({
      metadata: { labels: { app: 'agent' }, ...extra },
      spec: {
        containers: [{ name: 'agent', image, args: ['--serve'] }],
        volumes: [{ name: 'conf', configMap: { name: `agent-${image.slice(-1)}` } }],
      },
    });
    const STABLE_T = template('agent:1');
    const CANDIDATE_T = template('agent:2', { annotations: { 'checksum/config': 'abc' } });
    const revs: DaemonSetRevision[] = [
      { name: 'agent-h1', hash: 'h1', template: STABLE_T as never, generation: '1' },
      { name: 'agent-h2', hash: 'h2', template: CANDIDATE_T as never, generation: '2' },
    ];
    const NODES = ['n-0', 'n-1', 'n-2', 'n-3'];
    const cases = fc.record({
      frozen: fc.constantFrom(true, true, true, false),
      cachedNodes: fc.subarray(NODES),
      freshExtra: fc.subarray(NODES),
      node: fc.constantFrom(...NODES),
      // Weighted towards the case that matters (a managed, frozen DaemonSet's candidate pod) so that a
      // tenth of the runs (make mutation) still reaches every answer.
      hash: fc.constantFrom('h2', 'h2', 'h1', 'h9'),
      owner: fc.constantFrom('agent', 'agent', 'agent', 'other', 'agent-wrong-uid', 'agent-not-controller'),
      revisionsKnown: fc.constantFrom('both', 'both', 'both', 'no-stable', 'no-source'),
      nodeBy: fc.constantFrom('affinity', 'nodeName', 'none'),
      added: fc.boolean(),
    });
    type Case = typeof cases extends fc.Arbitrary<infer C> ? C : never;

    function pod(c: Case): Json {
      const t = c.hash === 'h1' ? STABLE_T : CANDIDATE_T;
      const spec: Json = structuredClone(t.spec);
      if (c.nodeBy === 'nodeName') spec.nodeName = c.node;
      if (c.nodeBy === 'affinity')
        spec.affinity = {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [c.node] }] }],
            },
          },
        };
      spec.tolerations = [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' }];
      // What admission before sluice added: the service account's volume and its mount.
      if (c.added) {
        (spec.volumes as Json[]).push({ name: 'kube-api-access', projected: { sources: [] } });
        ((spec.containers as Json[])[0]! as Json).volumeMounts = [{ name: 'kube-api-access', mountPath: '/var/run/secrets' }];
      }
      const owner = c.owner.startsWith('agent') ? 'agent' : c.owner;
      return {
        metadata: {
          generateName: 'agent-',
          labels: { app: 'agent', [REVISION_LABEL]: c.hash, [TEMPLATE_GENERATION_LABEL]: c.hash.slice(1) },
          annotations: { ...(t.metadata as { annotations?: Json }).annotations },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'DaemonSet',
              name: owner,
              uid: c.owner === 'agent-wrong-uid' ? 'old-uid' : 'ds-uid',
              controller: c.owner !== 'agent-not-controller',
            },
          ],
        },
        spec,
      };
    }

    const facts = (c: Case, nodes: string[]) =>
      daemonSetFacts({
        metadata: {
          uid: 'ds-uid',
          annotations: { [A.stableRevision]: templateRevision(STABLE_T), [A.canaryNodes]: nodes.join(',') },
        },
        spec: { template: c.frozen ? CANDIDATE_T : STABLE_T, selector: { matchLabels: { app: 'agent' } } },
      });

    const sources = (c: Case): DaemonPodSources => ({
      managed: (ns, name) => (ns === 'test' && name === 'agent' ? facts(c, c.cachedNodes) : undefined),
      // The apiserver knows at least what the cache knows: the controller only adds canary nodes during a rollout.
      fresh: async (ns, name) =>
        ns === 'test' && name === 'agent' ? facts(c, [...new Set([...c.cachedNodes, ...c.freshExtra])]) : undefined,
      revisions: async () =>
        revs.filter(
          (r) => !(c.revisionsKnown === 'no-stable' && r.hash === 'h1') && !(c.revisionsKnown === 'no-source' && r.hash === c.hash),
        ),
    });

    const imageOf = (p: Json) => (p.spec as { containers: { image: string }[] }).containers[0]!.image;

    it('never lets a pod off the canary nodes start the candidate; the stable template keeps what others added', async () => {
      const outcomes = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const req = podRequest(pod(c));
          const answer = await answerDaemonPod(req, sources(c));
          outcomes.set(answer.decision, (outcomes.get(answer.decision) ?? 0) + 1);
          const p = stored(req, answer);
          const sent = req.object as Json;
          const canaryNodes = new Set([...c.cachedNodes, ...c.freshExtra]);
          const ours = c.owner === 'agent' || c.owner === 'agent-not-controller';
          // A pod sluice must keep off the candidate: of the managed DaemonSet, frozen, for a node off the canary.
          const guarded = c.owner === 'agent' && c.frozen && c.nodeBy !== 'none' && !canaryNodes.has(c.node);
          if (!guarded) {
            // Not-controller owners and unknown nodes are the DaemonSet controller's business only: passed.
            if (!ours || !c.frozen || c.nodeBy === 'none' || canaryNodes.has(c.node) || c.owner === 'agent-not-controller')
              assert.deepEqual(p, sent, `passed as sent: ${answer.note}`);
            return;
          }
          if (!p) {
            assert.equal(answer.review.response!.status?.code, 503, answer.note);
            assert.ok(c.revisionsKnown !== 'both' || c.hash === 'h9', `refused with both revisions known: ${answer.note}`);
            return;
          }
          assert.equal(imageOf(p), 'agent:1', `the candidate reached ${c.node}: ${answer.note}`);
          const labels = (p.metadata as { labels: Record<string, string> }).labels;
          assert.equal(labels[REVISION_LABEL], 'h1');
          assert.equal(labels[TEMPLATE_GENERATION_LABEL], '1');
          assert.equal(
            (p.metadata as { annotations?: Json }).annotations?.['checksum/config'],
            undefined,
            "the candidate's annotation went",
          );
          assert.deepEqual((p.spec as Json).tolerations, (sent.spec as Json).tolerations, 'tolerations stay');
          assert.deepEqual((p.spec as Json).affinity, (sent.spec as Json).affinity, 'the node stays');
          assert.equal((p.spec as Json).nodeName, (sent.spec as Json).nodeName);
          const volumes = ((p.spec as Json).volumes as { name: string; configMap?: { name: string } }[]).map(
            (v) => v.configMap?.name ?? v.name,
          );
          assert.deepEqual(volumes, c.added ? ['agent-1', 'kube-api-access'] : ['agent-1']);
          assert.deepEqual((p.metadata as Json).ownerReferences, (sent.metadata as Json).ownerReferences);
        }),
        { numRuns: runs(2000) },
      );
      for (const d of ['stable-template', 'passed', 'denied'])
        assert.ok(outcomes.has(d), `no ${d} answer in ${[...outcomes.keys()].join(', ')}`);
    });
  });
});
