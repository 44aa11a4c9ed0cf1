// Pages in the reader's language over real HTTP (SPEC.md "Accounts…": the account's locale,
// else ui_locales, else Accept-Language; English, Dutch, German): sign-up, consent, the
// developer portal, the error pages and sign-out, with the authorization request's ui_locales
// carried through the login redirect to the sign-up page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { authorizePath, DECISION_PATH, signIn } from '../helpers/authorize.js';
import { hiddenFields, unescapeHtml } from '../helpers/html.js';
import { createClient, createUser, type TestClient } from '../helpers/fixtures.js';
import { httpLines, rawRequest } from '../helpers/raw-http.js';

function langOf(page: HttpResult): string | undefined {
  return /<html lang="([^"]*)">/.exec(page.body)?.[1];
}

function fieldErrors(body: string): string[] {
  return [...body.matchAll(/class="field-error" id="[^"]+">([^<]*)</g)].map((m) => unescapeHtml(m[1] ?? ''));
}

/** GET with the browser's languages. */
function get(server: TestServer, path: string, jar: CookieJar, acceptLanguage?: string): Promise<HttpResult> {
  return httpRequest(server, 'GET', path, { jar, headers: acceptLanguage === undefined ? {} : { 'accept-language': acceptLanguage } });
}

function consentPath(client: TestClient, extra: Array<[string, string]> = []): string {
  return authorizePath({ clientId: client.clientId, redirectUri: client.redirectUri, scope: 'openid profile email', state: 's1', codeChallenge: 'x'.repeat(43), extra });
}

for (const kind of databaseKinds()) {
  test(`[${kind}] sign-up: Dutch with Accept-Language nl, German with the authorization request's ui_locales=de, English by default`, async () => {
    const server = await startTestServer(kind);
    try {
      const english = await get(server, '/signup', new CookieJar());
      assert.equal(langOf(english), 'en');
      assert.match(english.body, /<h1>Create an account<\/h1>/);
      assert.match(english.body, /<input id="f-locale" name="locale" type="text" value="en"/);

      const dutch = await get(server, '/signup', new CookieJar(), 'nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7');
      assert.equal(dutch.status, 200);
      assert.equal(langOf(dutch), 'nl');
      assert.match(dutch.body, /<title>Account aanmaken · Latchkey<\/title>/);
      assert.match(dutch.body, /<label for="f-password_confirm">Wachtwoord herhalen<\/label>/);
      assert.match(dutch.body, /<button type="submit">Account aanmaken<\/button>/);
      assert.match(dutch.body, /<input id="f-locale" name="locale" type="text" value="nl"/, 'the language field offers the page\'s language');
      assert.doesNotMatch(dutch.body, /Create an account|Password again/);
      assert.equal(langOf(await get(server, '/signup', new CookieJar(), 'fr, de;q=0.5')), 'de', 'the best language we speak');
      assert.equal(langOf(await get(server, '/signup', new CookieJar(), 'nl;q=abc, ja')), 'en', 'a malformed range is skipped');

      // Dutch errors, each next to its field.
      const jar = new CookieJar();
      const form = await get(server, '/signup', jar, 'nl');
      const bad = await httpRequest(server, 'POST', '/signup', {
        jar, headers: { 'accept-language': 'nl' },
        form: { ...hiddenFields(form.body, '/signup'), name: ' ', email: 'geen-adres', password: 'kort', password_confirm: 'kort', locale: 'nl' },
      });
      assert.equal(bad.status, 400);
      assert.deepEqual(fieldErrors(bad.body), ['Vul een naam in', '"geen-adres" is geen e-mailadres', 'Het wachtwoord moet minstens 8 tekens lang zijn']);
      const mismatch = await httpRequest(server, 'POST', '/signup', {
        jar, headers: { 'accept-language': 'nl' },
        form: { ...hiddenFields(form.body, '/signup'), name: 'Anouk', email: 'anouk@example.com', password: 'lang genoeg 123', password_confirm: 'lang genoeg 124', locale: 'nl' },
      });
      assert.deepEqual(fieldErrors(mismatch.body), ['De twee wachtwoorden zijn niet gelijk']);

      // The authorization request (ui_locales=de) → the login page (next carries the request) → its sign-up link.
      const client = await createClient(server);
      const visitor = new CookieJar();
      const start = await get(server, consentPath(client, [['ui_locales', 'de-CH fr']]), visitor, 'nl');
      assert.equal(start.status, 303);
      assert.match(start.location ?? '', /^\/login\?next=/);
      const login = await get(server, start.location ?? '', visitor, 'nl');
      const signupHref = /href="(\/signup\?next=[^"]+)"/.exec(login.body)?.[1]?.replaceAll('&amp;', '&');
      assert.ok(signupHref, 'the login page links to sign-up, carrying the request');
      const german = await get(server, signupHref, visitor, 'nl');
      assert.equal(langOf(german), 'de');
      assert.match(german.body, /<h1>Konto erstellen<\/h1>/);
      assert.match(german.body, /<label for="f-password">Passwort<\/label>/);
      assert.match(german.body, /<input id="f-locale" name="locale" type="text" value="de"/);
      // A German sign-up lands back in the authorization request, as a German account.
      const done = await httpRequest(server, 'POST', '/signup', {
        jar: visitor, headers: { 'accept-language': 'nl' },
        form: { ...hiddenFields(german.body, '/signup'), name: 'Jonas', email: 'jonas@example.com', password: 'lang genug 12345', password_confirm: 'lang genug 12345', locale: 'de' },
      });
      assert.equal(done.status, 303);
      assert.match(done.location ?? '', /^\/oauth\/authorize\?/);
      const consent = await get(server, done.location ?? '', visitor, 'nl');
      assert.equal(langOf(consent), 'de');
      assert.match(consent.body, /<button type="submit" name="decision" value="allow">Erlauben<\/button>/);
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] consent: Accept-Language, then ui_locales, and the account's locale over both`, async () => {
    const server = await startTestServer(kind);
    try {
      const client = await createClient(server, { name: 'Woningcheck' });
      // An account whose language we do not speak: the request and the browser decide.
      const french = await createUser(server, { locale: 'fr' });
      const jar = await signIn(server, french.email, french.password);

      const dutch = await get(server, consentPath(client), jar, 'nl');
      assert.equal(dutch.status, 200);
      assert.equal(langOf(dutch), 'nl');
      assert.match(dutch.body, /<title>Woningcheck toegang geven tot je account\? · Latchkey<\/title>/);
      assert.match(dutch.body, /<h1><strong>Woningcheck<\/strong> toegang geven tot je account\?<\/h1>/);
      assert.match(dutch.body, /<li><strong>email<\/strong>: Je e-mailadres<\/li>/);
      assert.match(dutch.body, /<button type="submit" name="decision" value="allow">Toestaan<\/button>/);
      assert.match(dutch.body, /<button type="submit" name="decision" value="deny" class="secondary" formnovalidate>Weigeren<\/button>/);
      assert.match(dutch.body, /<a href="\/account">Account<\/a>/);
      assert.match(dutch.body, /<button type="submit" class="link">Uitloggen<\/button>/);

      const german = await get(server, consentPath(client, [['ui_locales', 'de']]), jar, 'nl');
      assert.equal(langOf(german), 'de');
      assert.match(german.body, /<h1><strong>Woningcheck<\/strong> Zugriff auf Ihr Konto erlauben\?<\/h1>/);
      assert.match(german.body, />Ablehnen<\/button>/);

      // A wrong decision is answered in the request's language too (ui_locales travels in the form).
      const wrong = await httpRequest(server, 'POST', DECISION_PATH, { jar, headers: { 'accept-language': 'nl' }, form: { ...hiddenFields(german.body, DECISION_PATH), decision: 'maybe' } });
      assert.equal(wrong.status, 400);
      assert.match(wrong.body, /Wählen Sie Erlauben oder Ablehnen\./);
      // The buttons' values do not depend on the language: Erlauben allows.
      const allowed = await httpRequest(server, 'POST', DECISION_PATH, { jar, form: { ...hiddenFields(german.body, DECISION_PATH), decision: 'allow' } });
      assert.equal(allowed.status, 302);
      assert.match(allowed.location ?? '', /^https:\/\/app\.example\/callback\?code=/);

      // House Check's users are Dutch: the account's locale wins over ui_locales and the browser.
      const anouk = await createUser(server, { locale: 'nl' });
      const anoukJar = await signIn(server, anouk.email, anouk.password);
      const hers = await get(server, consentPath(client, [['ui_locales', 'de']]), anoukJar, 'de-DE,de;q=0.9');
      assert.equal(langOf(hers), 'nl');
      assert.match(hers.body, />Toestaan<\/button>/);
      assert.doesNotMatch(hers.body, /Erlauben|Allow/);
      const regional = await createUser(server, { locale: 'de-AT' });
      const regionalJar = await signIn(server, regional.email, regional.password);
      assert.equal(langOf(await get(server, consentPath(client), regionalJar, 'nl')), 'de', 'de-AT is German');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] developer portal and error pages: the account's language, else the browser's`, async () => {
    const server = await startTestServer(kind);
    try {
      const french = await createUser(server, { locale: 'fr' });
      const jar = await signIn(server, french.email, french.password);
      const dutch = await get(server, '/developer/clients', jar, 'nl');
      assert.equal(dutch.status, 200);
      assert.equal(langOf(dutch), 'nl');
      assert.match(dutch.body, /<h1>Je API-clients<\/h1>/);
      assert.match(dutch.body, /<a class="button" href="\/developer\/clients\/new">Nieuwe client<\/a>/);
      const german = await get(server, '/developer/clients/new', jar, 'de');
      assert.equal(langOf(german), 'de');
      assert.match(german.body, /<label for="f-redirect_uris">Weiterleitungs-URIs<\/label>/);
      assert.match(german.body, /<button type="submit">Client registrieren<\/button>/);
      // Route-level messages follow: an unknown algorithm, in German.
      const refused = await httpRequest(server, 'POST', '/developer/clients/new', {
        jar, headers: { 'accept-language': 'de' },
        form: { ...hiddenFields(german.body, '/developer/clients/new'), name: 'App', redirect_uris: 'https://app.example/cb', id_token_signed_response_alg: 'HS256' },
      });
      assert.equal(refused.status, 400);
      assert.deepEqual(fieldErrors(refused.body), ['Wählen Sie RS256 oder ES256']);

      const anouk = await createUser(server, { locale: 'nl' });
      const anoukJar = await signIn(server, anouk.email, anouk.password);
      const hers = await get(server, '/developer/clients', anoukJar, 'de');
      assert.equal(langOf(hers), 'nl');
      assert.match(hers.body, /<h1>Je API-clients<\/h1>/);
      // Organizations: the page and the rules' refusals (accounts/organizations.ts) in Dutch.
      const orgs = await get(server, '/orgs', anoukJar, 'de');
      assert.match(orgs.body, /<h1>Organisaties<\/h1>/);
      assert.match(orgs.body, /<button type="submit">Organisatie aanmaken<\/button>/);
      const unnamed = await httpRequest(server, 'POST', '/orgs', { jar: anoukJar, form: { ...hiddenFields(orgs.body, '/orgs'), name: ' ' } });
      assert.equal(unnamed.status, 400);
      assert.deepEqual(fieldErrors(unnamed.body), ['Een organisatie heeft een naam nodig']);
      const created = await httpRequest(server, 'POST', '/orgs', { jar: anoukJar, form: { ...hiddenFields(orgs.body, '/orgs'), name: 'Woningcheck BV' } });
      assert.equal(created.status, 303);
      const org = await get(server, created.location ?? '', anoukJar, 'de');
      assert.match(org.body, /De organisatie is aangemaakt\. Je bent de beheerder\./);
      assert.match(org.body, /Rol wijzigen<span class="visually-hidden"> van /);
      const orgPath = (created.location ?? '').split('?')[0] ?? '';
      const selfInvite = await httpRequest(server, 'POST', `${orgPath}/members`, { jar: anoukJar, form: { ...hiddenFields(org.body, `${orgPath}/members`), email: anouk.email, role: 'member' } });
      assert.equal(selfInvite.status, 400);
      assert.deepEqual(fieldErrors(selfInvite.body), [`${anouk.email} is al lid.`]);

      const missing = await get(server, '/developer/clients/no-such-client', anoukJar, 'de');
      assert.equal(missing.status, 404);
      assert.match(missing.body, /<h1>Niet gevonden<\/h1>/);

      // Anonymous: the browser's language (the 404 handler, a refused form, the home page).
      const nowhere = await get(server, '/no/such/page', new CookieJar(), 'de');
      assert.equal(nowhere.status, 404);
      assert.match(nowhere.body, /<h1>Nicht gefunden<\/h1>/);
      const forged = await httpRequest(server, 'POST', '/signup', { jar: new CookieJar(), headers: { 'accept-language': 'nl' }, form: { csrf_token: 'x'.repeat(43), name: 'x' } });
      assert.equal(forged.status, 403);
      assert.match(forged.body, /<h1>Formulier verlopen<\/h1>/);
      const home = await get(server, '/', new CookieJar(), 'nl-BE');
      assert.match(home.body, /<h1>Welkom bij Latchkey<\/h1>/);
      assert.match(home.body, /<a class="button" href="\/login">Inloggen<\/a>/);
      assert.equal(langOf(await get(server, '/', new CookieJar())), 'en');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] hostile Accept-Language headers (tabs, bytes above ASCII, a huge header, a flood of ranges, sent at once) get English pages, never a 5xx`, async () => {
    const server = await startTestServer(kind);
    try {
      const host = new URL(server.url).host;
      const headers = [
        'nl\t;q=1',
        'nl-\xff\xfe, de',
        `${'de;q=0.5,'.repeat(150)}nl`,
        'nl;q=0.5;q=abc, ' + 'x-'.repeat(3000),
        '=;=;=,,,;;;q=1',
        '\xc3\xa9\xe2\x80\xae, nl',
      ];
      const answers = await Promise.all(headers.map((h) => rawRequest(server.url, httpLines([
        'GET /signup HTTP/1.1', `Host: ${host}`, 'Accept: text/html', `Accept-Language: ${h}`, 'Connection: close',
      ]))));
      answers.forEach((res, i) => {
        assert.ok(res.status === 200 || res.status === 400 || res.status === 431, `header ${i}: ${res.status}`);
        if (res.status === 200) assert.match(res.body, /<html lang="(en|nl|de)">/);
      });
      assert.equal(answers[0]?.status, 200);
      assert.match(answers[0]?.body ?? '', /<html lang="en">/, 'a TAB is a control character: the header is not read');
      assert.match(answers[2]?.body ?? '', /<html lang="en">/, 'a header over 1000 characters is not read');
      assert.match(answers[5]?.body ?? '', /<html lang="en">/, 'C1 controls (as Latin-1 bytes) are control characters too');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] sign-out: the confirmation and the signed-out page speak the account's language`, async () => {
    const server = await startTestServer(kind);
    try {
      const anouk = await createUser(server, { locale: 'nl' });
      const jar = await signIn(server, anouk.email, anouk.password);
      const confirm = await get(server, '/oauth/logout', jar, 'de');
      assert.equal(confirm.status, 200);
      assert.match(confirm.body, /<h1>Uitloggen bij Latchkey\?<\/h1>/);
      const done = await httpRequest(server, 'POST', '/oauth/logout/confirm', { jar, form: hiddenFields(confirm.body, '/oauth/logout/confirm') });
      assert.equal(done.status, 200);
      assert.match(done.body, /<h1>Je bent uitgelogd<\/h1>/);
      assert.equal(langOf(done), 'nl');
    } finally {
      await server.close();
    }
  });
}
