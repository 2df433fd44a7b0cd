import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createAuthority, issueCertificate, publicKeyPem } from '../../certs/authority.js';
import { canonicalIp, describeCertificate, isSignedBy } from '../../certs/certificate-facts.js';

describe('certificate authority', () => {
  const ca = createAuthority('sluice-test-ca', 3600);

  it('makes a self-signed CA', () => {
    const facts = describeCertificate(ca.certPem);
    assert.equal(facts.isCA, true);
    assert.equal(facts.commonName, 'sluice-test-ca');
    assert.ok(isSignedBy(ca.certPem, ca.certPem));
  });

  it('issues a serving certificate with DNS and IP names that Node verifies against the CA', () => {
    const leaf = issueCertificate(ca, {
      commonName: 'sluice-webhook',
      usage: 'server',
      lifetimeSeconds: 600,
      dnsNames: ['sluice-webhook.sluice-system.svc'],
      ipAddresses: ['127.0.0.1'],
    });
    const x509 = new crypto.X509Certificate(leaf.certPem);
    assert.ok(x509.verify(new crypto.X509Certificate(ca.certPem).publicKey), 'signature checks with the CA key');
    assert.equal(x509.checkHost('sluice-webhook.sluice-system.svc'), 'sluice-webhook.sluice-system.svc');
    assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(x509.checkHost('other.example.com'), undefined);
    assert.match(x509.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/, 'serverAuth');
  });

  it('reads names and addresses with Node alone, IPv6 in the form a policy writes them', () => {
    const leaf = issueCertificate(ca, {
      commonName: 'svc',
      usage: 'server',
      lifetimeSeconds: 60,
      dnsNames: ['a.svc', 'b'],
      ipAddresses: ['127.0.0.1', '::1', 'fd00:0:0:0::10', '2001:db8:0:0:1:0:0:1'],
    });
    const f = describeCertificate(leaf.certPem);
    assert.equal(f.commonName, 'svc');
    assert.deepEqual(f.dnsNames, ['a.svc', 'b']);
    assert.deepEqual(f.ipAddresses, ['127.0.0.1', '::1', 'fd00::10', '2001:db8::1:0:0:1']);
    assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(canonicalIp('FD00:0:0:0:0:0:0:10'), 'fd00::10');
    assert.equal(canonicalIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero group stays');
    assert.equal(canonicalIp('not an ip'), 'not an ip');
  });

  it('honours the requested lifetime (with a small backdate)', () => {
    const leaf = issueCertificate(ca, { commonName: 'x', usage: 'client', lifetimeSeconds: 120, notBeforeSkewSeconds: 5 });
    const f = describeCertificate(leaf.certPem);
    const lifetime = (f.notAfter.getTime() - f.notBefore.getTime()) / 1000;
    assert.ok(Math.abs(lifetime - 125) <= 2, `lifetime ${lifetime}`);
    assert.equal(f.isCA, false);
  });

  it('puts organisations in the subject, which Kubernetes reads as groups', () => {
    const leaf = issueCertificate(ca, {
      commonName: 'alice',
      organizations: ['system:masters', 'dev'],
      usage: 'client',
      lifetimeSeconds: 60,
    });
    const subject = new crypto.X509Certificate(leaf.certPem).subject;
    assert.match(subject, /O=system:masters/);
    assert.match(subject, /O=dev/);
    assert.match(subject, /CN=alice/);
  });

  it('does not accept a certificate from another CA', () => {
    const other = createAuthority('other', 60);
    const leaf = issueCertificate(other, { commonName: 'x', usage: 'server', lifetimeSeconds: 60 });
    assert.equal(isSignedBy(leaf.certPem, ca.certPem), false);
  });

  it('derives the public key of a private key', () => {
    const leaf = issueCertificate(ca, { commonName: 'x', usage: 'server', lifetimeSeconds: 60 });
    const fromCert = new crypto.X509Certificate(leaf.certPem).publicKey.export({ type: 'spki', format: 'pem' });
    assert.equal(publicKeyPem(leaf.keyPem).replace(/\r/g, ''), String(fromCert).replace(/\r/g, ''));
  });
});
