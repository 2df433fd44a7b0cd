// HTTP(S) probes for readiness checks: status code and body, with a short timeout.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { paths } from './layout.js';

export interface ProbeResult {
  status: number;
  body: string;
}

export interface ProbeTls {
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  /** A bearer token to present (e.g. a service account's). */
  bearer?: string;
}

export function probe(url: string, tls: ProbeTls = {}, timeoutMs = 2000): Promise<ProbeResult> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const headers = tls.bearer ? { authorization: `Bearer ${tls.bearer}` } : {};
    const req = mod.request(
      u,
      { method: 'GET', headers, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecure, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** TLS material of the world's admin user, for probing the apiserver directly. */
export function adminTls(): ProbeTls {
  const read = (f: string) => fs.readFileSync(path.join(paths.pki, f), 'utf8');
  return { ca: read('ca.crt'), cert: read('admin.crt'), key: read('admin.key') };
}

export async function ok(url: string, tls?: ProbeTls): Promise<boolean> {
  const r = await probe(url, tls);
  return r.status === 200;
}

/** A TCP port free on loopback right now, for a process a test starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
