import assert from 'node:assert/strict';
import * as authority from '../../certs/authority.js';
import { describeCertificate, isSignedBy, keyMatches } from '../../certs/certificate-facts.js';
import { caBundle, planRotation, type RotationPolicy, type TlsState } from '../../certs/rotation-plan.js';

const policy: RotationPolicy = {
  caLifetimeSeconds: 300,
  servingLifetimeSeconds: 90,
  renewWhenRemaining: 1 / 3,
  propagationSeconds: 5,
  dnsNames: ['sluice-webhook.sluice-system.svc'],
  ipAddresses: ['127.0.0.1'],
};
const at = (t0: Date, seconds: number) => new Date(t0.getTime() + seconds * 1000);
const bundleCount = (s: TlsState) => (caBundle(s).match(/BEGIN CERTIFICATE/g) ?? []).length;

describe('certificate rotation plan', () => {
  const t0 = new Date();
  const created = planRotation(undefined, policy, t0, authority);

  it('creates a CA and a serving certificate for the configured names when there is nothing', () => {
    assert.equal(created?.step, 'created');
    const s = created!.state;
    assert.ok(isSignedBy(s.serving.certPem, s.ca.certPem));
    const f = describeCertificate(s.serving.certPem);
    assert.deepEqual(f.dnsNames, policy.dnsNames);
    assert.deepEqual(f.ipAddresses, policy.ipAddresses);
    assert.equal(bundleCount(s), 1);
  });

  it('does nothing while both certificates are fresh', () => {
    assert.equal(planRotation(created!.state, policy, at(t0, 10), authority), undefined);
  });

  it('reissues the serving certificate from the same CA when it nears expiry', () => {
    const plan = planRotation(created!.state, policy, at(t0, 70), authority);
    assert.equal(plan?.step, 'serving-reissued');
    assert.equal(plan!.state.ca.certPem, created!.state.ca.certPem);
    assert.notEqual(plan!.state.serving.certPem, created!.state.serving.certPem);
  });

  it('reissues a serving certificate whose key is not its own (a replaced or mangled tls.key)', () => {
    const other = planRotation(undefined, policy, t0, authority)!.state;
    const mismatched: TlsState = { ...created!.state, serving: { ...created!.state.serving, keyPem: other.serving.keyPem } };
    const plan = planRotation(mismatched, policy, at(t0, 10), authority);
    assert.equal(plan?.step, 'serving-reissued');
    assert.ok(keyMatches(plan!.state.serving.certPem, plan!.state.serving.keyPem));
    assert.equal(keyMatches(created!.state.serving.certPem, 'not a key'), false);
  });

  it('replaces a CA whose key is not its own through the staged rollover', () => {
    const other = planRotation(undefined, policy, t0, authority)!.state;
    const mismatched: TlsState = { ...created!.state, ca: { ...created!.state.ca, keyPem: other.ca.keyPem } };
    assert.equal(planRotation(mismatched, policy, at(t0, 10), authority)?.step, 'ca-staged');
  });

  it('reissues the serving certificate when a name is missing from it', () => {
    const plan = planRotation(created!.state, { ...policy, dnsNames: [...policy.dnsNames, 'extra.example'] }, at(t0, 1), authority);
    assert.equal(plan?.step, 'serving-reissued');
    assert.ok(describeCertificate(plan!.state.serving.certPem).dnsNames.includes('extra.example'));
  });

  it('rotates the CA in three steps, trusting both CAs whenever the serving certificate changes', () => {
    // The CA nears expiry at 2/3 of 300 s.
    const staged = planRotation(created!.state, policy, at(t0, 210), authority);
    assert.equal(staged?.step, 'ca-staged');
    assert.equal(staged!.state.serving.certPem, created!.state.serving.certPem, 'staging keeps the serving certificate');
    assert.equal(bundleCount(staged!.state), 2, 'the new CA is trusted before anything is signed by it');

    assert.equal(planRotation(staged!.state, policy, at(t0, 212), authority), undefined, 'waits for propagation');

    const promoted = planRotation(staged!.state, policy, at(t0, 216), authority);
    assert.equal(promoted?.step, 'ca-promoted');
    assert.ok(isSignedBy(promoted!.state.serving.certPem, staged!.state.nextCa!.certPem));
    assert.equal(bundleCount(promoted!.state), 2, 'the old CA stays trusted while replicas switch');

    assert.equal(planRotation(promoted!.state, policy, at(t0, 218), authority), undefined);
    const retired = planRotation(promoted!.state, policy, at(t0, 222), authority);
    assert.equal(retired?.step, 'ca-retired');
    assert.equal(bundleCount(retired!.state), 1);
    assert.equal(retired!.state.ca.certPem, staged!.state.nextCa!.certPem);
  });

  it('replaces a serving certificate that another CA signed', () => {
    const other = planRotation(undefined, policy, t0, authority)!.state;
    const mixed: TlsState = { ca: created!.state.ca, serving: other.serving };
    assert.equal(planRotation(mixed, policy, at(t0, 1), authority)?.step, 'serving-reissued');
  });
});
