// The dashboard's figures (issue 27's targets), in a real Chromium against the local world:
// the page's script gzipped; DOMContentLoaded and first data on loopback; with N Canaries
// (statuses as after a release; only the webhook runs, so nothing rewrites them), the time until
// every row is on screen and the longest main-thread task meanwhile; how long a status change
// takes to reach the screen (p95 of a series of writes); the dashboard process's resident memory.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { CR } from '../api/flagger-types.js';
import { at, KubeClient, R } from '../lib/kube/client.js';
import { delay } from '../lib/wait.js';
import { launchBrowser, newPage, type Page } from '../test/world/browser.js';
import { startDashboardProcess } from '../test/world/dashboard-process.js';
import { paths, root } from '../test/world/layout.js';
import { readyNamespace } from '../test/world/namespaces.js';
import { inBatches } from './process-sample.js';
import { type Figure, percentile, round } from './results.js';
import { canary, status } from './webhook-memory.js';

export interface DashboardBenchOptions {
  namespaces: number;
  perNamespace: number;
  /** Status writes whose arrival on screen is timed. */
  changes: number;
}

const nsName = (i: number) => `bench-dash-${i}`;

const rssMiB = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/** Loads the page afresh (the session cookie already set) and times it from the navigation's start. */
interface Load {
  dcl: number;
  firstData: number;
  allRows: number;
  longest: number;
}

async function load(page: Page, url: string, rows: number): Promise<Load> {
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(
    (n: number) => document.querySelectorAll('tr[data-canary]').length >= n,
    { timeout: 60_000, polling: 'raf' },
    rows,
  );
  return page.evaluate(() => {
    // The browser's Performance (this runs in the page; the types in scope are Node's).
    const perf = performance as unknown as { getEntriesByType(t: string): { domContentLoadedEventEnd: number; startTime: number }[] };
    const nav = perf.getEntriesByType('navigation')[0]!;
    const marks = (window as unknown as { benchMarks: { firstData?: number; longest: number } }).benchMarks;
    return {
      dcl: nav.domContentLoadedEventEnd - nav.startTime,
      firstData: marks.firstData ?? NaN,
      allRows: performance.now(),
      longest: marks.longest,
    };
  });
}

export async function dashboardBench(o: DashboardBenchOptions): Promise<Figure[]> {
  const client = await KubeClient.load(paths.kubeconfig, 'sluice-bench');
  const namespaces = Array.from({ length: o.namespaces }, (_, i) => nsName(i));
  const pairs = namespaces.flatMap((ns) => Array.from({ length: o.perNamespace }, (_, j) => ({ ns, name: `app-${j}` })));
  const total = pairs.length;
  const stateDir = fs.mkdtempSync(path.join(paths.world, 'dashboard-bench-'));
  const browser = await launchBrowser();
  try {
    await inBatches(namespaces, 10, (ns) => readyNamespace(client, ns));
    const now = new Date().toISOString();
    await inBatches(pairs, 20, async ({ ns, name }) => {
      await client.create(at(CR.canaries, ns), canary(ns, name));
      await client.patch(at(CR.canaries, ns, name, 'status'), { status: status(now) });
    });
    const d = await startDashboardProcess(paths.kubeconfig, { stateDir });
    const page = await newPage(browser);
    // Before any script of the page: when the first rows arrive, and the longest task seen.
    await page.evaluateOnNewDocument(() => {
      const marks = { firstData: undefined as number | undefined, longest: 0 };
      Object.assign(window, { benchMarks: marks });
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) marks.longest = Math.max(marks.longest, e.duration);
      }).observe({ type: 'longtask', buffered: true });
      new MutationObserver(() => {
        if (marks.firstData === undefined && document.querySelector('tr[data-canary]')) marks.firstData = performance.now();
      }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(d.url, { waitUntil: 'domcontentloaded' });
    const loads: Load[] = [];
    for (let i = 0; i < 3; i++) loads.push(await load(page, d.origin, total));
    const median = (pick: (l: Load) => number) =>
      round(
        percentile(
          loads.map(pick).sort((a, b) => a - b),
          50,
        ),
        0,
      );

    // A status write, then the row on screen showing it: the time between, as the page saw it arrive.
    const latencies: number[] = [];
    for (let i = 0; i < o.changes; i++) {
      const { ns, name } = pairs[(i * 7919) % total]!;
      const weight = 10 + (i % 4) * 10;
      const failed = 100 + i;
      const t0 = performance.now();
      await client.patch(at(CR.canaries, ns, name, 'status'), { status: { canaryWeight: weight, failedChecks: failed } });
      await page.waitForFunction(
        (key: string, f: number) => document.querySelector(`tr[data-canary="${key}"]`)?.textContent?.includes(`${f}/`),
        { timeout: 10_000, polling: 'raf' },
        `${ns}/${name}`,
        failed,
      );
      latencies.push(performance.now() - t0);
      await delay(100);
    }
    latencies.sort((a, b) => a - b);
    const rss = rssMiB(d.pid);
    const gz = zlib.gzipSync(fs.readFileSync(path.join(root, 'dist/dashboard/ui/app.js'))).length;
    await d.stop();
    const at1k = `with ${total} Canaries in ${o.namespaces} namespaces`;
    return [
      {
        name: 'dashboard_js_gzipped',
        value: round(gz / 1024, 1),
        unit: 'KiB',
        target: '≤ 50 KB',
        note: 'dist/dashboard/ui/app.js (preact, htm, uPlot and the page, bundled and minified by esbuild), gzipped by node:zlib at its default level',
      },
      {
        name: 'dashboard_dom_content_loaded',
        value: median((l) => l.dcl),
        unit: 'ms',
        target: '≤ 300 ms',
        note: `median of 3 loads of the list page in headless Chromium (@sparticuz/chromium) on loopback ${at1k}: navigation start to DOMContentLoaded`,
      },
      {
        name: 'dashboard_first_data',
        value: median((l) => l.firstData),
        unit: 'ms',
        target: '≤ 500 ms',
        note: `median of the same 3 loads: navigation start to the first Canary row in the DOM (the stream's snapshot rendered) ${at1k}`,
      },
      {
        name: 'dashboard_list_rendered',
        value: median((l) => l.allRows),
        unit: 'ms',
        target: '≤ 2000 ms',
        note: `median of the same 3 loads: navigation start to all ${total} rows in the DOM`,
      },
      {
        name: 'dashboard_longest_task',
        value: round(Math.max(...loads.map((l) => l.longest)), 0),
        unit: 'ms',
        target: '≤ 200 ms',
        note: `the longest main-thread task (PerformanceObserver 'longtask'; none over 50 ms reads 0) over the 3 loads ${at1k}`,
      },
      {
        name: 'dashboard_status_to_screen_p95',
        value: round(percentile(latencies, 95), 0),
        unit: 'ms',
        target: '≤ 1000 ms',
        note: `p95 of ${o.changes} status writes (PATCH /status of one Canary ${at1k}) until the list row shows the new value, timed from before the write; median ${round(percentile(latencies, 50), 0)} ms, max ${round(latencies.at(-1)!, 0)} ms`,
      },
      {
        name: 'dashboard_rss',
        value: round(rss, 0),
        unit: 'MiB',
        target: '< 100 MiB',
        note: `VmRSS of the kubectl sluice dashboard process ${at1k} in its feed, after the loads and writes above, one page open`,
      },
    ];
  } finally {
    await browser.close();
    fs.rmSync(stateDir, { recursive: true, force: true });
    await inBatches(namespaces, 10, (ns) => client.delete(at(R.namespaces, undefined, ns)).catch(() => undefined));
    client.close();
  }
}
