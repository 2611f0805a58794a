// Email in the thread and the composer, in headless Chromium on the fake backend: files on a
// reply (picker and drop, chips with sizes, the 25 MB limit), quoted text and signatures
// folded behind "…", the plain-text preference, forwarding, remote images still blocked.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calls, mock, openApp, serveAndLaunch } from './harness.js';

let server;
let browser;
serveAndLaunch((s, b) => ([server, browser] = [s, b]));

/** Opens conversation 1: an email with an HTML body, a quote and remote images. */
async function openEmail(page) {
  await page.getByTestId('conversation-row').first().waitFor();
  await mock(page, () => window.__sportelloMock.emitOpen(1));
  await page.locator('[data-testid=thread][data-conversation="1"]').waitFor();
}

describe('email', () => {
  test('files on an email reply: picker and drop, sizes, remove, the 25 MB limit holds Send', async () => {
    const big = '/home/utente/Video/consegna.mp4';
    const { page, context, errors } = await openApp(browser, server.url, {
      accounts: 'demo',
      fileSizes: { '/home/utente/Documenti/ricevuta.pdf': 245_812, [big]: 20 * 1024 * 1024 },
    });
    await openEmail(page);
    const tray = page.getByRole('list', { name: 'File da inviare' });
    // Email attaches too (it did not before).
    await page.getByTestId('attach').click();
    const pdf = tray.getByRole('listitem').filter({ hasText: 'ricevuta.pdf' });
    await pdf.waitFor();
    assert.match(await pdf.textContent(), /ricevuta\.pdf\s*246\s*kB/);

    // A file dropped on the window joins the tray; together they are over 25 MB as sent.
    await mock(page, (p) => window.__sportelloMock.dropFiles([p]), big);
    const video = tray.getByRole('listitem').filter({ hasText: 'consegna.mp4' });
    await video.waitFor();
    assert.match(await video.textContent(), /21\s*MB/);
    const tooBig = page.getByTestId('attachments-too-big');
    await tooBig.waitFor();
    assert.match(await tooBig.textContent(), /superano i 25 MB/);
    await page.getByTestId('composer').fill('Ecco la ricevuta e il video');
    assert.equal(await page.getByTestId('send').isDisabled(), true);
    assert.equal((await calls(page, 'describe_files')).length, 2);

    // Removing the video lifts the limit; the reply goes with the PDF.
    await video.getByRole('button', { name: 'Togli consegna.mp4' }).click();
    await tooBig.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('send').isDisabled(), false);
    await page.getByTestId('send').click();
    const thread = page.getByTestId('thread');
    await thread.locator('article.outbound', { hasText: 'Ecco la ricevuta e il video' }).waitFor();
    const sent = (await calls(page, 'send_reply')).at(-1);
    assert.deepEqual(sent.args.files, ['/home/utente/Documenti/ricevuta.pdf']);
    assert.equal(await tray.count(), 0);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('quoted text folds behind "…" in the HTML and in plain text (a setting)', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await openEmail(page);
    const thread = page.getByTestId('thread');
    const body = page.frameLocator('[data-testid=thread] iframe').locator('body');
    await body.getByText('è arrivato rovinato').waitFor();
    const quote = body.getByText('È partita ieri con BRT.');
    assert.equal(await quote.isVisible(), false, 'the quote starts folded');
    const toggle = thread.getByTestId('fold-toggle');
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
    assert.equal(await toggle.getAttribute('aria-label'), 'Mostra il testo citato e la firma');
    await toggle.click();
    await page
      .frameLocator('[data-testid=thread] iframe')
      .getByText('È partita ieri con BRT.')
      .waitFor({ state: 'visible' });
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    // Remote images stay blocked while folding and unfolding.
    assert.match(
      await page.locator('[data-testid=thread] iframe').getAttribute('srcdoc'),
      /img-src data: cid:;/,
    );
    await page.getByRole('note').filter({ hasText: 'Immagini remote bloccate' }).waitFor();
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'false');

    // The plain-text preference, from the settings.
    await page.getByRole('navigation').getByRole('button', { name: 'Impostazioni' }).click();
    const dialog = page.getByRole('dialog', { name: 'Impostazioni' });
    await dialog.getByLabel('Mostra le email come testo semplice (senza grafica)').check();
    const saved = (await calls(page, 'update_settings')).at(-1);
    assert.equal(saved.args.settings.prefer_plain_text, true);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    const article = thread.locator('article', { hasText: 'è arrivato rovinato' });
    await article.locator('p.text').waitFor();
    assert.equal(await thread.locator('iframe').count(), 0, 'no HTML frame');
    assert.equal(
      await article.locator('p.text').textContent(),
      'Grazie! Allego la foto del pacco: è arrivato rovinato. Vedi anche la fattura.',
    );
    await article.getByTestId('fold-toggle').click();
    assert.match(
      await article.locator('p.text').textContent(),
      /ha scritto:\n> È partita ieri con BRT\.$/,
    );
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('forwarding an email: address checked, note, shown in the thread as ours', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await openEmail(page);
    const thread = page.getByTestId('thread');
    // The HTML body is in a frame: the message is the one that shows it.
    const original = thread.locator('article', { has: page.locator('iframe') });
    await original.getByRole('button', { name: 'Inoltra' }).click();
    const form = thread.getByTestId('forward-form');
    const send = form.getByRole('button', { name: 'Inoltra' });
    await form.getByLabel('Inoltra a').fill('magazzino');
    assert.equal(await send.isDisabled(), true, 'not an address yet');
    await form.getByLabel('Inoltra a').fill('magazzino@bottega.example');
    await form.getByLabel('Messaggio (facoltativo)').fill('Controllate l’imballo?');
    await send.click();
    await form.waitFor({ state: 'detached' });
    const [call] = await calls(page, 'forward_message');
    assert.equal(call.args.to, 'magazzino@bottega.example');
    assert.equal(call.args.text, 'Controllate l’imballo?');
    assert.equal(typeof call.args.messageId, 'number');
    const forward = thread.locator('article.outbound', { hasText: 'Forwarded message' });
    await forward.waitFor();
    assert.match(await forward.textContent(), /Controllate l’imballo\?/);
    // The original's files went with it.
    await forward.getByText('fattura-1042.pdf').waitFor();
    await page.getByText('Inoltro a magazzino@bottega.example in partenza.').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });
});
