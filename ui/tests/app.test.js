// UI tests: the built app in headless Chromium on the fake backend (tests/mock). Each test
// opens its own browser context, so drafts and settings in localStorage never leak between
// tests. Text assertions use the Italian catalogue: the OS locale of the mock is it-IT.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { artifacts, calls, mock, openApp, serveAndLaunch } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));

let server;
let browser;
serveAndLaunch((s, b) => ([server, browser] = [s, b]));

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
    // The webhook has its own verify token (not a WhatsApp account's).
    await page.getByTestId('account-verify-token').fill('meta-verify');
    await page.getByTestId('account-save').click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    const [meta] = await calls(page, 'add_meta_accounts');
    assert.deepEqual(meta.args.input, {
      name: 'Messenger e Instagram',
      page_id: '1234',
      instagram_id: '1784',
      access_token: 'PAGE',
      app_secret: 's',
      verify_token: 'meta-verify',
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

  test('Telegram: a message the customer edited says so', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await open(page, 7);
    const edited = page.getByTestId('thread').getByTestId('edited');
    await edited.waitFor();
    assert.equal((await edited.textContent()).trim(), 'modificato');
    const bubble = page
      .getByTestId('thread')
      .locator('article', { has: page.getByTestId('edited') });
    assert.match(await bubble.textContent(), /Avete la taglia L\?/);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('Twilio: attaching is off and the button says why', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await open(page, 10);
    const attach = page.getByTestId('attach');
    assert.equal(await attach.getAttribute('aria-disabled'), null);
    await mock(page, () => window.__sportelloMock.setAccountSettings(4, { provider: 'twilio' }));
    await page.locator('[data-testid=attach][aria-disabled=true]').waitFor();
    assert.match(await attach.getAttribute('title'), /Twilio invia solo file pubblicati/);
    const described = await attach.getAttribute('aria-describedby');
    assert.match(await page.locator(`#${described}`).textContent(), /Twilio invia solo file/);
    // Clicking it (forced: it is marked disabled) opens no file picker.
    await attach.click({ force: true });
    assert.deepEqual(await calls(page, 'plugin:dialog|open'), []);
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

describe('customer care: tags and contacts', () => {
  // The customer panel needs a wide window (below 1440 px the thread keeps all the width).
  const wide = { viewport: { width: 1500, height: 900 } };

  test('tag a conversation: create with a colour, the chip shows on the row and in the header; type to filter; untag', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('conversation-row').first().click();
    const thread = page.getByTestId('thread');
    await thread.waitFor();
    assert.equal(await thread.getByTestId('thread-tags').count(), 0);

    await thread.locator('[data-action=tag]').click();
    const picker = page.getByRole('dialog', { name: 'Etichette' });
    await picker.waitFor();
    await picker.getByText('Ancora nessuna etichetta').waitFor();
    // The filter has the focus: typing a new name offers to create it, with a colour.
    await page.keyboard.type('VIP');
    await picker.getByTestId('tag-create').waitFor();
    await picker.getByRole('radio', { name: 'Viola' }).check();
    await picker.getByTestId('tag-filter').press('Enter');
    await picker.locator('[data-testid=tag-option][data-tag="1"]:checked').waitFor();
    const [created] = await calls(page, 'create_tag');
    assert.deepEqual(created.args, { name: 'VIP', color: '#7e3fd1' });
    const [tagged] = await calls(page, 'tag_conversation');
    assert.deepEqual(tagged.args, { conversationId: 1, tagId: 1, on: true });

    // A second tag, created with the button (and put on the conversation too).
    await picker.getByTestId('tag-filter').fill('Reso');
    await picker.getByTestId('tag-create').click();
    await picker.locator('[data-testid=tag-option][data-tag="2"]:checked').waitFor();
    // Type to filter: only the matching tag is listed.
    await picker.getByTestId('tag-filter').fill('vi');
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=tag-option]').length === 1,
    );
    await page.keyboard.press('Escape');
    await picker.waitFor({ state: 'detached' });

    // The chip, with the tag's colour and name, in the header and on the row.
    const chip = thread.getByTestId('thread-tags').locator('[data-tag="1"]');
    assert.equal(await chip.textContent().then((s) => s.trim()), 'VIP');
    assert.equal(await chip.evaluate((el) => el.style.getPropertyValue('--tag')), '#7e3fd1');
    const row = page.locator('[data-testid=conversation-row][data-conversation="1"]');
    await row.locator('[data-testid=row-tags] [data-tag="1"]').waitFor();
    await row.locator('[data-testid=row-tags] [data-tag="2"]').waitFor();
    // Screen readers hear the names, in the tag list's order (by name).
    assert.match(await row.textContent(), /Etichette: Reso, VIP/);

    // The sidebar lists the tag with its count of open conversations; it filters the list.
    const tagView = page.locator('[data-tag-filter="1"]');
    await tagView.locator('[data-testid=view-count]').waitFor();
    assert.match(await tagView.textContent(), /VIP\s*1\b/);
    await tagView.click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=conversation-row]').length === 1,
    );
    assert.equal((await calls(page, 'list_conversations_filtered')).at(-1).args.filter.tag_id, 1);

    // Enter on the exact name takes the tag off again.
    await thread.locator('[data-action=tag]').click();
    await picker.getByTestId('tag-filter').fill('vip');
    await picker.getByTestId('tag-filter').press('Enter');
    await picker.locator('[data-testid=tag-option][data-tag="1"]:not(:checked)').waitFor();
    assert.deepEqual((await calls(page, 'tag_conversation')).at(-1).args, {
      conversationId: 1,
      tagId: 1,
      on: false,
    });
    await page.keyboard.press('Escape');
    await thread
      .getByTestId('thread-tags')
      .locator('[data-tag="1"]')
      .waitFor({ state: 'detached' });
    await row.locator('[data-tag="1"]').waitFor({ state: 'detached' });
    await thread.getByTestId('thread-tags').locator('[data-tag="2"]').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('tags are renamed, recoloured and deleted from the picker; chips follow', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('conversation-row').first().click();
    const thread = page.getByTestId('thread');
    await thread.locator('[data-action=tag]').click();
    const picker = page.getByRole('dialog', { name: 'Etichette' });
    await picker.getByTestId('tag-filter').fill('VIP');
    await picker.getByTestId('tag-filter').press('Enter');
    await picker.locator('[data-testid=tag-option][data-tag="1"]:checked').waitFor();

    await picker.getByRole('button', { name: 'Modifica VIP' }).click();
    await picker.getByTestId('tag-edit-name').fill('Cliente VIP');
    await picker.getByRole('radio', { name: 'Verde', exact: true }).check();
    await picker.getByRole('button', { name: 'Salva' }).click();
    await picker.locator('[data-testid=tag-option][data-tag="1"]').waitFor();
    assert.deepEqual((await calls(page, 'update_tag'))[0].args, {
      id: 1,
      name: 'Cliente VIP',
      color: '#1a7f37',
    });
    const chip = thread.getByTestId('thread-tags').locator('[data-tag="1"]');
    await page.waitForFunction(() =>
      document
        .querySelector('[data-testid=thread-tags] [data-tag="1"]')
        ?.textContent?.includes('Cliente VIP'),
    );
    assert.equal(await chip.evaluate((el) => el.style.getPropertyValue('--tag')), '#1a7f37');

    // Deleting asks once more, then the tag leaves every conversation.
    await picker.getByRole('button', { name: 'Modifica Cliente VIP' }).click();
    await picker.getByRole('button', { name: 'Elimina', exact: true }).click();
    assert.equal((await calls(page, 'delete_tag')).length, 0);
    await picker.getByRole('button', { name: 'Elimina davvero' }).click();
    await picker.getByText('Ancora nessuna etichetta').waitFor();
    assert.deepEqual((await calls(page, 'delete_tag'))[0].args, { id: 1 });
    await page.keyboard.press('Escape');
    await thread.getByTestId('thread-tags').waitFor({ state: 'detached' });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('merge a "likely the same customer" suggestion: both identities, Undo restores; Separate unmerges', async () => {
    const { page, context, errors } = await openApp(
      browser,
      server.url,
      { accounts: 'demo' },
      wide,
    );
    const [first, second] = await mock(page, () => [
      window.__sportelloMock.summaryAt(0),
      window.__sportelloMock.summaryAt(1),
    ]);
    await page.getByTestId('conversation-row').first().click();
    const panel = page.getByTestId('contact-panel');
    const identities = panel.getByTestId('contact-identities').locator('li');
    const suggestion = panel.getByTestId('contact-suggestion');
    await suggestion.waitFor();
    assert.match(await suggestion.textContent(), new RegExp(second.contact_name));
    assert.match(await suggestion.textContent(), /compare nei messaggi/);
    assert.equal(await identities.count(), 1);
    assert.match(await panel.textContent(), /Cliente da/);
    assert.match(await panel.textContent(), /Ultimo contatto/);

    await suggestion.locator('[data-action=merge]').click();
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid=contact-identities] li').length === 2 &&
        document.querySelectorAll('[data-testid=timeline-item]').length === 2,
    );
    assert.deepEqual((await calls(page, 'merge_contacts'))[0].args, {
      survivorId: 1,
      mergedId: 2,
    });
    const values = await identities.allTextContents();
    assert.ok(values.some((v) => v.includes(first.contact_handle)));
    assert.ok(values.some((v) => v.includes(second.contact_handle)));
    assert.equal(await suggestion.count(), 0);
    // The other conversation now belongs to this customer: its row shows the survivor's name.
    const otherRow = page.locator('[data-testid=conversation-row][data-conversation="2"]');
    await page.waitForFunction(
      (name) =>
        document
          .querySelector('[data-testid=conversation-row][data-conversation="2"]')
          ?.textContent?.includes(name),
      first.contact_name,
    );

    // Undo in the toast puts everything back.
    const toast = page.locator('.toast', { hasText: 'Ho unito' });
    await toast.getByTestId('toast-action').click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=contact-identities] li').length === 1,
    );
    assert.deepEqual((await calls(page, 'undo_merge'))[0].args, { mergeId: 1 });
    await suggestion.waitFor();
    await page.waitForFunction(
      (name) =>
        document
          .querySelector('[data-testid=conversation-row][data-conversation="2"]')
          ?.textContent?.includes(name),
      second.contact_name,
    );
    assert.match(await otherRow.textContent(), new RegExp(second.contact_name));

    // Merged again, then separated from the panel's list of merges.
    await suggestion.locator('[data-action=merge]').click();
    const merged = panel.getByTestId('contact-merge');
    await merged.waitFor();
    assert.match(await merged.textContent(), new RegExp(second.contact_name));
    await merged.locator('[data-action=unmerge]').click();
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid=contact-identities] li').length === 1 &&
        !document.querySelector('[data-testid=contact-merge]'),
    );
    assert.deepEqual((await calls(page, 'undo_merge')).at(-1).args, { mergeId: 2 });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('"not the same person" dismisses the suggestion for good', async () => {
    const { page, context, errors } = await openApp(
      browser,
      server.url,
      { accounts: 'demo' },
      wide,
    );
    await page.getByTestId('conversation-row').first().click();
    const panel = page.getByTestId('contact-panel');
    const suggestion = panel.getByTestId('contact-suggestion');
    await suggestion.getByRole('button', { name: 'Non è la stessa persona' }).click();
    await suggestion.waitFor({ state: 'detached' });
    assert.deepEqual((await calls(page, 'dismiss_suggestion'))[0].args, {
      contactId: 1,
      otherId: 2,
    });
    assert.equal((await calls(page, 'merge_contacts')).length, 0);
    // Reopened later, it is still not offered.
    await page.getByTestId('conversation-row').nth(1).click();
    await page.getByTestId('conversation-row').first().click();
    await page.locator('[data-testid=thread][data-conversation="1"]').waitFor();
    // The loaded detail shows the timeline; the suggestions come with it.
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid=timeline-item]')?.getAttribute('aria-current') ===
        'true',
    );
    assert.equal(await suggestion.count(), 0);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('merge by hand: find another customer by name, never itself; merge; Undo restores', async () => {
    const { page, context, errors } = await openApp(
      browser,
      server.url,
      { accounts: 'demo' },
      wide,
    );
    const other = await mock(page, () => window.__sportelloMock.summaryAt(4));
    await page.getByTestId('conversation-row').first().click();
    const panel = page.getByTestId('contact-panel');
    const identities = panel.getByTestId('contact-identities').locator('li');
    await panel.locator('[data-action=merge-other]').click();
    const search = panel.getByTestId('contact-search');
    // "Greco" is this customer's name too: the others are offered, this one never.
    await search.fill('Greco');
    await panel.locator('[data-testid=contact-result][data-contact="18"]').waitFor();
    assert.equal(await panel.locator('[data-testid=contact-result][data-contact="1"]').count(), 0);
    assert.equal((await calls(page, 'find_contacts')).at(-1).args.text, 'Greco');

    await search.fill(other.contact_name);
    const result = panel.locator(
      `[data-testid=contact-result][data-contact="${other.contact_id}"]`,
    );
    await result.waitFor();
    await result.locator('[data-action=merge-found]').click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=contact-identities] li').length === 2,
    );
    assert.deepEqual((await calls(page, 'merge_contacts'))[0].args, {
      survivorId: 1,
      mergedId: other.contact_id,
    });
    assert.match((await identities.allTextContents()).join(' '), new RegExp(other.contact_handle));

    await page.locator('.toast', { hasText: 'Ho unito' }).getByTestId('toast-action').click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=contact-identities] li').length === 1,
    );
    assert.equal((await calls(page, 'undo_merge')).length, 1);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the timeline opens another conversation of the customer; rename and notes are saved', async () => {
    const { page, context, errors } = await openApp(
      browser,
      server.url,
      { accounts: 'demo' },
      wide,
    );
    await page.getByTestId('conversation-row').first().click();
    const panel = page.getByTestId('contact-panel');
    await panel.getByTestId('contact-suggestion').locator('[data-action=merge]').click();
    const items = panel.getByTestId('timeline-item');
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=timeline-item]').length === 2,
    );
    // Newest activity first, the open conversation marked; each shows its channel.
    assert.deepEqual(
      await items.evaluateAll((els) => els.map((el) => el.getAttribute('data-timeline'))),
      ['1', '2'],
    );
    assert.equal(await items.first().getAttribute('aria-current'), 'true');
    assert.equal(
      await items.nth(1).locator('[data-channel]').getAttribute('data-channel'),
      'whatsapp',
    );

    await items.nth(1).click();
    await page.locator('[data-testid=thread][data-conversation="2"]').waitFor();
    await page.waitForFunction(
      () =>
        document
          .querySelector('[data-testid=timeline-item][data-timeline="2"]')
          ?.getAttribute('aria-current') === 'true',
    );
    // Still the same customer, with both ways to reach them.
    assert.equal(await panel.getByTestId('contact-identities').locator('li').count(), 2);

    await panel.locator('[data-action=rename-contact]').click();
    await panel.getByTestId('contact-name-input').fill('Marco Greco (negozio Pisa)');
    await panel.getByTestId('contact-name-input').press('Enter');
    await panel.getByRole('heading', { name: 'Marco Greco (negozio Pisa)' }).waitFor();
    assert.deepEqual((await calls(page, 'rename_contact'))[0].args, {
      contactId: 1,
      name: 'Marco Greco (negozio Pisa)',
    });
    await page.waitForFunction(() =>
      document
        .querySelector('[data-testid=conversation-row][data-conversation="2"]')
        ?.textContent?.includes('negozio Pisa'),
    );

    await panel.getByTestId('contact-notes').fill('Preferisce WhatsApp dopo le 18.');
    await panel.getByTestId('contact-notes').blur();
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some((c) => c.cmd === 'set_contact_notes'),
    );
    assert.deepEqual((await calls(page, 'set_contact_notes'))[0].args, {
      contactId: 1,
      notes: 'Preferisce WhatsApp dopo le 18.',
    });
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('at 1280 px the Cliente button opens the customer panel as a drawer: timeline and identities visible, Esc closes it and gives the focus back, c toggles, remembered', async () => {
    const { page, context, errors } = await openApp(
      browser,
      server.url,
      { accounts: 'demo' },
      { viewport: { width: 1280, height: 800 } },
    );
    const first = await mock(page, () => window.__sportelloMock.summaryAt(0));
    await page.getByTestId('conversation-row').first().click();
    const thread = page.getByTestId('thread');
    await thread.waitFor();
    const panel = page.getByTestId('contact-panel');
    assert.equal(await panel.count(), 0, 'closed until asked for');
    const toggle = thread.locator('[data-action=contact]');
    assert.equal((await toggle.textContent()).trim(), 'Cliente');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');

    await toggle.click();
    const drawer = page.getByRole('dialog', { name: 'Cliente' });
    await drawer.waitFor();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    // The focus moved into the drawer.
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('data-action')),
      'close-contact',
    );
    const identities = panel.getByTestId('contact-identities');
    const timeline = panel.getByTestId('contact-timeline');
    await timeline.getByTestId('timeline-item').first().waitFor();
    assert.ok(await identities.isVisible());
    assert.ok(await timeline.isVisible());
    assert.ok((await identities.textContent()).includes(first.contact_handle));
    assert.equal(
      await timeline.locator('[data-testid=timeline-item][aria-current=true]').count(),
      1,
      'the open conversation is in the timeline',
    );
    // Over the thread, inside the window.
    const box = await drawer.boundingBox();
    assert.ok(box.width >= 250 && box.x + box.width <= 1280, JSON.stringify(box));
    await page.screenshot({ path: join(artifacts, 'contact-drawer-1280.png') });

    // Esc closes it and the focus returns to the button; the conversation stays open.
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('data-action')),
      'contact',
    );
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await thread.getAttribute('data-conversation'), String(first.id));

    // c opens it; the choice is remembered after a restart; the close button closes it.
    await page.keyboard.press('c');
    await drawer.waitFor();
    await page.reload();
    await page.getByTestId('contact-drawer').waitFor();
    await panel.getByTestId('contact-identities').waitFor();
    await drawer.locator('[data-action=close-contact]').click();
    await drawer.waitFor({ state: 'detached' });
    assert.equal(
      await page.evaluate(() => document.activeElement?.getAttribute('data-action')),
      'contact',
    );
    await page.reload();
    await page.getByTestId('thread').waitFor();
    assert.equal(await page.getByTestId('contact-panel').count(), 0);
    assert.deepEqual(errors, []);
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
    // The thread opens at the matching message, marked for a moment, inside the visible area.
    const bestMessage = await results.getByRole('button').first().getAttribute('data-message');
    const found = page.locator(`[data-testid="thread"] [data-message="${bestMessage}"]`);
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="thread"] [data-message="${id}"].found`),
      bestMessage,
    );
    const visible = await found.evaluate((el) => {
      const box = el.getBoundingClientRect();
      const view = el.closest('.scroll').getBoundingClientRect();
      return box.bottom > view.top && box.top < view.bottom;
    });
    assert.equal(visible, true);

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

  test('the sidebar selection survives a restart; a removed account’s filter falls back to the inbox', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    const nav = page.getByRole('navigation');
    const filters = async () =>
      (await calls(page, 'list_conversations_filtered')).map((c) => c.args.filter);

    // A fixed view: after the restart it is selected and the very first page asked is its own
    // (no flash of the inbox).
    await nav.locator('[data-view=waiting]').click();
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some(
        (c) => c.cmd === 'list_conversations_filtered' && c.args.filter.view === 'waiting',
      ),
    );
    await page.reload();
    await nav.locator('[data-view=waiting][aria-current=page]').waitFor();
    await page.getByTestId('conversation-row').first().waitFor();
    assert.ok(
      (await filters()).every((f) => f.view === 'waiting'),
      'only the waiting view asked',
    );
    assert.equal(await nav.locator('[aria-current=page]').count(), 1);

    // A channel filter.
    await nav.locator('[data-channel-filter=whatsapp]').click();
    await nav.locator('[data-channel-filter=whatsapp][aria-current=page]').waitFor();
    await page.reload();
    await nav.locator('[data-channel-filter=whatsapp][aria-current=page]').waitFor();
    await page.waitForFunction(async () => {
      const marks = [...document.querySelectorAll('[data-testid=conversation-row] [data-channel]')];
      return marks.length > 0 && marks.every((m) => m.getAttribute('data-channel') === 'whatsapp');
    });
    assert.ok((await filters()).every((f) => f.channel === 'whatsapp'));
    assert.equal(await nav.locator('[data-view][aria-current=page]').count(), 0);

    // An account's filter; the account is removed: back to the inbox, now and at next start.
    await nav.locator('[data-account-filter="1"]').click();
    await page.waitForFunction(
      () => JSON.parse(localStorage.getItem('sportello.sidebar') ?? '{}').key === 'account:1',
    );
    await nav.getByRole('button', { name: 'Impostazioni' }).click();
    const dialog = page.getByRole('dialog', { name: 'Impostazioni' });
    await dialog.getByRole('button', { name: 'Rimuovi Bottega' }).click();
    await dialog.getByRole('button', { name: 'Sì, rimuovi' }).click();
    await page.getByText('Account rimosso.').waitFor();
    await page.keyboard.press('Escape');
    await nav.locator('[data-view=inbox][aria-current=page]').waitFor();
    assert.equal(
      await page.evaluate(() => JSON.parse(localStorage.getItem('sportello.sidebar') ?? '{}').key),
      'view:inbox',
    );
    assert.equal((await filters()).at(-1).account_id, undefined);

    // A value this version cannot read: the inbox, quietly.
    await page.evaluate(() => localStorage.setItem('sportello.sidebar', '{"key":3}'));
    await page.reload();
    await nav.locator('[data-view=inbox][aria-current=page]').waitFor();
    await page.getByTestId('conversation-row').first().waitFor();
    assert.deepEqual(errors, []);
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

describe('customer care: saved views, response times, report, care settings', () => {
  const lastFilter = async (page) => (await calls(page, 'list_conversations_filtered')).at(-1);

  test('a channel filter saved as a view shows with its count; rename and delete it', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    const nav = page.getByRole('navigation');
    await nav.getByText('Salva un filtro con + per ritrovarlo qui.').waitFor();

    // The channel filter: only open WhatsApp conversations (ids 2, 10, 18... in the mock).
    const channel = nav.locator('[data-channel-filter=whatsapp]');
    const channelCount = await channel
      .locator('[data-testid=view-count] [aria-hidden]')
      .textContent();
    assert.equal(channelCount, '8');
    await channel.click();
    await page.waitForFunction(async () => {
      const marks = [...document.querySelectorAll('[data-testid=conversation-row] [data-channel]')];
      return (
        marks.length === 8 && marks.every((m) => m.getAttribute('data-channel') === 'whatsapp')
      );
    });
    assert.equal((await lastFilter(page)).args.filter.channel, 'whatsapp');
    assert.equal(await channel.getAttribute('aria-current'), 'page');

    // Save it with a name: the dialog starts from the filter shown, and "waiting" narrows it.
    await nav.getByTestId('save-view').click();
    const dialog = page.getByRole('dialog', { name: 'Salva la vista' });
    await dialog.waitFor();
    assert.equal(await dialog.locator('[name=view_channel]').inputValue(), 'whatsapp');
    assert.equal(await dialog.locator('[name=view_status]').inputValue(), 'inbox');
    await dialog.getByRole('button', { name: 'Salva' }).click();
    await dialog.getByText('Dai un nome alla vista.').waitFor();
    assert.equal((await calls(page, 'save_view')).length, 0, 'no name, nothing saved');
    await dialog.locator('[name=view_name]').fill('WhatsApp da rispondere');
    await dialog.locator('[name=view_waiting]').check();
    await dialog.getByRole('button', { name: 'Salva' }).click();
    await dialog.waitFor({ state: 'detached' });

    const [saved] = await calls(page, 'save_view');
    assert.equal(saved.args.id, null);
    assert.equal(saved.args.name, 'WhatsApp da rispondere');
    assert.deepEqual(
      { ...saved.args.filter, statuses: undefined },
      { view: 'inbox', statuses: undefined, unread: false, waiting: true, channel: 'whatsapp' },
    );
    // In the sidebar with its count (WhatsApp rows waiting for us: ids 2, 10, 26, 34, 50,
    // 58 — 18 and 42 are answered), selected, and the list shows just those.
    const view = nav.locator('[data-saved-view]');
    await view.getByText('WhatsApp da rispondere').waitFor();
    await page.waitForFunction(
      () =>
        document.querySelector('[data-saved-view] [data-testid=view-count] [aria-hidden]')
          ?.textContent === '6',
    );
    assert.equal(await view.getAttribute('aria-current'), 'page');
    assert.equal(await channel.getAttribute('aria-current'), null);
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=conversation-row]').length === 6,
    );
    assert.equal((await lastFilter(page)).args.filter.waiting, true);

    // Another view and back: the saved filter is applied again.
    await nav.locator('[data-view=inbox]').click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=conversation-row]').length > 6,
    );
    await view.click();
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=conversation-row]').length === 6,
    );

    // Rename.
    await nav.getByRole('button', { name: 'Modifica la vista WhatsApp da rispondere' }).click();
    const edit = page.getByRole('dialog', { name: 'Modifica la vista' });
    await edit.locator('[name=view_name]').fill('WhatsApp urgenti');
    await edit.getByRole('button', { name: 'Salva' }).click();
    await view.getByText('WhatsApp urgenti').waitFor();
    const renamed = (await calls(page, 'save_view')).at(-1);
    assert.equal(renamed.args.id, 1);
    assert.equal(renamed.args.filter.channel, 'whatsapp');

    // Delete asks first, then the view is gone and the inbox shows.
    await nav.getByRole('button', { name: 'Modifica la vista WhatsApp urgenti' }).click();
    await edit.getByTestId('delete-view').click();
    await edit.getByText('Eliminare la vista «WhatsApp urgenti»?').waitFor();
    assert.equal((await calls(page, 'delete_view')).length, 0, 'asks before deleting');
    await edit.getByTestId('delete-view-yes').click();
    await view.waitFor({ state: 'detached' });
    assert.deepEqual((await calls(page, 'delete_view')).at(-1).args, { id: 1 });
    assert.equal(await nav.locator('[data-view=inbox]').getAttribute('aria-current'), 'page');
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('an account filter shows only that account, with its count', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    const account = page.locator('[data-account-filter="4"]');
    await account.locator('[aria-hidden]').waitFor();
    const count = Number(await account.locator('[aria-hidden]').textContent());
    await account.click();
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid=conversation-row]').length === n,
      count,
    );
    assert.equal((await lastFilter(page)).args.filter.account_id, 4);
    const channels = await page
      .locator('[data-testid=conversation-row] [data-channel]')
      .evaluateAll((marks) => [...new Set(marks.map((m) => m.getAttribute('data-channel')))]);
    assert.deepEqual(channels, ['whatsapp']);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('waiting times turn amber near the target and red past it, ticking without refetching', async () => {
    // A 50-minute target. In the mock, conversation 1 waits 1 min, 2 waits 39 min (78 %),
    // 3 waits 77 min; 4 is not waiting.
    const { page, context, errors } = await openApp(
      browser,
      server.url,
      { accounts: 'demo', care: { sla_minutes: 50 } },
      {},
      (p) => p.clock.install(),
    );
    const badge = (id) => page.locator(`[data-conversation="${id}"] [data-testid=waiting]`);
    await badge(3).waitFor();
    await page.waitForFunction(
      () =>
        document.querySelector('[data-conversation="2"] [data-testid=waiting]')?.dataset.sla ===
        'near',
    );
    assert.equal(await badge(1).getAttribute('data-sla'), 'ok');
    assert.equal(await badge(2).getAttribute('data-sla'), 'near');
    assert.equal(await badge(3).getAttribute('data-sla'), 'over');
    assert.equal(await badge(4).count(), 0);
    // Not by colour alone: the icon and the words differ too.
    assert.match(await badge(3).textContent(), /in ritardo/);
    assert.match(await badge(3).textContent(), /oltre l’obiettivo di 50 minuti/);
    assert.match(await badge(2).textContent(), /manca poco all’obiettivo di 50 minuti/);
    assert.doesNotMatch(await badge(1).textContent(), /obiettivo/);
    const colours = await Promise.all(
      [1, 2, 3].map((id) => badge(id).evaluate((el) => getComputedStyle(el).color)),
    );
    assert.equal(new Set(colours).size, 3, `three colours: ${colours}`);

    // The thread header says the same.
    await page.locator('[data-conversation="3"]').click();
    const head = page.getByTestId('thread').locator('[data-testid=waiting]');
    await head.waitFor();
    assert.equal(await head.getAttribute('data-sla'), 'over');

    // Fifteen minutes later conversation 2 (now 54 min) is late — no list was fetched again.
    const fetched = (await calls(page, 'list_conversations_filtered')).length;
    await page.clock.fastForward('15:00');
    await page.waitForFunction(
      () =>
        document.querySelector('[data-conversation="2"] [data-testid=waiting]')?.dataset.sla ===
        'over',
    );
    assert.equal(await badge(1).getAttribute('data-sla'), 'ok');
    assert.equal((await calls(page, 'list_conversations_filtered')).length, fetched);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('the report draws its charts from the figures, has a table view and exports CSV', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('open-report').click();
    const report = page.getByTestId('report');
    await report.getByRole('heading', { name: 'Tempi di risposta' }).waitFor();
    const [asked] = await calls(page, 'care_report');
    assert.equal(asked.args.to - asked.args.from, 30 * 24 * 3_600_000);

    // First response per channel: a median and a p90 bar per channel, sized by the figures.
    const chart = report.getByTestId('chart-first-response-channel');
    await chart.locator('svg[role=img]').waitFor();
    assert.equal(
      await chart.locator('svg title').first().textContent(),
      'Prima risposta per canale',
    );
    const bars = await chart
      .locator('rect.bar')
      .evaluateAll((rects) => rects.map((r) => [Number(r.dataset.value), r.getAttribute('width')]));
    assert.deepEqual(
      bars.map(([v]) => v),
      [35 * 60_000, 240 * 60_000, 8 * 60_000, 50 * 60_000],
    );
    // The longest value gets the longest bar; every value is written beside its bar.
    const widths = bars.map(([, w]) => Number(w));
    assert.equal(Math.max(...widths), widths[1]);
    // 8 min < 35 min < 50 min < 4 h.
    assert.ok(widths[2] < widths[0] && widths[0] < widths[3] && widths[3] < widths[1], `${widths}`);
    const text = await chart.textContent();
    assert.match(text, /35 min/);
    assert.match(text, /4 h/);
    for (const id of [
      'resolution-channel',
      'first-response-week',
      'resolution-week',
      'volume-channel',
    ]) {
      assert.ok((await report.getByTestId(`chart-${id}`).locator('rect.bar').count()) > 0, id);
    }
    assert.equal(
      await report.getByTestId('chart-first-response-week').locator('rect.bar').count(),
      8,
    );
    // Busiest hours: a 7 × 24 heat map; Monday 09:00 holds 6 messages, Sunday none.
    const heat = report.getByTestId('chart-busiest');
    assert.equal(await heat.locator('rect.cell').count(), 7 * 24);
    assert.equal(
      await heat.locator('rect[data-weekday="1"][data-hour="9"]').getAttribute('data-messages'),
      '6',
    );
    assert.equal(await heat.locator('rect[data-weekday="7"]:not(.zero)').count(), 0);
    assert.match(await heat.locator('desc').textContent(), /Il momento più intenso/);
    await page.screenshot({ path: join(artifacts, 'report-light.png') });

    // The same numbers as tables.
    await report.getByTestId('report-tables').click();
    const table = report.getByTestId('table-first-response-channel');
    await table.waitFor();
    assert.equal(await report.locator('svg[role=img]').count(), 0);
    const email = table.getByRole('row', { name: /Email/ });
    assert.match(await email.textContent(), /35 min.*4 h/);
    assert.equal(await report.getByTestId('table-busiest').locator('tbody tr').count(), 7);

    // Export: the save dialog, then the CSV of the same period written there.
    await report.getByTestId('export-csv').click();
    await page
      .getByText('Resoconto salvato in /home/utente/Documenti/tempi-di-risposta.csv')
      .waitFor();
    const [dialogCall] = await calls(page, 'plugin:dialog|save');
    assert.equal(dialogCall.args.options.filters[0].extensions[0], 'csv');
    assert.match(
      dialogCall.args.options.defaultPath,
      /^sportello-tempi-di-risposta-\d{4}-\d\d-\d\d\.csv$/,
    );
    const [exported] = await calls(page, 'export_report_csv');
    assert.deepEqual(exported.args, {
      from: asked.args.from,
      to: asked.args.to,
      path: '/home/utente/Documenti/tempi-di-risposta.csv',
    });

    // Another period asks again; closing returns to the list.
    await report.locator('[name=report_period]').selectOption('7');
    await page.waitForFunction(
      () => window.__sportelloMock.calls.filter((c) => c.cmd === 'care_report').length === 2,
    );
    const week = (await calls(page, 'care_report')).at(-1);
    assert.equal(week.args.to - week.args.from, 7 * 24 * 3_600_000);
    await report.getByRole('button', { name: 'Chiudi il resoconto' }).click();
    await page.getByTestId('conversation-row').first().waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('export cancelled in the save dialog writes nothing', async () => {
    const { page, context } = await openApp(browser, server.url, {
      accounts: 'demo',
      savePath: null,
    });
    await page.getByTestId('open-report').click();
    await page.getByTestId('chart-busiest').waitFor();
    await page.getByTestId('export-csv').click();
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some((c) => c.cmd === 'plugin:dialog|save'),
    );
    await page.waitForTimeout(200);
    assert.equal((await calls(page, 'export_report_csv')).length, 0);
    await context.close();
  });

  test('care settings: hours, holiday, target and auto-reply are saved; the rows follow the new target', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    // With the default 60-minute target, conversation 2 (39 min) is fine.
    const badge2 = page.locator('[data-conversation="2"] [data-testid=waiting]');
    await badge2.waitFor();
    assert.equal(await badge2.getAttribute('data-sla'), 'ok');
    // The sidebar's "waiting for us" tells how many are past the target.
    const overdue = page.locator('[data-view=waiting] [data-testid=overdue-count]');
    await overdue.waitFor();
    assert.match(await overdue.textContent(), /oltre l’obiettivo di risposta/);
    const lateBefore = Number(await overdue.locator('span[aria-hidden]').textContent());
    assert.ok(lateBefore > 0);

    await page.getByRole('navigation').getByRole('button', { name: 'Impostazioni' }).click();
    const care = page.getByTestId('settings-care');
    await care.locator('[name=shop_name]').waitFor();
    assert.equal(await care.locator('[name=shop_name]').inputValue(), 'Bottega');
    await care.locator('[name=shop_name]').fill('Bottega Artigiana');
    await care.locator('[name=sla_minutes]').fill('30');
    await care.locator('[name=timezone]').fill('Europe/Zurich');
    await care.locator('[name=default_language]').selectOption('en');
    // Monday open 09:00-18:00, then a lunch break: 09:00-13:00 and 15:00-19:00.
    await care.locator('[name=open_1]').check();
    const monday = care.locator('li[data-weekday="1"]');
    const times = monday.locator('input[type=time]');
    await times.nth(1).waitFor();
    assert.equal(await times.nth(0).inputValue(), '09:00');
    assert.equal(await times.nth(1).inputValue(), '18:00');
    await times.nth(1).fill('13:00');
    await monday.getByRole('button', { name: 'Aggiungi fascia' }).click();
    assert.equal(await times.count(), 4);
    await times.nth(2).fill('15:00');
    await times.nth(3).fill('19:00');
    // A holiday every year, and a malformed one refused.
    await care.locator('[name=holiday]').fill('25 dicembre');
    await care.getByRole('button', { name: 'Aggiungi', exact: true }).click();
    assert.equal(await care.locator('[name=holiday]').getAttribute('aria-invalid'), 'true');
    await care.locator('[name=holiday]').fill('12-25');
    await care.getByRole('button', { name: 'Aggiungi', exact: true }).click();
    await care.getByRole('button', { name: 'Togli 12-25' }).waitFor();
    // Auto-reply on, with its own WhatsApp text; Telegram off (empty text).
    await care.locator('[name=auto_reply]').check();
    await care
      .locator('[name=auto_reply_text]')
      .fill('Siamo chiusi, {{shop.name}} ti risponde domani.');
    await care.locator('[name=own_text_whatsapp]').check();
    await care.locator('[name=auto_reply_whatsapp]').fill('Ciao! Ti scriviamo appena apriamo.');
    await care.locator('[name=own_text_telegram]').check();
    await care.locator('[name=auto_reply_telegram]').fill('');
    await care.getByText('Testo vuoto: nessuna risposta automatica su questo canale.').waitFor();
    await care.getByTestId('save-care').click();
    await page.getByText('Impostazioni dell’assistenza salvate.').waitFor();

    const [saved] = await calls(page, 'update_care_settings');
    const s = saved.args.settings;
    assert.equal(s.shop_name, 'Bottega Artigiana');
    assert.equal(s.sla_minutes, 30);
    assert.equal(s.timezone, 'Europe/Zurich');
    assert.equal(s.default_language, 'en');
    assert.deepEqual(s.business_hours, [
      { weekday: 1, open: '09:00', close: '13:00' },
      { weekday: 1, open: '15:00', close: '19:00' },
    ]);
    assert.deepEqual(s.holidays, ['12-25']);
    assert.equal(s.auto_reply.enabled, true);
    assert.equal(s.auto_reply.text, 'Siamo chiusi, {{shop.name}} ti risponde domani.');
    assert.deepEqual(s.auto_reply.per_channel, [
      { channel: 'whatsapp', text: 'Ciao! Ti scriviamo appena apriamo.' },
      { channel: 'telegram', text: '' },
    ]);

    // A time zone the core does not know: explained, nothing changes.
    await care.locator('[name=timezone]').fill('Marte');
    await care.getByTestId('save-care').click();
    await page.getByText(/Impostazioni dell’assistenza non salvate/).waitFor();
    assert.equal(await mock(page, () => window.__sportelloMock.care().timezone), 'Europe/Zurich');

    // Back in the list: 39 minutes is past the new 30-minute target.
    await page.keyboard.press('Escape');
    await page.waitForFunction(
      () =>
        document.querySelector('[data-conversation="2"] [data-testid=waiting]')?.dataset.sla ===
        'over',
    );
    // And the sidebar counts it among the late ones (counts asked again after saving).
    await page.waitForFunction(
      (before) =>
        Number(
          document.querySelector(
            '[data-view=waiting] [data-testid=overdue-count] span[aria-hidden]',
          )?.textContent,
        ) > before,
      lateBefore,
    );
    assert.deepEqual(errors, []);
    await context.close();
  });
});

describe('customer care in the composer and on the keyboard', () => {
  const rgb = (hex) => {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return `rgb(${r}, ${g}, ${b})`;
  };
  const open = async (page, id) => {
    await page.getByTestId('conversation-row').first().waitFor();
    await mock(page, (c) => window.__sportelloMock.emitOpen(c), id);
    await page.locator(`[data-testid=thread][data-conversation="${id}"]`).waitFor();
  };
  const focused = (page) =>
    page.evaluate(() => document.activeElement?.getAttribute('data-testid'));

  test('an internal note is saved with add_note, never sent, and shown as a note in both themes', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.locator('[data-conversation="3"]').click();
    const thread = page.getByTestId('thread');
    await thread.waitFor();
    const form = thread.locator('form.composer');
    const composer = page.getByTestId('composer');

    // n (focus on the list, not typing) switches to a note and puts the caret in the box.
    await page.keyboard.press('n');
    assert.equal(await form.getAttribute('data-mode'), 'note');
    assert.equal(await focused(page), 'composer');
    assert.equal(
      await composer.getAttribute('placeholder'),
      'Una nota per il tuo team: il cliente non la vedrà mai.',
    );
    assert.equal(await page.getByTestId('mode-note').getAttribute('aria-pressed'), 'true');
    assert.match(await page.getByTestId('send').textContent(), /Aggiungi nota/);
    // Ctrl+Shift+N flips it from inside the box, both ways.
    await composer.press('Control+Shift+N');
    assert.equal(await form.getAttribute('data-mode'), 'reply');
    await composer.press('Control+Shift+N');
    assert.equal(await form.getAttribute('data-mode'), 'note');

    await composer.fill('Ha già chiamato: rimborso approvato da Marco.');
    await composer.press('Control+Enter');
    const note = thread.locator('article[data-kind=note]', { hasText: 'rimborso approvato' });
    await note.waitFor();
    const [saved] = await calls(page, 'add_note');
    assert.deepEqual(saved.args, {
      conversationId: 3,
      text: 'Ha già chiamato: rimborso approvato da Marco.',
    });
    assert.equal((await calls(page, 'send_reply')).length, 0, 'a note is never sent');
    const text = await note.textContent();
    assert.match(text, /Nota interna/);
    assert.doesNotMatch(text, /Invio…|Inviato|In coda/, 'no delivery state on a note');
    assert.match(await note.getAttribute('aria-label'), /^Nota interna, /);
    // The composer is back to replying, empty.
    assert.equal(await form.getAttribute('data-mode'), 'reply');
    assert.equal(await composer.inputValue(), '');

    // A distinct tint and a dashed edge, in light and in dark.
    const look = () =>
      note.locator('.bubble').evaluate((el) => {
        const reply = document.querySelector(
          '[data-testid=thread] article.outbound:not(.note) .bubble',
        );
        return {
          bg: getComputedStyle(el).backgroundColor,
          border: getComputedStyle(el).borderTopStyle,
          label: getComputedStyle(el.querySelector('.note-label')).color,
          reply: reply ? getComputedStyle(reply).backgroundColor : null,
        };
      });
    const light = await look();
    assert.equal(light.bg, rgb('#fdf0c4'));
    assert.equal(light.label, rgb('#6e4500'));
    assert.equal(light.border, 'dashed');
    assert.notEqual(light.bg, light.reply);
    await note.screenshot({ path: join(artifacts, 'note-light.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await look();
    assert.equal(dark.bg, rgb('#332a12'));
    assert.equal(dark.label, rgb('#f2c66d'));
    assert.notEqual(dark.bg, dark.reply);
    await note.screenshot({ path: join(artifacts, 'note-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });

    // Outside WhatsApp's 24 hours free text is off, but a note can still be written.
    await open(page, 18);
    assert.equal(await page.getByTestId('composer').count(), 0);
    await page.getByTestId('mode-note').click();
    await page.getByTestId('composer').fill('Aspettiamo che riscriva lei.');
    await page.getByTestId('send').click();
    await page
      .locator('[data-testid=thread] article[data-kind=note]', { hasText: 'riscriva lei' })
      .waitFor();
    assert.equal((await calls(page, 'add_note')).at(-1).args.conversationId, 18);
    assert.equal((await calls(page, 'send_reply')).length, 0);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('"/" picks a canned reply rendered for the conversation; Esc closes; replies managed from the picker', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.locator('[data-conversation="3"]').click();
    const thread = page.getByTestId('thread');
    await thread.waitFor();
    const first = (await thread.locator('h2').textContent()).trim().split(' ')[0];
    const composer = page.getByTestId('composer');
    await composer.click();
    await page.keyboard.type('Buongiorno! /sped');
    const picker = page.getByTestId('canned-picker');
    await picker.waitFor();
    const options = picker.getByTestId('canned-option');
    // One row per language, the window's language first.
    assert.equal(await options.count(), 2);
    assert.match(await options.nth(0).textContent(), /Spedizione\s*\/spedizione\s*IT/);
    assert.match(await options.nth(1).textContent(), /EN/);
    await page.keyboard.press('ArrowDown');
    assert.equal(await options.nth(1).getAttribute('aria-selected'), 'true');
    await page.keyboard.press('ArrowUp');
    assert.equal(await options.nth(0).getAttribute('aria-selected'), 'true');
    assert.equal(
      await composer.getAttribute('aria-activedescendant'),
      await options.nth(0).getAttribute('id'),
    );
    // The highlighted reply is previewed as the core renders it for this conversation.
    await picker.getByTestId('canned-preview').getByText(`Ciao ${first}, il tuo ordine`).waitFor();
    await page.keyboard.press('Enter');
    await picker.waitFor({ state: 'detached' });
    const rendered = (await calls(page, 'render_canned_reply')).at(-1);
    assert.deepEqual(rendered.args, { id: 1, conversationId: 3, language: 'it' });
    // Filled in by the backend; the missing agent name is a visible marker, never a blank.
    await page.waitForFunction(() =>
      document.querySelector('[data-testid=composer]')?.value.includes('partito'),
    );
    assert.equal(
      await composer.inputValue(),
      `Buongiorno! Ciao ${first}, il tuo ordine è partito oggi.\n[tuo nome]`,
    );
    assert.match(
      await page.getByTestId('canned-missing').textContent(),
      /Completa prima di inviare: \[tuo nome\]/,
    );
    assert.equal(await focused(page), 'composer');
    assert.equal((await calls(page, 'send_reply')).length, 0, 'inserting is not sending');

    // Esc closes the picker and keeps what was typed (and the focus).
    await page.keyboard.type(' /gr');
    await picker.waitFor();
    assert.equal(await options.count(), 1);
    await page.keyboard.press('Escape');
    await picker.waitFor({ state: 'detached' });
    assert.equal(await focused(page), 'composer');
    assert.ok((await composer.inputValue()).endsWith(' /gr'));
    await page.keyboard.type('a');
    assert.equal(await picker.count(), 0, 'the dismissed "/" stays closed');

    // No match says so.
    await composer.fill('');
    await page.keyboard.type('/zzz');
    await picker.getByText('Nessuna risposta rapida per “zzz”.').waitFor();

    // Ctrl+/ opens it at the caret; its footer manages the canned replies.
    await composer.fill('');
    await composer.press('Control+/');
    await picker.waitFor();
    assert.equal(await composer.inputValue(), '/');
    assert.equal(await options.count(), 3, 'all of them, per language');
    await picker.getByTestId('canned-manage').click();
    const dialog = page.getByRole('dialog', { name: 'Risposte rapide' });
    await dialog.waitFor();
    assert.equal(await dialog.getByTestId('canned-item').count(), 2);
    await dialog.getByTestId('canned-new').click();
    await dialog.getByTestId('canned-save').click();
    await dialog.getByText('Servono un nome e almeno un testo.').waitFor();
    await dialog.getByTestId('canned-name').fill('Reso');
    await dialog.getByTestId('canned-shortcut').fill('reso');
    await dialog.getByTestId('canned-text-it').fill('Ciao , ecco l’etichetta per il reso.');
    // The variable buttons insert at the caret.
    await dialog.getByTestId('canned-text-it').evaluate((el) => el.setSelectionRange(5, 5));
    await dialog.getByRole('button', { name: '{{contact.first_name}}' }).click();
    await dialog
      .getByTestId('canned-text-en')
      .fill('Hi {{contact.first_name}}, here is the return label.');
    await dialog.getByTestId('canned-save').click();
    await dialog.getByTestId('canned-item').nth(2).waitFor();
    const [save] = await calls(page, 'save_canned_reply');
    assert.deepEqual(save.args, {
      id: null,
      input: {
        name: 'Reso',
        shortcut: 'reso',
        texts: {
          it: 'Ciao {{contact.first_name}}, ecco l’etichetta per il reso.',
          en: 'Hi {{contact.first_name}}, here is the return label.',
        },
      },
    });
    // Deleting asks once more.
    const grazie = dialog.getByTestId('canned-item').filter({ hasText: 'Grazie' });
    await grazie.getByTestId('canned-delete').click();
    assert.equal((await calls(page, 'delete_canned_reply')).length, 0);
    await grazie.getByRole('button', { name: /Eliminare “Grazie”/ }).click();
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some((c) => c.cmd === 'delete_canned_reply' && c.args.id === 2),
    );
    await dialog.getByTestId('canned-item').nth(1).waitFor();
    assert.equal(await dialog.getByTestId('canned-item').count(), 2);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    // The new one is there at once.
    await composer.fill('');
    await composer.focus();
    await page.keyboard.type('/reso');
    await picker.waitFor();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() =>
      document.querySelector('[data-testid=composer]')?.value.includes('reso.'),
    );
    assert.equal(await composer.inputValue(), `Ciao ${first}, ecco l’etichetta per il reso.`);
    assert.equal(await page.getByTestId('canned-missing').count(), 0);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('WhatsApp: the "/" picker lists the approved templates; outside the 24 hours Ctrl+/ opens them', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await open(page, 10);
    const composer = page.getByTestId('composer');
    await composer.click();
    await page.keyboard.type('/ordine_sp');
    const picker = page.getByTestId('canned-picker');
    await picker.getByText('Modelli WhatsApp approvati').waitFor();
    const options = picker.getByTestId('canned-option');
    assert.equal(await options.count(), 1);
    assert.match(await options.first().textContent(), /ordine_spedito/);
    await page.keyboard.press('Enter');
    // The template picker takes over with that template chosen, its values to fill.
    const select = page.getByTestId('template-select');
    await select.waitFor();
    assert.equal(await select.inputValue(), 'ordine_spedito|it');
    assert.equal(await page.getByTestId('template-param').count(), 2);
    assert.equal(await page.getByTestId('composer').count(), 0);

    // Outside the window there is no text box: Ctrl+/ opens the picker with its own filter.
    await open(page, 18);
    await page.getByTestId('template-select').waitFor();
    await page.locator('[data-testid=thread] h2').click();
    await page.keyboard.press('Control+/');
    await picker.waitFor();
    assert.equal(await focused(page), 'canned-filter');
    await picker.getByText('Fuori dalle 24 ore di WhatsApp').waitFor();
    assert.equal(await picker.getByText('Spedizione').count(), 0, 'no free text here');
    await page.keyboard.type('ci_sei');
    assert.equal(await options.count(), 1);
    await page.keyboard.press('Enter');
    await picker.waitFor({ state: 'detached' });
    await page.waitForFunction(
      () => document.querySelector('[data-testid=template-select]')?.value === 'ci_sei_ancora|it',
    );
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('shortcuts: o, j/k move, e closes, p, Shift+P, s with presets, t, r, n, ? cheat sheet; quiet while typing', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByTestId('conversation-row').first().waitFor();
    const ids = await mock(page, () => [0, 1].map((i) => window.__sportelloMock.summaryAt(i).id));
    const selected = () =>
      page.evaluate(
        () =>
          document.querySelector('[data-testid=conversation-row][aria-current=true]')?.dataset
            .conversation,
      );
    const waitSelected = (id) =>
      page.waitForFunction(
        (c) =>
          document.querySelector('[data-testid=thread]')?.getAttribute('data-conversation') ===
          String(c),
        id,
      );
    // o opens the first conversation when none is open; j and k move from there.
    await page.keyboard.press('o');
    await waitSelected(ids[0]);
    await page.keyboard.press('j');
    await waitSelected(ids[1]);
    assert.equal(await selected(), String(ids[1]));
    await page.keyboard.press('k');
    await waitSelected(ids[0]);
    assert.equal(await selected(), String(ids[0]));
    const thread = page.getByTestId('thread');

    // e closes (and reopens), p waits for the customer, Shift+P pins.
    await page.keyboard.press('e');
    await thread.locator('[data-action=reopen]').waitFor();
    assert.deepEqual((await calls(page, 'set_status')).at(-1).args, {
      conversationId: ids[0],
      status: 'closed',
      snoozedUntil: null,
    });
    await page.keyboard.press('e');
    await thread.locator('[data-action=close]').waitFor();
    assert.equal((await calls(page, 'set_status')).at(-1).args.status, 'open');
    await page.keyboard.press('p');
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some(
        (c) => c.cmd === 'set_status' && c.args.status === 'pending',
      ),
    );
    await page.keyboard.press('Shift+P');
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some((c) => c.cmd === 'set_pinned' && c.args.pinned === true),
    );

    // s opens the presets with the focus on the first; ↓ and Enter choose.
    await page.keyboard.press('s');
    await page.getByTestId('snooze-menu').waitFor();
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent?.trim()),
      'Tra 1 ora',
    );
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() =>
      window.__sportelloMock.calls.some(
        (c) => c.cmd === 'set_status' && c.args.status === 'snoozed',
      ),
    );
    const snooze = (await calls(page, 'set_status')).at(-1).args;
    const tomorrowNine = await page.evaluate(() => {
      const d = new Date();
      d.setDate(d.getDate() + 1);
      d.setHours(9, 0, 0, 0);
      return d.getTime();
    });
    assert.equal(snooze.snoozedUntil, tomorrowNine);

    // t opens the tag picker; Esc closes it.
    await page.keyboard.press('t');
    await page.getByTestId('tag-picker').waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('tag-picker').waitFor({ state: 'detached' });

    // ? shows the cheat sheet, built from the one shortcut table.
    await page.keyboard.press('?');
    const sheet = page.getByRole('dialog', { name: 'Scorciatoie da tastiera' });
    await sheet.waitFor();
    assert.equal(await sheet.locator('[data-shortcut]').count(), 17);
    assert.match(
      await sheet.locator('[data-shortcut=contact]').textContent(),
      /C\s*Mostra o nascondi la scheda cliente/,
    );
    const next = await sheet.locator('[data-shortcut=next]').textContent();
    assert.match(next, /J\s*oppure\s*↓\s*Conversazione successiva/);
    assert.match(
      await sheet.locator('[data-shortcut=template]').textContent(),
      /Ctrl\s*\/\s*Risposte rapide/,
    );
    await page.keyboard.press('Escape');
    await sheet.waitFor({ state: 'detached' });

    // r goes to the reply box; typing there fires nothing; Esc leaves it; n makes a note.
    const statusCalls = (await calls(page, 'set_status')).length;
    await page.keyboard.press('r');
    assert.equal(await focused(page), 'composer');
    await page.keyboard.type('jkesp?t');
    assert.equal(await page.getByTestId('composer').inputValue(), 'jkesp?t');
    assert.equal((await calls(page, 'set_status')).length, statusCalls);
    assert.equal(await page.getByRole('dialog').count(), 0);
    await page.keyboard.press('Escape');
    assert.notEqual(await focused(page), 'composer');
    await page.keyboard.press('n');
    assert.equal(await thread.locator('form.composer').getAttribute('data-mode'), 'note');
    assert.equal(await focused(page), 'composer');
    assert.equal(await page.getByTestId('composer').inputValue(), 'jkesp?t', 'the text stays');

    // / (not typing) goes to the search box.
    await page.keyboard.press('Escape');
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('type')), 'search');
    assert.deepEqual(errors, []);
    await context.close();
  });
});
