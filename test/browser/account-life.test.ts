// The whole life of an account in Debian's Chromium (playwright-core), as a person goes through
// it, on SQLite and PostgreSQL, with every mail sent over SMTP to a real SMTP server on loopback
// (test/helpers/mail.ts): sign up → the verification mail arrives → its link, "Verify e-mail
// address" → sign out → "Forgot password?" on the login page → the reset mail arrives → its link,
// a new password → sign in with the new password, the old one refused. Controls are found by
// what a person reads (labels, button and link names). Every page of the way is screenshotted
// 390 px wide (test-output/screenshots/, git-ignored) and must not scroll sideways there; a
// console error (a CSP refusal shows as one) fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from '../helpers/chromium.js';
import { startTestServer } from '../helpers/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { MailSink, linkTo } from '../helpers/mail.js';

const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');
const PHONE = { width: 390, height: 844 };
const FIRST_PASSWORD = 'my first long passphrase';
const NEW_PASSWORD = 'my second long passphrase';

for (const kind of databaseKinds()) {
  test(`[${kind}] in Chromium: sign up → verify from the mail → forgot password → reset from the mail → sign in with the new password, the old one refused; 390 px, no sideways scroll`, async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const inbox = new MailSink();
    await inbox.start();
    const server = await startTestServer(kind, { overrides: { loginRateLimit: 0 }, env: { SMTP_URL: inbox.url, LATCHKEY_MAIL_RETRY_BASE: '1' } });
    const browser = await launchChromium();
    const errors: string[] = [];
    const shown: string[] = [];
    try {
      const context = await browser.newContext({ viewport: PHONE, locale: 'en-GB' });
      const page = await context.newPage();
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(`${page.url()}: ${msg.text()}`);
      });
      page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
      /** The page as a phone shows it: screenshotted, and nothing wider than the screen. */
      const shoot = async (name: string): Promise<void> => {
        await page.screenshot({ path: join(SCREENSHOTS, `life-${kind}-${name}-390.png`), fullPage: true });
        const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
        assert.ok(overflow <= 0, `${name} (${page.url()}): ${overflow}px wider than a 390px phone`);
        shown.push(name);
      };
      const email = `life-${kind}@example.com`;

      // ---- sign up -------------------------------------------------------------------------
      await page.goto(`${server.url}/`);
      await shoot('01-home');
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.getByRole('heading', { name: 'Create an account' }).waitFor();
      await shoot('02-signup');
      await page.getByLabel('Name').fill('Lotte Life');
      await page.getByLabel('E-mail address').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(FIRST_PASSWORD);
      await page.getByLabel('Password again').fill(FIRST_PASSWORD);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(`${server.url}/account`);
      await page.getByText('is not verified yet').waitFor();
      await shoot('03-account-unverified');

      // ---- the verification mail, over SMTP; its link in the browser ----------------------------
      const verification = await inbox.waitFor((m) => m.to.includes(email) && m.links.some((l) => new URL(l).pathname === '/verify-email'));
      await page.goto(linkTo(verification, '/verify-email'));
      await shoot('04-verify');
      await page.getByRole('button', { name: 'Verify e-mail address' }).click();
      await page.getByRole('heading', { name: 'E-mail address verified' }).waitFor();
      await shoot('05-verified');
      await page.getByRole('link', { name: 'Go to your account' }).click();
      await page.waitForURL(`${server.url}/account`);
      await page.getByText(`${email} is verified.`).waitFor();
      assert.equal((await server.services.users.findByEmail(email))?.emailVerified, true);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${server.url}/login`);

      // ---- forgot password → the reset mail → a new password ------------------------------------
      await shoot('06-login');
      await page.getByRole('link', { name: 'Forgot password?' }).click();
      await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
      await shoot('07-forgot');
      await page.getByLabel('E-mail address').fill(email);
      await page.getByRole('button', { name: 'Send reset link' }).click();
      await page.getByRole('heading', { name: 'Check your e-mail' }).waitFor();
      await shoot('08-reset-sent');
      const reset = await inbox.waitFor((m) => m.to.includes(email) && m.links.some((l) => new URL(l).pathname === '/reset-password'));
      assert.equal(reset.subject, 'Reset your Latchkey password');
      await page.goto(linkTo(reset, '/reset-password'));
      await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
      await shoot('09-reset');
      await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByLabel('New password again').fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Change password' }).click();
      await page.getByRole('heading', { name: 'Password changed' }).waitFor();
      await shoot('10-reset-done');
      // The person is told by mail too.
      await inbox.waitFor((m) => m.to.includes(email) && m !== reset && m !== verification && /password/i.test(m.subject));

      // ---- the old password is refused, the new one signs in -------------------------------------
      await page.getByRole('link', { name: 'Sign in with your new password' }).click();
      await page.getByLabel('E-mail address').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(FIRST_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByText('The e-mail address or password is not correct.').waitFor();
      assert.equal(new URL(page.url()).pathname, '/login');
      await shoot('11-old-password-refused');
      await page.getByLabel('E-mail address').fill(email);
      await page.getByLabel('Password', { exact: true }).fill(NEW_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${server.url}/account`);
      await page.getByRole('heading', { name: 'Your account' }).waitFor();
      await page.getByText(`${email} is verified.`).waitFor();
      await shoot('12-account');
      assert.equal(shown.length, 12);
      assert.deepEqual(errors, [], 'no CSP refusal or script error on the way');
      await context.close();
    } finally {
      await browser.close();
      await server.close();
      await inbox.stop();
    }
  });
}
