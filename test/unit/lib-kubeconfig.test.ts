// lib/kube/kubeconfig.ts: the in-cluster service account and plain kubeconfig files read without
// client-node, and the forms it leaves to client-node.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { defaultEndpoint, fileEndpoint, inClusterEndpoint } from '../../lib/kube/kubeconfig.js';

describe('kubeconfig without client-node', () => {
  let dir: string;
  const saved = { ...process.env };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-kubeconfig-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    process.env = { ...saved };
  });
  const write = (name: string, doc: unknown) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, typeof doc === 'string' ? doc : YAML.stringify(doc));
    return file;
  };
  const config = (user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://10.0.0.1:6443' }) => ({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'ctx',
    contexts: [
      { name: 'ctx', context: { cluster: 'c', user: 'u' } },
      { name: 'other', context: { cluster: 'x', user: 'y' } },
    ],
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
  });

  it('reads the current context: server, CA and client certificate as data or as paths relative to the file', async () => {
    write('ca.crt', 'CA-PEM');
    write('client.key', 'KEY-PEM');
    const file = write(
      'config',
      config(
        { 'client-certificate-data': Buffer.from('CERT-PEM').toString('base64'), 'client-key': 'client.key' },
        { server: 'https://10.0.0.1:6443', 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes' },
      ),
    );
    const e = (await fileEndpoint(file))!;
    assert.equal(e.server, 'https://10.0.0.1:6443');
    assert.equal(e.ca?.toString(), 'CA-PEM');
    assert.equal(e.cert?.toString(), 'CERT-PEM');
    assert.equal(e.key?.toString(), 'KEY-PEM');
    assert.equal(e.tlsServerName, 'kubernetes');
    assert.equal(e.skipTLSVerify, false);
    assert.deepEqual(await e.headers(), {});
  });

  it('sends a token, and reads a tokenFile again on every ask (a rotated token is used)', async () => {
    assert.deepEqual(await (await fileEndpoint(write('a', config({ token: 'abc' }))))!.headers(), { authorization: 'Bearer abc' });
    const tokenFile = write('token', 'first\n');
    const e = (await fileEndpoint(write('b', config({ tokenFile: 'token' }))))!;
    assert.deepEqual(await e.headers(), { authorization: 'Bearer first' });
    fs.writeFileSync(tokenFile, 'second');
    assert.deepEqual(await e.headers(), { authorization: 'Bearer second' });
  });

  it('leaves exec plugins, auth providers and several $KUBECONFIG files to client-node', async () => {
    assert.equal(
      await fileEndpoint(write('exec', config({ exec: { command: 'aws', apiVersion: 'client.authentication.k8s.io/v1' } }))),
      undefined,
    );
    assert.equal(await fileEndpoint(write('oidc', config({ 'auth-provider': { name: 'oidc' } }))), undefined);
    process.env.KUBECONFIG = `${write('one', config({ token: 'a' }))}${path.delimiter}${write('two', config({ token: 'b' }))}`;
    assert.equal(await defaultEndpoint(), undefined);
    process.env.KUBECONFIG = write('single', config({ token: 'a' }));
    assert.equal((await defaultEndpoint())?.server, 'https://10.0.0.1:6443');
  });

  it('says what is wrong with a kubeconfig it cannot use', async () => {
    await assert.rejects(fileEndpoint(write('nocontext', { ...config({}), 'current-context': 'gone' })), /no current context gone/);
    await assert.rejects(fileEndpoint(write('noserver', config({}, {}))), /names cluster c, which has no server/);
    await assert.rejects(fileEndpoint(write('scalar', 'just a string')), /is not a kubeconfig/);
  });

  it('in a cluster: the service account below a root, the host from the environment (IPv6 in brackets)', async () => {
    const sa = path.join(dir, 'var/run/secrets/kubernetes.io/serviceaccount');
    fs.mkdirSync(sa, { recursive: true });
    fs.writeFileSync(path.join(sa, 'ca.crt'), 'CLUSTER-CA');
    fs.writeFileSync(path.join(sa, 'token'), 'sa-token\n');
    process.env.KUBERNETES_SERVICE_HOST = 'fd00::1';
    process.env.KUBERNETES_SERVICE_PORT = '443';
    const e = inClusterEndpoint(dir);
    assert.equal(e.server, 'https://[fd00::1]:443');
    assert.equal(e.ca?.toString(), 'CLUSTER-CA');
    assert.deepEqual(await e.headers(), { authorization: 'Bearer sa-token' });
    fs.writeFileSync(path.join(sa, 'token'), 'rotated');
    assert.deepEqual(await e.headers(), { authorization: 'Bearer rotated' });
    delete process.env.KUBERNETES_SERVICE_HOST;
    assert.throws(() => inClusterEndpoint(dir), /not in a cluster/);
  });
});
