// A leader whose renewals hang (an apiserver that accepts connections and never answers) must stop
// acting at its renew deadline, not when the hung request gives up: by then a standby may hold
// the expired Lease. The apiserver is the in-memory one here because "hangs forever on the second request"
// is not something the real one can be made to do on cue; the integration suite runs election
// against the real apiserver.
import assert from 'node:assert/strict';
import winston from 'winston';
import { LeaderElector } from '../../controller/leader-election.js';
import type { KubeObject, KubeResponse } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { MemoryCluster } from '../fixtures/memory-cluster.js';

describe('leader election', () => {
  it('stops acting at the renew deadline while a renewal hangs', async () => {
    const hanging = new Promise<never>(() => undefined);
    // The Lease is created and read as usual; every renewal (a replace) hangs.
    const client = new (class extends MemoryCluster {
      override replace<T extends KubeObject>(): Promise<KubeResponse<T>> {
        return hanging;
      }
    })();
    let stoppedAt = 0;
    let startedAt = 0;
    const elector = new LeaderElector(
      client,
      {
        namespace: 'sluice-system',
        name: 'lease',
        identity: 'a',
        leaseDurationMs: 2000,
        renewDeadlineMs: 400,
        retryMs: 50,
        onStartedLeading: () => (startedAt = Date.now()),
        onStoppedLeading: () => (stoppedAt = Date.now()),
      },
      winston.createLogger({ silent: true }),
    );
    void elector.run();
    try {
      await waitFor(() => elector.isLeader || undefined, { timeoutMs: 2000, intervalMs: 10, what: 'leadership' });
      await waitFor(() => !elector.isLeader || undefined, {
        timeoutMs: 2000,
        intervalMs: 10,
        what: 'leadership to end at the renew deadline',
      });
      const lostAfter = Date.now() - startedAt;
      assert.ok(lostAfter >= 400, `not before the deadline (${lostAfter} ms)`);
      // The hung request never ends: only the deadline can have ended the leadership.
      await waitFor(() => stoppedAt || undefined, {
        timeoutMs: 2000,
        intervalMs: 10,
        what: 'onStoppedLeading while the renewal still hangs',
      });
    } finally {
      elector.stop();
    }
  });
});
