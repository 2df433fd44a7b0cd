// A small X.509 authority on node-forge: a self-signed CA and the leaf certificates it signs.
// Used for the webhook's serving certificate and, in the local world, for every control-plane
// identity. Keys are RSA 2048: forge delegates generation to Node's native crypto when present,
// so a key costs milliseconds rather than seconds.
import forge from 'node-forge';

const { pki, md } = forge;

export interface KeyAndCert {
  certPem: string;
  keyPem: string;
}

export interface LeafRequest {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client' | 'server-and-client';
  lifetimeSeconds: number;
  /** Backdating guards against small clock differences between signer and verifier. */
  notBeforeSkewSeconds?: number;
  /** Issue time; the wall clock when absent. */
  now?: Date;
}

const DEFAULT_SKEW_SECONDS = 60;

function serialNumber(): string {
  // Positive 16-byte serial: a leading 0x01..0x7f byte keeps the DER integer positive.
  const bytes = forge.random.getBytesSync(16);
  const first = (bytes.charCodeAt(0) & 0x7f) | 0x01;
  return forge.util.bytesToHex(String.fromCharCode(first) + bytes.slice(1));
}

function validity(cert: forge.pki.Certificate, lifetimeSeconds: number, skewSeconds: number, at: Date | undefined): void {
  const now = (at ?? new Date()).getTime();
  cert.validity.notBefore = new Date(now - skewSeconds * 1000);
  cert.validity.notAfter = new Date(now + lifetimeSeconds * 1000);
}

export function createAuthority(commonName: string, lifetimeSeconds: number, now?: Date): KeyAndCert {
  const keys = pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, lifetimeSeconds, DEFAULT_SKEW_SECONDS, now);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

export function issueCertificate(ca: KeyAndCert, req: LeafRequest): KeyAndCert {
  const caCert = pki.certificateFromPem(ca.certPem);
  const caKey = pki.privateKeyFromPem(ca.keyPem);
  const keys = pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  validity(cert, req.lifetimeSeconds, req.notBeforeSkewSeconds ?? DEFAULT_SKEW_SECONDS, req.now);
  const subject: forge.pki.CertificateField[] = [{ name: 'commonName', value: req.commonName }];
  for (const org of req.organizations ?? []) subject.push({ name: 'organizationName', value: org });
  cert.setSubject(subject);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    ...(req.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ...(req.ipAddresses ?? []).map((ip) => ({ type: 7, ip })),
  ];
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: 'extKeyUsage',
      serverAuth: req.usage !== 'client',
      clientAuth: req.usage !== 'server',
    },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ];
  if (altNames.length > 0) extensions.push({ name: 'subjectAltName', altNames });
  cert.setExtensions(extensions);
  cert.sign(caKey, md.sha256.create());
  return { certPem: pki.certificateToPem(cert), keyPem: pki.privateKeyToPem(keys.privateKey) };
}

/** Public key PEM of a private key, e.g. for the apiserver's service-account verification key. */
export function publicKeyPem(keyPem: string): string {
  const key = pki.privateKeyFromPem(keyPem);
  return pki.publicKeyToPem(pki.setRsaPublicKey(key.n, key.e));
}

export function generateRsaKeyPem(): string {
  return pki.privateKeyToPem(pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 }).privateKey);
}
