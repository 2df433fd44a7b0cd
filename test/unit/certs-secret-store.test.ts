// The webhook's TLS state in its Secret: what is written reads back the same, a damaged Secret reads
// as "no state" (so a new one is issued rather than a half one served), and two replicas writing
// from the same read cannot both win.
import assert from 'node:assert/strict';
import type { TlsState } from '../../certs/rotation-plan.js';
import { SecretStore, secretData, stateFromSecret } from '../../certs/secret-store.js';
import { ApiError, at, type KubeObject, R } from '../../lib/kube/client.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';

// The store never parses certificates: any PEM-shaped text shows what it keeps.
const pem = (what: string) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(what).toString('base64')}\n-----END CERTIFICATE-----\n`;
const key = (what: string) => `-----BEGIN PRIVATE KEY-----\n${Buffer.from(what).toString('base64')}\n-----END PRIVATE KEY-----\n`;
const base: TlsState = { ca: { certPem: pem('ca'), keyPem: key('ca') }, serving: { certPem: pem('tls'), keyPem: key('tls') } };
const full: TlsState = {
  ...base,
  nextCa: { certPem: pem('next'), keyPem: key('next') },
  nextCaStagedAt: '2026-12-01T00:00:00.000Z',
  previousCaPem: pem('old'),
  previousCaRetiredAt: '2026-11-30T00:00:00.000Z',
};
const asSecret = (state: TlsState) => {
  const { data, annotations } = secretData(state);
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'sluice', annotations }, data };
};
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

describe('certs/secret-store', () => {
  it('reads back exactly what it wrote, with and without a staged and a retired CA', () => {
    assert.deepEqual(stateFromSecret(asSecret(base)), base);
    assert.deepEqual(stateFromSecret(asSecret(full)), full);
  });

  it('serves the apiserver a caBundle of every CA still trusted, and keeps the staging times as annotations', () => {
    const { data, annotations } = secretData(full);
    const bundle = unb64(data['ca-bundle.crt']);
    for (const p of [pem('ca'), pem('next'), pem('old')]) assert.ok(bundle.includes(p.trim()), `${p} in the bundle`);
    assert.equal(unb64(secretData(base).data['ca-bundle.crt']).match(/BEGIN CERTIFICATE/g)?.length, 1);
    assert.deepEqual(Object.keys(annotations).sort(), ['sluice.dev/next-ca-staged-at', 'sluice.dev/previous-ca-retired-at']);
    assert.deepEqual(secretData(base).annotations, {});
    assert.equal(data['previous-ca.key'], undefined, 'a retired CA key is never kept');
  });

  it('a Secret missing any of the four current parts holds no state; a half-staged CA is dropped', () => {
    for (const part of ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']) {
      const s = asSecret(full);
      delete (s.data as Record<string, string>)[part];
      assert.equal(stateFromSecret(s), undefined, `without ${part}`);
    }
    const s = asSecret(full);
    delete (s.data as Record<string, string>)['next-ca.key'];
    const state = stateFromSecret(s)!;
    assert.equal(state.nextCa, undefined);
    assert.equal(state.nextCaStagedAt, undefined);
    assert.equal(state.previousCaPem, full.previousCaPem);
    assert.equal(stateFromSecret({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls' } }), undefined, 'no data at all');
  });

  it('creates the Secret, then replaces it only from the version it read: of two writers from one read, one wins', async () => {
    const cluster = new MemoryCluster();
    const a = new SecretStore(cluster, 'sluice', 'tls');
    const b = new SecretStore(cluster, 'sluice', 'tls');
    const none = await a.read();
    assert.deepEqual(none, { state: undefined, resourceVersion: undefined, exists: false });
    // Both replicas start with no Secret: the second create finds the name taken.
    assert.equal(await a.write(base, none), true);
    assert.equal(await b.write(full, none), false);
    const first = await b.read();
    assert.deepEqual(first.state, base, "the winner's state");
    assert.equal(first.exists, true);
    const secret = await cluster.get<KubeObject & { type?: string }>(at(R.secrets, 'sluice', 'tls'));
    assert.equal(secret.type, 'Opaque');
    assert.equal(secret.metadata.labels?.['app.kubernetes.io/component'], 'webhook-tls');
    // Both rotate from the same read: the one that writes second was based on an old version.
    assert.equal(await a.write(full, first), true);
    assert.equal(await b.write(base, first), false);
    assert.deepEqual((await a.read()).state, full);
  });

  it('any other failure reaches the caller: a rotation is retried, not taken as lost', async () => {
    const cluster = new MemoryCluster();
    const store = new SecretStore(cluster, 'sluice', 'tls');
    cluster.failNext((w) => w.verb === 'create', new ApiError(500, 'InternalError', 'etcdserver: request timed out', undefined));
    await assert.rejects(store.write(base, await store.read()), /etcdserver/);
    assert.equal((await store.read()).exists, false);
  });
});
