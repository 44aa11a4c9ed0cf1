// The pages in a real browser (Debian's Chromium driven by playwright-core): sign up, register
// a client with two comma-separated redirect URIs, copy its secret, go through login and
// consent in an authorization-code flow, exchange the code, see the app under connected apps,
// revoke it and watch its token fail at /api/user, reset the secret and watch the old one fail
// at the token endpoint. Every page is screenshotted at desktop and phone width into
// test-output/screenshots/ (git-ignored), and checked for unlabelled inputs, horizontal
// overflow on a phone and console errors (a CSP violation shows up as one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, startCallbackServer } from '../helpers/chromium.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../../src/accounts/users.js';
import { nowSeconds } from '../../src/oauth/clock.js';

const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };
const PASSWORD = 'a long enough password';

// Written as strings: the test project is typed without the DOM library.
const UNLABELLED_INPUTS = `Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  .filter((e) => !e.hidden && e.labels.length === 0 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map((e) => e.name || e.id)`;
const HORIZONTAL_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';
// WCAG 2.1 AA contrast (1.4.3): every element with its own visible text, against the first
// opaque background behind it: 4.5:1, or 3:1 for large text (24px, or 18.66px bold). Disabled
// controls are exempt.
const CONTRAST_FAILURES = `(() => {
  const parse = (c) => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null; const p = m[1].split(',').map(Number); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
  const lum = ({ r, g, b }) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c && c.a >= 1) return c; } return { r: 255, g: 255, b: 255, a: 1 }; };
  const failures = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
    if (!own || el.closest('[disabled], .visually-hidden, .skip')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none' || el.getClientRects().length === 0) continue;
    const fg = parse(style.color); const bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize); const bold = Number(style.fontWeight) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed) failures.push(el.tagName + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2) + ':1');
  }
  return failures;
})()`;
const STYLESHEET_APPLIED = "getComputedStyle(document.body).margin === '0px' && getComputedStyle(document.documentElement).backgroundColor === 'rgb(245, 247, 250)'";

/** Screenshots the page at desktop and phone width, with the checks every page must pass. */
async function shoot(page: Page, name: string): Promise<void> {
  for (const [label, size] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${label}.png`), fullPage: true });
    if (label === 'phone') {
      const overflow = (await page.evaluate(HORIZONTAL_OVERFLOW)) as number;
      assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than a 375px phone`);
    }
  }
  await page.setViewportSize(DESKTOP);
  assert.deepEqual(await page.evaluate(UNLABELLED_INPUTS), [], `${name}: every input has a label`);
  assert.equal(await page.evaluate(STYLESHEET_APPLIED), true, `${name}: the stylesheet is applied`);
  assert.deepEqual(await page.evaluate(CONTRAST_FAILURES), [], `${name}: text contrast meets WCAG AA`);
}

async function tokenRequest(server: TestServer, fields: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function apiUser(server: TestServer, accessToken: string): Promise<Response> {
  return fetch(`${server.url}/api/user`, { headers: { authorization: `Bearer ${accessToken}` } });
}

test('[sqlite] in Chromium: sign up, register a client, authorize it, revoke it, reset its secret; every page screenshotted', async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const server = await startTestServer('sqlite');
  const callback = await startCallbackServer();
  const browser = await launchChromium();
  const consoleErrors: string[] = [];
  let context: BrowserContext | undefined;
  try {
    context = await browser.newContext({ viewport: DESKTOP });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const page = await context.newPage();
    page.on('console', (msg) => {
      // Error pages (400, 404) are meant; anything else in red (a CSP refusal, a script error) is not.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));

    // ---- the landing page and sign-up ----------------------------------------------------
    await page.goto(`${server.url}/`);
    await shoot(page, '01-home');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.waitForURL(`${server.url}/signup`);
    await shoot(page, '02-signup');

    await page.getByLabel('Name').fill('Dana Developer');
    await page.getByLabel('E-mail address').fill('not an address');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByLabel('Password again').fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#f-email-error').waitFor();
    assert.match((await page.locator('#f-password-error').textContent()) ?? '', /at least 8 characters/);
    await shoot(page, '03-signup-errors');

    await page.getByLabel('E-mail address').fill('dana@example.com');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Password again').fill(PASSWORD);
    // English: the pages speak the account's language, and this test reads them in English
    // (test/browser/languages.test.ts has the Dutch account).
    await page.getByLabel('Language').fill('en-GB');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${server.url}/account`);
    assert.equal(await page.getByLabel('Name').inputValue(), 'Dana Developer');
    await shoot(page, '04-account');

    // ---- register a client with two comma-separated redirect URIs --------------------------
    await page.getByRole('link', { name: 'Developer' }).click();
    await page.waitForURL(`${server.url}/developer/clients`);
    await shoot(page, '05-developer-empty');
    await page.getByRole('link', { name: 'New client' }).click();
    await shoot(page, '06-new-client');

    // An http URI that is not loopback is refused, with the error next to the field.
    await page.getByLabel('Name').fill('Dana’s <Dashboard>');
    await page.getByLabel('Redirect URIs').fill('http://dashboard.example/cb');
    await page.getByRole('button', { name: 'Register client' }).click();
    assert.match((await page.locator('#f-redirect_uris-error').textContent()) ?? '', /must use https/);
    await shoot(page, '07-new-client-errors');

    const cb1 = `${callback.base}/cb`;
    const cb2 = `${callback.base}/cb2`;
    await page.getByLabel('Redirect URIs').fill(`${cb1}, ${cb2}`);
    await page.getByRole('button', { name: 'Register client' }).click();
    await page.getByRole('heading', { name: 'Client registered' }).waitFor();
    const clientId = ((await page.locator('#client-id').textContent()) ?? '').trim();
    const secret = ((await page.locator('#client-secret').textContent()) ?? '').trim();
    assert.match(clientId, /^[A-Za-z0-9_-]{16,}$/);
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.match((await page.getByRole('note').textContent()) ?? '', /never put it in client-side code/);

    // The copy button (revealed by /assets/copy.js) copies the secret and breaks nothing.
    const copySecret = page.getByRole('button', { name: 'Copy Client secret' });
    // Waiting from before the click: the label goes back after 2 s, which a slow machine may pass.
    await Promise.all([page.getByRole('button', { name: 'Copied Client secret' }).waitFor(), copySecret.click()]);
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), secret);
    assert.equal(((await page.locator('#client-secret').textContent()) ?? '').trim(), secret, 'the secret is still on the page');
    await shoot(page, '08-client-created');

    const client = await server.services.clients.findByClientId(clientId);
    assert.deepEqual(client?.redirectUris, [cb1, cb2]);
    assert.equal(client?.name, 'Dana’s <Dashboard>');

    await page.getByRole('link', { name: 'Done' }).click();
    await page.waitForURL(`${server.url}/developer/clients/${clientId}`);
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Dana’s <Dashboard>');
    await shoot(page, '09-client-edit');
    await page.goto(`${server.url}/developer/clients`);
    await shoot(page, '10-developer-list');

    // ---- an authorization-code flow through login and consent ------------------------------
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForLoadState();
    const state = 'st-Zk9';
    const authorize = `${server.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: cb2, state, scope: 'profile email' })}`;
    await page.goto(authorize);
    await page.waitForURL(/\/login\?/);
    await shoot(page, '11-login');
    await page.getByLabel('E-mail address').fill('dana@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    assert.match((await page.getByRole('heading', { level: 1 }).textContent()) ?? '', /Dana’s <Dashboard>/);
    await shoot(page, '12-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.toString().startsWith(`${cb2}?`));
    const landed = callback.hits.at(-1);
    assert.equal(landed?.pathname, '/cb2');
    assert.equal(landed?.searchParams.get('state'), state);
    const code = landed?.searchParams.get('code') ?? '';
    assert.notEqual(code, '');

    const exchanged = await tokenRequest(server, { grant_type: 'authorization_code', code, redirect_uri: cb2, client_id: clientId, client_secret: secret });
    assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
    const accessToken = String(exchanged.body.access_token);
    const refreshToken = String(exchanged.body.refresh_token);
    const me = await apiUser(server, accessToken);
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { id: 1, name: 'Dana Developer', email: 'dana@example.com', locale: 'en-GB' });

    // ---- connected apps: listed, then revoked; the token stops working at once --------------
    await page.goto(`${server.url}/account`);
    const apps = page.locator('#connected-apps');
    await apps.getByRole('heading', { name: 'Dana’s <Dashboard>' }).waitFor();
    assert.match((await apps.textContent()) ?? '', /profile[\s\S]*email/);
    await apps.scrollIntoViewIfNeeded();
    await shoot(page, '13-connected-apps');
    await apps.screenshot({ path: join(SCREENSHOTS, '13-connected-apps-section.png') });
    await apps.getByRole('button', { name: /Revoke access/ }).click();
    await page.getByText('Access revoked').waitFor();
    assert.match((await page.locator('#connected-apps').textContent()) ?? '', /not given any app access/);
    const afterRevoke = await apiUser(server, accessToken);
    assert.equal(afterRevoke.status, 401);
    assert.match(afterRevoke.headers.get('www-authenticate') ?? '', /invalid_token/);

    // ---- reset the secret: the old one is refused at the token endpoint ---------------------
    await page.goto(`${server.url}/developer/clients/${clientId}`);
    await page.getByRole('link', { name: 'Reset secret…' }).click();
    await page.getByRole('heading', { name: 'Reset the client secret?' }).waitFor();
    await shoot(page, '14-reset-confirm');
    // The confirmation box is required: without it the browser does not send the form.
    await page.getByRole('button', { name: 'Reset secret' }).click();
    assert.equal(page.url(), `${server.url}/developer/clients/${clientId}/reset-secret`);
    assert.equal((await server.services.clients.findByClientId(clientId))?.secretHash, client?.secretHash);
    await page.getByLabel('I understand that the current secret stops working at once').check();
    await page.getByRole('button', { name: 'Reset secret' }).click();
    await page.getByRole('heading', { name: 'New client secret' }).waitFor();
    const newSecret = ((await page.locator('#client-secret').textContent()) ?? '').trim();
    assert.notEqual(newSecret, secret);
    await shoot(page, '15-new-secret');

    const oldRefused = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, client_secret: secret });
    assert.equal(oldRefused.status, 401);
    assert.equal(oldRefused.body.error, 'invalid_client');
    const newAccepted = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, client_secret: newSecret });
    assert.equal(newAccepted.body.error, 'invalid_grant', 'the new secret authenticates; the revoked grant is what fails');

    // ---- organizations -------------------------------------------------------------------
    await createUser(server.services, { email: 'eve@example.com', name: 'Eve Member', password: PASSWORD });
    await page.getByRole('link', { name: 'Organizations' }).click();
    await page.waitForURL(`${server.url}/orgs`);
    await shoot(page, '16-orgs-empty');
    await page.getByLabel('Organization name').fill('Acme & Sons');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { level: 1, name: 'Acme & Sons' }).waitFor();
    await page.getByLabel('E-mail address').fill('eve@example.com');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await page.getByText('Invitation sent to eve@example.com. It is valid for 7 days; they will see it when they sign in.').waitFor();
    assert.match((await page.getByRole('heading', { name: 'Plan' }).locator('..').textContent()) ?? '', /latchkey org set-integrations/);
    assert.equal(await page.getByText('Eve Member').count(), 0, 'not a member until Eve accepts');
    await page.getByRole('heading', { name: 'Pending invitations' }).waitFor();
    await shoot(page, '17-org');

    // Eve, in a browser of her own, sees the invitation on /orgs and accepts it.
    const eveContext = await browser.newContext({ viewport: DESKTOP });
    try {
      const evePage = await eveContext.newPage();
      evePage.on('console', (msg) => {
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) consoleErrors.push(`${evePage.url()}: ${msg.text()}`);
      });
      await evePage.goto(`${server.url}/login`);
      await evePage.getByLabel('E-mail address').fill('eve@example.com');
      await evePage.getByLabel('Password').fill(PASSWORD);
      await evePage.getByRole('button', { name: 'Sign in', exact: true }).click();
      await evePage.waitForURL(`${server.url}/account`);
      await evePage.goto(`${server.url}/orgs`);
      await evePage.getByRole('heading', { name: 'Invitations' }).waitFor();
      await shoot(evePage, '17b-orgs-invitation');
      await evePage.getByRole('button', { name: 'Accept the invitation to Acme & Sons' }).click();
      await evePage.getByText('You accepted the invitation: you are now a member.').waitFor();
      await evePage.getByRole('heading', { level: 1, name: 'Acme & Sons' }).waitFor();
    } finally {
      await eveContext.close();
    }
    await page.reload();
    await page.getByText('Eve Member').first().waitFor();
    await page.getByRole('link', { name: 'Organizations' }).first().click();
    await page.waitForURL(`${server.url}/orgs`);
    await shoot(page, '18-orgs');

    // The consent page with an organization to choose (integrations on for one, off for another).
    const now = nowSeconds(server.clock);
    const offOrg = await server.services.orgs.insert({ name: 'Frugal Inc', integrationsEnabled: false, now });
    await server.services.orgs.upsertMember(offOrg.id, 1, 'member', now);
    await page.goto(`${server.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: cb1, state: 'two' })}`);
    await page.getByRole('button', { name: 'Deny' }).waitFor();
    await shoot(page, '19-consent-organizations');
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL((url) => url.toString().startsWith(`${cb1}?`));
    assert.equal(callback.hits.at(-1)?.searchParams.get('error'), 'access_denied');

    // ---- error pages ---------------------------------------------------------------------
    const bad = await page.goto(`${server.url}/oauth/authorize?response_type=code&client_id=no-such-client&redirect_uri=${encodeURIComponent(cb1)}`);
    assert.equal(bad?.status(), 400);
    await shoot(page, '20-error-authorize');
    const missing = await page.goto(`${server.url}/developer/clients/no-such-client`);
    assert.equal(missing?.status(), 404);
    await shoot(page, '21-error-not-found');

    // ---- delete the client ---------------------------------------------------------------
    await page.goto(`${server.url}/developer/clients/${clientId}`);
    await page.getByRole('link', { name: 'Delete client…' }).click();
    await shoot(page, '22-delete-confirm');
    await page.getByLabel('I understand that this cannot be undone').check();
    await page.getByRole('button', { name: 'Delete client' }).click();
    await page.getByText('The client is deleted').waitFor();
    assert.equal(await server.services.clients.findByClientId(clientId), undefined);
    assert.equal((await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId, client_secret: newSecret })).status, 401);

    assert.deepEqual(consoleErrors, [], 'no console errors (a CSP violation would be one)');
  } finally {
    await context?.close();
    await browser.close();
    await new Promise((resolve) => callback.server.close(resolve));
    await server.close();
  }
});

test('[sqlite] in Chromium without JavaScript: the pages work and the secret is plain selectable text', async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const server = await startTestServer('sqlite');
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: DESKTOP, javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Name').fill('Nojs Person');
    await page.getByLabel('E-mail address').fill('nojs@example.com');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Password again').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${server.url}/account`);

    await page.goto(`${server.url}/developer/clients/new`);
    await page.getByLabel('Name').fill('Script-free');
    await page.getByLabel('Redirect URIs').fill('https://a.example/cb\nhttp://localhost:3000/cb');
    await page.getByRole('button', { name: 'Register client' }).click();
    await page.getByRole('heading', { name: 'Client registered' }).waitFor();
    const secret = ((await page.locator('#client-secret').textContent()) ?? '').trim();
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await page.locator('button[data-copy]').first().isVisible(), false, 'no dead copy buttons without JavaScript');
    // A click selects the whole secret (user-select: all), ready for Ctrl+C.
    const userSelect = await page.evaluate("(() => { const s = getComputedStyle(document.getElementById('client-secret')); return s.userSelect || s.webkitUserSelect; })()");
    assert.equal(userSelect, 'all');
    await shoot(page, '23-client-created-nojs');

    // A public client: no secret to show, PKCE explained.
    await page.goto(`${server.url}/developer/clients/new`);
    await page.getByLabel('Name').fill('Phone app');
    await page.getByLabel('Redirect URIs').fill('https://phone.example/cb');
    await page.getByLabel(/Public client/).check();
    await page.getByRole('button', { name: 'Register client' }).click();
    await page.getByRole('heading', { name: 'Client registered' }).waitFor();
    assert.equal(await page.locator('#client-secret').count(), 0);
    await shoot(page, '24-public-client-created');
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});
