// When and how the webhook's certificates roll over: a pure function from the stored TLS state
// and the clock to the next state. A CA is rotated in three steps so the apiserver never sees a
// serving certificate it does not trust:
//   1. stage:   a new CA is generated and added to the caBundle beside the current one;
//   2. promote: after `propagationSeconds`, the serving certificate is reissued from the new CA;
//   3. retire:  after another `propagationSeconds`, the old CA leaves the caBundle.
// A serving certificate alone (CA still healthy) is simply reissued from the current CA.
import { createAuthority, describeCertificate, isSignedBy, issueCertificate, type KeyAndCert } from './authority.js';

export interface TlsState {
  ca: KeyAndCert;
  serving: KeyAndCert;
  /** Staged successor CA (step 1 done), with when it was staged. */
  nextCa?: KeyAndCert;
  nextCaStagedAt?: string;
  /** The CA retired by step 2, still trusted until `previousCaRetiredAt + propagation`. */
  previousCaPem?: string;
  previousCaRetiredAt?: string;
}

export interface RotationPolicy {
  caLifetimeSeconds: number;
  servingLifetimeSeconds: number;
  /** Renew when less than this share of a certificate's lifetime remains. */
  renewWhenRemaining: number;
  /** Time for the apiserver and every replica to see a new caBundle or Secret. */
  propagationSeconds: number;
  dnsNames: string[];
  ipAddresses: string[];
}

export type RotationStep = 'created' | 'serving-reissued' | 'ca-staged' | 'ca-promoted' | 'ca-retired';

export interface Plan {
  state: TlsState;
  step: RotationStep;
}

export const DEFAULT_POLICY: Omit<RotationPolicy, 'dnsNames' | 'ipAddresses'> = {
  caLifetimeSeconds: 5 * 365 * 24 * 3600,
  servingLifetimeSeconds: 365 * 24 * 3600,
  renewWhenRemaining: 1 / 3,
  propagationSeconds: 60,
};

/** Every CA the apiserver must trust now, current first. */
export function caBundle(state: TlsState): string {
  const pems = [state.ca.certPem, state.nextCa?.certPem, state.previousCaPem].filter((p): p is string => typeof p === 'string');
  return `${pems.map((p) => p.trim()).join('\n')}\n`;
}

/** Less than `share` of the configured lifetime left (the backdated notBefore is not counted). */
function nearExpiry(certPem: string, now: Date, lifetimeSeconds: number, share: number): boolean {
  return describeCertificate(certPem).notAfter.getTime() - now.getTime() < lifetimeSeconds * 1000 * share;
}

function servingFits(state: TlsState, policy: RotationPolicy, now: Date): boolean {
  if (!isSignedBy(state.serving.certPem, state.ca.certPem)) return false;
  const f = describeCertificate(state.serving.certPem);
  if (policy.dnsNames.some((n) => !f.dnsNames.includes(n)) || policy.ipAddresses.some((ip) => !f.ipAddresses.includes(ip))) return false;
  return !nearExpiry(state.serving.certPem, now, policy.servingLifetimeSeconds, policy.renewWhenRemaining);
}

function issueServing(ca: KeyAndCert, policy: RotationPolicy, now: Date): KeyAndCert {
  return issueCertificate(ca, {
    now,
    commonName: policy.dnsNames[0] ?? 'sluice-webhook',
    usage: 'server',
    lifetimeSeconds: policy.servingLifetimeSeconds,
    dnsNames: policy.dnsNames,
    ipAddresses: policy.ipAddresses,
  });
}

const since = (iso: string | undefined, now: Date) => (iso ? (now.getTime() - Date.parse(iso)) / 1000 : Infinity);

/** The next step to take, or undefined when the state is good as it is. */
export function planRotation(state: TlsState | undefined, policy: RotationPolicy, now: Date): Plan | undefined {
  if (!state) {
    const ca = createAuthority('sluice-webhook-ca', policy.caLifetimeSeconds, now);
    return { state: { ca, serving: issueServing(ca, policy, now) }, step: 'created' };
  }
  if (state.nextCa) {
    if (since(state.nextCaStagedAt, now) < policy.propagationSeconds) return undefined;
    return {
      step: 'ca-promoted',
      state: {
        ca: state.nextCa,
        serving: issueServing(state.nextCa, policy, now),
        previousCaPem: state.ca.certPem,
        previousCaRetiredAt: now.toISOString(),
      },
    };
  }
  if (state.previousCaPem && since(state.previousCaRetiredAt, now) >= policy.propagationSeconds) {
    return { step: 'ca-retired', state: { ca: state.ca, serving: state.serving } };
  }
  if (!state.previousCaPem && nearExpiry(state.ca.certPem, now, policy.caLifetimeSeconds, policy.renewWhenRemaining)) {
    return {
      step: 'ca-staged',
      state: { ...state, nextCa: createAuthority('sluice-webhook-ca', policy.caLifetimeSeconds, now), nextCaStagedAt: now.toISOString() },
    };
  }
  if (!servingFits(state, policy, now))
    return { step: 'serving-reissued', state: { ...state, serving: issueServing(state.ca, policy, now) } };
  return undefined;
}
