// The service-account token rotated on disk while sluice runs, as a kubelet rotates a projected
// token: the old one is revoked, and the running controller goes on working on the new one,
// without a restart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { paths, urls } from '../world/layout.js';
import { probe } from '../world/probe.js';
import { runningPid } from '../world/processes.js';
import { applySeed, sluiceAndNamespace, waitPhase } from '../world/seed.js';
import {
  CONTROLLER,
  ensureServiceAccountToken,
  SLUICE_NAMESPACE,
  serviceAccountDir,
  startController,
  stopController,
} from '../world/sluice.js';
import { admin, deleteNamespace } from '../world/test-clients.js';

const tokenFile = path.join(serviceAccountDir('controller'), 'token');
const tls = { ca: fs.existsSync(path.join(paths.pki, 'ca.crt')) ? fs.readFileSync(path.join(paths.pki, 'ca.crt'), 'utf8') : undefined };

describe('a rotated service-account token', function () {
  this.timeout(240_000);
  let ns: string;
  const secret = async (name: string) =>
    (await admin()).create<KubeObject>(at(R.secrets, SLUICE_NAMESPACE), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: SLUICE_NAMESPACE },
    });

  before(async () => {
    ns = await sluiceAndNamespace('token');
  });
  after(async () => {
    const client = await admin();
    for (const name of ['token-holder-a', 'token-holder-b']) await client.delete(at(R.secrets, SLUICE_NAMESPACE, name));
    // Back to a token that nothing revokes, for the tests after this one.
    await stopController();
    await ensureServiceAccountToken(client, 'controller', { force: true });
    await startController();
    await deleteNamespace(ns);
  });

  it('is read by the running controller: the old one revoked, work goes on without a restart', async () => {
    const client = await admin();
    // The controller starts on token A, which dies with Secret token-holder-a.
    const a = await secret('token-holder-a');
    await stopController();
    await ensureServiceAccountToken(client, 'controller', { force: true, boundTo: { name: a.metadata.name, uid: a.metadata.uid! } });
    await startController();
    const pid = runningPid(CONTROLLER);
    const tokenA = fs.readFileSync(tokenFile, 'utf8');
    // Rotation: token B on disk, then A revoked — and seen revoked by the apiserver (it caches
    // accepted tokens for a few seconds), so the work below can only be done with B.
    const b = await secret('token-holder-b');
    await ensureServiceAccountToken(client, 'controller', { force: true, boundTo: { name: b.metadata.name, uid: b.metadata.uid! } });
    await client.delete(at(R.secrets, SLUICE_NAMESPACE, a.metadata.name));
    await waitFor(
      async () =>
        (await probe(`${urls.apiserver}/api/v1/namespaces/${SLUICE_NAMESPACE}/serviceaccounts`, { ...tls, bearer: tokenA })).status ===
          401 || undefined,
      {
        timeoutMs: 60_000,
        what: 'the apiserver to refuse the revoked token',
      },
    );
    // Work that needs the API after the revocation: a new Canary bootstrapped. client-node re-reads
    // a token file at most once a minute (as client-go does), hence the deadline.
    await applySeed(ns);
    await waitPhase(ns, 'Initialized', 120_000);
    assert.equal(runningPid(CONTROLLER), pid, 'the same controller process, not a restarted one');
  });
});
