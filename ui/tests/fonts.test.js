// The UI font on Linux (src/lib/util/fonts.ts): the family the stylesheet's stack resolves to
// is found before the first render, remembered and used alone (WebKitGTK spent much of the
// first render in fontconfig on every family of the stack that is not installed).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, openApp, serveDist } from './harness.js';

let server;
let browser;

before(async () => {
  server = await serveDist();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const KEY = 'sportello.uiFont';
const stored = (page) => page.evaluate((key) => localStorage.getItem(key), KEY);
const inline = (page) =>
  page.evaluate(() => document.documentElement.style.getPropertyValue('--font-sans'));
const bodyFont = (page) => page.evaluate(() => getComputedStyle(document.body).fontFamily);

test('the first start finds the family of the stack and uses it alone; the next start too', async () => {
  const { page, context, errors } = await openApp(browser, server.url, { conversations: 5 });
  await page.getByTestId('conversation-row').first().waitFor();
  // Found before the first row showed: one of the stylesheet's families, used alone.
  const family = await stored(page);
  const stack = await page.evaluate(() =>
    getComputedStyle(document.documentElement).getPropertyValue('--font-sans-stack'),
  );
  assert.match(stack, /^system-ui, -apple-system, ["']Segoe UI["'], Roboto/);
  const families = stack.split(',').map((f) => f.trim());
  assert.ok(families.includes(family), `${family} is one of ${stack}`);
  const expected = family === 'sans-serif' ? 'sans-serif' : `${family}, sans-serif`;
  assert.equal(await inline(page), expected);
  assert.equal(await bodyFont(page), expected.replaceAll("'", '"'));

  // The next start (same profile) uses it from the start.
  await page.reload();
  await page.getByTestId('conversation-row').first().waitFor();
  assert.equal(await inline(page), expected);
  assert.equal(await stored(page), family);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a family remembered earlier but gone since is replaced by what the stack finds now', async () => {
  const { page, context, errors } = await openApp(
    browser,
    server.url,
    { conversations: 5 },
    {},
    (p) => p.addInitScript((key) => localStorage.setItem(key, "'No Such Font Sportello'"), KEY),
  );
  await page.getByTestId('conversation-row').first().waitFor();
  assert.equal(await inline(page), "'No Such Font Sportello', sans-serif");
  await page.waitForFunction(
    (key) => localStorage.getItem(key) !== "'No Such Font Sportello'",
    KEY,
    { timeout: 10_000 },
  );
  assert.notEqual(await stored(page), null);
  assert.deepEqual(errors, []);
  await context.close();
});
