// What every UI test needs: the built app served from dist/ by a tiny static server, and
// Chromium (the system one, headless) with the fake backend injected before the app loads.

import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = join(here, '..', 'dist');
const mockScript = join(here, '.mock', 'mock.js');
export const artifacts = join(here, 'artifacts');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

/** Serves dist/ on a free loopback port; resolves with its base URL and a close function. */
export async function serveDist() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(dist, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dist)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A fresh page (own context: no shared localStorage) on the app with the fake backend.
 * `config` is the mock's MockConfig; `options` go to the browser context; `setup(page)` runs
 * before the app loads (e.g. `page.clock.install()`).
 */
export async function openApp(browser, baseUrl, config = {}, options = {}, setup = null) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: 'it-IT',
    colorScheme: 'light',
    ...options,
  });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.addInitScript((c) => {
    window.__SPORTELLO_MOCK_CONFIG__ = c;
  }, config);
  await page.addInitScript({ path: mockScript });
  if (setup) await setup(page);
  await page.goto(baseUrl);
  await page.waitForSelector('.app');
  return { page, context, errors };
}

/** The commands the app called so far, optionally only those named `cmd`. */
export function calls(page, cmd) {
  return page.evaluate(
    (name) => window.__sportelloMock.calls.filter((c) => !name || c.cmd === name),
    cmd ?? null,
  );
}

/**
 * For a test file: serves dist/ and launches Chromium before its tests, closes both after.
 * `started(server, browser)` hands them to the file.
 */
export function serveAndLaunch(started) {
  let server;
  let browser;
  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    server = await serveDist();
    browser = await launch();
    started(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });
}

/** Runs `fn(...args)` in the page (where the fake backend is `window.__sportelloMock`). */
export const mock = (page, fn, ...args) => page.evaluate(fn, ...args);
