// Does opening conversations one after another leave anything behind in the page? A measuring
// tool, not a test: on the fake backend in headless Chromium it opens N conversations by
// clicking their rows (scrolling the list like a user when the next row is not in view) and,
// every --every opens, forces a full garbage collection through the DevTools protocol and
// prints the used JS heap, the DOM counters (documents, nodes, JS event listeners) and the
// number of elements in the document. Flat figures after GC: no leak (what the real app keeps
// is garbage its engine has not collected yet); figures growing with the opens: a leak.
//
// Run (from ui/, after `npm run build:mock`):
//   node tests/bench-open-memory.mjs [--opens 200] [--every 50] [--conversations 1000]
//     [--alternate | --scroll-only] [--snapshot /tmp/open]
// --snapshot PREFIX writes a heap snapshot after each GC (PREFIX-<opens>.heapsnapshot), to
// compare in DevTools' Memory tab. The fake backend's own records (its call log, a performance
// measure per answer) are dropped before each GC. Playwright's own evaluations and V8's
// optimizing compiler add ~1 KB of code per open that levels off after ~1,500 opens, and the
// list keeps up to 13 pages of summaries (KEEP_PAGES), which levels off from row ~700.
//
// Figures (2026-12-08, 1,000 conversations): after GC, 200 different opens go from 5.01 MiB
// (after 50) to 5.39 MiB, DOM nodes 2,743 → 2,738, JS listeners 50 → 51, one document; 1,000
// opens from 5.20 MiB (after 100) to 6.75 (the list's pages, then ~1 KB of code per open).
// Opening rows 1 and 2 in turn keeps every JS object, array, closure and string at the same
// count; only compiled code grows. So the app's JS keeps nothing per conversation opened.
//
// In WebKitGTK (MiniBrowser through WebKitWebDriver, same page) the web process can be told
// JSC_logGC=1 (post-GC heap sizes on stderr) and JSC_useGenerationalGC=0 (every GC full) in
// its environment: with the default eden collections the JS heap after GC climbs 4 → 24 MB
// over 300 opens (uncollected garbage); with full collections it stays at 7-8 MB. The web
// process's PSS still grows ~0.08 MiB per open then (rows 3 and 4 in turn, 1,000 opens:
// 258 → 322 MiB, a11y bus off or on), while creating and removing the same amount of plain
// DOM does not: native memory WebKit keeps, not the app's JS, still to be explained.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { launch, openApp, serveDist } from './harness.js';

const { values: opts } = parseArgs({
  options: {
    opens: { type: 'string', default: '200' },
    every: { type: 'string', default: '50' },
    conversations: { type: 'string', default: '1000' },
    snapshot: { type: 'string' },
    // Opens rows 1 and 2 in turn instead of N different ones (no list scrolling, no new pages):
    // growth then comes from opening itself, not from the list keeping what it has loaded.
    alternate: { type: 'boolean', default: false },
    // Scrolls past the N rows without opening any (what the list alone keeps).
    'scroll-only': { type: 'boolean', default: false },
  },
});
const opens = Number(opts.opens);
const every = Number(opts.every);

const server = await serveDist();
const browser = await launch();
try {
  const { page, context, errors } = await openApp(browser, server.url, {
    accounts: 'demo',
    conversations: Number(opts.conversations),
  });
  const consoleCount = new Map();
  page.on('console', (m) => {
    const k = `${m.type()}: ${m.text().slice(0, 120)}`;
    consoleCount.set(k, (consoleCount.get(k) ?? 0) + 1);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('HeapProfiler.enable');
  await page.getByTestId('conversation-row').first().waitFor();
  const list = page.getByRole('list', { name: 'Conversazioni' });

  const measure = async (label) => {
    // What the fake backend keeps for tests (every call, a performance measure per answer) is
    // not the app's: drop it first.
    await page.evaluate(() => {
      window.__sportelloMock.calls.length = 0;
      performance.clearMeasures();
    });
    // Several passes: a collection can free what finalizers or weak maps let go only then.
    for (let i = 0; i < 3; i++) await cdp.send('HeapProfiler.collectGarbage');
    const heap = await cdp.send('Runtime.getHeapUsage');
    let dom = {};
    try {
      dom = await cdp.send('Memory.getDOMCounters');
    } catch {
      // Not in every Chromium.
    }
    const page_ = await page.evaluate(() => ({
      elements: document.getElementsByTagName('*').length,
      // @ts-expect-error Chromium only
      memory: performance.memory?.usedJSHeapSize ?? null,
    }));
    const mib = (b) => (b / 1048576).toFixed(2);
    console.log(
      `${label.padEnd(10)} heap used ${mib(heap.usedSize)} MiB (performance.memory ${
        page_.memory === null ? '-' : mib(page_.memory)
      })  documents ${dom.documents ?? '-'}  nodes ${dom.nodes ?? '-'}  listeners ${
        dom.jsEventListeners ?? '-'
      }  elements ${page_.elements}`,
    );
    if (opts.snapshot) {
      const chunks = [];
      const take = (e) => chunks.push(e.chunk);
      cdp.on('HeapProfiler.addHeapSnapshotChunk', take);
      await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
      cdp.off('HeapProfiler.addHeapSnapshotChunk', take);
      const file = `${opts.snapshot}-${label.replace(/\D+/g, '') || 0}.heapsnapshot`;
      writeFileSync(file, chunks.join(''));
    }
    return { heap: heap.usedSize, ...dom, elements: page_.elements };
  };

  /** Clicks the row at list position `pos` (1-based), scrolling until it is rendered. */
  const open = async (pos) => {
    const row = page.locator(`[aria-posinset="${pos}"] [data-testid=conversation-row]`);
    for (let i = 0; (await row.count()) === 0; i++) {
      if (i > 200) throw new Error(`row ${pos} never rendered`);
      await list.evaluate((el) => (el.scrollTop += el.clientHeight / 2));
      await page.waitForTimeout(30);
    }
    await row.scrollIntoViewIfNeeded();
    if (opts['scroll-only']) return;
    const id = await row.getAttribute('data-conversation');
    await row.click();
    await page.locator(`[data-testid=thread][data-conversation="${id}"]`).waitFor();
    // Let the thread's messages render (the bodies load after the frame).
    await page.waitForTimeout(20);
  };

  const figures = [await measure('start')];
  // One open first so the "after N opens" figures compare thread-to-thread, not list-to-thread.
  await open(1);
  figures.push(await measure('1 open'));
  for (let n = 2; n <= opens; n++) {
    await open(opts.alternate ? 2 - (n % 2) : n);
    if (n % every === 0) figures.push(await measure(`${n} opens`));
  }
  const first = figures[1];
  const last = figures.at(-1);
  const per = (k) => ((last[k] - first[k]) / (opens - 1)).toFixed(k === 'heap' ? 0 : 2);
  console.log(
    `per open (1 → ${opens}): heap ${per('heap')} B  nodes ${per('nodes')}  listeners ${per(
      'jsEventListeners',
    )}  elements ${per('elements')}`,
  );
  for (const [k, n] of consoleCount) console.log(`console ×${n}: ${k}`);
  if (errors.length) console.log(`page errors: ${errors.map(String).join('; ')}`);
  await context.close();
} finally {
  await browser.close();
  await server.close();
}
