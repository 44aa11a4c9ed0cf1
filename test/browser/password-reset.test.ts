// Password reset and "Sign out everywhere else" in a real browser (Debian's Chromium driven by
// playwright-core), with the reset mail sent over SMTP to a real SMTP server on loopback:
// "Forgot password?" on the login page → the e-mail address → the link from the mail → a new
// password → sign in with it. Then two browsers signed in: "Sign out everywhere else" in one
// ends the other. Controls are found by what a person reads; each page is also shown 390 px
// wide (screenshots in test-output/screenshots) without horizontal scrolling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { createUser } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { MailSink } from '../helpers/mail.js';

const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');
const NEW_PASSWORD = 'my new browser passphrase';

async function signInThroughPage(page: Page, server: TestServer, email: string, password: string): Promise<void> {
  await page.goto(`${server.url}/login`);
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(`${server.url}/account`);
}

/** A screenshot 390 px wide, and the proof that nothing scrolls sideways. */
async function narrowShot(page: Page, name: string): Promise<void> {
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
  assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than 390 px`);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-390.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
}

test('[sqlite] in Chromium: forgot password → mailed link → new password → sign in; "Sign out everywhere else"', async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const inbox = new MailSink();
  await inbox.start();
  const server = await startTestServer('sqlite', { overrides: { loginRateLimit: 0 }, env: { SMTP_URL: inbox.url } });
  const browser = await launchChromium();
  const consoleErrors: string[] = [];
  try {
    const user = await createUser(server, { locale: 'en' });
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });

    // ---- forgot → mail → reset → sign in ---------------------------------------------------------
    await page.goto(`${server.url}/login`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
    await narrowShot(page, 'forgot-password');
    await page.getByLabel('E-mail address').fill(user.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByRole('heading', { name: 'Check your e-mail' }).waitFor();
    await narrowShot(page, 'reset-requested');

    const mail = await inbox.waitFor((m) => m.to.includes(user.email) && m.subject === 'Reset your Latchkey password');
    const link = /(http:\/\/127\.0\.0\.1:\d+\/reset-password\?token=[A-Za-z0-9_-]{43})/.exec(mail.text)?.[1];
    assert.ok(link, 'the mail carries the link');
    await page.goto(link);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await narrowShot(page, 'reset-password');
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { name: 'Password changed' }).waitFor();
    await page.getByRole('link', { name: 'Sign in with your new password' }).click();
    await page.getByLabel('E-mail address').fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${server.url}/account`);

    // The link worked once.
    await page.goto(link);
    await page.getByRole('heading', { name: 'Link expired' }).waitFor();

    // ---- "Sign out everywhere else" ----------------------------------------------------------------
    const otherContext = await browser.newContext();
    const other = await otherContext.newPage();
    await signInThroughPage(other, server, user.email, NEW_PASSWORD);
    await page.goto(`${server.url}/account`);
    const sessions = page.getByRole('region', { name: 'Signed-in sessions' });
    assert.equal(await sessions.getByRole('listitem').count(), 2, 'both browsers are listed');
    await sessions.getByText('This browser').waitFor();
    await narrowShot(page, 'account-sessions');
    await sessions.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await page.getByText('You are signed out everywhere else: 1 other session ended.').waitFor();
    assert.equal(await page.getByRole('region', { name: 'Signed-in sessions' }).getByRole('listitem').count(), 1);
    // The other browser is signed out; this one is not.
    await other.goto(`${server.url}/account`);
    await other.waitForURL(/\/login\?/);
    await page.goto(`${server.url}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.deepEqual(consoleErrors, [], 'no CSP refusal or script error on the way');
    await otherContext.close();
    await context.close();
  } finally {
    await browser.close();
    await server.close();
    await inbox.stop();
  }
});
