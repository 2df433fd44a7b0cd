// A Canary whose generated names are taken by objects sluice did not create: nothing is patched
// or adopted; the Canary says which objects are in the way (a Warning event and its Promoted
// condition) and waits; once they are gone, it initialises.
import assert from 'node:assert/strict';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { applySeed, canaryEvents, getCanary, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import { admin, deleteNamespace, serviceManifest } from '../world/test-clients.js';

describe('a Canary meeting objects it did not create', function () {
  this.timeout(180_000);
  let ns: string;
  before(async () => {
    ns = await sluiceAndNamespace('clash');
  });
  after(async () => {
    await deleteNamespace(ns);
  });

  it('neither patches nor adopts them, names them, and initialises once they are gone', async () => {
    const client = await admin();
    // Someone else's Service and HTTPRoute at the names the seed's Canary generates.
    await client.create(at(R.services, ns), serviceManifest(ns, 'podinfo-primary', { app: 'someone-else' }, 8080));
    await client.create(at(R.httproutes, ns), {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'podinfo', namespace: ns, labels: { team: 'web' } },
      spec: { parentRefs: [{ name: 'other-gateway' }], rules: [{ backendRefs: [{ name: 'someone-else', port: 8080 }] }] },
    });
    await applySeed(ns);
    const clash = await waitFor(
      async () => {
        const c = await getCanary(ns);
        return c.status?.conditions?.find((x) => x.type === 'Promoted' && x.reason === 'NameClash');
      },
      { timeoutMs: 30_000, what: 'the Canary to report the name clash' },
    );
    assert.match(clash.message ?? '', /Service podinfo-primary, HTTPRoute podinfo already exist and are not sluice's/);
    await waitFor(
      async () =>
        (await canaryEvents(ns)).some((e) => e.type === 'Warning' && /HTTPRoute podinfo already exist/.test(e.message)) || undefined,
      { timeoutMs: 15_000, what: 'a Warning event naming them' },
    );
    // Untouched: no label, no owner, their own spec.
    const svc = await client.get<KubeObject & { spec: { selector: Record<string, string> } }>(at(R.services, ns, 'podinfo-primary'));
    assert.deepEqual(svc.spec.selector, { app: 'someone-else' });
    assert.equal(svc.metadata.labels?.['sluice.dev/canary-name'], undefined);
    assert.equal(svc.metadata.ownerReferences, undefined);
    const route = await client.get<KubeObject & { spec: { parentRefs: { name: string }[] } }>(at(R.httproutes, ns, 'podinfo'));
    assert.deepEqual(
      route.spec.parentRefs.map((p) => p.name),
      ['other-gateway'],
    );
    assert.equal(route.metadata.labels?.['sluice.dev/canary-name'], undefined);
    assert.equal(await client.find(at(R.deployments, ns, 'podinfo-canary')), undefined, 'nothing generated while the names are taken');
    assert.notEqual((await getCanary(ns)).status?.phase, 'Initialized');
    // Out of the way: the Canary goes on by itself (it looks again within 30 s).
    await client.delete(at(R.services, ns, 'podinfo-primary'));
    await client.delete(at(R.httproutes, ns, 'podinfo'));
    await waitPhase(ns, 'Initialized', 60_000);
    const ours = await client.get<KubeObject>(at(R.httproutes, ns, 'podinfo'));
    assert.equal(ours.metadata.labels?.['sluice.dev/canary-name'], 'podinfo');
  });
});
