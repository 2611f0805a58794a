// UI tests: the built app in headless Chromium on the fake backend (tests/mock). Each test
// opens its own browser context, so drafts and settings in localStorage never leak between
// tests. Text assertions use the Italian catalogue: the OS locale of the mock is it-IT.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
import { artifacts, calls, launch, openApp, serveDist } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

let server;
let browser;

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  server = await serveDist();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const mock = (page, fn, ...args) => page.evaluate(fn, ...args);

describe('first run', () => {
  test('welcome leads to the account dialog; a failed test is explained; saving adds the account', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'none' });
    const welcome = page.getByTestId('welcome');
    await welcome.waitFor();
    assert.match(await welcome.textContent(), /Collega la tua email/);

    await welcome.getByRole('button', { name: 'Gmail' }).click();
    const dialog = page.getByRole('dialog', { name: 'Collega una casella email' });
    await dialog.waitFor();
    // The preset filled in the servers; the address is focused first.
    assert.equal(await page.getByTestId('account-imap-host').inputValue(), 'imap.gmail.com');
    assert.equal(await page.getByTestId('account-smtp-port').inputValue(), '465');
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('data-testid')),
      'account-address',
    );

    // Missing fields are named, and nothing is sent to the backend.
    await page.getByTestId('account-test').click();
    await dialog.getByText('Compila i campi obbligatori.').waitFor();
    assert.equal((await calls(page, 'test_email_account')).length, 0);

    await page.getByTestId('account-address').fill('negozio@gmail.com');
    await page.getByTestId('account-password').fill('sbagliata');
    await page.getByTestId('account-name').click();
    assert.equal(await page.getByTestId('account-name').inputValue(), 'negozio');

    await mock(page, () =>
      window.__sportelloMock.failNext('test_email_account', {
        code: 'auth_failed',
        message: 'AUTHENTICATIONFAILED Invalid credentials (Failure)',
      }),
    );
    await page.getByTestId('account-test').click();
    const alert = dialog.locator('[data-result=error]');
    await alert.waitFor();
    const alertText = await alert.textContent();
    assert.match(alertText, /Il server ha rifiutato nome utente o password/);
    // The backend's English text is only a detail line under the translated sentence.
    assert.match(alertText, /AUTHENTICATIONFAILED/);

    await page.getByTestId('account-password').fill('giusta');
    await page.getByTestId('account-test').click();
    await dialog.locator('[data-result=ok]').waitFor();
    const [tested] = (await calls(page, 'test_email_account')).slice(-1);
    assert.deepEqual(tested.args.input, {
      name: 'negozio',
      address: 'negozio@gmail.com',
      imap_host: 'imap.gmail.com',
      imap_port: 993,
      imap_security: 'tls',
      smtp_host: 'smtp.gmail.com',
      smtp_port: 465,
      smtp_security: 'tls',
      username: null,
      password: 'giusta',
      ca_file: null,
    });

    await page.getByTestId('account-save').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'add_email_account')).length, 1);
    // The account shows in the sidebar with its first-sync progress; the welcome is gone.
    const account = page.locator('[data-account]', { hasText: 'negozio' });
    await account.waitFor();
    assert.match(await account.textContent(), /Scarico i messaggi: 0 di 120/);
    await account.locator('progress').waitFor();
    assert.equal(await page.getByTestId('welcome').count(), 0);
    await page.getByText('Nessuna conversazione per ora').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('plain security warns, and ports follow the security choice', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'none' });
    await page.getByTestId('welcome').getByRole('button', { name: 'Collega la tua email' }).click();
    await page.getByTestId('account-imap-security').selectOption('plain');
    assert.equal(await page.getByTestId('account-imap-port').inputValue(), '143');
    await page.getByText('la password viaggia in chiaro').waitFor();
    await page.getByTestId('account-smtp-security').selectOption('starttls');
    assert.equal(await page.getByTestId('account-smtp-port').inputValue(), '587');
    // Esc closes the dialog.
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await context.close();
  });
});

describe('startup', () => {
  test('data from a newer Sportello: an explanation instead of the inbox', async () => {
    const context = await browser.newContext({ locale: 'it-IT' });
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__SPORTELLO_MOCK_CONFIG__ = {
        accounts: 'demo',
        startupError: { code: 'database_too_new', message: 'database version 9 > 3' },
      };
    });
    await page.addInitScript({ path: join(here, '.mock', 'mock.js') });
    await page.goto(server.url);
    const screen = page.getByTestId('startup-error');
    await screen.waitFor();
    const text = await screen.textContent();
    assert.match(text, /aperti da una versione più nuova di Sportello/);
    assert.match(text, /database version 9 > 3/);
    assert.match(text, /I tuoi dati non sono stati toccati/);
    assert.deepEqual(
      [...new Set((await calls(page)).map((c) => c.cmd))].filter((c) => !c.startsWith('plugin:')),
      ['app_info', 'get_settings'],
    );
    await context.close();
  });
});

describe('the unified list', () => {
  test('rows show channel, name, preview, time and unread count', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    const first = page.getByTestId('conversation-row').first();
    await first.waitFor();
    const summary = await mock(page, () => window.__sportelloMock.summaryAt(0));
    const text = await first.textContent();
    assert.ok(text.includes(summary.contact_name), text);
    assert.ok(text.includes(summary.last_preview.slice(0, 20)), text);
    assert.equal(await first.locator('[data-channel]').getAttribute('aria-label'), 'Email');
    // Conversation 1 has 2 unread messages: bold row, badge with a spoken plural.
    assert.equal(await first.evaluate((el) => el.classList.contains('unread')), true);
    assert.match(await first.textContent(), /2 messaggi non letti/);
    assert.equal(await page.getByRole('list', { name: 'Conversazioni' }).count(), 1);
    assert.ok((await page.getByRole('listitem').count()) > 5);
    // The inbox count in the sidebar.
    assert.match(await page.locator('nav').textContent(), /In arrivo\s*60/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('100,000 conversations: few DOM rows, pages fetched on demand, the end reachable', async () => {
    const { page, context, errors } = await openApp(browser, server.url, {
      accounts: 'demo',
      conversations: 100_000,
    });
    await page.getByTestId('conversation-row').first().waitFor();
    assert.match(await page.locator('nav').textContent(), /100\.000/);
    const domRows = await page.locator('[role=listitem][aria-posinset]').count();
    assert.ok(domRows > 5 && domRows < 60, `${domRows} rows in the DOM`);

    const viewport = page.getByRole('list', { name: 'Conversazioni' });
    // Scroll in steps like a user dragging, then jump to the very end.
    for (const fraction of [0.25, 0.5, 0.75]) {
      await viewport.evaluate((el, f) => (el.scrollTop = el.scrollHeight * f), fraction);
      await page.waitForTimeout(30);
    }
    await viewport.evaluate((el) => (el.scrollTop = el.scrollHeight));
    const last = page.locator('[aria-posinset="100000"] [data-testid=conversation-row]');
    await last.waitFor();
    const expected = await mock(page, () => window.__sportelloMock.summaryAt(99_999));
    assert.ok((await last.textContent()).includes(expected.contact_name));
    assert.equal(await last.getAttribute('data-conversation'), String(expected.id));

    const listCalls = await calls(page, 'list_conversations_filtered');
    assert.ok(
      listCalls.every((c) => c.args.limit <= 100),
      'pages, never everything',
    );
    assert.ok(listCalls.some((c) => c.args.offset === 99_900));
    assert.ok(listCalls.length < 30, `${listCalls.length} page fetches`);
    assert.ok((await page.locator('[role=listitem][aria-posinset]').count()) < 60);

    // j/k and arrows move the selection (and open the conversation).
    await last.click();
    await page.getByTestId('thread').waitFor();
    await page.keyboard.press('k');
    const above = await mock(page, () => window.__sportelloMock.summaryAt(99_998));
    await page.getByTestId('thread').getByRole('heading', { name: above.contact_name }).waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a change event refetches the visible rows: a new message moves its row to the top', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('conversation-row').first().waitFor();
    const before = (await calls(page, 'list_conversations_filtered')).length;
    await mock(page, () => window.__sportelloMock.receive(40, 'Avete ricevuto il mio reso?'));
    const first = page.getByTestId('conversation-row').first();
    await page.waitForFunction(
      () => document.querySelector('[data-testid=conversation-row]')?.dataset.conversation === '40',
    );
    assert.match(await first.textContent(), /Avete ricevuto il mio reso\?/);
    const refetched = (await calls(page, 'list_conversations_filtered')).slice(before);
    assert.ok(refetched.length >= 1 && refetched.length <= 2, `${refetched.length} refetches`);
    assert.equal((await calls(page, 'get_conversation')).length, 0, 'no thread was open');
    await context.close();
  });
});

describe('triage', () => {
  test('closing a conversation moves it from the inbox count to the closed view', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    const count = (view) =>
      page.locator(`[data-view=${view}] [data-testid=view-count] [aria-hidden]`).textContent();
    await page.locator('[data-view=closed] [data-testid=view-count]').waitFor();
    const inboxBefore = Number((await count('inbox')).replace(/\D/g, ''));
    assert.equal(await count('closed'), '0');

    await page.getByTestId('conversation-row').first().click();
    const thread = page.getByTestId('thread');
    await thread.waitFor();
    await thread.locator('[data-action=close]').click();
    await thread.locator('[data-action=reopen]').waitFor();
    const [call] = await calls(page, 'set_status');
    assert.equal(call.args.status, 'closed');
    await page.waitForFunction(
      () =>
        document.querySelector('[data-view=closed] [data-testid=view-count] [aria-hidden]')
          ?.textContent === '1',
    );
    assert.equal(Number((await count('inbox')).replace(/\D/g, '')), inboxBefore - 1);

    // The closed view lists just that one.
    await page.locator('[data-view=closed]').click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=conversation-row]').length === 1,
    );
    const last = (await calls(page, 'list_conversations_filtered')).at(-1);
    assert.equal(last.args.filter.view, 'closed');

    // Snooze asks for a time in the future.
    await thread.locator('[data-action=snooze]').click();
    await thread.getByRole('button', { name: 'Tra 1 ora' }).click();
    const snooze = (await calls(page, 'set_status')).at(-1);
    assert.equal(snooze.args.status, 'snoozed');
    assert.ok(snooze.args.snoozedUntil > Date.now());
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('the thread', () => {
  test('opening a conversation shows the thread and marks it read', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    const first = page.getByTestId('conversation-row').first();
    await first.click();
    const thread = page.getByTestId('thread');
    await thread.waitFor();
    const name = (await mock(page, () => window.__sportelloMock.summaryAt(0))).contact_name;
    await thread.getByRole('heading', { name }).waitFor();
    // Plain-text messages render as text; customer left, shop right.
    await thread.getByText('ho ordinato la borsa in pelle').waitFor();
    const inbound = await thread.locator('article:not(.outbound)').first().boundingBox();
    const outbound = await thread.locator('article.outbound').first().boundingBox();
    assert.ok(outbound.x > inbound.x, 'replies sit on the right');
    // Attachments as chips; saving shows where the file went.
    await thread.getByRole('button', { name: 'Salva fattura-1042.pdf in Download' }).click();
    await page.getByText('Salvato in /home/utente/Scaricati/fattura-1042.pdf').waitFor();
    await thread
      .getByRole('button', { name: /pacco\.jpg/ })
      .first()
      .click();
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some(
        (c) => c.cmd === 'open_attachment' && c.args.attachmentId === 502,
      ),
    );

    const marked = await calls(page, 'mark_read');
    assert.deepEqual(
      marked.map((c) => c.args.conversationId),
      [1],
    );
    // The row is no longer unread (at once, and after the change refetched it).
    await page.waitForFunction(
      () => !document.querySelector('[data-conversation="1"]')?.classList.contains('unread'),
    );
    // Who the reply goes to, and from which account.
    assert.match(await thread.locator('form').textContent(), /Risponde con Email da Bottega/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('HTML mail: sandboxed frame, remote images blocked until allowed, per sender', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    const remote = [];
    await context.route('https://images.example.com/**', (route) => {
      remote.push(route.request().url());
      return route.fulfill({ status: 200, contentType: 'image/png', body: Buffer.alloc(0) });
    });
    await page.getByTestId('conversation-row').first().click();
    const frame = page.locator('[data-testid=thread] iframe');
    await frame.waitFor();
    // Same origin (to measure and catch links) but never scripts, popups, forms or navigation.
    assert.equal(await frame.getAttribute('sandbox'), 'allow-same-origin');
    const srcdoc = await frame.getAttribute('srcdoc');
    assert.match(
      srcdoc,
      /Content-Security-Policy" content="default-src 'none'; img-src data: cid:;/,
    );
    const body = page.frameLocator('[data-testid=thread] iframe').locator('body');
    await body.getByText('è arrivato rovinato').waitFor();
    await page.waitForTimeout(200);
    assert.deepEqual(remote, [], 'no remote request while blocked');

    const bar = page.getByRole('note').filter({ hasText: 'Immagini remote bloccate' });
    await bar.getByRole('button', { name: 'Mostra', exact: true }).click();
    await page.waitForFunction(() =>
      document
        .querySelector('[data-testid=thread] iframe')
        ?.getAttribute('srcdoc')
        ?.includes('img-src data: cid: https:'),
    );
    for (let i = 0; i < 50 && remote.length === 0; i++) await page.waitForTimeout(50);
    assert.deepEqual(remote, ['https://images.example.com/pacco.png']);
    // "Show" was for this time only: settings unchanged.
    assert.equal((await calls(page, 'update_settings')).length, 0);

    // "Always from this sender" is saved in settings.remote_content_senders.
    await page.getByTestId('conversation-row').nth(1).click();
    await page.getByTestId('conversation-row').first().click();
    await bar.getByRole('button', { name: 'Mostra sempre da questo mittente' }).click();
    await bar.waitFor({ state: 'detached' });
    const saved = (await calls(page, 'update_settings')).at(-1);
    const sender = (await mock(page, () => window.__sportelloMock.summaryAt(0))).contact_handle;
    assert.deepEqual(saved.args.settings.remote_content_senders, [sender]);
    await context.close();
  });

  test('links in HTML mail show the real address first; open_link for web only; no script runs', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.locator('[data-conversation="5"]').click();
    const frame = page.locator('[data-testid=thread] iframe');
    await frame.waitFor();
    const doc = page.frameLocator('[data-testid=thread] iframe');
    await doc.getByText('Fine del messaggio.').waitFor();
    // The <script> in the mail never ran, neither in the frame nor against the window.
    assert.equal(await page.evaluate(() => window.__scriptRan), undefined);
    assert.equal(await doc.locator('body').getAttribute('data-ran'), null);
    assert.doesNotMatch(await frame.getAttribute('sandbox'), /allow-scripts/);
    // The frame grows to its content (400 px paragraph + text), no inner scrollbar.
    await page.locator('.frame[data-measured=true]').waitFor();
    const sizes = await frame.evaluate((el) => ({
      frame: el.getBoundingClientRect().height,
      content: el.contentDocument.body.getBoundingClientRect().height,
    }));
    assert.ok(sizes.content > 400, `content ${sizes.content}`);
    assert.ok(Math.abs(sizes.frame - sizes.content) <= 2, JSON.stringify(sizes));

    // A web link: the dialog shows the real address, not the words over it.
    await doc.getByRole('link', { name: 'www.poste.it' }).click();
    const dialog = page.getByRole('dialog', { name: 'Aprire questo link?' });
    await dialog.waitFor();
    assert.equal(
      await dialog.getByTestId('link-address').textContent(),
      'https://tracking.example.net/t/5?x=1',
    );
    assert.match(await dialog.textContent(), /scritto come: «www\.poste\.it»/);
    // The frame did not navigate.
    await doc.getByText('Fine del messaggio.').waitFor();
    // Cancel opens nothing.
    await dialog.getByRole('button', { name: 'Annulla' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'open_link')).length, 0);
    // Open in the browser: the href goes to the shell.
    await doc.getByRole('link', { name: 'www.poste.it' }).click();
    await dialog.getByRole('button', { name: 'Apri nel browser' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some((c) => c.cmd === 'open_link'),
    );
    assert.deepEqual(
      (await calls(page, 'open_link')).map((c) => c.args.url),
      ['https://tracking.example.net/t/5?x=1'],
    );

    // A mailto: link only shows the address; there is nothing to open.
    await doc.getByRole('link', { name: 'il nostro aiuto' }).click();
    await dialog.waitFor();
    assert.equal(
      await dialog.getByTestId('link-address').textContent(),
      'mailto:aiuto@bottega.example',
    );
    assert.equal(await dialog.getByRole('button', { name: 'Apri nel browser' }).count(), 0);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'open_link')).length, 1);
    assert.equal(page.url(), server.url, 'the window never navigated');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a message that could not be parsed says so and shows its source', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.locator('[data-conversation="2"]').click();
    const thread = page.getByTestId('thread');
    await thread.getByText('Non sono riuscito a leggere questo messaggio.').waitFor();
    await thread.getByRole('button', { name: 'Mostra sorgente' }).click();
    await thread.getByText('the raw source as stored').waitFor();
    await thread.getByRole('button', { name: 'Nascondi sorgente' }).waitFor();
    await context.close();
  });

  test('a notification click (open-conversation event) selects that conversation', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('conversation-row').first().waitFor();
    await mock(page, () => window.__sportelloMock.emitOpen(7));
    const name = (await mock(page, () => window.__sportelloMock.summaryAt(6))).contact_name;
    await page.getByTestId('thread').getByRole('heading', { name }).waitFor();
    await context.close();
  });
});

describe('the composer', () => {
  test('Ctrl+Enter sends: "sending" at once, "sent" after the change event', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.locator('[data-conversation="3"]').click();
    const composer = page.getByTestId('composer');
    await composer.fill('Ciao! Il pacco parte domani.');
    await composer.press('Control+Enter');
    const bubble = page.locator('[data-testid=thread] article.outbound', {
      hasText: 'Il pacco parte domani',
    });
    await bubble.waitFor();
    assert.match(await bubble.textContent(), /Invio…/);
    assert.equal(await composer.inputValue(), '');
    const [sent] = await calls(page, 'send_reply');
    assert.deepEqual(sent.args, {
      conversationId: 3,
      text: 'Ciao! Il pacco parte domani.',
      quote: true,
      template: null,
      files: null,
    });

    const id = await mock(page, () => window.__sportelloMock.lastOutbound(3).id);
    await mock(page, (m) => window.__sportelloMock.setDelivery(m, 'sent'), id);
    await page.waitForFunction(
      (m) =>
        document.querySelector(`[data-message="${m}"]`)?.getAttribute('data-delivery') === 'sent',
      id,
    );
    assert.match(await bubble.textContent(), /Inviato/);
    assert.equal(await bubble.count(), 1, 'shown once, not twice');
    // The row moved to the top with the reply as its preview.
    await page.waitForFunction(
      () => document.querySelector('[data-testid=conversation-row]')?.dataset.conversation === '3',
    );
    assert.match(
      await page.getByTestId('conversation-row').first().textContent(),
      /Tu: Ciao! Il pacco/,
    );

    // The outbox gives up: failed with the reason and a Retry button that asks again.
    await mock(
      page,
      (m) =>
        window.__sportelloMock.setDelivery(m, 'failed', { code: 'network', message: 'timeout' }),
      id,
    );
    await bubble.getByText('Non inviato: Non riesco a raggiungere il server').waitFor();
    await bubble.getByRole('button', { name: 'Riprova' }).click();
    await page.waitForFunction(
      (m) =>
        window.__sportelloMock.calls.some(
          (c) => c.cmd === 'retry_message' && c.args.messageId === m,
        ),
      id,
    );
    await bubble.getByText('Invio…').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the "sending" bubble shows before the backend answers (optimistic)', async () => {
    const { page, context } = await openApp(browser, server.url, {
      accounts: 'demo',
      delays: { send_reply: 1500 },
    });
    await page.locator('[data-conversation="3"]').click();
    await page.getByTestId('composer').fill('Risposta lenta');
    const started = Date.now();
    await page.getByTestId('composer').press('Control+Enter');
    const bubble = page.locator('[data-testid=thread] article.outbound', {
      hasText: 'Risposta lenta',
    });
    await bubble.getByText('Invio…').waitFor({ timeout: 1000 });
    assert.ok(Date.now() - started < 1200, 'shown before send_reply answered');
    assert.ok(Number(await bubble.getAttribute('data-message')) < 0, 'still the local copy');
    await page.waitForFunction(() =>
      [...document.querySelectorAll('[data-testid=thread] article.outbound')].some(
        (a) => a.textContent.includes('Risposta lenta') && Number(a.dataset.message) > 0,
      ),
    );
    assert.equal(await bubble.count(), 1);
    await context.close();
  });

  test('a reply the backend refuses to queue shows failed with Retry; Retry sends it', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.locator('[data-conversation="3"]').click();
    await mock(page, () =>
      window.__sportelloMock.failNext('send_reply', { code: 'storage', message: 'disk full' }),
    );
    await page.getByTestId('composer').fill('Prova di invio');
    await page.getByTestId('send').click();
    const bubble = page.locator('[data-testid=thread] article.outbound', {
      hasText: 'Prova di invio',
    });
    await bubble.getByText('Non inviato: Non riesco a leggere o scrivere i dati').waitFor();
    await bubble.getByRole('button', { name: 'Riprova' }).click();
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid=thread] article.outbound:last-of-type') !== null &&
        [...document.querySelectorAll('[data-testid=thread] article.outbound')].some(
          (a) =>
            a.textContent.includes('Prova di invio') &&
            a.dataset.delivery === 'queued' &&
            Number(a.dataset.message) > 0,
        ),
    );
    assert.equal(await bubble.count(), 1);
    assert.equal((await calls(page, 'send_reply')).length, 2);
    await context.close();
  });

  test('drafts survive switching conversations (and a reload)', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    const composer = page.getByTestId('composer');
    await page.locator('[data-conversation="3"]').click();
    await composer.fill('Bozza per il tre');
    await page.locator('[data-conversation="4"]').click();
    await page.getByTestId('thread').getByRole('heading').first().waitFor();
    assert.equal(await composer.inputValue(), '');
    await composer.fill('Bozza per il quattro');
    await page.locator('[data-conversation="3"]').click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid=composer]')?.value === 'Bozza per il tre',
    );
    await page.locator('[data-conversation="4"]').click();
    await page.waitForFunction(
      () => document.querySelector('[data-testid=composer]')?.value === 'Bozza per il quattro',
    );
    await page.reload();
    // Conversation 4 was open: it opens again by itself, with its draft.
    await page.locator('[data-testid=thread][data-conversation="4"]').waitFor();
    await page.waitForFunction(
      () => document.querySelector('[data-testid=composer]')?.value === 'Bozza per il quattro',
    );
    await context.close();
  });
});

describe('chat channels', () => {
  const open = async (page, id) => {
    await page.getByTestId('conversation-row').first().waitFor();
    await mock(page, (c) => window.__sportelloMock.emitOpen(c), id);
    await page.locator(`[data-testid=thread][data-conversation="${id}"]`).waitFor();
  };

  test('WhatsApp set-up: fields, webhook help, connection test, human errors, saved', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'none' });
    await page.getByTestId('welcome-chat').click();
    const dialog = page.getByRole('dialog', { name: 'Collega un canale' });
    await dialog.waitFor();
    assert.equal(await page.getByTestId('account-channel-whatsapp').isChecked(), true);
    const help = page.getByTestId('webhook-help');
    await help.getByText('cloudflared tunnel --url http://127.0.0.1:8787').waitFor();
    assert.match(await help.textContent(), /\/webhooks\/whatsapp/);
    assert.match(await help.textContent(), /docs\/channels\.md/);

    await page.getByTestId('account-test').click();
    await dialog.getByText('Compila i campi obbligatori.').waitFor();
    assert.equal((await calls(page, 'test_whatsapp_account')).length, 0);

    await page.getByTestId('account-name').fill('WhatsApp negozio');
    await page.getByTestId('account-phone-number-id').fill('1065');
    await page.getByTestId('account-waba-id').fill('1022');
    await page.getByTestId('account-access-token').fill('EAAG-token');
    await page.getByTestId('account-app-secret').fill('segreto');
    await dialog.getByRole('button', { name: 'Generane uno' }).click();
    const verify = await page.getByTestId('account-verify-token').inputValue();
    assert.match(verify, /^[0-9a-f]{36}$/);

    await mock(page, () =>
      window.__sportelloMock.failNext('test_whatsapp_account', {
        code: 'sign_in_again',
        message: 'Error validating access token: Session has expired',
      }),
    );
    await page.getByTestId('account-test').click();
    const alert = dialog.locator('[data-result=error]');
    await alert.waitFor();
    assert.match(await alert.textContent(), /L’accesso è scaduto o è stato revocato/);
    assert.match(await alert.textContent(), /Session has expired/);

    await page.getByTestId('account-test').click();
    await dialog.getByText('Connessione riuscita: +39 02 1234567.').waitFor();
    await page.getByTestId('account-save').click();
    await dialog.waitFor({ state: 'detached' });
    const [added] = await calls(page, 'add_whatsapp_account');
    assert.deepEqual(added.args.input, {
      name: 'WhatsApp negozio',
      phone_number_id: '1065',
      waba_id: '1022',
      access_token: 'EAAG-token',
      app_secret: 'segreto',
      verify_token: verify,
      api_base: null,
    });
    const account = page.locator('[data-account]', { hasText: 'WhatsApp negozio' });
    await account.waitFor();
    await account.locator('[data-channel=whatsapp]').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('Telegram and Messenger + Instagram set-up send the right input', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByRole('button', { name: 'Aggiungi account' }).first().click();
    const dialog = page.getByRole('dialog');
    await page.locator('label', { has: page.getByTestId('account-channel-telegram') }).click();
    await dialog.getByText('@BotFather').waitFor();
    await page.getByTestId('account-bot-token').fill('123:ABC');
    await page.getByTestId('account-test').click();
    await dialog.getByText('Connessione riuscita: @bottega_bot.').waitFor();
    await page.getByTestId('account-save').click();
    await dialog.waitFor({ state: 'detached' });
    const [tg] = await calls(page, 'add_telegram_account');
    assert.deepEqual(tg.args.input, { name: 'Telegram', bot_token: '123:ABC', api_base: null });

    await page.getByRole('button', { name: 'Aggiungi account' }).first().click();
    await page.locator('label', { has: page.getByTestId('account-channel-meta') }).click();
    await page.getByTestId('account-page-id').fill('1234');
    await page.getByTestId('account-instagram-id').fill('1784');
    await page.getByTestId('account-access-token').fill('PAGE');
    await page.getByTestId('account-human-agent').check();
    // The webhook is optional for Messenger: its help shows once an app secret is given.
    assert.equal(await page.getByTestId('webhook-help').count(), 0);
    await page.getByTestId('account-app-secret').fill('s');
    await page.getByTestId('webhook-help').getByText('/webhooks/meta').waitFor();
    await page.getByTestId('account-save').click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    const [meta] = await calls(page, 'add_meta_accounts');
    assert.deepEqual(meta.args.input, {
      name: 'Messenger e Instagram',
      page_id: '1234',
      instagram_id: '1784',
      access_token: 'PAGE',
      app_secret: 's',
      human_agent: true,
      api_base: null,
    });
    await page
      .locator('[data-account]', { hasText: 'Messenger e Instagram (Instagram)' })
      .waitFor();
    await context.close();
  });

  test('WhatsApp thread: window time left, ticks, reactions, location, contact, media states, files', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await open(page, 10);
    const thread = page.getByTestId('thread');
    const rule = page.getByTestId('reply-rule');
    assert.equal(await rule.getAttribute('data-rule'), 'open');
    assert.match(await rule.textContent(), /Puoi rispondere liberamente ancora per 5 ore/);
    assert.match(await thread.textContent(), /Risponde con WhatsApp da WhatsApp Bottega/);

    // Delivery: one tick sent, two delivered, two coloured + "Letto" read — never colour alone.
    for (const [state, label] of [
      ['read', 'Letto'],
      ['delivered', 'Consegnato'],
      ['sent', 'Inviato'],
    ]) {
      const bubble = thread.locator(`article[data-delivery=${state}]`);
      assert.match(await bubble.textContent(), new RegExp(label));
      await bubble.locator('svg').first().waitFor();
    }
    await thread.locator('[data-detail=reaction]', { hasText: 'Ha reagito con 👍' }).waitFor();
    const place = thread.locator('[data-detail=location]');
    assert.match(await place.textContent(), /Posizione condivisa.*Negozio · Via Roma 1, Milano/s);
    await place.getByRole('button', { name: 'Apri la mappa' }).click();
    const [link] = await calls(page, 'open_link');
    assert.equal(link.args.url, 'https://maps.google.com/?q=45.46,9.19');
    assert.match(
      await thread.locator('[data-detail=contact]').textContent(),
      /Contatto condiviso.*Anna Rossi.*\+39 333 1234567/s,
    );
    assert.match(await thread.locator('[data-state=downloading]').textContent(), /In download…/);
    assert.match(await thread.locator('[data-state=missing]').textContent(), /Non più disponibile/);

    // A file goes with the reply (paths come from the system picker).
    await page.getByTestId('attach').click();
    await page.getByRole('list', { name: 'File da inviare' }).getByText('ricevuta.pdf').waitFor();
    await page.getByTestId('composer').fill('Ecco la ricevuta');
    await page.getByTestId('send').click();
    await thread.locator('article.outbound', { hasText: 'Ecco la ricevuta' }).waitFor();
    const sent = (await calls(page, 'send_reply')).at(-1);
    assert.deepEqual(sent.args.files, ['/home/utente/Documenti/ricevuta.pdf']);
    assert.equal(sent.args.template, null);
    assert.equal(await page.getByRole('list', { name: 'File da inviare' }).count(), 0);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('outside the 24 hours: free text off, an approved template with its values is sent', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await open(page, 18);
    const rule = page.getByTestId('reply-rule');
    assert.match(await rule.textContent(), /puoi scrivere solo con un modello approvato/);
    assert.equal(await page.getByTestId('composer').count(), 0);
    assert.equal(await page.getByTestId('send').isDisabled(), true);
    const picker = page.getByTestId('template-picker');
    const select = picker.getByTestId('template-select');
    await select.waitFor();
    // Only approved templates are offered.
    assert.deepEqual(await select.locator('option:not([disabled])').allTextContents(), [
      'ordine_spedito · it',
      'ci_sei_ancora · it',
    ]);
    await select.selectOption({ label: 'ordine_spedito · it' });
    const params = picker.getByTestId('template-param');
    assert.equal(await params.count(), 2);
    await params.nth(0).fill('Giulia');
    assert.equal(await page.getByTestId('send').isDisabled(), true, 'every value is needed');
    await params.nth(1).fill('A123');
    await picker.getByText('Ciao Giulia, il tuo ordine A123 è partito!').waitFor();
    await page.getByTestId('send').click();
    const thread = page.getByTestId('thread');
    await thread.locator('article.outbound', { hasText: 'Ciao Giulia' }).waitFor();
    const sent = (await calls(page, 'send_reply')).at(-1);
    assert.deepEqual(sent.args.template, {
      kind: 'whatsapp',
      name: 'ordine_spedito',
      language: 'it',
      params: ['Giulia', 'A123'],
    });

    // A conversation whose window runs out while it is open turns to templates too.
    await open(page, 10);
    await page.getByTestId('composer').waitFor();
    await mock(page, () => window.__sportelloMock.setWindow(10, { rule: 'templates_only' }));
    await page.getByTestId('template-picker').waitFor();
    assert.equal(await page.getByTestId('composer').count(), 0);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('Messenger shows the HUMAN_AGENT rule; Instagram story replies say what they answer', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await open(page, 6);
    await page.getByTestId('human-agent').waitFor();
    assert.match(
      await page.getByTestId('reply-rule').textContent(),
      /rispondi come operatore \(tag HUMAN_AGENT\) ancora per 3 giorni/,
    );
    await mock(page, () => window.__sportelloMock.setWindow(6, { rule: 'closed' }));
    await page.locator('[data-rule=closed]').waitFor();
    assert.equal(await page.getByTestId('composer').isDisabled(), true);

    await open(page, 4);
    const story = page.getByTestId('thread').locator('[data-detail=story]');
    assert.match(await story.textContent(), /Ha risposto alla tua storia/);
    const bubble = page
      .getByTestId('thread')
      .locator('article', { has: page.locator('[data-detail=story]') });
    assert.match(await bubble.textContent(), /Che bella! Ce l’hai in blu\?/);
    assert.doesNotMatch(await bubble.textContent(), /replied to your story/);
    await story.getByRole('button', { name: 'Apri la storia' }).click();
    const [link] = await calls(page, 'open_link');
    assert.equal(link.args.url, 'https://instagram.com/stories/bottega/1');
    await context.close();
  });
});

describe('search', () => {
  test('hits are highlighted with <mark>, and markup in a snippet stays text', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('conversation-row').first().waitFor();
    await mock(page, () =>
      window.__sportelloMock.receive(
        5,
        'Ecco il codice <script>window.pwned=1</script><img src=x onerror="window.pwned=2"> per il reso',
      ),
    );
    await page.keyboard.press('Control+k');
    const box = page.getByRole('searchbox', { name: 'Cerca nei messaggi' });
    assert.equal(await box.evaluate((el) => el === document.activeElement), true);
    await box.fill('codice');
    const results = page.getByRole('list', { name: 'Risultati della ricerca' });
    await results.waitFor();
    await page.getByText('1 risultato').waitFor();
    const hit = results.getByRole('button').first();
    assert.equal(await hit.locator('mark').textContent(), 'codice');
    assert.match(await hit.textContent(), /<script>window\.pwned=1<\/script>/);
    assert.equal(await results.locator('script, img').count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);

    await box.fill('borsa');
    await page.waitForFunction(
      () => document.querySelectorAll('[aria-label="Risultati della ricerca"] mark').length > 1,
    );
    const marks = await results.locator('mark').allTextContents();
    assert.ok(
      marks.every((m) => m.toLowerCase() === 'borsa'),
      marks.join(),
    );
    // ↓ walks into the results, Enter on the box opens the best hit.
    await box.press('ArrowDown');
    assert.equal(
      await results
        .getByRole('button')
        .first()
        .evaluate((el) => el === document.activeElement),
      true,
    );
    await page.keyboard.press('ArrowDown');
    assert.equal(
      await results
        .getByRole('button')
        .nth(1)
        .evaluate((el) => el === document.activeElement),
      true,
    );
    await box.press('Enter');
    await page.getByTestId('thread').waitFor();
    const best = await results.getByRole('button').first().getAttribute('data-conversation');
    assert.equal(await page.getByTestId('thread').getAttribute('data-conversation'), best);

    await box.fill('nessunacorrispondenza');
    await page.getByText('Nessun messaggio contiene “nessunacorrispondenza”.').waitFor();
    await box.press('Escape');
    await page.getByTestId('conversation-row').first().waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('settings and looks', () => {
  test('sidebar accounts: state, last error, refresh; removing one asks first', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    const nav = page.getByRole('navigation');
    const broken = nav.locator('[data-account="3"]');
    assert.match(await broken.textContent(), /Serve il tuo intervento/);
    assert.match(await broken.textContent(), /Ultimo errore: Il server ha rifiutato nome utente/);
    assert.match(await nav.locator('[data-account="4"]').textContent(), /Offline/);
    assert.match(await nav.locator('[data-account="1"]').textContent(), /Aggiornato 2 minuti fa/);

    await nav.getByRole('button', { name: 'Aggiorna Bottega' }).click();
    await nav.locator('[data-account="1"][data-state="syncing"]').waitFor();
    await nav.locator('[data-account="1"][data-state="idle"]').waitFor();
    await nav.locator('[data-account="1"]').getByText('Aggiornato adesso').waitFor();
    assert.deepEqual((await calls(page, 'refresh')).at(-1).args, { accountId: 1 });

    // A conversation of the account stays open until the account goes.
    await page.locator('[data-conversation="3"]').click();
    await page.getByTestId('thread').waitFor();
    await nav.getByRole('button', { name: 'Impostazioni' }).click();
    const dialog = page.getByRole('dialog', { name: 'Impostazioni' });
    await dialog.getByRole('button', { name: 'Rimuovi Bottega' }).click();
    await dialog.getByText('Rimuovere Bottega?').waitFor();
    assert.equal((await calls(page, 'remove_account')).length, 0, 'asks before removing');
    await dialog.getByRole('button', { name: 'Sì, rimuovi' }).click();
    await page.getByText('Account rimosso.').waitFor();
    await nav.locator('[data-account="1"]').waitFor({ state: 'detached' });
    await page.getByTestId('thread').waitFor({ state: 'detached' });
    // Its conversations left the list (only WhatsApp Bottega's remain).
    await page.waitForFunction(() =>
      /In arrivo\s*8\b/.test(document.querySelector('nav')?.textContent ?? ''),
    );
    const channels = await page
      .locator('[data-testid=conversation-row] [data-channel]')
      .evaluateAll((marks) => [...new Set(marks.map((m) => m.getAttribute('data-channel')))]);
    assert.deepEqual(channels, ['whatsapp']);
    await context.close();
  });

  test('a first sync tells how many messages arrived, with the right plural', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('conversation-row').first().waitFor();
    await mock(page, () =>
      window.__sportelloMock.emitChange({
        summaries: [
          { account_id: 1, account_name: 'Bottega', new_messages: 1 },
          { account_id: 2, account_name: 'Ordini', new_messages: 12_345 },
        ],
      }),
    );
    await page.getByText('Bottega: 1 nuovo messaggio').waitFor();
    await page.getByText('Ordini: 12.345 nuovi messaggi').waitFor();
    await context.close();
  });

  test('language switch it ↔ en, saved in settings; auto follows the OS locale', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    const nav = page.getByRole('navigation');
    await nav.getByText('In arrivo').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'it');
    await nav.getByRole('button', { name: 'Impostazioni' }).click();
    const dialog = page.getByRole('dialog', { name: 'Impostazioni' });
    await dialog.getByRole('radio', { name: 'English' }).check();
    await page.getByRole('dialog', { name: 'Settings' }).waitFor();
    await nav.getByText('Inbox').waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    assert.equal((await calls(page, 'update_settings')).at(-1).args.settings.locale, 'en');
    // Plurals and numbers follow the language too.
    assert.match(
      await page.getByTestId('conversation-row').first().textContent(),
      /2 unread messages/,
    );
    await page.getByRole('dialog').getByRole('radio', { name: 'Italiano' }).check();
    await nav.getByText('In arrivo').waitFor();
    await page
      .getByRole('dialog')
      .getByRole('checkbox', { name: 'Avvisami quando arriva un messaggio' })
      .uncheck();
    assert.equal((await calls(page, 'update_settings')).at(-1).args.settings.notifications, false);
    await page.keyboard.press('Escape');
    await context.close();

    const english = await openApp(browser, server.url, { accounts: 'demo', osLocale: 'en-GB' });
    await english.page.getByRole('navigation').getByText('Inbox').waitFor();
    await english.context.close();
  });

  test('light and dark tokens apply; 1024 px wide works; screenshots', async () => {
    const light = await openApp(browser, server.url, { accounts: 'demo' });
    await light.page.getByTestId('conversation-row').first().click();
    await light.page.getByTestId('thread').waitFor();
    const bg = (p) => p.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(await bg(light.page), 'rgb(255, 255, 255)');
    await light.page.screenshot({ path: join(artifacts, 'inbox-light.png') });
    await light.page.emulateMedia({ colorScheme: 'dark' });
    assert.equal(await bg(light.page), 'rgb(22, 24, 28)');
    assert.equal(
      await light.page.evaluate(() => getComputedStyle(document.body).color),
      'rgb(230, 232, 235)',
    );
    await light.page.screenshot({ path: join(artifacts, 'inbox-dark.png') });
    await light.context.close();

    const narrow = await openApp(
      browser,
      server.url,
      { accounts: 'demo' },
      { viewport: { width: 1024, height: 700 } },
    );
    await narrow.page.getByTestId('conversation-row').first().click();
    await narrow.page.getByTestId('composer').waitFor();
    const overflow = await narrow.page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(overflow <= 1024, `page is ${overflow}px wide`);
    const composerBox = await narrow.page.getByTestId('composer').boundingBox();
    assert.ok(composerBox.y + composerBox.height <= 700, 'composer visible');
    assert.ok(composerBox.width > 300, `composer is ${composerBox.width}px wide`);
    await narrow.page.screenshot({ path: join(artifacts, 'inbox-1024.png') });
    await narrow.context.close();

    const first = await openApp(browser, server.url, { accounts: 'none' });
    await first.page.getByTestId('welcome').waitFor();
    await first.page.screenshot({ path: join(artifacts, 'welcome.png') });
    await first.context.close();
  });

  test('200% zoom (640 px): one pane at a time, back button, sidebar as a drawer', async () => {
    const { page, context } = await openApp(
      browser,
      server.url,
      { accounts: 'demo' },
      { viewport: { width: 640, height: 720 } },
    );
    const nav = page.getByRole('navigation');
    await page.getByTestId('conversation-row').first().waitFor();
    assert.equal(await nav.isVisible(), false);
    await page.getByRole('button', { name: 'Apri il menu' }).click();
    await nav.getByText('Vecchia casella').waitFor();
    await page.keyboard.press('Escape');
    await nav.waitFor({ state: 'hidden' });

    await page.getByTestId('conversation-row').nth(2).click();
    await page.getByTestId('composer').waitFor();
    assert.equal(await page.getByTestId('conversation-row').first().isVisible(), false);
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 640);
    await page.screenshot({ path: join(artifacts, 'zoom-200.png') });
    await page.getByRole('button', { name: 'Torna all’elenco' }).click();
    await page.getByTestId('conversation-row').first().waitFor();
    assert.equal(await page.getByTestId('thread').count(), 0);
    await context.close();
  });

  test('icon buttons have labels, and Tab shows a focus ring', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('conversation-row').first().click();
    await page.getByTestId('thread').waitFor();
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('button')]
        .filter((b) => !(b.getAttribute('aria-label') || b.textContent.trim()))
        .map((b) => b.outerHTML.slice(0, 80)),
    );
    assert.deepEqual(unlabelled, []);
    await page.getByTestId('composer').focus();
    await page.keyboard.press('Shift+Tab');
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement).outlineStyle,
    );
    assert.notEqual(outline, 'none');
    await context.close();
  });
});

describe('desktop citizen', () => {
  test('settings: notifications per channel, sound, preview, quiet hours over midnight, tray, login, updates, webhook port', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByRole('navigation').getByRole('button', { name: 'Impostazioni' }).click();
    const dialog = page.getByRole('dialog', { name: 'Impostazioni' });
    await dialog.waitFor();
    const lastDesktop = async () => (await calls(page, 'update_desktop_settings')).at(-1).args;

    await dialog.getByRole('checkbox', { name: 'Suono per i nuovi messaggi' }).uncheck();
    assert.equal((await lastDesktop()).settings.sound, false);
    await dialog
      .getByRole('checkbox', { name: 'Mostra chi scrive e l’anteprima del messaggio' })
      .uncheck();
    assert.equal((await lastDesktop()).settings.show_preview, false);

    // Per channel: unticking mutes it.
    const channels = dialog.getByRole('group', { name: 'Avvisami per' });
    await channels.getByRole('checkbox', { name: 'WhatsApp' }).uncheck();
    await channels.getByRole('checkbox', { name: 'Telegram' }).uncheck();
    assert.deepEqual((await lastDesktop()).settings.muted_channels, ['whatsapp', 'telegram']);
    await channels.getByRole('checkbox', { name: 'WhatsApp' }).check();
    assert.deepEqual((await lastDesktop()).settings.muted_channels, ['telegram']);

    // Quiet hours: on with 22:00–07:00, then changed; wrapping midnight is said.
    await dialog.getByRole('checkbox', { name: 'Niente avvisi in queste ore' }).check();
    assert.deepEqual((await lastDesktop()).settings.quiet_hours, { from: 1320, to: 420 });
    await dialog.getByText('del giorno dopo').waitFor();
    await dialog.getByLabel('Dalle', { exact: true }).fill('23:30');
    await page.waitForFunction(
      () =>
        window.__sportelloMock.calls.filter((c) => c.cmd === 'update_desktop_settings').at(-1).args
          .settings.quiet_hours.from ===
        23 * 60 + 30,
    );
    await dialog.getByLabel('Alle', { exact: true }).fill('06:15');
    await page.waitForFunction(
      () => window.__sportelloMock.desktop().quiet_hours?.to === 6 * 60 + 15,
    );
    await dialog.getByRole('checkbox', { name: 'Niente avvisi in queste ore' }).uncheck();
    assert.equal((await lastDesktop()).settings.quiet_hours, null);

    // Notifications off: the details are disabled (and kept).
    await dialog.getByRole('checkbox', { name: 'Avvisami quando arriva un messaggio' }).uncheck();
    assert.equal((await calls(page, 'update_settings')).at(-1).args.settings.notifications, false);
    assert.ok(
      await dialog.getByRole('checkbox', { name: 'Suono per i nuovi messaggi' }).isDisabled(),
    );

    // Sportello on the computer.
    await dialog
      .getByRole('checkbox', { name: 'Chiudendo la finestra, resta attivo nella barra di sistema' })
      .uncheck();
    await dialog
      .getByRole('checkbox', { name: 'Avvia Sportello quando accendi il computer' })
      .check();
    await dialog.getByRole('checkbox', { name: 'Cerca aggiornamenti all’avvio' }).uncheck();
    const saved = await mock(page, () => window.__sportelloMock.desktop());
    assert.deepEqual(saved, {
      close_to_tray: false,
      start_at_login: true,
      check_updates: false,
      sound: false,
      show_preview: false,
      muted_channels: ['telegram'],
      quiet_hours: null,
    });

    // Webhook port: checked, saved in Settings, takes effect at next start.
    const port = dialog.getByLabel('Porta per i webhook (WhatsApp, Messenger, Instagram)');
    await dialog.getByText('Vale dal prossimo avvio di Sportello.').waitFor();
    await port.fill('80');
    await port.press('Tab');
    await dialog.getByText('Scegli un numero tra 1024 e 65535.').waitFor();
    assert.equal((await mock(page, () => window.__sportelloMock.settings())).webhook_port, 8787);
    await port.fill('9090');
    await port.press('Tab');
    await page.waitForFunction(() => window.__sportelloMock.settings().webhook_port === 9090);
    await dialog.getByText('Vale dal prossimo avvio di Sportello.').waitFor();

    // English has every string.
    await dialog.getByRole('radio', { name: 'English' }).check();
    const english = page.getByRole('dialog', { name: 'Settings' });
    await english.getByText('Notify me for').waitFor();
    await english.getByText('Closing the window keeps it running in the system tray').waitFor();
    await page.screenshot({ path: join(artifacts, 'settings-desktop.png') });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('an update is announced quietly; installing calls install_update; a failure is explained', async () => {
    const { page, context } = await openApp(browser, server.url, {
      accounts: 'demo',
      updateDelay: 300,
    });
    await page.getByTestId('conversation-row').first().waitFor();
    assert.equal(await page.getByTestId('update-banner').count(), 0);
    await mock(page, () => window.__sportelloMock.emitUpdate('0.2.0'));
    const banner = page.getByTestId('update-banner');
    await banner.getByText('È disponibile Sportello 0.2.0').waitFor();

    await mock(page, () =>
      window.__sportelloMock.failNext('install_update', {
        code: 'rejected',
        message: 'the update was not installed: signature mismatch',
      }),
    );
    await banner.getByRole('button', { name: 'Aggiorna e riavvia' }).click();
    const alert = banner.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /L’aggiornamento non è riuscito/);
    assert.match(await alert.textContent(), /signature mismatch/);

    // Again: "updating" while it works.
    await banner.getByRole('button', { name: 'Aggiorna e riavvia' }).click();
    await banner.getByRole('button', { name: 'Sto aggiornando…' }).waitFor();
    await banner.getByRole('button', { name: 'Aggiorna e riavvia' }).waitFor();
    assert.equal((await calls(page, 'install_update')).length, 2);
    // "Later" hides it.
    await banner.getByRole('button', { name: 'Più tardi' }).click();
    await banner.waitFor({ state: 'detached' });
    await context.close();
  });

  test('the app log is readable from the settings, as plain text', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByRole('navigation').getByRole('button', { name: 'Impostazioni' }).click();
    const dialog = page.getByRole('dialog', { name: 'Impostazioni' });
    await dialog.getByTestId('show-logs').click();
    const logs = dialog.getByTestId('logs');
    await logs.waitFor();
    const text = await logs.textContent();
    assert.match(text, /INFO sportello: started/);
    assert.match(text, /<b>not bold<\/b>/, 'markup in the log is shown as text');
    assert.equal(await logs.locator('b').count(), 0);
    await context.close();
  });

  test('set_viewing follows the open conversation, null when none is open', async () => {
    const { page, context } = await openApp(
      browser,
      server.url,
      { accounts: 'demo' },
      {
        viewport: { width: 800, height: 700 },
      },
    );
    const viewing = () => mock(page, () => window.__sportelloMock.viewing());
    await page.locator('[data-conversation="3"]').click();
    await page.getByTestId('thread').waitFor();
    assert.equal(await viewing(), 3);
    // Back to the list (narrow window): nothing is on screen.
    await page.getByRole('button', { name: 'Torna all’elenco' }).click();
    await page.waitForFunction(() => window.__sportelloMock.viewing() === null);
    await page.locator('[data-conversation="4"]').click();
    await page.waitForFunction(() => window.__sportelloMock.viewing() === 4);
    // A notification click opens (and views) another.
    await mock(page, () => window.__sportelloMock.emitOpen(7));
    await page.waitForFunction(() => window.__sportelloMock.viewing() === 7);
    const sent = (await calls(page, 'set_viewing')).map((c) => c.args.conversationId);
    assert.deepEqual(sent, [3, null, 4, 7]);
    await context.close();
  });

  test('the open conversation and drafts survive a restart; a vanished one is forgotten', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.locator('[data-conversation="9"]').click();
    await page.getByTestId('composer').fill('Bozza prima del riavvio');
    await page.reload();
    const thread = page.locator('[data-testid=thread][data-conversation="9"]');
    await thread.waitFor();
    await page.locator('[data-conversation="9"][aria-current=true]').waitFor();
    assert.equal(await page.getByTestId('composer').inputValue(), 'Bozza prima del riavvio');
    assert.deepEqual(
      (await calls(page, 'set_viewing')).map((c) => c.args.conversationId),
      [9],
    );

    // The remembered conversation no longer exists: start with none, quietly.
    await page.evaluate(() => localStorage.setItem('sportello.selected', '99999'));
    await page.reload();
    await page.getByTestId('conversation-row').first().waitFor();
    await page.getByText('Scegli una conversazione dall’elenco.').waitFor();
    await page.waitForFunction(() => localStorage.getItem('sportello.selected') === null);
    assert.equal(await page.locator('[role=alert]').count(), 0);
    await context.close();
  });

  test('a click right after start stays open through the restore and start-up change events', async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'it-IT',
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (error) => errors.push(error));
    // Last session had conversation 2 open; its thread answers slowly this time.
    await page.addInitScript(() => {
      if (!sessionStorage.getItem('seeded')) {
        localStorage.setItem('sportello.selected', '2');
        sessionStorage.setItem('seeded', '1');
      }
      window.__SPORTELLO_MOCK_CONFIG__ = {
        accounts: 'demo',
        delays: { get_conversation: 400, list_accounts: 150 },
      };
    });
    await page.addInitScript({ path: join(here, '.mock', 'mock.js') });
    await page.goto(server.url);
    await page.getByTestId('conversation-row').first().waitFor();
    // Start-up sync: account status and conversation changes keep arriving.
    await mock(page, () => {
      let n = 0;
      const timer = setInterval(() => {
        window.__sportelloMock.emitChange({ accounts: [1, 2], conversations: [1, 3, 6] });
        if (++n >= 20) clearInterval(timer);
      }, 40);
    });
    // The user picks another conversation before the restored one has even loaded.
    await page.locator('[data-conversation="6"]').click();
    const thread = page.locator('[data-testid=thread][data-conversation="6"]');
    await thread.waitFor();
    // A new message moves rows around: the selection stays on the same conversation.
    await mock(page, () => window.__sportelloMock.receive(40, 'Ci sono novità?'));
    await page.waitForFunction(
      () => document.querySelector('[data-testid=conversation-row]')?.dataset.conversation === '40',
    );
    await page.waitForTimeout(1200);
    assert.equal(await thread.count(), 1, 'the thread is still open');
    await page.locator('[data-conversation="6"][aria-current=true]').waitFor();
    assert.equal(await page.getByText('Scegli una conversazione dall’elenco.').count(), 0);
    assert.equal(await page.evaluate(() => localStorage.getItem('sportello.selected')), '6');
    assert.deepEqual(errors, []);
    await context.close();
  });
});
