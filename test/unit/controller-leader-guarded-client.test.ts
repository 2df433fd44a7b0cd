// A controller that lost its Lease writes nothing: the client refuses every write, and reads go on.
import assert from 'node:assert/strict';
import { leaderGuarded, NotLeader } from '../../controller/leader-guarded-client.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';

describe('the leader-guarded client', () => {
  it('writes while leading; refuses create, replace, patch and delete after, naming what it refused; reads go on', async () => {
    const cluster = new MemoryCluster();
    let leading = true;
    const client = leaderGuarded(cluster, () => leading);
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'n' }, data: { a: '1' } };
    await client.create(at(R.configmaps, 'n'), cm);
    leading = false;
    const ref = at(R.configmaps, 'n', 'c');
    await assert.rejects(client.create(at(R.configmaps, 'n'), { ...cm, metadata: { name: 'd', namespace: 'n' } }), NotLeader);
    await assert.rejects(client.patch(ref, { data: { a: '2' } }), /not the leader: refused to patch configmaps\/c/);
    await assert.rejects(client.replace(ref, cm), NotLeader);
    await assert.rejects(client.delete(ref), NotLeader);
    const kept = await client.get<KubeObject & { data: Record<string, string> }>(ref);
    assert.deepEqual(kept.data, { a: '1' }, 'nothing changed');
    assert.equal(await client.find(at(R.configmaps, 'n', 'd')), undefined);
  });
});
