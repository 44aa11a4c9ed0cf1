// RP-initiated logout in a real browser (Debian's Chromium driven by playwright-core), under
// the CSP our pages send: a valid hint sends the browser straight back to the client's
// post-logout URI with its state; without one, the confirmation page's "Sign out" button
// posts to us and our 303 leads to the client — which Chromium allows only because the page's
// form-action names the client's origin (it applies form-action to the redirect; shown at the
// end by the same page under a policy without it, where the browser refuses to go).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { launchChromium, startCallbackServer } from '../helpers/chromium.js';
import { sessionSid } from '../../src/http/session.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { createClient, createUser } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');
async function signInThroughPage(page: Page, server: TestServer, email: string, password: string): Promise<void> {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${server.url}/account`);
}

test('[sqlite] in Chromium: logout with a hint redirects back at once; the confirmation form\'s redirect is followed under our CSP', async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const server = await startTestServer('sqlite', { overrides: { loginRateLimit: 0 } });
  const app = await startCallbackServer();
  const browser = await launchChromium();
  const consoleErrors: string[] = [];
  try {
    const bye = `${app.base}/bye`;
    const rp = await createClient(server, { name: 'Browser RP', redirectUris: [`${app.base}/cb`], postLogoutRedirectUris: [bye] });
    const user = await createUser(server, { locale: 'en' }) as Awaited<ReturnType<typeof createUser>> & { subject: string };
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('console', (msg) => {
      // A favicon's 404 is meant; a CSP refusal or a script error is not.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });

    // ---- a valid hint: straight back to the client, signed out --------------------------------
    await signInThroughPage(page, server, user.email, user.password);
    const cookie = (await context.cookies(server.url)).find((c) => c.name === 'lk_session');
    assert.ok(cookie, 'signed in');
    const { kid, privateKey, alg } = await server.services.signingKeys.signingKey('RS256');
    const now = nowSeconds(server.clock);
    const hint = await new SignJWT({ sid: sessionSid({ idHash: sha256Hex(cookie.value) }), amr: ['pwd'], auth_time: now })
      .setProtectedHeader({ alg, kid, typ: 'JWT' }).setIssuer(server.config.issuer).setSubject(user.subject).setAudience(rp.clientId)
      .setIssuedAt(now).setExpirationTime(now + 600).sign(privateKey);
    await page.goto(`${server.url}/oauth/logout?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: bye, state: 'with-hint' })}`);
    await page.waitForURL(`${bye}?state=with-hint`);
    assert.equal(app.hits.at(-1)?.searchParams.get('state'), 'with-hint');
    await page.goto(`${server.url}/account`);
    await page.waitForURL(/\/login\?/);

    // ---- client_id only: confirm, then the form's answer redirects to the client ---------------
    await signInThroughPage(page, server, user.email, user.password);
    const asked = `${server.url}/oauth/logout?${new URLSearchParams({ client_id: rp.clientId, post_logout_redirect_uri: bye, state: 'confirmed' })}`;
    await page.goto(asked);
    await page.getByRole('heading', { name: 'Sign out of Latchkey?' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'logout-confirm-desktop.png'), fullPage: true });
    await page.getByRole('main').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${bye}?state=confirmed`);
    assert.equal(app.hits.at(-1)?.searchParams.get('state'), 'confirmed');
    assert.deepEqual(consoleErrors, [], 'no CSP refusal or script error on the way');
    await page.goto(`${server.url}/account`);
    await page.waitForURL(/\/login\?/);

    // ---- the same page under a policy without the client's origin: Chromium refuses -------------
    await signInThroughPage(page, server, user.email, user.password);
    await page.route(/\/oauth\/logout\?/, async (route) => {
      const response = await route.fetch();
      const csp = (response.headers()['content-security-policy'] ?? '').replace(/ http:\/\/127\.0\.0\.1:\d+$/, '');
      assert.match(csp, /form-action 'self'$/);
      await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': csp } });
    });
    const hitsBefore = app.hits.length;
    await page.goto(asked);
    await page.getByRole('main').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForTimeout(1500);
    assert.equal(app.hits.length, hitsBefore, 'with form-action \'self\' alone the browser does not follow the redirect');
    assert.ok(consoleErrors.some((e) => /form-action/.test(e)), `Chromium reports the refusal: ${consoleErrors.join(' | ')}`);
    await context.close();
  } finally {
    await browser.close();
    await new Promise((resolve) => app.server.close(resolve));
    await server.close();
  }
});
