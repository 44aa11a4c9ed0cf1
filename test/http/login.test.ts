// The login page and sign-out (SPEC.md "GET /login, POST /login, POST /logout"): one neutral
// message for a wrong e-mail or password, the e-mail kept, CSRF on every form, a session
// replaced at sign-in, `next` only ever a local path, and failed logins backing off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LOGIN_FAILED_MESSAGE } from '../../src/views/login.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createUser } from '../helpers/fixtures.js';
import { CookieJar, httpRequest } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { signIn } from '../helpers/authorize.js';

for (const kind of databaseKinds()) {
  describe(`[${kind}] login page`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server.close();
    });

    async function loginForm(jar: CookieJar, next?: string) {
      const page = await httpRequest(server, 'GET', next === undefined ? '/login' : `/login?next=${encodeURIComponent(next)}`, { jar });
      assert.equal(page.status, 200);
      return { page, fields: hiddenFields(page.body, '/login') };
    }

    test('the page: labelled e-mail and password fields, a CSRF token, no inline script or style, not cached', async () => {
      const jar = new CookieJar();
      const { page, fields } = await loginForm(jar, '/oauth/authorize?client_id=x&state=a%26b');
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.equal(page.headers.get('cache-control'), 'no-store');
      assert.match(page.body, /<label for="email">/);
      assert.match(page.body, /<input type="email" id="email" name="email"/);
      assert.match(page.body, /<label for="password">/);
      assert.match(page.body, /<input type="password" id="password" name="password"/);
      assert.ok((fields.csrf_token ?? '').length >= 43);
      assert.equal(fields.next, '/oauth/authorize?client_id=x&state=a%26b');
      // No inline script or style: the only script is the passkey helper, served from /assets (CSP script-src 'self').
      assert.doesNotMatch(page.body.replace('<script src="/assets/webauthn.js" defer></script>', ''), /<script|<style|style="|onclick=/i);
      // No session row for an anonymous visitor: the token rides in its own cookie (double submit).
      assert.equal(jar.cookies.get('lk_csrf'), fields.csrf_token);
      assert.equal(jar.cookies.has('lk_session'), false);
    });

    test('wrong password and unknown e-mail: the same page, 401, one neutral message, the e-mail kept', async () => {
      const user = await createUser(server);
      const bodies: string[] = [];
      for (const [email, password] of [[user.email, 'wrong password'], ['nobody@example.test', user.password], [user.email, ''], ['', '']] as const) {
        const jar = new CookieJar();
        const { fields } = await loginForm(jar, '/account');
        const res = await httpRequest(server, 'POST', '/login', { jar, form: { ...fields, email, password } });
        assert.equal(res.status, 401, `${email}/${password}`);
        assert.equal(res.location, null);
        assert.ok(res.body.includes(LOGIN_FAILED_MESSAGE));
        if (email !== '') assert.match(res.body, new RegExp(`name="email" value="${email.replace(/[.]/g, '\\.')}"`));
        assert.doesNotMatch(res.body, /password is wrong|no account|unknown e-mail|not found/i);
        // The page can be submitted again (a fresh form with a token).
        assert.ok(hiddenFields(res.body, '/login').csrf_token);
        bodies.push(res.body.replace(/value="[^"]*"/g, ''));
      }
      // Wrong password and unknown e-mail render the same page.
      assert.equal(bodies[0], bodies[1]);
    });

    test('the right password: a new session, 303 to next; the e-mail is matched case-insensitively', async () => {
      const user = await createUser(server);
      const jar = new CookieJar();
      const { fields } = await loginForm(jar, '/oauth/authorize?client_id=abc&state=x%20y');
      const anonymous = jar.cookies.get('lk_session');
      const res = await httpRequest(server, 'POST', '/login', { jar, form: { ...fields, email: ` ${user.email.toUpperCase()} `, password: user.password } });
      assert.equal(res.status, 303);
      assert.equal(res.location, '/oauth/authorize?client_id=abc&state=x%20y');
      const session = jar.cookies.get('lk_session');
      assert.ok(session && session !== anonymous, 'signing in replaces the session (no fixation)');
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('lk_session='));
      assert.match(cookie ?? '', /HttpOnly/i);
      assert.match(cookie ?? '', /SameSite=Lax/i);
      // Signed in, /login without next goes to the account page.
      const again = await httpRequest(server, 'GET', '/login', { jar });
      assert.equal(again.status, 303);
      assert.equal(again.location, '/account');
    });

    test('next is only ever a local path', async () => {
      const user = await createUser(server);
      for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', 'javascript:alert(1)', '', 'account']) {
        const jar = new CookieJar();
        const { fields } = await loginForm(jar);
        const res = await httpRequest(server, 'POST', '/login', { jar, form: { ...fields, next, email: user.email, password: user.password } });
        assert.equal(res.status, 303);
        assert.equal(res.location, '/account', `next=${next}`);
      }
    });

    test('POST /login without the CSRF token: 403, no session', async () => {
      const user = await createUser(server);
      const jar = new CookieJar();
      const res = await httpRequest(server, 'POST', '/login', { jar, form: { email: user.email, password: user.password, next: '/account' } });
      assert.equal(res.status, 403);
      assert.equal(res.location, null);
      const { fields } = await loginForm(jar);
      const wrong = await httpRequest(server, 'POST', '/login', { jar, form: { ...fields, csrf_token: 'forged', email: user.email, password: user.password } });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.location, null);
    });

    test('sign-out: CSRF-checked, ends the session, back to /login', async () => {
      const user = await createUser(server);
      const jar = await signIn(server, user.email, user.password);
      const account = await httpRequest(server, 'GET', '/login?next=%2Faccount', { jar });
      const token = hiddenFields(account.body, '/login').csrf_token ?? '';
      const refused = await httpRequest(server, 'POST', '/logout', { jar, form: {} });
      assert.equal(refused.status, 403);
      const res = await httpRequest(server, 'POST', '/logout', { jar, form: { csrf_token: token } });
      assert.equal(res.status, 303);
      assert.equal(res.location, '/login');
      assert.equal(jar.cookies.has('lk_session'), false);
      // The old session is gone on the server too: the page treats the visitor as anonymous.
      const after = await httpRequest(server, 'GET', '/login');
      assert.doesNotMatch(after.body, /Confirm it is you/);
    });

    test('odd input is never a 5xx', async () => {
      const jar = new CookieJar();
      const { fields } = await loginForm(jar);
      const forms: Array<Record<string, string> | URLSearchParams> = [
        { ...fields, email: 'x'.repeat(10_000), password: 'y' },
        { ...fields, email: 'a@b', password: 'p'.repeat(5000) },
        new URLSearchParams([['csrf_token', fields.csrf_token ?? ''], ['email', 'a@b'], ['email', 'c@d'], ['password', 'x']]),
        { ...fields, email: '\u0000', password: '\u0000' },
      ];
      for (const form of forms) {
        const res = await httpRequest(server, 'POST', '/login', { jar, form });
        assert.ok(res.status === 401 || res.status === 429, `→ ${res.status}`);
      }
      const raw = await fetch(`${server.url}/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() ?? '' }, body: 'email=%E0%A4%A&password=%zz' });
      assert.ok(raw.status < 500, `malformed body → ${raw.status}`);
      const odd = await httpRequest(server, 'GET', '/login?next=%zz&next=2');
      assert.equal(odd.status, 200);
    });

    test('repeated failures back off: 429 with Retry-After and a message, then the password works again', async () => {
      const user = await createUser(server);
      const jar = new CookieJar();
      let last = { status: 0, headers: new Headers(), body: '' };
      for (let i = 0; i < 5; i++) {
        const { fields } = await loginForm(jar);
        last = await httpRequest(server, 'POST', '/login', { jar, form: { ...fields, email: user.email, password: `wrong ${i}` } });
      }
      assert.equal(last.status, 429);
      assert.ok(Number(last.headers.get('retry-after')) >= 1);
      assert.match(last.body, /Too many failed sign-in attempts/);
      // While it lasts, even the right password waits: the answer does not reveal it was right.
      const { fields } = await loginForm(jar);
      const blocked = await httpRequest(server, 'POST', '/login', { jar, form: { ...fields, email: user.email, password: user.password } });
      assert.equal(blocked.status, 429);
      server.clock.advance(Number(last.headers.get('retry-after')) + 1);
      await signIn(server, user.email, user.password);
    });
  });
}
