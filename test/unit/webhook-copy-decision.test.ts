// A canary copy the controller writes must be the copy of a Deployment a live Canary targets,
// owned by that Canary, running exactly that Deployment's pods (snapshots of its configs aside).
import assert from 'node:assert/strict';
import { digestsByGeneration, slimManaged } from '../../webhook/admission-cache.js';
import type { AdmissionRequest } from '../../webhook/admission-types.js';
import { type CopySources, copyDifferences, decideCopy, templateDigest } from '../../webhook/copy-decision.js';
import { controllerUser } from '../world/layout.js';

const pods = (over: Record<string, unknown> = {}) => ({
  metadata: { annotations: { 'prometheus.io/scrape': 'true' } },
  spec: {
    serviceAccountName: 'podinfo',
    containers: [
      {
        name: 'podinfod',
        image: 'ghcr.io/stefanprodan/podinfo:6.0.1',
        env: [{ name: 'CONFIG', valueFrom: { configMapKeyRef: { name: 'podinfo-config', key: 'x' } } }],
      },
    ],
    volumes: [{ name: 'cfg', configMap: { name: 'podinfo-config' } }],
    ...over,
  },
});
/** What the controller writes: the target's pods reading snapshots of its ConfigMaps. */
const asCopy = (t: ReturnType<typeof pods>) => {
  type Refs = {
    spec: { containers: { env?: { valueFrom?: { configMapKeyRef?: { name: string } } }[] }[]; volumes: { configMap?: { name: string } }[] };
  };
  const c = structuredClone(t) as unknown as Refs;
  const ref = c.spec.containers[0]?.env?.[0]?.valueFrom?.configMapKeyRef;
  if (ref) ref.name = 'podinfo-config-sluice-0123456789';
  const vol = c.spec.volumes[0]?.configMap;
  if (vol) vol.name = 'podinfo-config-sluice-0123456789';
  return c as unknown as ReturnType<typeof pods>;
};

const review = (name: string, template: unknown, owner = 'uid-1', user = controllerUser): AdmissionRequest => ({
  uid: 'u',
  kind: { group: 'apps', version: 'v1', kind: 'Deployment' },
  namespace: 'test',
  name,
  operation: 'CREATE',
  userInfo: { username: user },
  object: {
    metadata: {
      name,
      labels: { 'sluice.dev/role': 'canary' },
      ownerReferences: [{ apiVersion: 'flagger.app/v1beta1', kind: 'Canary', name: 'podinfo', uid: owner, controller: true }],
    },
    spec: { template },
  },
});

const sources = (
  target = pods(),
  canaries: Record<string, string[]> | null = { podinfo: ['uid-1'] },
): CopySources & { reads: string[] } => {
  const reads: string[] = [];
  return {
    reads,
    canariesTargeting: (_ns, d) => (canaries === null ? undefined : (canaries[d] ?? [])),
    target: async (ns, name) => {
      reads.push(`${ns}/${name}`);
      return name === 'podinfo' ? { spec: { template: target } } : undefined;
    },
  };
};
const deny = async (r: AdmissionRequest, s: CopySources, message: RegExp) => {
  const v = await decideCopy(r, [controllerUser], s);
  assert.equal(v.allowed, false, String(message));
  assert.match(v.allowed ? '' : v.message, message);
};

describe('canary copies the controller writes', () => {
  it('admits the copy of its target, reading snapshots of its configs, checked against the target as last written', async () => {
    const s = sources();
    const v = await decideCopy(review('podinfo-canary', asCopy(pods())), [controllerUser], s);
    assert.equal(v.allowed, true, v.allowed ? '' : v.message);
    assert.deepEqual(s.reads, ['test/podinfo']);
  });

  it('refuses any other pod: another image, a privileged container, the host PID namespace, another ServiceAccount, a hostPath, an AppArmor annotation', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['another image', asCopy(pods({ containers: [{ name: 'podinfod', image: 'example.com/miner:1' }] })), /spec\.containers differs/],
      ['host PID', asCopy(pods({ hostPID: true })), /spec\.hostPID differs/],
      ['another ServiceAccount', asCopy(pods({ serviceAccountName: 'admin' })), /spec\.serviceAccountName differs/],
      ['a hostPath', asCopy(pods({ volumes: [{ name: 'cfg', hostPath: { path: '/' } }] })), /spec\.volumes differs/],
      [
        'an annotation',
        { ...asCopy(pods()), metadata: { annotations: { 'container.apparmor.security.beta.kubernetes.io/podinfod': 'unconfined' } } },
        /metadata\.annotations differs/,
      ],
      [
        "a ConfigMap that is not a snapshot of the target's",
        { ...pods(), spec: { ...pods().spec, volumes: [{ name: 'cfg', configMap: { name: 'kube-root-ca.crt' } }] } },
        /spec\.volumes differs/,
      ],
    ];
    for (const [what, template, message] of cases) {
      await deny(review('podinfo-canary', template), sources(), message).catch((e: Error) => assert.fail(`${what}: ${e.message}`));
    }
  });

  it('refuses a copy of nothing, one owned by no live Canary, one not named as a copy, and one whose target is gone', async () => {
    await deny(review('miner-canary', pods()), sources(), /not the canary copy of anything: no Canary in test targets Deployment miner/);
    await deny(
      review('podinfo-canary', pods(), 'forged'),
      sources(),
      /must be owned \(controller reference\) by the Canary that targets Deployment podinfo/,
    );
    const named = review('miner', pods());
    await deny(named, sources(), /labelled sluice\.dev\/role=canary but is not named <target>-canary/);
    await deny(review('other-canary', pods()), sources(pods(), { other: ['uid-1'] }), /copy of Deployment other, which does not exist/);
    const unsynced = await decideCopy(review('podinfo-canary', pods()), [controllerUser], sources(pods(), null));
    assert.ok(!unsynced.allowed && unsynced.code === 503, 'caches still filling: retry');
  });

  it("leaves anyone else's write to /validate, and reads nothing for it", async () => {
    const s = sources();
    assert.equal((await decideCopy(review('miner-canary', pods(), 'x', 'alice'), [controllerUser], s)).allowed, true);
    assert.deepEqual(s.reads, []);
  });

  it('names each field that differs, and nothing when only snapshot names do', () => {
    assert.deepEqual(copyDifferences(asCopy(pods()), pods()), []);
    assert.deepEqual(copyDifferences(asCopy(pods({ hostIPC: true, hostNetwork: true })), pods()), ['spec.hostIPC', 'spec.hostNetwork']);
  });

  it('answers each refusal with its code, reason and a message naming the Deployment', async () => {
    assert.deepEqual(await decideCopy(review('miner', pods()), [controllerUser], sources()), {
      allowed: false,
      code: 403,
      reason: 'Forbidden',
      message: 'Deployment miner.test is labelled sluice.dev/role=canary but is not named <target>-canary',
    });
    assert.deepEqual(await decideCopy(review('podinfo-canary', pods()), [controllerUser], sources(pods(), null)), {
      allowed: false,
      code: 503,
      reason: 'ServiceUnavailable',
      message: "Deployment podinfo-canary.test: sluice's webhook has not loaded the Canaries yet; retry in a few seconds",
    });
    const one = await decideCopy(review('podinfo-canary', asCopy(pods({ hostPID: true }))), [controllerUser], sources());
    assert.deepEqual(one, {
      allowed: false,
      code: 403,
      reason: 'Forbidden',
      message:
        'Deployment podinfo-canary.test must run the pods of Deployment podinfo, only reading snapshots of its ConfigMaps and Secrets; spec.hostPID differs',
    });
    const two = await decideCopy(review('podinfo-canary', asCopy(pods({ hostPID: true, hostIPC: true }))), [controllerUser], sources());
    assert.match(two.allowed ? '' : two.message, /; spec\.hostIPC, spec\.hostPID differ$/);
    assert.deepEqual(await decideCopy(review('podinfo-canary', asCopy(pods())), [controllerUser], sources()), {
      allowed: true,
      reason: 'canary copy of podinfo, owned by its Canary, running its pods',
    });
  });

  it('an owner reference counts only as a controller reference to a Flagger Canary', async () => {
    const owned = (ref: Record<string, unknown>) => {
      const r = review('podinfo-canary', asCopy(pods()));
      (r.object as { metadata: { ownerReferences: unknown[] } }).metadata.ownerReferences = [ref];
      return r;
    };
    const canary = { apiVersion: 'flagger.app/v1beta1', kind: 'Canary', name: 'podinfo', uid: 'uid-1', controller: true };
    for (const [what, ref] of [
      ['not the controller', { ...canary, controller: false }],
      ['another API group', { ...canary, apiVersion: 'example.com/v1' }],
      ['no API version', { ...canary, apiVersion: undefined }],
      ['another kind', { ...canary, kind: 'Rollout' }],
      ['no uid', { ...canary, uid: undefined }],
    ] as const)
      await deny(owned(ref), sources(), /must be owned \(controller reference\)/).catch((e: Error) => assert.fail(`${what}: ${e.message}`));
    const r = review('podinfo-canary', asCopy(pods()));
    delete (r.object as { metadata: { ownerReferences?: unknown } }).metadata.ownerReferences;
    await deny(r, sources(), /must be owned/);
  });

  it('checks creations and updates only; a request without a Deployment is an error; an unlabelled Deployment passes', async () => {
    const del = { ...review('podinfo-canary', pods()), operation: 'DELETE' as const };
    assert.deepEqual(await decideCopy(del, [controllerUser], sources()), { allowed: true, reason: 'DELETE is not checked' });
    const update = { ...review('podinfo-canary', asCopy(pods({ hostPID: true }))), operation: 'UPDATE' as const };
    assert.equal((await decideCopy(update, [controllerUser], sources())).allowed, false);
    for (const object of [[], 'x'])
      await assert.rejects(
        decideCopy({ ...review('podinfo-canary', pods()), object }, [controllerUser], sources()),
        /carries no Deployment/,
      );
    const plain = review('podinfo-canary', pods());
    (plain.object as { metadata: { labels?: unknown } }).metadata.labels = { app: 'podinfo' };
    assert.deepEqual(await decideCopy(plain, [controllerUser], sources()), { allowed: true, reason: 'not a canary copy' });
    const unnamed = { ...review('podinfo-canary', asCopy(pods())), name: undefined };
    assert.equal((await decideCopy(unnamed, [controllerUser], sources())).allowed, true, 'the name read from the object');
  });

  it('no annotations and empty annotations are the same; fields are named in order', () => {
    assert.deepEqual(copyDifferences({ spec: {} }, { metadata: { annotations: {} }, spec: {} }), []);
    assert.deepEqual(copyDifferences({ metadata: {}, spec: {} }, { spec: {} }), []);
    assert.deepEqual(copyDifferences(undefined, undefined), []);
    assert.deepEqual(copyDifferences({ spec: { b: 1, a: 1 } }, { metadata: { annotations: { x: 'y' } }, spec: {} }), [
      'spec.a',
      'spec.b',
      'metadata.annotations',
    ]);
  });
});

describe('canary copies of any shape', () => {
  it('a copy with bare metadata, or without a template, is judged, never a crash', async () => {
    const r = review('podinfo-canary', asCopy(pods()));
    (r.object as { metadata: unknown }).metadata = {};
    assert.deepEqual(await decideCopy({ ...r, name: undefined }, [controllerUser], sources()), {
      allowed: true,
      reason: 'not a canary copy',
    });
    const labelled = review('podinfo-canary', asCopy(pods()));
    (labelled.object as { metadata: Record<string, unknown> }).metadata = {
      name: 'podinfo-canary',
      labels: { 'sluice.dev/role': 'canary' },
    };
    await deny({ ...labelled, name: undefined }, sources(), /must be owned \(controller reference\)/);
    const noSpec = review('podinfo-canary', undefined);
    delete (noSpec.object as { spec?: unknown }).spec;
    await deny(noSpec, sources(), /must run the pods of Deployment podinfo/);
    const s = sources();
    s.target = async () => ({});
    await deny(review('podinfo-canary', asCopy(pods())), s, /must run the pods of Deployment podinfo/);
    assert.deepEqual(await decideCopy(review('podinfo-canary', pods(), 'uid-1', 'alice'), [controllerUser], sources()), {
      allowed: true,
      reason: 'not written by the controller (a person editing a copy is judged by /validate)',
    });
  });

  it('admits a copy whose template matches the cached digest of its target without reading it; any other is read and judged', async () => {
    const cached = (digest: string | undefined) => {
      const s = sources();
      return { ...s, cachedTemplateDigest: (_ns: string, name: string) => (name === 'podinfo' ? digest : undefined) };
    };
    const hit = cached(templateDigest(pods()));
    const v = await decideCopy(review('podinfo-canary', asCopy(pods())), [controllerUser], hit);
    assert.equal(v.allowed, true);
    assert.match(v.allowed ? v.reason : '', /as cached/);
    assert.deepEqual(hit.reads, [], 'no read of the target');
    // The cache is a template behind (the user has just pushed 6.0.2): the read decides, and admits.
    const newer = pods({ containers: [{ name: 'podinfod', image: 'ghcr.io/stefanprodan/podinfo:6.0.2' }] });
    const behind = { ...cached(templateDigest(pods())), target: async () => ({ spec: { template: newer } }) };
    assert.equal((await decideCopy(review('podinfo-canary', newer), [controllerUser], behind)).allowed, true);
    // A copy of anything else is read and refused as before, whatever the cache says.
    const evil = pods({ containers: [{ name: 'podinfod', image: 'evil:1' }] });
    const miss = cached(templateDigest(pods()));
    await deny(review('podinfo-canary', evil), miss, /spec\.containers differs/);
    assert.deepEqual(miss.reads, ['test/podinfo']);
    // A baseline is never taken from the digest: its template is the released revision, not the target's.
    const base = cached(templateDigest(pods()));
    const r = review('podinfo-baseline', asCopy(pods()));
    (r.object as { metadata: { labels: Record<string, string> } }).metadata.labels['sluice.dev/role'] = 'baseline';
    await decideCopy(r, [controllerUser], base);
    assert.deepEqual(base.reads, ['test/podinfo']);
  });

  it('a digest ignores snapshot names and labels, and sees the spec and annotations', () => {
    assert.equal(templateDigest(asCopy(pods())), templateDigest(pods()));
    const labelled = { ...pods(), metadata: { ...pods().metadata, labels: { app: 'x' } } };
    assert.equal(templateDigest(labelled), templateDigest(pods()));
    assert.notEqual(templateDigest(pods({ serviceAccountName: 'other' })), templateDigest(pods()));
    assert.notEqual(templateDigest({ ...pods(), metadata: { annotations: {} } }), templateDigest(pods()));
    const managed = slimManaged({ metadata: { name: 'podinfo', namespace: 'test' }, spec: { template: pods() } } as never);
    assert.equal(managed.templateDigest, templateDigest(pods()));
  });

  it("computes a managed Deployment's digest once per generation, and again for a new object under the same name", () => {
    const d = digestsByGeneration();
    const dep = (generation: number, uid: string, template = pods()) =>
      ({ metadata: { name: 'podinfo', namespace: 'test', uid, generation }, spec: { template } }) as never;
    const first = d.slim(dep(1, 'a'));
    assert.equal(first.templateDigest, templateDigest(pods()));
    // A status write (same generation) keeps the digest, even if handed a template that would differ.
    assert.equal(d.slim(dep(1, 'a', pods({ serviceAccountName: 'x' }))).templateDigest, first.templateDigest);
    assert.equal(d.slim(dep(2, 'a', pods({ serviceAccountName: 'x' }))).templateDigest, templateDigest(pods({ serviceAccountName: 'x' })));
    // Deleted and created again: generation 1 again, another uid, its own digest.
    const again = pods({ serviceAccountName: 'y' });
    assert.equal(d.slim(dep(1, 'b', again)).templateDigest, templateDigest(again));
    d.forget(d.slim(dep(1, 'b', again)));
    assert.equal(d.slim(dep(1, 'b', pods())).templateDigest, templateDigest(pods()), 'forgotten: computed afresh');
  });
});
