// A Dutch browser in Debian's Chromium (playwright-core, context locale nl-NL, so its
// Accept-Language is Dutch): the landing and sign-up pages speak Dutch and their controls are
// found by their Dutch labels; the new Dutch account's consent page is Dutch; an authorization
// request with ui_locales=de makes sign-up and then consent German. Sign-up and consent are
// screenshotted at 390 px wide into a temporary folder (never committed) and must not scroll
// sideways (document.documentElement.scrollWidth <= 390).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, startCallbackServer } from '../helpers/chromium.js';
import { startTestServer } from '../helpers/server.js';
import { createClient } from '../helpers/fixtures.js';

const PHONE = { width: 390, height: 844 };
const PASSWORD = 'een lang genoeg wachtwoord';
const SCREENSHOTS = mkdtempSync(join(tmpdir(), 'latchkey-languages-'));

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-390.png`), fullPage: true });
  const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
  assert.ok(width <= PHONE.width, `${name}: the page is ${width}px wide on a ${PHONE.width}px screen`);
}

async function dutchBrowser(browser: Browser): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ locale: 'nl-NL', viewport: PHONE });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  return { context, page, errors };
}

test('[sqlite] in Chromium: a Dutch browser signs up in Dutch and consents in Dutch; ui_locales=de makes both German; no sideways scrolling at 390 px', async () => {
  const server = await startTestServer('sqlite');
  const callback = await startCallbackServer();
  const browser = await launchChromium();
  try {
    const { context, page, errors } = await dutchBrowser(browser);
    const accept = await page.evaluate('navigator.language');
    assert.equal(accept, 'nl-NL', 'the browser is Dutch');

    // ---- the landing page and sign-up, in Dutch -------------------------------------------
    await page.goto(`${server.url}/`);
    assert.equal(await page.getAttribute('html', 'lang'), 'nl');
    await page.getByRole('heading', { name: 'Welkom bij Latchkey' }).waitFor();
    await page.getByRole('link', { name: 'Account aanmaken' }).click();
    await page.waitForURL(`${server.url}/signup`);
    await page.getByRole('heading', { name: 'Account aanmaken' }).waitFor();
    assert.equal(await page.getByLabel('Taal').inputValue(), 'nl', 'the language field starts as the browser\'s');
    await shoot(page, 'signup-nl');

    await page.getByLabel('Naam').fill('Anouk de Vries');
    await page.getByLabel('E-mailadres').fill('anouk@example.com');
    await page.getByLabel('Wachtwoord', { exact: true }).fill('kort');
    await page.getByLabel('Wachtwoord herhalen').fill('kort');
    await page.getByRole('button', { name: 'Account aanmaken' }).click();
    await page.locator('#f-password-error').waitFor();
    assert.equal(await page.locator('#f-password-error').textContent(), 'Het wachtwoord moet minstens 8 tekens lang zijn');
    await shoot(page, 'signup-nl-errors');

    await page.getByLabel('Wachtwoord', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Wachtwoord herhalen').fill(PASSWORD);
    await page.getByRole('button', { name: 'Account aanmaken' }).click();
    await page.waitForURL(`${server.url}/account`);
    assert.equal((await server.services.users.findByEmail('anouk@example.com'))?.locale, 'nl');

    // ---- consent, in the account's Dutch -----------------------------------------------------
    const client = await createClient(server, { name: 'Woningcheck', redirectUris: [`${callback.base}/cb`] });
    const authorize = (extra: Record<string, string> = {}) => `${server.url}/oauth/authorize?${new URLSearchParams({
      response_type: 'code', client_id: client.clientId, redirect_uri: `${callback.base}/cb`, state: 'st-1', scope: 'openid profile email', ...extra,
    })}`;
    await page.goto(authorize());
    await page.getByRole('button', { name: 'Toestaan' }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'nl');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Woningcheck toegang geven tot je account?');
    await page.getByRole('button', { name: 'Weigeren' }).waitFor();
    await page.getByRole('button', { name: 'Uitloggen' }).waitFor();
    await shoot(page, 'consent-nl');
    await page.getByRole('button', { name: 'Toestaan' }).click();
    await page.waitForURL((url) => url.toString().startsWith(`${callback.base}/cb?`));
    assert.notEqual(callback.hits.at(-1)?.searchParams.get('code') ?? '', '');
    assert.deepEqual(errors, []);
    await context.close();

    // ---- ui_locales=de from the application: German sign-up, then German consent ------------
    const second = await dutchBrowser(browser);
    await second.page.goto(authorize({ ui_locales: 'de' }));
    await second.page.waitForURL(/\/login\?/);
    await second.page.getByRole('link', { name: 'Konto erstellen' }).click();
    await second.page.getByRole('heading', { name: 'Konto erstellen' }).waitFor();
    assert.equal(await second.page.getAttribute('html', 'lang'), 'de');
    assert.equal(await second.page.getByLabel('Sprache').inputValue(), 'de');
    await shoot(second.page, 'signup-de');
    await second.page.getByLabel('Name').fill('Jonas Müller');
    await second.page.getByLabel('E-Mail-Adresse').fill('jonas@example.com');
    await second.page.getByLabel('Passwort', { exact: true }).fill(PASSWORD);
    await second.page.getByLabel('Passwort wiederholen').fill(PASSWORD);
    await second.page.getByRole('button', { name: 'Konto erstellen' }).click();
    await second.page.getByRole('button', { name: 'Erlauben' }).waitFor();
    assert.equal(await second.page.getAttribute('html', 'lang'), 'de');
    await shoot(second.page, 'consent-de');
    await second.page.getByRole('button', { name: 'Ablehnen' }).click();
    await second.page.waitForURL((url) => url.toString().startsWith(`${callback.base}/cb?`));
    assert.equal(callback.hits.at(-1)?.searchParams.get('error'), 'access_denied');
    assert.deepEqual(second.errors, []);
    await second.context.close();
  } finally {
    await browser.close();
    await new Promise((resolve) => callback.server.close(resolve));
    await server.close();
  }
  console.log(`screenshots in ${SCREENSHOTS}`);
});
