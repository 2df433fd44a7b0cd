import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import { createAuthority, issueCertificate } from '../../certs/authority.js';
import { FileCertificates } from '../../certs/serving-certificates.js';
import { waitFor } from '../../lib/wait.js';

describe('certificates from files (cert-manager)', () => {
  it('serves the files as they are and swaps in new ones when they change, keeping the old on a bad read', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-certs-'));
    const ca = createAuthority('ca', 600);
    const first = issueCertificate(ca, { commonName: 'one', usage: 'server', lifetimeSeconds: 600 });
    const second = issueCertificate(ca, { commonName: 'two', usage: 'server', lifetimeSeconds: 600 });
    const [crt, key] = [path.join(dir, 'tls.crt'), path.join(dir, 'tls.key')];
    fs.writeFileSync(crt, first.certPem);
    fs.writeFileSync(key, first.keyPem);
    const source = new FileCertificates(crt, key, winston.createLogger({ silent: true }), 20);
    const seen: string[] = [];
    source.onChange((p) => seen.push(p.certPem));
    try {
      await source.start();
      assert.equal(source.current()?.certPem, first.certPem);
      fs.writeFileSync(crt, second.certPem); // half-done rotation: new certificate, old key
      const checks = source.checks;
      await waitFor(() => source.checks >= checks + 2, { timeoutMs: 2000, what: 'two reads of the half-rotated files' });
      assert.equal(source.current()?.certPem, first.certPem, 'a certificate without its key is not served');
      fs.writeFileSync(key, second.keyPem);
      await waitFor(() => source.current()?.certPem === second.certPem, { timeoutMs: 2000, what: 'the new certificate' });
      assert.deepEqual(seen, [first.certPem, second.certPem], 'each certificate announced once');
    } finally {
      source.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
