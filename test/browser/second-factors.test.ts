// Second factors and passkeys in a real browser (Debian's Chromium driven by playwright-core),
// under the CSP our pages send: the authenticator app set up from its QR page with a code
// computed here and then asked for at login; a recovery code used instead; a passkey added on
// the account page and used alone ("Sign in with a passkey", no e-mail, no password) and as the
// second step after a password, through Chromium's virtual authenticator (DevTools protocol
// WebAuthn domain). WebAuthn needs a secure context: http://localhost counts as one, so the
// issuer (the relying party) is localhost here. Pages are screenshotted 390 px wide and must
// not scroll sideways; a console error (a CSP refusal shows as one) fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Secret, TOTP } from 'otpauth';
import type { Page } from 'playwright-core';
import { decodeJwt } from 'jose';
import { launchChromium, startCallbackServer } from '../helpers/chromium.js';
import { createClient, createUser } from '../helpers/fixtures.js';
import { exchangeCode } from '../helpers/token.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { databaseKinds, type DbKind } from '../helpers/databases.js';

const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');
const PHONE = { width: 390, height: 844 };

async function localServer(kind: DbKind): Promise<TestServer> {
  const server = await startTestServer(kind, { overrides: { loginRateLimit: 0 }, env: { LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } });
  // The relying party: localhost (a secure context for Chromium), on the server's port.
  server.config.issuer = server.url.replace('127.0.0.1', 'localhost');
  return server;
}

/** Screenshots the page at phone width and checks it does not scroll sideways. */
async function shoot(page: Page, name: string): Promise<void> {
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(SCREENSHOTS, `factors-${name}-390.png`), fullPage: true });
  const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
  assert.ok(overflow <= 0, `${name}: ${overflow}px wider than a 390px phone`);
}

function watchConsole(page: Page, errors: string[]): void {
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
}

async function passwordSignIn(page: Page, base: string, email: string, password: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function signOut(page: Page, base: string): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(`${base}/login`);
}

/**
 * An OpenID authorization in the signed-in browser page, allowed on the consent page: the ID
 * token of the code the client application receives (its acr and amr).
 */
async function idTokenInBrowser(page: Page, server: TestServer, base: string): Promise<{ acr: unknown; amr: unknown }> {
  const callback = await startCallbackServer();
  try {
    const client = await createClient(server, { name: 'Passkey RP', redirectUris: [`${callback.base}/cb`] });
    await page.goto(`${base}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.clientId, redirect_uri: `${callback.base}/cb`, scope: 'openid', state: 'acr' })}`);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.toString().startsWith(`${callback.base}/cb?`));
    const code = callback.hits.at(-1)?.searchParams.get('code') ?? '';
    const res = await exchangeCode(server, client, code);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const payload = decodeJwt(res.body.id_token as string);
    return { acr: payload.acr, amr: payload.amr };
  } finally {
    await new Promise((resolve) => callback.server.close(resolve));
  }
}

async function lastSessionAmr(server: TestServer, userId: number): Promise<unknown> {
  const row = await server.services.store.db.selectFrom('sessions').select(['amr']).where('user_id', '=', userId).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
  return row.amr === null ? null : JSON.parse(row.amr);
}

for (const kind of databaseKinds()) {
  test(`[${kind}] in Chromium: authenticator app set up from its QR page, asked for at login; a recovery code instead`, async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const server = await localServer(kind);
    const base = server.config.issuer;
    const browser = await launchChromium();
    const errors: string[] = [];
    try {
      const user = await createUser(server, { locale: 'en' });
      const context = await browser.newContext();
      const page = await context.newPage();
      watchConsole(page, errors);
      await passwordSignIn(page, base, user.email, user.password);
      await page.waitForURL(`${base}/account`);
      await shoot(page, 'account');

      await page.getByRole('button', { name: 'Set up authenticator app' }).click();
      await page.waitForURL(`${base}/account/totp`);
      await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
      // Decoded and drawn: the CSP let the data: image in.
      await page.waitForFunction('document.querySelector("img[alt^=QR]").naturalWidth > 0', undefined, { timeout: 5000 });
      const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
      assert.match(secret, /^[A-Z2-7]{32}$/);
      await shoot(page, 'totp-setup');
      const totp = new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 });
      await page.getByLabel('Code from the app').fill(totp.generate({ timestamp: server.clock.nowMs() }));
      await page.getByRole('button', { name: 'Turn on' }).click();
      await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
      const codes = (await page.locator('#recovery-codes code').allTextContents()).map((c) => c.trim());
      assert.equal(codes.length, 10);
      await shoot(page, 'recovery-codes');
      await page.getByRole('link', { name: 'I have saved my codes' }).click();
      await page.waitForURL(`${base}/account#security`);
      await page.getByText('Signing in with your password asks for a code from your authenticator app.').waitFor();
      await signOut(page, base);

      // The next code (the first one was spent on the set-up).
      server.clock.advance(30);
      await passwordSignIn(page, base, user.email, user.password);
      await page.waitForURL(`${base}/login/factor`);
      await shoot(page, 'factor');
      await page.getByLabel('Authentication code').fill(totp.generate({ timestamp: server.clock.nowMs() }));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(`${base}/account`);
      assert.deepEqual(await lastSessionAmr(server, user.id), ['pwd', 'otp', 'mfa']);
      await signOut(page, base);

      // Lost phone: a recovery code instead.
      await passwordSignIn(page, base, user.email, user.password);
      await page.waitForURL(`${base}/login/factor`);
      await page.getByText('Use a recovery code').click();
      await page.getByLabel('Recovery code').fill(codes[3] ?? '');
      await page.getByRole('button', { name: 'Use recovery code' }).click();
      await page.waitForURL(`${base}/account`);
      await page.getByText('9 of 10 recovery codes left.').waitFor();
      await signOut(page, base);

      // The same code again: refused, with a message on the page.
      await passwordSignIn(page, base, user.email, user.password);
      await page.waitForURL(`${base}/login/factor`);
      await page.getByText('Use a recovery code').click();
      await page.getByLabel('Recovery code').fill(codes[3] ?? '');
      await page.getByRole('button', { name: 'Use recovery code' }).click();
      await page.getByRole('alert').filter({ hasText: 'That recovery code is not right or was used already.' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/login/factor');
      await context.close();
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.close();
    }
  });

  test(`[${kind}] in Chromium: a passkey added on the account page signs in alone (its ID token's acr is phr), and as the second step after a password`, async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const server = await localServer(kind);
    const base = server.config.issuer;
    const browser = await launchChromium();
    const errors: string[] = [];
    try {
      const user = await createUser(server, { locale: 'en' });
      const context = await browser.newContext();
      const page = await context.newPage();
      watchConsole(page, errors);
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
      });

      await passwordSignIn(page, base, user.email, user.password);
      await page.waitForURL(`${base}/account`);
      await page.getByLabel('Passkey label').fill('Test laptop');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      // The first factor of the account: its recovery codes are made and shown once.
      await page.waitForURL(`${base}/account/recovery-codes`);
      assert.equal(await page.locator('#recovery-codes code').count(), 10);
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      assert.equal(credentials.length, 1);
      assert.equal(credentials[0]?.isResidentCredential, true, 'a discoverable credential');
      await page.getByRole('link', { name: 'I have saved my codes' }).click();
      await page.getByRole('heading', { name: 'Test laptop' }).waitFor();
      await shoot(page, 'account-passkey');
      await signOut(page, base);

      // Passkey only: no e-mail address, no password.
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.waitForURL(`${base}/account`);
      assert.deepEqual(await lastSessionAmr(server, user.id), ['hwk', 'mfa']);
      // The ID token says so: acr phr (phishing-resistant, OpenID EAP ACR Values).
      assert.deepEqual(await idTokenInBrowser(page, server, base), { acr: 'phr', amr: ['hwk', 'mfa'] });
      await page.goto(`${base}/account`);
      await signOut(page, base);

      // The password now needs a second step: the passkey.
      await passwordSignIn(page, base, user.email, user.password);
      await page.waitForURL(`${base}/login/factor`);
      await shoot(page, 'factor-passkey');
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await page.waitForURL(`${base}/account`);
      assert.deepEqual(await lastSessionAmr(server, user.id), ['pwd', 'hwk', 'mfa']);
      const used = server.logs.filter((l) => l.includes('"event":"factor.used"'));
      assert.equal(used.length, 2);

      // Removed, it no longer signs in.
      await page.getByRole('button', { name: 'Remove passkey Test laptop' }).click();
      await page.waitForURL(`${base}/account?done=passkey_removed#security`);
      await signOut(page, base);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.getByRole('alert').filter({ hasText: 'This passkey is not registered here.' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/login');
      await context.close();
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await server.close();
    }
  });
}
