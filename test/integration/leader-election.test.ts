// Leader election on a real Lease: one leader at a time, a standby takes over an abandoned Lease,
// and a leader whose Lease is taken stops acting within its renew deadline.
import assert from 'node:assert/strict';
import winston from 'winston';
import { LeaderElector } from '../../controller/leader-election.js';
import { at, KubeClient, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { paths } from '../world/layout.js';
import { admin, deleteNamespace, testNamespace } from '../world/test-clients.js';

type Lease = KubeObject & { spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number } };

describe('leader election on a real Lease', function () {
  this.timeout(60_000);
  let ns: string;
  let client: KubeClient;
  const silent = winston.createLogger({ silent: true });
  before(async () => {
    ns = await testNamespace('lease');
    client = await KubeClient.load(paths.kubeconfig, 'lease-test');
  });
  after(async () => {
    client.close();
    await deleteNamespace(ns);
  });

  function candidate(identity: string, state: { leading: boolean; transitions: string[] }) {
    return new LeaderElector(
      client,
      {
        namespace: ns,
        name: 'test-lease',
        identity,
        leaseDurationMs: 2000,
        renewDeadlineMs: 1500,
        retryMs: 200,
        onStartedLeading: () => {
          state.leading = true;
          state.transitions.push(`${identity} started`);
        },
        onStoppedLeading: () => {
          state.leading = false;
          state.transitions.push(`${identity} stopped`);
        },
      },
      silent,
    );
  }

  it('elects one leader, hands over an abandoned Lease, and stops a leader whose Lease was taken', async () => {
    const a = { leading: false, transitions: [] as string[] };
    const b = { leading: false, transitions: [] as string[] };
    const ea = candidate('a', a);
    const eb = candidate('b', b);
    void ea.run();
    await waitFor(() => a.leading, { timeoutMs: 10_000, what: 'a to lead' });
    void eb.run();
    // b keeps trying for longer than a lease duration while a renews: it must never lead.
    const until = Date.now() + 3000;
    await waitFor(
      () => {
        assert.equal(b.leading, false, 'b must not lead while a renews');
        return Date.now() > until;
      },
      { timeoutMs: 5000, intervalMs: 50, what: 'three seconds of a leading alone' },
    );

    ea.stop(); // a crashes: no more renewals, Lease not released
    const crashedAt = Date.now();
    await waitFor(() => b.leading, { timeoutMs: 10_000, intervalMs: 50, what: 'b to take the abandoned Lease' });
    assert.ok(Date.now() - crashedAt >= 1500, 'not before the Lease could have expired');

    // Someone else takes the Lease from b (as a partitioned replica would see it happen).
    const a2 = await admin();
    const lease = await a2.get<Lease>(at(R.leases, ns, 'test-lease'));
    await a2.replace(at(R.leases, ns, 'test-lease'), {
      ...lease,
      spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: new Date().toISOString().replace('Z', '000Z') },
    });
    // The intruder renews; b must notice it is no longer the holder and stop within its deadline.
    const intruder = candidate('intruder', { leading: false, transitions: [] });
    void intruder.run();
    await waitFor(() => !b.leading, { timeoutMs: 5000, intervalMs: 50, what: 'b to stop acting' });
    assert.deepEqual(b.transitions, ['b started', 'b stopped']);
    eb.stop();
    intruder.stop();
  });
});
