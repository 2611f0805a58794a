// Browser sign-in (OAuth2) for Gmail and Microsoft in the window, on the fake backend: the
// dialog offers "Sign in with ..." when the backend's provider table says so, and an account
// whose sign-in was revoked offers "Sign in again". Italian catalogue (the mock's it-IT).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { calls, openApp, serveAndLaunch } from './harness.js';

let server;
let browser;
serveAndLaunch((s, b) => ([server, browser] = [s, b]));

describe('browser sign-in', () => {
  test('a Gmail address offers "Accedi con Google", which adds the account', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'none' });
    await page.getByTestId('welcome').getByRole('button', { name: 'Collega la tua email' }).click();
    const dialog = page.getByRole('dialog', { name: 'Collega una casella email' });
    await dialog.waitFor();
    // A domain without browser sign-in shows no button.
    await page.getByTestId('account-address').fill('info@bottega.example');
    await page.getByTestId('account-name').click();
    assert.equal(await page.getByTestId('account-oauth').count(), 0);

    await page.getByTestId('account-address').fill('negozio@gmail.com');
    await page.getByTestId('account-name').fill('Negozio');
    const google = page.getByTestId('account-oauth-google');
    await google.waitFor();
    assert.equal((await google.textContent()).trim(), 'Accedi con Google');
    await google.click();
    await dialog.waitFor({ state: 'detached' });
    const [signIn] = await calls(page, 'email_oauth_sign_in');
    assert.deepEqual(signIn.args.input, {
      name: 'Negozio',
      provider: 'google',
      address: 'negozio@gmail.com',
      auth_base: null,
      client_id: null,
      client_secret: null,
    });
    assert.equal((await calls(page, 'add_email_account')).length, 0, 'no password account');
    await page.locator('[data-account]', { hasText: 'Negozio' }).waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('an Outlook address offers Microsoft; a refused sign-in is explained', async () => {
    const { page, context } = await openApp(browser, server.url, { accounts: 'none' });
    await page.getByTestId('welcome').getByRole('button', { name: 'Collega la tua email' }).click();
    await page.getByTestId('account-address').fill('bottega@outlook.it');
    await page.getByTestId('account-name').click();
    const microsoft = page.getByTestId('account-oauth-microsoft');
    await microsoft.waitFor();
    assert.equal((await microsoft.textContent()).trim(), 'Accedi con Microsoft');
    await page.evaluate(() =>
      window.__sportelloMock.failNext('email_oauth_sign_in', {
        code: 'auth_failed',
        message: 'the Microsoft sign-in was cancelled or refused in the browser (access_denied)',
      }),
    );
    await microsoft.click();
    const alert = page.getByRole('dialog').locator('[data-result=error]');
    await alert.waitFor();
    assert.match(await alert.textContent(), /access_denied/);
    await context.close();
  });

  test('while the browser is open the dialog waits; cancelling ends it quietly', async () => {
    const { page, context, errors } = await openApp(browser, server.url, {
      accounts: 'none',
      oauthWaits: true,
    });
    await page.getByTestId('welcome').getByRole('button', { name: 'Collega la tua email' }).click();
    const dialog = page.getByRole('dialog', { name: 'Collega una casella email' });
    await page.getByTestId('account-address').fill('negozio@gmail.com');
    await page.getByTestId('account-name').click();
    await page.getByTestId('account-oauth-google').click();
    await dialog.getByText('Completa l’accesso nella finestra del browser').waitFor();
    assert.equal(await page.getByTestId('account-save').isDisabled(), true);
    await page.getByTestId('account-oauth-cancel').click();
    // Back to the choice, with no error for a cancel the user asked for.
    await page.getByTestId('account-oauth-google').waitFor();
    assert.equal(await dialog.locator('[data-result=error]').count(), 0);
    assert.equal((await calls(page, 'cancel_email_sign_in')).length, 1);
    assert.equal(await page.getByTestId('account-save').isDisabled(), false);

    // Closing the dialog while waiting cancels too.
    await page.getByTestId('account-oauth-google').click();
    await page.getByTestId('account-oauth-cancel').waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await calls(page, 'cancel_email_sign_in')).length, 2);
    assert.deepEqual(errors, []);
    await context.close();
  });

  test('a revoked sign-in shows "Accedi di nuovo", which keeps the account', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    const nav = page.getByRole('navigation');
    const account = nav.locator('[data-account="1"]');
    await account.waitFor();
    assert.equal(await account.getByTestId('account-sign-in-again').count(), 0);
    await page.evaluate(() => window.__sportelloMock.revokeSignIn(1));
    const again = account.getByTestId('account-sign-in-again');
    await again.waitFor();
    assert.match(await account.textContent(), /accedi di nuovo/i);
    await again.click();
    await page.getByText('accesso effettuato di nuovo').waitFor();
    await account.getByTestId('account-sign-in-again').waitFor({ state: 'detached' });
    assert.deepEqual((await calls(page, 'email_sign_in_again')).at(-1).args, { accountId: 1 });
    await nav.locator('[data-account="1"][data-state="idle"]').waitFor();
    assert.deepEqual(errors, []);
    await context.close();
  });
  test('the sign-in clients in Advanced settings: id, tenant, secret to the keyring only', async () => {
    const { page, context, errors } = await openApp(browser, server.url, { accounts: 'demo' });
    await page.getByRole('navigation').getByRole('button', { name: 'Impostazioni' }).click();
    const dialog = page.getByRole('dialog', { name: 'Impostazioni' });
    const section = dialog.getByTestId('settings-oauth-clients');
    await section.waitFor();
    assert.match(await section.textContent(), /Client di accesso per Gmail e Microsoft/);
    const google = section.getByTestId('oauth-client-google');
    const microsoft = section.getByTestId('oauth-client-microsoft');
    // Google has the build's default; Microsoft has none here, and a tenant field.
    assert.equal(
      await google.locator('input[name=client_id]').getAttribute('placeholder'),
      'Quello di Sportello (lascia vuoto)',
    );
    assert.equal(await google.locator('input[name=tenant]').count(), 0);
    assert.equal(await microsoft.locator('input[name=tenant]').count(), 1);

    await google.locator('input[name=client_id]').fill(' 1234-negozio.apps.googleusercontent.com ');
    await google.locator('input[name=client_secret]').fill('GOCSPX-segreto');
    await google.getByRole('button', { name: 'Salva Google' }).click();
    await page.locator('.toast', { hasText: 'Client di accesso Google salvato.' }).waitFor();
    assert.deepEqual((await calls(page, 'set_oauth_client')).at(-1).args.input, {
      provider: 'google',
      client_id: '1234-negozio.apps.googleusercontent.com',
      tenant: '',
      client_secret: 'GOCSPX-segreto',
    });
    // The secret is not shown back: the field is empty and says one is kept.
    const secret = google.locator('input[name=client_secret]');
    assert.equal(await secret.inputValue(), '');
    assert.equal(
      await secret.getAttribute('placeholder'),
      'Salvato nel portachiavi: scrivi per sostituirlo',
    );
    assert.equal(
      await google.locator('input[name=client_id]').inputValue(),
      '1234-negozio.apps.googleusercontent.com',
    );

    // Saving again without typing a secret keeps it (no client_secret sent)...
    await google.getByRole('button', { name: 'Salva Google' }).click();
    await page.waitForFunction(
      () => window.__sportelloMock.calls.filter((c) => c.cmd === 'set_oauth_client').length === 2,
    );
    const again = (await calls(page, 'set_oauth_client')).at(-1).args.input;
    assert.equal('client_secret' in again, false, JSON.stringify(again));
    // ...and "remove" sends an empty one.
    await google.locator('input[name=clear_secret]').check();
    await google.getByRole('button', { name: 'Salva Google' }).click();
    await page.waitForFunction(
      () => window.__sportelloMock.calls.filter((c) => c.cmd === 'set_oauth_client').length === 3,
    );
    assert.equal((await calls(page, 'set_oauth_client')).at(-1).args.input.client_secret, '');
    await google.locator('input[name=clear_secret]').waitFor({ state: 'detached' });
    assert.equal(await secret.getAttribute('placeholder'), 'Nessuno');

    // Microsoft with its tenant; a tenant that is not one is refused with the reason shown.
    await microsoft.locator('input[name=client_id]').fill('ms-negozio');
    await microsoft.locator('input[name=tenant]').fill('contoso.com/../x');
    await microsoft.getByRole('button', { name: 'Salva Microsoft' }).click();
    await page
      .locator('.toast', { hasText: 'Impossibile salvare il client di accesso.' })
      .waitFor();
    await microsoft.locator('input[name=tenant]').fill('contoso.onmicrosoft.com');
    await microsoft.getByRole('button', { name: 'Salva Microsoft' }).click();
    await page.locator('.toast', { hasText: 'Client di accesso Microsoft salvato.' }).waitFor();
    assert.deepEqual((await calls(page, 'set_oauth_client')).at(-1).args.input, {
      provider: 'microsoft',
      client_id: 'ms-negozio',
      tenant: 'contoso.onmicrosoft.com',
    });
    // The window never shows a secret back.
    assert.equal((await dialog.innerHTML()).includes('GOCSPX'), false);
    assert.deepEqual(errors, []);
    await context.close();
  });
});
