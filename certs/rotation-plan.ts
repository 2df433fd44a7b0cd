// When and how the webhook's certificates roll over: a pure function from the stored TLS state
// and the clock to the next state. A CA is rotated in three steps so the apiserver never sees a
// serving certificate it does not trust:
//   1. stage:   a new CA is generated and added to the caBundle beside the current one;
//   2. promote: after `propagationSeconds`, the serving certificate is reissued from the new CA;
//   3. retire:  after another `propagationSeconds`, the old CA leaves the caBundle.
// A serving certificate alone (CA still healthy) is simply reissued from the current CA.
// Deciding reads certificates only (certificate-facts.ts); issuing takes an Issuer, the
// node-forge authority, which the caller loads only when there is a step to take.
import type { KeyAndCert } from './authority.js';
import { canonicalIp, describeCertificate, isSignedBy, keyMatches } from './certificate-facts.js';

/** What issuing takes: certs/authority.ts, loaded when needed (`await import`). */
export interface Issuer {
  createAuthority: typeof import('./authority.js').createAuthority;
  issueCertificate: typeof import('./authority.js').issueCertificate;
}

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
  if (!keyMatches(state.serving.certPem, state.serving.keyPem)) return false;
  const f = describeCertificate(state.serving.certPem);
  if (policy.dnsNames.some((n) => !f.dnsNames.includes(n)) || policy.ipAddresses.some((ip) => !f.ipAddresses.includes(canonicalIp(ip))))
    return false;
  return !nearExpiry(state.serving.certPem, now, policy.servingLifetimeSeconds, policy.renewWhenRemaining);
}

function issueServing(issuer: Issuer, ca: KeyAndCert, policy: RotationPolicy, now: Date): KeyAndCert {
  return issuer.issueCertificate(ca, {
    now,
    commonName: policy.dnsNames[0] ?? 'sluice-webhook',
    usage: 'server',
    lifetimeSeconds: policy.servingLifetimeSeconds,
    dnsNames: policy.dnsNames,
    ipAddresses: policy.ipAddresses,
  });
}

const since = (iso: string | undefined, now: Date) => (iso ? (now.getTime() - Date.parse(iso)) / 1000 : Infinity);

/** The next step to take, or undefined when the state is good as it is; reads certificates only. */
export function nextStep(state: TlsState | undefined, policy: RotationPolicy, now: Date): RotationStep | undefined {
  if (!state) return 'created';
  if (state.nextCa) return since(state.nextCaStagedAt, now) < policy.propagationSeconds ? undefined : 'ca-promoted';
  if (state.previousCaPem && since(state.previousCaRetiredAt, now) >= policy.propagationSeconds) return 'ca-retired';
  // A CA whose key is not its certificate's could only issue certificates nobody trusts: replaced
  // like one near its end, through the staged rollover, so the apiserver never loses trust.
  if (
    !state.previousCaPem &&
    (nearExpiry(state.ca.certPem, now, policy.caLifetimeSeconds, policy.renewWhenRemaining) ||
      !keyMatches(state.ca.certPem, state.ca.keyPem))
  )
    return 'ca-staged';
  if (!servingFits(state, policy, now)) return 'serving-reissued';
  return undefined;
}

/** The state after the next step, issuing what it needs with `issuer`; undefined when there is none. */
export function planRotation(state: TlsState | undefined, policy: RotationPolicy, now: Date, issuer: Issuer): Plan | undefined {
  const step = nextStep(state, policy, now);
  if (step === undefined) return undefined;
  if (!state) {
    const ca = issuer.createAuthority('sluice-webhook-ca', policy.caLifetimeSeconds, now);
    return { state: { ca, serving: issueServing(issuer, ca, policy, now) }, step };
  }
  switch (step) {
    case 'ca-promoted':
      return {
        step,
        state: {
          ca: state.nextCa!,
          serving: issueServing(issuer, state.nextCa!, policy, now),
          previousCaPem: state.ca.certPem,
          previousCaRetiredAt: now.toISOString(),
        },
      };
    case 'ca-retired':
      return { step, state: { ca: state.ca, serving: state.serving } };
    case 'ca-staged':
      return {
        step,
        state: {
          ...state,
          nextCa: issuer.createAuthority('sluice-webhook-ca', policy.caLifetimeSeconds, now),
          nextCaStagedAt: now.toISOString(),
        },
      };
    default:
      return { step, state: { ...state, serving: issueServing(issuer, state.ca, policy, now) } };
  }
}
