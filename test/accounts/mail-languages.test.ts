// SPEC.md "Accounts…": mails speak the account's locale. Over real HTTP with a real SMTP server
// on loopback (test/helpers/mail.ts): a Dutch and a German account each receive their
// verification and reset mails in their language (subject, text and HTML), and the links in
// them work; the pages those links open speak the account's language too.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds, type DbKind } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/fixtures.js';
import { PageClient, csrfTokenOf, signUp } from '../helpers/pages.js';
import { MailSink, linkTo } from '../helpers/mail.js';

async function withMail(kind: DbKind, fn: (server: TestServer, sink: MailSink) => Promise<void>): Promise<void> {
  const sink = new MailSink();
  await sink.start();
  const server = await startTestServer(kind, {
    env: { SMTP_URL: sink.url, LATCHKEY_MAIL_FROM: 'Latchkey Test <accounts@latchkey.test>', LATCHKEY_MAIL_RETRY_BASE: '1' },
  });
  try {
    await fn(server, sink);
  } finally {
    await server.close();
    await sink.stop();
  }
}

const LANGUAGES = {
  nl: {
    verifySubject: 'Bevestig je e-mailadres',
    verifyText: /Hallo Nora,\r?\n\r?\nBevestig dat nora@example\.nl jouw e-mailadres is door deze link te openen:/,
    verifyHtml: 'Bevestig dat <strong>nora@example.nl</strong> jouw e-mailadres is.',
    verifyValidity: /De link werkt één keer en blijft 24 uur geldig\./,
    verifyButton: />E-mailadres bevestigen</,
    verifyDone: /Bedankt: nora@example\.nl is bevestigd\./,
    resetSubject: 'Je Latchkey-wachtwoord resetten',
    resetText: /Iemand \(hopelijk jij\) heeft gevraagd het wachtwoord van je Latchkey-account te resetten.\r?\nOpen binnen 30 minuten deze link/,
    resetHtml: '>Kies een nieuw wachtwoord</a>',
    resetPage: /<h1>Kies een nieuw wachtwoord<\/h1>/,
    changedSubject: 'Je Latchkey-wachtwoord is gewijzigd',
  },
  de: {
    verifySubject: 'Bestätigen Sie Ihre E-Mail-Adresse',
    verifyText: /Hallo Nora,\r?\n\r?\nBitte bestätigen Sie, dass nora@example\.nl Ihre E-Mail-Adresse ist, indem Sie diesen Link öffnen:/,
    verifyHtml: 'Bitte bestätigen Sie, dass <strong>nora@example.nl</strong> Ihre E-Mail-Adresse ist.',
    verifyValidity: /Der Link funktioniert einmal und 24 Stunden lang\./,
    verifyButton: />E-Mail-Adresse bestätigen</,
    verifyDone: /Vielen Dank: nora@example\.nl ist bestätigt\./,
    resetSubject: 'Ihr Latchkey-Passwort zurücksetzen',
    resetText: /Jemand \(hoffentlich Sie\) hat darum gebeten, das Passwort Ihres Latchkey-Kontos zurückzusetzen.\r?\nUm ein neues Passwort zu wählen, öffnen Sie diesen Link innerhalb von 30 Minuten\./,
    resetHtml: '>Neues Passwort wählen</a>',
    resetPage: /<h1>Neues Passwort wählen<\/h1>/,
    changedSubject: 'Ihr Latchkey-Passwort wurde geändert',
  },
} as const;

for (const kind of databaseKinds()) {
  describe(`[${kind}] mails in the account's language`, () => {
    for (const [locale, words] of Object.entries(LANGUAGES)) {
      test(`${locale}: the verification mail after sign-up, and its link`, async () => {
        await withMail(kind, async (server, sink) => {
          // The browser names no language: the account's locale decides.
          const browser = await signUp(server.url, { email: 'nora@example.nl', name: 'Nora', locale });
          const mail = await sink.waitFor((m) => m.to.includes('nora@example.nl') && m.kind === 'verify_email');
          assert.equal(mail.subject, words.verifySubject);
          assert.match(mail.text, words.verifyText);
          assert.match(mail.text, words.verifyValidity);
          assert.ok(mail.html.includes(words.verifyHtml), mail.html);
          assert.match(mail.html, new RegExp(`<html lang="${locale}">`));
          const link = linkTo(mail, '/verify-email');
          assert.ok(link.startsWith(`${server.url}/verify-email?token=`));
          assert.ok(mail.html.includes(link.replace(/&/g, '&amp;')), 'the HTML body has the same link');
          const page = await browser.get(link);
          assert.equal(page.status, 200);
          assert.match(page.body, words.verifyButton);
          const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
          const done = await browser.post('/verify-email', { csrf_token: csrfTokenOf(page.body), token });
          assert.equal(done.status, 200);
          assert.match(done.body, words.verifyDone);
          const user = await server.services.users.findByEmail('nora@example.nl');
          assert.equal(user?.emailVerified, true);
        });
      });

      test(`${locale}: the reset mail, its link, and the notice after the change`, async () => {
        await withMail(kind, async (server, sink) => {
          const user = await createUser(server, { email: 'nora@example.nl', name: 'Nora', locale });
          const browser = new PageClient(server.url);
          const asked = await browser.submit('/forgot-password', '/forgot-password', { email: user.email });
          assert.equal(asked.status, 200);
          const mail = await sink.waitFor((m) => m.to.includes('nora@example.nl') && m.kind === 'password_reset');
          assert.equal(mail.subject, words.resetSubject);
          assert.match(mail.text, /^Hallo Nora,\r?$/m);
          assert.match(mail.text, words.resetText);
          assert.ok(mail.html.includes(words.resetHtml), mail.html);
          const link = linkTo(mail, '/reset-password');
          const page = await browser.get(link);
          assert.equal(page.status, 200);
          assert.match(page.body, words.resetPage);
          const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
          const done = await browser.post('/reset-password', { csrf_token: csrfTokenOf(page.body), token, password: 'a new password 123', password_confirm: 'a new password 123' });
          assert.equal(done.status, 303);
          assert.equal(done.location, '/reset-password/done');
          const notice = await sink.waitFor((m) => m.to.includes('nora@example.nl') && m.kind === 'password_changed');
          assert.equal(notice.subject, words.changedSubject);
        });
      });
    }
  });
}
