// The image's file tree, built from the Dockerfile itself (test/world/image-tree.ts) in a scratch
// directory holding only what the Dockerfile copies, and each of its commands started from it:
// what a platform team's `docker build` would produce, short of the base image.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAuthority, issueCertificate } from '../../certs/authority.js';
import { controllerProgram } from '../../controller/main.js';
import { at, type KubeObject, R } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { testerProgram } from '../../tester/main.js';
import { webhookProgram } from '../../webhook/main.js';
import { buildImageTree, type ImageTree } from '../world/image-tree.js';
import { paths, root } from '../world/layout.js';
import { freePort, probe } from '../world/probe.js';
import { installManifests } from '../world/sluice.js';
import { admin, deleteNamespace, testNamespace } from '../world/test-clients.js';
import { buildBinaries } from '../world/world.js';

describe('the image tree the Dockerfile builds', function () {
  this.timeout(240_000);
  let scratch: string;
  let tree: ImageTree;
  const children: ChildProcess[] = [];
  let ns: string;

  const sluice = (args: string[]) =>
    spawnSync(tree.entrypoint[0]!, [...tree.entrypoint.slice(1), ...args], {
      cwd: tree.workdir,
      env: { ...process.env, ...tree.env },
      encoding: 'utf8',
    });
  const start = (args: string[]) => {
    const child = spawn(tree.entrypoint[0]!, [...tree.entrypoint.slice(1), ...args], {
      cwd: tree.workdir,
      env: { ...process.env, ...tree.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    children.push(child);
    return { child, output: () => output };
  };

  before(async () => {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-image-'));
    // npm ci as the Dockerfile runs it, served from npm's local cache where it can be.
    tree = buildImageTree(path.join(root, 'Dockerfile'), root, scratch, { npm_config_prefer_offline: 'true' });
    ns = await testNamespace('image');
    // The webhook is ready once its caches of sluice's kinds are filled: their CRDs must exist.
    installManifests(buildBinaries().binDir);
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    fs.rmSync(scratch, { recursive: true, force: true });
    await deleteNamespace(ns);
  });

  it('holds the runtime build and its production dependencies, nothing of tests, benchmarks or dev tools', () => {
    const app = tree.workdir;
    for (const f of [
      'dist/bin/sluice.js',
      'dist/bin/kubectl-sluice.js',
      'dist/cli/commands.js',
      'dist/webhook/main.js',
      'dist/controller/main.js',
      'dist/tester/main.js',
      'dist/policy/constraints.js',
      'package.json',
      'node_modules/express',
    ]) {
      assert.ok(fs.existsSync(path.join(app, f)), `${f} is in the image`);
    }
    for (const f of ['dist/test', 'dist/bench', 'node_modules/mocha', 'node_modules/typescript', 'api', 'test']) {
      assert.ok(!fs.existsSync(path.join(app, f)), `${f} is not in the image`);
    }
  });

  for (const [command, program] of [
    ['webhook', webhookProgram],
    ['controller', controllerProgram],
    ['tester', testerProgram],
  ] as const) {
    it(`sluice ${command} --help lists every flag`, () => {
      const r = sluice([command, '--help']);
      assert.equal(r.status, 0, r.stderr);
      for (const name of Object.keys(program.options))
        assert.match(r.stdout, new RegExp(`--${name}[ =,]`), `--${name} in sluice ${command} --help`);
    });
  }

  it('holds the kubectl plugin, executable, answering --help', () => {
    const plugin = path.join(tree.workdir, 'dist/bin/kubectl-sluice.js');
    assert.ok((fs.statSync(plugin).mode & 0o111) !== 0, 'kubectl-sluice.js is executable');
    const r = spawnSync(plugin, ['--help'], { cwd: tree.workdir, env: { ...process.env, ...tree.env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const verb of ['get', 'promote', 'abort', 'retry', 'pause', 'resume', 'why'])
      assert.match(r.stdout, new RegExp(`kubectl sluice ${verb}`));
  });

  it('refuses a wrong flag with exit 2 and says which', () => {
    const r = sluice(['controller', '--leader-elect=perhaps']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--leader-elect takes true or false/);
  });

  it('sluice tester serves', async () => {
    const port = await freePort();
    start(['tester', `--port=${port}`, '--bind-address=127.0.0.1']);
    await waitFor(async () => (await probe(`http://127.0.0.1:${port}/healthz`)).status === 200, {
      timeoutMs: 20_000,
      what: 'the tester to answer /healthz',
    });
  });

  it('sluice webhook serves TLS and becomes ready against the real apiserver', async () => {
    const ca = createAuthority('image-test-ca', 3600);
    const leaf = issueCertificate(ca, {
      commonName: 'sluice-webhook',
      usage: 'server',
      lifetimeSeconds: 3600,
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    fs.writeFileSync(path.join(scratch, 'tls.crt'), leaf.certPem);
    fs.writeFileSync(path.join(scratch, 'tls.key'), leaf.keyPem);
    const [port, metricsPort] = [await freePort(), await freePort()];
    const w = start([
      'webhook',
      `--kubeconfig=${paths.kubeconfig}`,
      `--port=${port}`,
      `--metrics-port=${metricsPort}`,
      '--bind-address=127.0.0.1',
      `--tls-cert-file=${path.join(scratch, 'tls.crt')}`,
      `--tls-key-file=${path.join(scratch, 'tls.key')}`,
    ]);
    await waitFor(async () => (await probe(`https://127.0.0.1:${port}/readyz`, { ca: ca.certPem })).status === 200, {
      timeoutMs: 30_000,
      what: `the image's webhook to be ready; its output:\n${w.output()}`,
    });
  });

  it('sluice controller honours --leader-elect=false (acts without a Lease) and takes the Lease by default', async () => {
    const client = await admin();
    const lease = 'image-tree';
    const common = (identity: string, metricsPort: number) => [
      'controller',
      `--kubeconfig=${paths.kubeconfig}`,
      `--metrics-port=${metricsPort}`,
      '--bind-address=127.0.0.1',
      `--identity=${identity}`,
      `--lease-namespace=${ns}`,
      `--lease-name=${lease}`,
      '--lease-duration=3',
      '--renew-deadline=2',
      '--retry-period=0.5',
      '--min-interval=1',
    ];
    const [p1, p2] = [await freePort(), await freePort()];
    const alone = start([...common('without-election', p1), '--leader-elect=false']);
    await waitFor(async () => (await probe(`http://127.0.0.1:${p1}/readyz`)).status === 200, {
      timeoutMs: 30_000,
      what: `the controller without election to be ready:\n${alone.output()}`,
    });
    const elected = start(common('with-election', p2));
    // The elected one takes the free Lease; the first, started earlier, never tried.
    const holder = await waitFor(
      async () => {
        const l = await client.find<KubeObject & { spec: { holderIdentity?: string } }>(at(R.leases, ns, lease));
        return l?.spec.holderIdentity;
      },
      { timeoutMs: 30_000, what: `a holder of Lease ${ns}/${lease}:\n${elected.output()}` },
    );
    assert.equal(holder, 'with-election');
    assert.equal(alone.child.exitCode, null, 'the controller without election still runs');
  });
});
