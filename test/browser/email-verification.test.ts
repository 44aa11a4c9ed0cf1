// Issue 22 in Debian's Chromium: sign up, open the link from the verification mail (received by
// a real SMTP server on loopback), press the button, and the account page shows the address as
// verified. Each page is screenshotted at 390 px wide (test-output/screenshots/, git-ignored)
// and must not scroll sideways there; every input has a label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.js';
import { startTestServer } from '../helpers/server.js';
import { MailSink, linkTo } from '../helpers/mail.js';

const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');
const PHONE = { width: 390, height: 844 };
const PASSWORD = 'a long enough password';
const HORIZONTAL_OVERFLOW = 'document.documentElement.scrollWidth - window.innerWidth';
const UNLABELLED_INPUTS = `Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
  .filter((e) => !e.hidden && e.labels.length === 0 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map((e) => e.name || e.id)`;

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `mail-${name}-390.png`), fullPage: true });
  const overflow = (await page.evaluate(HORIZONTAL_OVERFLOW)) as number;
  assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than 390px`);
  assert.deepEqual(await page.evaluate(UNLABELLED_INPUTS), [], `${name}: every input has a label`);
}

test('[sqlite] in Chromium: sign up → open the link from the mail → the account shows the address verified', async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const sink = new MailSink();
  await sink.start();
  const server = await startTestServer('sqlite', { env: { SMTP_URL: sink.url, LATCHKEY_MAIL_RETRY_BASE: '1' } });
  const browser = await launchChromium();
  const consoleErrors: string[] = [];
  try {
    const context = await browser.newContext({ viewport: PHONE });
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) consoleErrors.push(`${page.url()}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`${page.url()}: ${err.message}`));

    await page.goto(`${server.url}/signup`);
    await page.getByLabel('Name').fill('Vera Verified');
    await page.getByLabel('E-mail address').fill('vera@example.com');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Password again').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${server.url}/account`);
    await page.getByText('is not verified yet').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Send verification link' }).count(), 1);
    await shoot(page, '01-account-unverified');

    const mail = await sink.waitFor((m) => m.to.includes('vera@example.com'));
    const link = linkTo(mail, '/verify-email');
    await page.goto(link);
    await shoot(page, '02-verify-page');
    await page.getByRole('button', { name: 'Verify e-mail address' }).click();
    await page.getByRole('heading', { name: 'E-mail address verified' }).waitFor();
    await shoot(page, '03-verified');
    await page.getByRole('link', { name: 'Go to your account' }).click();
    await page.waitForURL(`${server.url}/account`);
    await page.getByText('vera@example.com is verified.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Send verification link' }).count(), 0);
    await shoot(page, '04-account-verified');

    // The link again: used.
    await page.goto(link);
    await page.getByRole('heading', { name: 'This link cannot be used' }).waitFor();
    await shoot(page, '05-link-used');
    assert.deepEqual(consoleErrors.filter((e) => !e.includes('/verify-email')), []);
  } finally {
    await browser.close();
    await server.close();
    await sink.stop();
  }
});
