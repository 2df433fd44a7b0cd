// The dashboard in a real Chromium against the local world, started as a person starts it
// (`kubectl sluice dashboard` with their kubeconfig), so the apiserver decides every read and
// action: an operator sees the weight advance while the controller steps and promotes with a
// reason, the CanaryAction and the Event naming them; a failed metric and the rollback show up
// without a reload; a viewer sees no buttons and a forged POST is refused by the apiserver; an
// empty namespace says so; the page survives a restart of the dashboard and catches up.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ACTION_REF, type CanaryAction } from '../../api/canary-action.js';
import { at } from '../../lib/kube/client.js';
import { waitFor } from '../../lib/wait.js';
import { type Browser, launchBrowser, newPage, type Page } from '../world/browser.js';
import { type DashboardProcess, startDashboardProcess } from '../world/dashboard-process.js';
import { paths, urls } from '../world/layout.js';
import { freePort } from '../world/probe.js';
import { canaryEvents, deploymentWithCanary, setImage, sluiceAndNamespace, userKubeconfig, waitPhase } from '../world/seed.js';
import { admin, deleteNamespace, simulator, testNamespace } from '../world/test-clients.js';

/** With SLUICE_SCREENSHOTS=DIR, the pages docs/dashboard.md shows are saved there from this run. */
async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.SLUICE_SCREENSHOTS;
  if (!dir) return;
  await page.setViewport({ width: 1100, height: 800 });
  await page.screenshot({ path: path.join(dir, `dashboard-${name}.png`), fullPage: true });
}

const text = (page: Page, selector: string) => page.$eval(selector, (e) => e.textContent ?? '').catch(() => '');

/** Waits until the element's text satisfies `ok`, reading it from the page (no reload). */
function screenShows(page: Page, selector: string, ok: (t: string) => boolean, what: string, timeoutMs = 60_000) {
  return waitFor(async () => ok(await text(page, selector)) || undefined, { timeoutMs, intervalMs: 100, what });
}

/** A raw request to the dashboard, for what a browser would never send. */
function raw(port: number, opts: { method: string; path: string; headers: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: opts.method, path: opts.path, headers: opts.headers, agent: false },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('the dashboard in a real browser', function () {
  this.timeout(180_000);
  let ns: string;
  let emptyNs: string;
  let dir: string;
  let browser: Browser;
  let operator: string;
  let viewer: string;
  const running: DashboardProcess[] = [];
  const start = async (kubeconfig: string, port?: number, stateDir = path.join(dir, 'state')) => {
    // The charts read the world's Prometheus, as the controller does.
    const d = await startDashboardProcess(kubeconfig, { port, stateDir, args: ['--prometheus', urls.prometheus] });
    running.push(d);
    return d;
  };

  before(async () => {
    ns = await sluiceAndNamespace('dash');
    emptyNs = await testNamespace('dash-empty');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-dashboard-'));
    await deploymentWithCanary(ns, 'podinfo', {
      interval: '2s',
      threshold: 2,
      stepWeight: 10,
      maxWeight: 50,
      metrics: [{ name: 'request-success-rate', interval: '6s', thresholdRange: { min: 99 } }],
    });
    [operator, viewer, browser] = await Promise.all([
      userKubeconfig(ns, dir, 'operator', ['sluice-rollout-operator']),
      userKubeconfig(ns, dir, 'viewer', ['sluice-rollout-viewer']),
      launchBrowser(),
    ]);
    await waitPhase(ns, 'Initialized', 60_000);
    await simulator('PUT', `/traffic/${ns}/podinfo`, { ratePerSecond: 100 });
  });
  // A failed test leaves what its pages showed, beside the world's logs.
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const [n, page] of (await browser.pages()).entries()) {
      const file = path.join(paths.logs, `dashboard-${this.currentTest.title.slice(0, 40).replace(/\W+/g, '-')}-${n}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    }
  });
  after(async () => {
    for (const d of running) await d.stop();
    await browser?.close();
    await simulator('DELETE', `/traffic/${ns}/podinfo`).catch(() => undefined);
    await simulator('DELETE', `/faults/${ns}/podinfo-canary`).catch(() => undefined);
    await deleteNamespace(ns);
    await deleteNamespace(emptyNs);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('operator: the weight advances on screen while the controller steps; Promote with a reason names them', async () => {
    const d = await start(operator);
    const page = await newPage(browser);
    await page.goto(d.url);
    assert.equal(new URL(page.url()).search, '', 'the one-time token left the address bar');
    await screenShows(page, `tr[data-canary="${ns}/podinfo"] [data-testid=phase]`, (t) => t === 'Initialized', 'the list row');
    await screenshot(page, 'list');
    await page.click(`tr[data-canary="${ns}/podinfo"] a`);
    await screenShows(page, '[data-testid=phase]', (t) => t === 'Initialized', 'the Canary page');
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    await setImage(ns, 'podinfo', '6.0.1');
    // Every weight the screen shows on the way, read from the page as it updates itself.
    const seen = new Set<number>();
    await waitFor(
      async () => {
        seen.add(Number(await text(page, '[data-testid=weight]')));
        return seen.has(10) && seen.has(20) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'the screen to show weight 10, then 20' },
    );
    await screenShows(page, '[data-testid=route-canary]', (t) => Number(t) >= 10, 'the stored route weight');
    // What the candidate changes, against the stable template.
    await screenShows(
      page,
      '[data-testid=diff] tr[data-path="/spec/containers/0/image"]',
      (t) => t.includes('podinfo:6.0.0') && t.includes('podinfo:6.0.1'),
      'the image change in the revision diff',
    );
    await page.click('button[data-action=promote]');
    await page.type('[data-testid=confirm] input[name=reason]', 'looks good on the dashboard');
    await page.click('[data-testid=confirm-yes]');
    const who = `system:serviceaccount:${ns}:operator`;
    await screenShows(page, '[data-testid=outcome]', (t) => t.includes(`promote requested as ${who}`), 'the outcome');
    await screenShows(page, '[data-testid=phase]', (t) => t === 'Succeeded', 'the release on screen');
    await screenShows(page, '[data-testid=history]', (t) => t.includes(who) && t.includes('looks good on the dashboard'), 'the history');
    assert.equal(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded), true, 'no reload');
    const actions = (await (await admin()).list<CanaryAction>(at(ACTION_REF, ns))).items.filter((a) => a.spec.action === 'promote');
    assert.equal(actions.length, 1);
    assert.equal(actions[0]!.spec.username, who, 'the CanaryAction names the person, stamped at admission');
    assert.equal(actions[0]!.spec.reason, 'looks good on the dashboard');
    assert.ok(
      (await canaryEvents(ns)).some((e) => e.message.includes(who) && e.message.includes('promote')),
      "the Canary's Event names the person",
    );
    await page.close();
  });

  it('a failing metric shows against its band, and the rollback appears without a reload', async () => {
    const d = await start(operator);
    const page = await newPage(browser);
    await page.goto(d.url);
    await page.goto(new URL(`canary/${ns}/podinfo`, d.origin).toString());
    await screenShows(page, '[data-testid=phase]', (t) => t === 'Succeeded', 'the Canary page');
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    await simulator('PUT', `/faults/${ns}/podinfo-canary`, { errorRatio: 0.5 });
    await setImage(ns, 'podinfo', '6.0.2');
    const row = '[data-testid=checks] tr[data-check=request-success-rate]';
    await screenShows(page, row, (t) => t.includes('fail') && t.includes('99 …'), 'the failed check against its band');
    // The chart: the failing values marked against the band, drawn from Prometheus's history.
    const chart = '[data-chart=request-success-rate]';
    await waitFor(async () => Number(await page.$eval(chart, (e) => e.getAttribute('data-failing')).catch(() => '0')) > 0 || undefined, {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'the chart to mark a value outside the band',
    });
    assert.match(await text(page, `${chart} figcaption`), /band 99 … ∞/);
    assert.ok(Number(await page.$eval(chart, (e) => e.getAttribute('data-samples'))) > 0, 'the chart has samples');
    assert.ok(await page.$(`${chart} canvas`), 'uPlot drew it');
    // The steps as a timeline: the weights this Canary went through, from the same history.
    assert.ok(Number(await page.$eval('[data-chart=weight]', (e) => e.getAttribute('data-steps'))) >= 1, 'the weight timeline');
    await screenShows(page, '[data-testid=phase]', (t) => t === 'Failed', 'the rollback on screen', 90_000);
    // What `kubectl sluice why` says, on the page: the failed revision and what to do.
    await screenShows(
      page,
      '[data-testid=why]',
      (t) => t.includes('failed analysis and was rolled back') && t.includes('kubectl sluice retry'),
      'why',
    );
    await screenShows(page, '[data-testid=weight]', (t) => t === '0', 'the weight back to 0');
    await screenshot(page, 'canary');
    assert.equal(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded), true, 'no reload');
    await simulator('DELETE', `/faults/${ns}/podinfo-canary`);
    await page.close();
  });

  it('viewer: no buttons; a forged POST, a wrong Host and a cross-origin POST are refused', async () => {
    const d = await start(viewer);
    const page = await newPage(browser);
    await page.goto(d.url);
    await page.goto(new URL(`canary/${ns}/podinfo`, d.origin).toString());
    await page.waitForSelector('[data-testid=no-actions]');
    assert.equal((await page.$$('button[data-action]')).length, 0, 'no action buttons for a viewer');
    // What the page would send, sent anyway from the page itself: the apiserver refuses it.
    const forged = await page.evaluate(async (url) => {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ action: 'abort' }),
      });
      return { status: r.status, body: await r.text() };
    }, `api/canaries/${ns}/podinfo/actions`);
    assert.equal(forged.status, 403, forged.body);
    assert.match(forged.body, /cannot create resource \\"canaryactions\\"/);
    const cookie = (await page.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const wrongHost = await raw(d.port, { method: 'GET', path: '/api/whoami', headers: { cookie, host: `attacker.example:${d.port}` } });
    assert.equal(wrongHost.status, 403, wrongHost.body);
    const crossOrigin = await raw(d.port, {
      method: 'POST',
      path: `/api/canaries/${ns}/podinfo/actions`,
      headers: { cookie, host: `127.0.0.1:${d.port}`, origin: 'http://attacker.example', 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'abort' }),
    });
    assert.equal(crossOrigin.status, 403, crossOrigin.body);
    const noCookie = await raw(d.port, { method: 'GET', path: '/api/stream', headers: { host: `127.0.0.1:${d.port}` } });
    assert.equal(noCookie.status, 401);
    await page.close();
  });

  it('an empty namespace says so; the page survives a dashboard restart and catches up', async () => {
    const empty = await start(await userKubeconfig(emptyNs, dir, 'empty-viewer', ['sluice-rollout-viewer']));
    const emptyPage = await newPage(browser);
    await emptyPage.goto(empty.url);
    await screenShows(emptyPage, '[data-testid=empty]', (t) => t.includes('No Canaries'), 'the empty state');
    await emptyPage.close();

    const port = await freePort();
    const stateDir = path.join(dir, 'restart-state');
    const first = await start(viewer, port, stateDir);
    const page = await newPage(browser);
    await page.goto(first.url);
    await screenShows(page, `tr[data-canary="${ns}/podinfo"] [data-testid=phase]`, (t) => t.length > 0, 'the list');
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    await first.stop();
    await screenShows(page, '[data-testid=live]', (t) => t !== 'live', 'the page to notice the dashboard went away');
    // While it is away, a Canary appears: the page must show it once the dashboard is back.
    await deploymentWithCanary(ns, 'second', { interval: '2s', threshold: 2, stepWeight: 10, maxWeight: 50, metrics: [] });
    await start(viewer, port, stateDir);
    await screenShows(page, `tr[data-canary="${ns}/second"]`, (t) => t.length > 0, 'the page to catch up after the restart', 30_000);
    await screenShows(page, '[data-testid=live]', (t) => t === 'live', 'the stream back');
    assert.equal(await page.evaluate(() => (window as { notReloaded?: boolean }).notReloaded), true, 'no reload');
    await page.close();
  });
});
