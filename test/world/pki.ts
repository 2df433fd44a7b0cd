// The local world's identities: one cluster CA signs the apiserver's serving certificate and a
// client certificate per user. Generated once per world directory and reused by later `up`s.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { createAuthority, generateRsaKeyPem, issueCertificate, type KeyAndCert, publicKeyPem } from '../../certs/authority.js';
import { controllerUser, paths, urls } from './layout.js';

const YEAR = 365 * 24 * 3600;

export interface WorldPki {
  caFile: string;
  caKeyFile: string;
  apiserverCertFile: string;
  apiserverKeyFile: string;
  serviceAccountKeyFile: string;
  serviceAccountPubFile: string;
}

function file(name: string): string {
  return path.join(paths.pki, name);
}

function writePair(name: string, pair: KeyAndCert): void {
  fs.writeFileSync(file(`${name}.crt`), pair.certPem);
  fs.writeFileSync(file(`${name}.key`), pair.keyPem, { mode: 0o600 });
}

export function kubeconfigFor(user: string, pair: KeyAndCert, caPem: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sluice-world', cluster: { server: urls.apiserver, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: { 'client-certificate-data': b64(pair.certPem), 'client-key-data': b64(pair.keyPem) } }],
    contexts: [{ name: 'sluice-world', context: { cluster: 'sluice-world', user, namespace: 'default' } }],
    'current-context': 'sluice-world',
  });
}

export function ensureWorldPki(): WorldPki {
  const result: WorldPki = {
    caFile: file('ca.crt'),
    caKeyFile: file('ca.key'),
    apiserverCertFile: file('apiserver.crt'),
    apiserverKeyFile: file('apiserver.key'),
    serviceAccountKeyFile: file('sa.key'),
    serviceAccountPubFile: file('sa.pub'),
  };
  const marker = path.join(paths.pki, '.complete');
  if (fs.existsSync(marker) && fs.existsSync(paths.kubeconfig)) {
    // The marker names the controller identity its certificate was issued for: a world made
    // before that identity changed gets a new controller certificate from the same CA.
    if (fs.readFileSync(marker, 'utf8') !== controllerUser) {
      const ca = { certPem: fs.readFileSync(result.caFile, 'utf8'), keyPem: fs.readFileSync(result.caKeyFile, 'utf8') };
      issueControllerCredentials(ca);
      fs.writeFileSync(marker, controllerUser);
    }
    return result;
  }
  fs.mkdirSync(paths.pki, { recursive: true });
  const ca = createAuthority('sluice-world-ca', 10 * YEAR);
  writePair('ca', ca);
  writePair(
    'apiserver',
    issueCertificate(ca, {
      commonName: 'kube-apiserver',
      usage: 'server',
      lifetimeSeconds: YEAR,
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      ipAddresses: ['127.0.0.1', '10.96.0.1'],
    }),
  );
  const saKey = generateRsaKeyPem();
  fs.writeFileSync(result.serviceAccountKeyFile, saKey, { mode: 0o600 });
  fs.writeFileSync(result.serviceAccountPubFile, publicKeyPem(saKey));

  // Admin: member of system:masters. Controller: the service account's user and groups, so its
  // requests are authorised by the RBAC of manifests/ exactly as in a cluster.
  const admin = issueCertificate(ca, {
    commonName: 'sluice-admin',
    organizations: ['system:masters'],
    usage: 'client',
    lifetimeSeconds: YEAR,
  });
  writePair('admin', admin);
  fs.writeFileSync(paths.kubeconfig, kubeconfigFor('sluice-admin', admin, ca.certPem), { mode: 0o600 });
  issueControllerCredentials(ca);
  fs.writeFileSync(marker, controllerUser);
  return result;
}

function issueControllerCredentials(ca: { certPem: string; keyPem: string }): void {
  const controller = issueCertificate(ca, {
    commonName: controllerUser,
    organizations: ['system:serviceaccounts', 'system:serviceaccounts:sluice-system', 'system:authenticated'],
    usage: 'client',
    lifetimeSeconds: YEAR,
  });
  writePair('controller', controller);
  fs.writeFileSync(paths.controllerKubeconfig, kubeconfigFor(controllerUser, controller, ca.certPem), { mode: 0o600 });
}
