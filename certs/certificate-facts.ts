// What sluice reads of a certificate (its lifetime, names, whether a CA signed it), with Node's own
// X.509 support. Issuing needs node-forge (certs/authority.ts); reading does not, so a webhook
// whose certificate is current never loads it (docs/shipping.md, memory).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import net from 'node:net';

export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  commonName: string;
  isCA: boolean;
  dnsNames: string[];
  ipAddresses: string[];
}

/**
 * An IP address in one spelling, so addresses compare equal however they were written: IPv4 as
 * is, IPv6 in RFC 5952's form (lower case, no leading zeros, the longest run of zero groups as ::).
 * OpenSSL prints IPv6 in full (`0:0:0:0:0:0:0:1`); a policy says `::1`.
 */
export function canonicalIp(ip: string): string {
  const s = ip.trim();
  if (net.isIPv4(s) || !net.isIPv6(s)) return s;
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array(tail === undefined ? 0 : 8 - left.length - right.length).fill('0'), ...right].map((g) =>
    Number.parseInt(g, 16).toString(16),
  );
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j;
  }
  if (best.len < 2) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

export function describeCertificate(certPem: string): CertificateFacts {
  const x = new X509Certificate(certPem);
  const names = (x.subjectAltName ?? '').split(', ').filter((n) => n !== '');
  const of = (prefix: string) => names.filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
  return {
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(x.subject)?.[1] ?? '',
    isCA: x.ca,
    dnsNames: of('DNS:'),
    ipAddresses: of('IP Address:').map(canonicalIp),
  };
}

/** True when `certPem` was signed by `caPem` (signature check only; validity is checked elsewhere). */
export function isSignedBy(certPem: string, caPem: string): boolean {
  try {
    return new X509Certificate(certPem).verify(new X509Certificate(caPem).publicKey);
  } catch {
    return false;
  }
}

/**
 * True when `keyPem` is the private key of `certPem`. A Secret whose tls.key was replaced, or
 * mangled, would otherwise be judged fit and served: every TLS handshake would then fail, and
 * with it every admission.
 */
export function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}
