// The real gateway's pure parts and its namespace bridge, without the namespace: which pod an
// address names, which revision an image is, what a load profile may ask, and that a Unix
// socket carries a TCP connection's bytes both ways (what crosses the namespace boundary).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { forward } from '../world/real-gateway/bridge.js';
import { validateProfile } from '../world/real-gateway/load.js';
import { podAt, versionOf } from '../world/real-gateway/pod-listeners.js';

const pod = (name: string, ip: string, phase = 'Running', deleting = false) => ({
  metadata: { name, namespace: 'ns', ...(deleting ? { deletionTimestamp: '2026-12-07T00:00:00Z' } : {}) },
  spec: { containers: [{ image: 'ghcr.io/stefanprodan/podinfo:6.0.1' }] },
  status: { podIP: ip, phase },
});

describe('real gateway parts', () => {
  it('reads the revision from the image tag, not from a registry port', () => {
    assert.equal(versionOf('ghcr.io/stefanprodan/podinfo:6.0.1'), '6.0.1');
    assert.equal(versionOf('localhost:5000/podinfo'), 'latest');
    assert.equal(versionOf('localhost:5000/podinfo:7@sha256:abc'), '7');
    assert.equal(versionOf(undefined), 'unknown');
  });

  it('answers for the running pod when a terminating one still holds the same address', () => {
    const pods = [pod('old', '10.244.0.5', 'Running', true), pod('new', '10.244.0.5'), pod('other', '10.244.0.6')];
    assert.equal(podAt(pods, '10.244.0.5')?.metadata.name, 'new');
    assert.equal(podAt(pods, '10.244.0.6')?.metadata.name, 'other');
    assert.equal(podAt(pods, '10.244.0.7'), undefined);
    assert.equal(podAt([pod('only', '10.244.0.8', 'Pending', true)], '10.244.0.8')?.metadata.name, 'only');
  });

  it('refuses a load profile that is not a host name, a path, and a bounded rate', () => {
    assert.deepEqual(validateProfile({ host: 'a.b.test' }), { host: 'a.b.test', path: '/', ratePerSecond: 100 });
    assert.throws(() => validateProfile({ host: 'a b' }), /host must be a DNS name/);
    assert.throws(() => validateProfile({ host: 'a.test', path: 'x' }), /path must start with \//);
    assert.throws(() => validateProfile({ host: 'a.test', ratePerSecond: 5000 }), /ratePerSecond/);
    assert.throws(() => validateProfile({ host: 'a.test', ratePerSecond: Number.NaN }), /ratePerSecond/);
  });

  it('carries a TCP conversation through a Unix socket both ways, and resets a client whose far side is gone', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-'));
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as net.AddressInfo).port;
    const sock = path.join(dir, 'b.sock');
    const inner = await forward({ path: sock }, { port: echoPort }, { onError: () => {} });
    const outer = await forward({ port: 0 }, { path: sock }, { onError: () => {} });
    const port = (outer.address() as net.AddressInfo).port;
    const roundTrip = (p: number) =>
      new Promise<string>((resolve, reject) => {
        const c = net.connect(p, '127.0.0.1', () => c.end('ping through the bridge'));
        let got = '';
        c.on('data', (d) => (got += d.toString()));
        c.on('close', () => resolve(got));
        c.on('error', reject);
      });
    try {
      assert.equal(await roundTrip(port), 'ping through the bridge');
      inner.close();
      fs.rmSync(sock, { force: true });
      // Nothing behind the socket now: the client is closed, not left hanging.
      assert.equal(await roundTrip(port).catch(() => ''), '');
    } finally {
      outer.close();
      echo.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
