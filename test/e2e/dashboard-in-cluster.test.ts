// `sluice dashboard` as the chart runs it in the cluster (docs/dashboard.md), on the local world:
// under the chart's own ServiceAccount and RBAC, behind a base path. A token the apiserver rejects
// is refused; a person sees only the namespaces their RBAC lets them read; every action goes out
// with the person's own token (the CanaryAction names them, never the dashboard), and the
// dashboard's own identity has no right to act at all.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ACTION_REF, type CanaryAction } from '../../api/canary-action.js';
import { at } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { launchBrowser, newPage } from '../world/browser.js';
import { renderChart, toYamlStream } from '../world/helm.js';
import { root } from '../world/layout.js';
import { freePort } from '../world/probe.js';
import { deploymentWithCanary, sluiceAndNamespace, userKubeconfig, waitPhase } from '../world/seed.js';
import { ensureServiceAccountToken, inClusterEnv, inClusterRoot, SLUICE_NAMESPACE } from '../world/sluice.js';
import { admin, deleteNamespace } from '../world/test-clients.js';
import { buildBinaries, kubectl, runKubectl } from '../world/world.js';

const BASE = '/sluice';

const tokenIn = (kubeconfig: string) =>
  (YAML.parse(fs.readFileSync(kubeconfig, 'utf8')) as { users: { user: { token: string } }[] }).users[0]!.user.token;

/** The first `snapshot` event of the list stream, read as a person's browser would. */
async function snapshotFor(base: string, token: string): Promise<{ namespace: string; name: string }[]> {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/stream`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before a snapshot: ${text}`);
      text += Buffer.from(value).toString('utf8');
      const m = /event: snapshot\ndata: (.*)\n/.exec(text);
      if (m) return (JSON.parse(m[1]!) as { items: { namespace: string; name: string }[] }).items;
    }
  } finally {
    abort.abort();
  }
}

describe('the dashboard in the cluster (sluice dashboard)', function () {
  this.timeout(180_000);
  const { binDir } = buildBinaries();
  let ns: string;
  let other: string;
  let dir: string;
  let child: ChildProcess | undefined;
  let base: string;
  let log = '';
  let viewer: string;
  let operator: string;

  before(async () => {
    ns = await sluiceAndNamespace('dash-cluster');
    other = await sluiceAndNamespace('dash-other');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-dashboard-cluster-'));
    // The chart's dashboard identity and RBAC, exactly as rendered.
    const rendered = renderChart(binDir, SLUICE_NAMESPACE, ['dashboard.enabled=true', `dashboard.basePath=${BASE}`]).filter(
      (o) => o.metadata.name === 'sluice-dashboard' && ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind ?? ''),
    );
    assert.equal(rendered.length, 3);
    kubectl(binDir, ['apply', '--server-side', '--field-manager=helm', '-f', '-'], toYamlStream(rendered));
    await ensureServiceAccountToken(await admin(), 'dashboard', { force: true });
    await deploymentWithCanary(ns, 'podinfo', { interval: '2s', threshold: 2, stepWeight: 10, maxWeight: 50, metrics: [] });
    await deploymentWithCanary(other, 'hidden', { interval: '2s', threshold: 2, stepWeight: 10, maxWeight: 50, metrics: [] });
    [viewer, operator] = await Promise.all([
      userKubeconfig(ns, dir, 'viewer', ['sluice-rollout-viewer']),
      userKubeconfig(ns, dir, 'operator', ['sluice-rollout-operator']),
    ]);
    await waitPhase(ns, 'Initialized', 60_000);
    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        path.join(root, 'dist/bin/sluice.js'),
        'dashboard',
        `--in-cluster-root=${inClusterRoot('dashboard')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--base-path=${BASE}`,
      ],
      { env: { ...process.env, ...inClusterEnv() }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (c) => (log += c));
    base = `http://127.0.0.1:${port}${BASE}`;
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: `sluice dashboard ready (log: ${log})`,
    });
  });
  after(async () => {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    await deleteNamespace(ns);
    await deleteNamespace(other);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("has no right to act of its own: the apiserver refuses the dashboard's identity a CanaryAction", async () => {
    const r = await runKubectl(binDir, [
      'auth',
      'can-i',
      'create',
      'canaryactions.sluice.dev',
      '-n',
      ns,
      `--as=system:serviceaccount:${SLUICE_NAMESPACE}:sluice-dashboard`,
    ]);
    assert.equal(r.stdout.trim(), 'no');
  });

  it('refuses no token and a token the apiserver rejects; serves the page under its base path', async () => {
    const none = await fetch(`${base}/api/whoami`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { login: boolean }).login, true, 'the page is told to ask for a token');
    const forged = await fetch(`${base}/api/whoami`, { headers: { authorization: 'Bearer not-a-token-the-apiserver-knows' } });
    assert.equal(forged.status, 401);
    assert.match(((await forged.json()) as { error: string }).error, /did not accept this token/);
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), new RegExp(`<base href="${BASE}/">`));
    const login = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify({ token: tokenIn(viewer) }),
    });
    assert.equal(login.status, 403, 'a cross-origin sign-in is refused');
  });

  it('shows each person only the namespaces their RBAC lets them read', async () => {
    const me = await fetch(`${base}/api/whoami`, { headers: { authorization: `Bearer ${tokenIn(viewer)}` } });
    assert.deepEqual(await me.json(), { user: `system:serviceaccount:${ns}:viewer`, signOut: true });
    const items = await snapshotFor(base, tokenIn(viewer));
    assert.deepEqual(
      items.map((i) => `${i.namespace}/${i.name}`),
      [`${ns}/podinfo`],
      `the viewer of ${ns} sees its Canary and not ${other}/hidden`,
    );
  });

  it('signs a person in, in a real browser, with a pasted token; the page then lists only their namespace', async () => {
    const browser = await launchBrowser();
    try {
      const page = await newPage(browser);
      await page.goto(`${base}/`);
      await page.waitForSelector('[data-testid=sign-in]');
      await page.type('input[name=token]', 'not-a-token-the-apiserver-knows');
      await page.click('[data-testid=sign-in]');
      await page.waitForFunction(() => document.querySelector('[data-testid=problem]')?.textContent?.includes('did not accept'));
      await page.$eval('input[name=token]', (e) => {
        (e as HTMLInputElement).value = '';
      });
      await page.type('input[name=token]', tokenIn(viewer));
      await page.click('[data-testid=sign-in]');
      await page.waitForSelector(`tr[data-canary="${ns}/podinfo"]`);
      assert.equal(await page.$(`tr[data-canary="${other}/hidden"]`), null, 'nothing of a namespace the viewer may not read');
      assert.equal(await page.$eval('[data-testid=who]', (e) => e.textContent), `system:serviceaccount:${ns}:viewer`);
      const cookie = (await page.cookies()).find((c) => c.name === 'sluice_dashboard_token');
      assert.ok(cookie?.httpOnly && cookie.sameSite === 'Strict', 'the token is kept where scripts cannot read it');
    } finally {
      await browser.close();
    }
  });

  it("acts with the person's own token: refused for a viewer, applied for an operator and stamped with their name", async () => {
    const post = (kubeconfig: string) =>
      fetch(`${base}/api/canaries/${ns}/podinfo/actions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokenIn(kubeconfig)}`, 'content-type': 'application/json', origin: new URL(base).origin },
        body: JSON.stringify({ action: 'pause', reason: 'from the cluster dashboard' }),
      });
    const refused = await post(viewer);
    assert.equal(refused.status, 403, await refused.text());
    const rights = await fetch(`${base}/api/rights?namespace=${ns}`, { headers: { authorization: `Bearer ${tokenIn(viewer)}` } });
    assert.deepEqual(await rights.json(), { act: false, breakGlass: false });
    const applied = await post(operator);
    assert.equal(applied.status, 201, await applied.clone().text());
    const { name } = (await applied.json()) as { name: string };
    const action = await (await admin()).get<CanaryAction>(at(ACTION_REF, ns, name));
    assert.equal(action.spec.username, `system:serviceaccount:${ns}:operator`);
    assert.equal(action.spec.reason, 'from the cluster dashboard');
  });
});
