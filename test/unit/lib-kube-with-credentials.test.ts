// KubeClient.withCredentials (the in-cluster dashboard's per-person client) against a TLS server
// that asks every client for a certificate: the process's own client presents its certificate,
// a client made with a person's credentials presents none and sends only that person's token.
// The apiserver tries a certificate before a token: a person must never arrive with the process's.
import assert from 'node:assert/strict';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import { createAuthority, issueCertificate } from '../../certs/authority.js';
import { KubeClient } from '../../lib/kube/client.js';

describe('KubeClient.withCredentials', () => {
  it("presents no client certificate, trusts the same CA, and sends the person's token", async () => {
    const ca = createAuthority('test-ca', 3600);
    const serving = issueCertificate(ca, { commonName: 'apiserver', ipAddresses: ['127.0.0.1'], usage: 'server', lifetimeSeconds: 3600 });
    const own = issueCertificate(ca, { commonName: 'sluice-dashboard', usage: 'client', lifetimeSeconds: 3600 });
    const seen: { cn?: string; auth?: string }[] = [];
    const server = https.createServer(
      { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
        seen.push({ cn: peer?.subject?.CN as string | undefined, auth: req.headers.authorization });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'x' } }));
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = KubeClient.fromEndpoint({
      server: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      ca: ca.certPem,
      cert: own.certPem,
      key: own.keyPem,
      headers: async () => ({}),
    });
    const ref = { group: '', version: 'v1', plural: 'configmaps', namespace: 'team', name: 'x' };
    try {
      await client.get(ref);
      await client.withCredentials(async () => ({ authorization: 'Bearer alice' })).get(ref);
      assert.deepEqual(seen, [
        { cn: 'sluice-dashboard', auth: undefined },
        { cn: undefined, auth: 'Bearer alice' },
      ]);
    } finally {
      client.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
