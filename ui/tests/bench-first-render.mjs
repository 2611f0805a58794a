// The inbox's first render in the real engine of the Linux app (WebKitGTK's MiniBrowser),
// on the fake backend with 100,000 conversations. A measuring tool, not a test: it prints
// the page's performance marks and asserts nothing about time.
//
// Run (from ui/, after `npm run build && npm run build:mock`):
//   ../tests/session.sh node tests/bench-first-render.mjs [--runs 7] [--width 1240] [--height 800]
// (tests/session.sh gives Xvfb + D-Bus; any X display will do.) For each run it starts a
// fresh MiniBrowser through WebKitWebDriver, loads dist/ with tests/.mock/mock.js injected
// before the app, waits for `sportello:first-row` and prints, in ms:
//   mock     the fake backend's own set-up (not part of the real app's start)
//   script   `sportello:script` minus the end of the mock's set-up (parsing + running the bundle's top level)
//   ready    `sportello:ready` − `sportello:script` (first IPC answers), less the fake backend's
//            own time answering (`mock:<command>` measures; shown apart as mock-answers)
//   row      `sportello:first-row` − `sportello:ready` (the first synchronous render), likewise
// plus any other `sportello:*` / `bench:*` marks relative to `sportello:ready`, and the median of
// each column over the runs. `--chromium` runs the same page in headless Chromium instead;
// `--serve` only serves the page (for a profiler or another browser) until interrupted;
// `--keep-storage` gives each run the localStorage the previous one left, like the app's
// later starts (each run then waits 4 s for what the app writes after its start);
// `--inject '<style>nav{display:none}</style>'` adds markup to the page's head (to bisect);
// `--dist <dir>` serves another build (e.g. an older commit's, for a back-to-back comparison).

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import process from 'node:process';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    width: { type: 'string', default: '1240' },
    height: { type: 'string', default: '800' },
    conversations: { type: 'string', default: '100000' },
    chromium: { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false },
    'keep-storage': { type: 'boolean', default: false },
    inject: { type: 'string', default: '' },
    dist: { type: 'string' },
  },
});

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = opts.dist ? resolve(opts.dist) : join(here, '..', 'dist');
const mockScript = join(here, '.mock', 'mock.js');
const MINIBROWSER =
  process.env.MINIBROWSER ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const config = { accounts: 'demo', conversations: Number(opts.conversations) };
/** What the page keeps in localStorage from one start to the next (--keep-storage). */
let storage = {};
// Run before the app's module script (module scripts are deferred; these are not).
const inject = () =>
  `<script>window.__SPORTELLO_MOCK_CONFIG__ = ${JSON.stringify(config)};\n` +
  `for (const [k, v] of Object.entries(${JSON.stringify(storage)})) localStorage.setItem(k, v);</script>\n` +
  `<script src="/__mock.js"></script>\n` +
  `<script>performance.mark('bench:mock-done');</script>\n` +
  opts.inject;

function serve() {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    try {
      if (path === '/__mock.js') {
        res.writeHead(200, { 'content-type': TYPES['.js'] }).end(await readFile(mockScript));
        return;
      }
      const file = join(dist, path === '/' ? 'index.html' : path);
      if (!file.startsWith(dist)) return void res.writeHead(403).end();
      let body = await readFile(file);
      if (path === '/') body = body.toString().replace('<head>', `<head>\n${inject()}`);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.close() });
    }),
  );
}

const MARKS = `
  const m = {};
  for (const e of performance.getEntriesByType('mark')) {
    let name = e.name;
    for (let k = 2; name in m; k++) name = e.name + '#' + k;
    m[name] = e.startTime;
  }
  const mock = performance.getEntriesByType('measure').filter((e) => e.name.startsWith('mock:'));
  const page = {
    viewport: innerWidth + 'x' + innerHeight,
    rows: document.querySelectorAll('[data-testid=conversation-row]').length,
    open: document.querySelector('[data-testid=thread]')?.dataset.conversation ?? null,
    stored: Object.keys(localStorage).join(',') || null,
  };
  return { marks: m, mock: mock.map((e) => [e.startTime, e.startTime + e.duration]), page };`;

/** A minimal W3C WebDriver client over fetch. */
async function webkitSession(width, height) {
  const port = 4400 + Math.floor(Math.random() * 1000);
  const driver = spawn('WebKitWebDriver', [`--port=${port}`], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  const call = async (method, path, body) => {
    const res = await fetch(base + path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${JSON.stringify(json.value)}`);
    return json.value;
  };
  for (let i = 0; ; i++) {
    try {
      await fetch(base + '/status');
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const { sessionId } = await call('POST', '/session', {
    capabilities: {
      alwaysMatch: {
        'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
      },
    },
  });
  const s = `/session/${sessionId}`;
  await call('POST', `${s}/window/rect`, { width, height }).catch(() => {});
  return {
    goto: (url) => call('POST', `${s}/url`, { url }),
    run: (script) => call('POST', `${s}/execute/sync`, { script, args: [] }),
    close: async () => {
      await call('DELETE', s).catch(() => {});
      driver.kill();
    },
  };
}

async function chromiumSession(width, height) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const page = await browser.newPage({ viewport: { width, height }, locale: 'it-IT' });
  return {
    goto: (url) => page.goto(url),
    run: (script) => page.evaluate(`(() => {${script}})()`),
    close: () => browser.close(),
  };
}

async function once(url, width, height) {
  const session = await (opts.chromium ? chromiumSession : webkitSession)(width, height);
  try {
    await session.goto(url);
    for (let i = 0; i < 400; i++) {
      const { marks } = await session.run(MARKS);
      if (marks['sportello:first-row'] !== undefined) {
        // Let late marks (sportello:loaded) land too; with --keep-storage, what the app
        // writes a few seconds after its start (the remembered font) too.
        await new Promise((r) => setTimeout(r, opts['keep-storage'] ? 4000 : 300));
        if (opts['keep-storage']) storage = await session.run('return { ...localStorage };');
        const done = await session.run(MARKS);
        console.log(`page: ${JSON.stringify(done.page)}`);
        return done;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no sportello:first-row mark after 20 s');
  } finally {
    await session.close();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const server = await serve();
if (opts.serve) {
  console.log(server.url);
  await new Promise(() => {});
}
const rows = [];
try {
  for (let i = 0; i < Number(opts.runs); i++) {
    const { marks: m, mock } = await once(server.url, Number(opts.width), Number(opts.height));
    const ready = m['sportello:ready'];
    // The fake backend's own work between two marks (its answers' time, not the app's).
    const mockBetween = (from, to) =>
      mock.filter(([s, e]) => s >= from && e <= to).reduce((sum, [s, e]) => sum + e - s, 0);
    const row = {
      mock: m['bench:mock-done'],
      script: m['sportello:script'] - m['bench:mock-done'],
      ready: ready - m['sportello:script'] - mockBetween(m['sportello:script'], ready),
      row: m['sportello:first-row'] - ready - mockBetween(ready, m['sportello:first-row']),
      'mock-answers': mockBetween(m['sportello:script'], m['sportello:first-row']),
    };
    for (const [name, t] of Object.entries(m)) {
      if (
        ['sportello:script', 'sportello:ready', 'sportello:first-row', 'bench:mock-done'].includes(
          name,
        )
      )
        continue;
      row[name.replace(/^(sportello|bench):/, '')] = t - ready;
    }
    rows.push(row);
    console.log(
      `run ${i + 1}: ` +
        Object.entries(row)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join('  '),
    );
  }
} finally {
  server.close();
}
const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
console.log(
  'median: ' +
    keys
      .map((k) => `${k} ${median(rows.map((r) => r[k]).filter((v) => v !== undefined)).toFixed(0)}`)
      .join('  '),
);
