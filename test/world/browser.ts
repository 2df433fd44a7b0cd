// A real Chromium for the dashboard's tests and benchmarks, with no package manager: the
// @sparticuz/chromium package carries the browser (unpacked to the temp dir on first use) and
// puppeteer-core drives it. Locale and time zone are pinned: under a C.UTF-8 locale Chromium
// reports "en-US@posix", which Intl rejects, and the page's times must read the same everywhere.
// None of @sparticuz's own flags are used: they turn off web security, which the tests rely on.
import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export type { Browser, Page };

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: await chromium.executablePath(),
    headless: 'shell',
    env: { ...process.env, LANG: 'en_US.UTF-8', TZ: 'UTC' },
    args: [
      '--no-sandbox',
      '--no-zygote',
      '--disable-gpu',
      '--use-gl=angle',
      '--use-angle=swiftshader',
      '--no-first-run',
      // This machine's network is closed: without these Chromium dials Google's hosts at every start.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--lang=en-US',
    ],
  });
}

/** A page with the time zone pinned, in its own browser context (its own cookies). */
export async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.emulateTimezone('UTC');
  page.setDefaultTimeout(30_000);
  return page;
}
