// The login and account pages in the reader's language (SPEC.md "Accounts…": the account's
// locale, else ui_locales, else Accept-Language): the login page in Dutch for Accept-Language nl,
// in German for the authorization request's ui_locales=de (carried in `next`), its refusal in
// the same language; the account page in the account's language over the browser's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { authorizePath, signIn } from '../helpers/authorize.js';
import { hiddenFields } from '../helpers/html.js';
import { createClient, createUser } from '../helpers/fixtures.js';

function langOf(page: HttpResult): string | undefined {
  return /<html lang="([^"]*)">/.exec(page.body)?.[1];
}

function get(server: TestServer, path: string, jar: CookieJar, acceptLanguage?: string): Promise<HttpResult> {
  return httpRequest(server, 'GET', path, { jar, headers: acceptLanguage === undefined ? {} : { 'accept-language': acceptLanguage } });
}

for (const kind of databaseKinds()) {
  test(`[${kind}] login page: Dutch with Accept-Language nl, German with the authorization request's ui_locales=de, English by default`, async () => {
    const server = await startTestServer(kind);
    try {
      const english = await get(server, '/login', new CookieJar());
      assert.equal(langOf(english), 'en');
      assert.match(english.body, /<h1>Sign in<\/h1>/);
      assert.match(english.body, /<a href="\/forgot-password">Forgot password\?<\/a>/);

      const jar = new CookieJar();
      const dutch = await get(server, '/login', jar, 'nl-NL,nl;q=0.9,en;q=0.5');
      assert.equal(dutch.status, 200);
      assert.equal(langOf(dutch), 'nl');
      assert.match(dutch.body, /<title>Inloggen · Latchkey<\/title>/);
      assert.match(dutch.body, /<label for="email">E-mailadres<\/label>/);
      assert.match(dutch.body, /<label for="password">Wachtwoord<\/label>/);
      assert.match(dutch.body, /<a href="\/forgot-password">Wachtwoord vergeten\?<\/a>/);
      assert.match(dutch.body, /<button type="submit" class="secondary">Inloggen met een passkey<\/button>/);
      assert.match(dutch.body, /data-msg-cancelled="Het passkey-verzoek is geannuleerd of verlopen\."/, 'the passkey script\'s messages ride on the form');
      assert.doesNotMatch(dutch.body, /Forgot password|E-mail address|Sign in with a passkey/);

      // A wrong password: the one refusal, in Dutch.
      const user = await createUser(server, { locale: 'en' });
      const wrong = await httpRequest(server, 'POST', '/login', {
        jar, headers: { 'accept-language': 'nl' },
        form: { ...hiddenFields(dutch.body, '/login'), email: user.email, password: 'not the password' },
      });
      assert.equal(wrong.status, 401);
      assert.equal(langOf(wrong), 'nl');
      assert.match(wrong.body, /Het e-mailadres of wachtwoord is niet juist\./);

      // The authorization request's ui_locales=de travels in `next` and wins over the browser's Dutch.
      const client = await createClient(server);
      const visitor = new CookieJar();
      const start = await get(server, authorizePath({ clientId: client.clientId, redirectUri: client.redirectUri, scope: 'openid', state: 's', codeChallenge: 'x'.repeat(43), extra: [['ui_locales', 'de']] }), visitor, 'nl');
      assert.equal(start.status, 303);
      assert.match(start.location ?? '', /^\/login\?next=/);
      const german = await get(server, start.location ?? '', visitor, 'nl');
      assert.equal(langOf(german), 'de');
      assert.match(german.body, /<h1>Anmelden<\/h1>/);
      assert.match(german.body, /<label for="email">E-Mail-Adresse<\/label>/);
      assert.match(german.body, /<a href="\/forgot-password">Passwort vergessen\?<\/a>/);
      const refused = await httpRequest(server, 'POST', '/login', {
        jar: visitor, headers: { 'accept-language': 'nl' },
        form: { ...hiddenFields(german.body, '/login'), email: user.email, password: 'falsches Passwort' },
      });
      assert.equal(refused.status, 401);
      assert.equal(langOf(refused), 'de');
      assert.match(refused.body, /Die E-Mail-Adresse oder das Passwort ist nicht korrekt\./);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] account page: the account's language (nl) over the browser's, English for an English account`, async () => {
    const server = await startTestServer(kind);
    try {
      const anouk = await createUser(server, { locale: 'nl' });
      const jar = await signIn(server, anouk.email, anouk.password);
      const page = await get(server, '/account', jar, 'de-DE,de;q=0.9');
      assert.equal(page.status, 200);
      assert.equal(langOf(page), 'nl');
      assert.match(page.body, /<title>Je account · Latchkey<\/title>/);
      assert.match(page.body, /<h2 id="profile-heading">Profiel<\/h2>/);
      assert.match(page.body, /<h2 id="password-heading">Wachtwoord<\/h2>/);
      assert.match(page.body, /<h2 id="security-heading">Beveiliging van het inloggen<\/h2>/);
      assert.match(page.body, /<h2 id="sessions-heading">Ingelogde sessies<\/h2>/);
      assert.match(page.body, /<span class="badge">Deze browser<\/span>/);
      assert.match(page.body, /<h2 id="apps-heading">Gekoppelde apps<\/h2>/);
      assert.match(page.body, /<button type="submit">Wachtwoord wijzigen<\/button>/);
      assert.doesNotMatch(page.body, /Your account|Connected apps|Sign-in security|Signed-in sessions|This browser/);

      const saved = await get(server, '/account?done=profile', jar);
      assert.match(saved.body, /Je profiel is opgeslagen\./);
      const others = await get(server, '/account?done=signed-out-others&ended=2', jar);
      assert.match(others.body, /Je bent overal anders uitgelogd: 2 andere sessies zijn beëindigd\./);

      // A wrong current password, refused in Dutch.
      const wrong = await httpRequest(server, 'POST', '/account/password', {
        jar, form: { ...hiddenFields(page.body, '/account/password'), current_password: 'niet mijn wachtwoord', password: 'een nieuw wachtwoord 1', password_confirm: 'een nieuw wachtwoord 1' },
      });
      assert.equal(wrong.status, 400);
      assert.match(wrong.body, /Dit is niet je huidige wachtwoord/);

      const jonas = await createUser(server, { locale: 'en' });
      const english = await get(server, '/account', await signIn(server, jonas.email, jonas.password), 'nl');
      assert.equal(langOf(english), 'en');
      assert.match(english.body, /<h1>Your account<\/h1>/);
      assert.match(english.body, /<h2 id="sessions-heading">Signed-in sessions<\/h2>/);
    } finally {
      await server.close();
    }
  });
}
