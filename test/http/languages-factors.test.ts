// What the passkey and session parts of the pages say, in the reader's language (SPEC.md
// "Accounts…"; README "Pages in the reader's language"): a passkey refusal, which the login and
// account pages' script shows in their alert, in Dutch for a Dutch browser, in German for an
// authorization request's ui_locales=de and for a German account, English by default; and the
// devices of the account page's "Signed-in sessions" worded in the account's language; the
// error page's own explanation (an error not sent back to a client anyone could register) in
// the reader's language, with the protocol's English error inside it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { createClient, createUser } from '../helpers/fixtures.js';
import { authorizePath } from '../helpers/authorize.js';

const FIREFOX_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const NOTHING_KNOWN = 'Mozilla/5.0 (compatible; Something/1.0)';

function langOf(page: HttpResult): string | undefined {
  return /<html lang="([^"]*)">/.exec(page.body)?.[1];
}

/** A JSON POST of the passkey script, from a page of `jar`'s session with its CSRF token. */
async function scriptCall(server: TestServer, jar: CookieJar, path: string, body: Record<string, unknown>, acceptLanguage?: string): Promise<{ status: number; error: string }> {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: jar.header() ?? '', ...(acceptLanguage ? { 'accept-language': acceptLanguage } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, error: String(((await res.json()) as { error?: unknown }).error) };
}

async function signInAs(server: TestServer, email: string, password: string, userAgent: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const headers = { 'user-agent': userAgent };
  const page = await httpRequest(server, 'GET', '/login', { jar, headers });
  const res = await httpRequest(server, 'POST', '/login', { jar, headers, form: { ...hiddenFields(page.body, '/login'), email, password } });
  assert.equal(res.status, 303, `sign-in → ${res.status}`);
  return jar;
}

for (const kind of databaseKinds()) {
  test(`[${kind}] a passkey refusal in the page's language: Dutch browser, ui_locales=de, a German account; English by default`, async () => {
    const server = await startTestServer(kind);
    try {
      // A response that is not a WebAuthn answer at all, and then one to a challenge already used.
      const unreadable = { response: { id: 'x', response: { clientDataJSON: 'not json' } } };
      const jar = new CookieJar();
      const dutchLogin = await httpRequest(server, 'GET', '/login', { jar, headers: { 'accept-language': 'nl' } });
      assert.equal(langOf(dutchLogin), 'nl');
      const csrf = hiddenFields(dutchLogin.body, '/login').csrf_token ?? '';
      const dutch = await scriptCall(server, jar, '/login/passkey/verify', { csrf_token: csrf, ...unreadable }, 'nl-NL,nl;q=0.9');
      assert.equal(dutch.status, 400);
      assert.equal(dutch.error, 'Het antwoord van je passkey kon niet worden gelezen. Probeer het nog eens.');
      const english = await scriptCall(server, jar, '/login/passkey/verify', { csrf_token: csrf, ...unreadable });
      assert.equal(english.error, 'The answer from your passkey could not be read. Try again.');

      // The login page of an authorization request with ui_locales=de: its `next` carries the language.
      const next = '/oauth/authorize?client_id=x&ui_locales=de';
      const answer = (challenge: string) => ({
        id: 'bm8tc3VjaC1rZXk', rawId: 'bm8tc3VjaC1rZXk', type: 'public-key',
        response: { clientDataJSON: Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: server.config.issuer })).toString('base64url'), authenticatorData: 'AA', signature: 'AA' },
      });
      const options = await fetch(`${server.url}/login/passkey/options`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: jar.header() ?? '' }, body: JSON.stringify({ csrf_token: csrf }) });
      const challenge = String(((await options.json()) as { challenge: unknown }).challenge);
      const unknown = await scriptCall(server, jar, '/login/passkey/verify', { csrf_token: csrf, next, response: answer(challenge) }, 'nl');
      assert.equal(unknown.error, 'Dieser Passkey ist hier nicht registriert.');
      const used = await scriptCall(server, jar, '/login/passkey/verify', { csrf_token: csrf, next, response: answer(challenge) }, 'nl');
      assert.equal(used.error, 'Diese Passkey-Anfrage ist abgelaufen oder wurde bereits verwendet. Versuchen Sie es erneut.');

      // A German account adding a passkey on its account page (the account's language wins over the browser's).
      const user = await createUser(server, { locale: 'de' });
      const signedIn = await signInAs(server, user.email, user.password, FIREFOX_WINDOWS);
      const account = await httpRequest(server, 'GET', '/account', { jar: signedIn, headers: { 'accept-language': 'nl' } });
      assert.equal(langOf(account), 'de');
      const accountCsrf = /name="csrf_token" value="([^"]+)"/.exec(account.body)?.[1] ?? '';
      const adding = await scriptCall(server, signedIn, '/account/passkeys/verify', { csrf_token: accountCsrf, name: 'Laptop', ...unreadable }, 'nl');
      assert.equal(adding.status, 400);
      assert.equal(adding.error, 'Die Antwort Ihres Passkeys konnte nicht gelesen werden. Versuchen Sie es erneut.');
    } finally {
      await server.close();
    }
  });

  test(`[${kind}] account page: the signed-in sessions' devices in Dutch and German ("Chrome op Linux", "Firefox unter Windows", "Onbekend apparaat")`, async () => {
    const server = await startTestServer(kind);
    try {
      for (const [locale, expected] of [
        ['nl', { section: 'Ingelogde sessies', chrome: 'Chrome op Linux', firefox: 'Firefox op Windows', unknown: 'Onbekend apparaat' }],
        ['de', { section: 'Angemeldete Sitzungen', chrome: 'Chrome unter Linux', firefox: 'Firefox unter Windows', unknown: 'Unbekanntes Gerät' }],
        ['en', { section: 'Signed-in sessions', chrome: 'Chrome on Linux', firefox: 'Firefox on Windows', unknown: 'Unknown device' }],
      ] as const) {
        const user = await createUser(server, { locale });
        const jar = await signInAs(server, user.email, user.password, CHROME_LINUX);
        await signInAs(server, user.email, user.password, FIREFOX_WINDOWS);
        await signInAs(server, user.email, user.password, NOTHING_KNOWN);
        const page = await httpRequest(server, 'GET', '/account', { jar, headers: { 'user-agent': CHROME_LINUX } });
        assert.equal(langOf(page), locale);
        const section = page.body.slice(page.body.indexOf('id="sessions"'), page.body.indexOf('</section>', page.body.indexOf('id="sessions"')));
        assert.match(section, new RegExp(`<h2 id="sessions-heading">${expected.section}</h2>`));
        assert.match(section, new RegExp(`<h3>${expected.chrome} <span class="badge">`));
        assert.match(section, new RegExp(`<h3>${expected.firefox}</h3>`));
        assert.match(section, new RegExp(`<h3>${expected.unknown}</h3>`));
        if (locale !== 'en') assert.doesNotMatch(section, /\bon (Linux|Windows)\b|Unknown device/, `no English left (${locale})`);
      }
    } finally {
      await server.close();
    }
  });
}

test('[sqlite] the error page for a client anyone could register explains itself in Dutch and German; the protocol error inside stays English', async () => {
  const server = await startTestServer('sqlite');
  try {
    const client = await createClient(server, { redirectUris: ['https://evil.example/cb'], trusted: false });
    const path = authorizePath({ clientId: client.clientId, redirectUri: 'https://evil.example/cb', scope: 'bogus', state: 's' });
    const page = (acceptLanguage?: string) => httpRequest(server, 'GET', path, { headers: acceptLanguage ? { 'accept-language': acceptLanguage } : {} });
    const english = await page();
    assert.equal(english.status, 400);
    assert.equal(english.location, null);
    assert.match(english.body, /It asked to send you back to evil\.example\. Latchkey does not send you there automatically/);
    const dutch = await page('nl');
    assert.equal(dutch.status, 400);
    assert.equal(dutch.location, null);
    assert.equal(langOf(dutch), 'nl');
    assert.match(dutch.body, /Het verzoek van de applicatie kon niet worden afgehandeld \(invalid_scope: [^)]*\)\. Het vroeg om je terug te sturen naar evil\.example\. Latchkey stuurt je daar niet vanzelf heen/);
    assert.doesNotMatch(dutch.body, /does not send you there|Go back to the application/);
    const german = await page('de-DE');
    assert.equal(langOf(german), 'de');
    assert.match(german.body, /Die Anfrage der Anwendung konnte nicht abgeschlossen werden \(invalid_scope: [^)]*\)\. Sie wollte Sie zurück zu evil\.example schicken\./);
  } finally {
    await server.close();
  }
});
