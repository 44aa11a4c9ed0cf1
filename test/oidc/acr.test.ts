// The ID token's `acr` (OpenID Connect Core §2; README "Authentication context: acr") over real
// HTTP on SQLite and PostgreSQL: a password login is urn:latchkey:acr:pwd, a password and an
// authenticator code urn:latchkey:acr:mfa (a passkey's phr is shown in Chromium:
// test/browser/second-factors.test.ts), refreshed ID tokens repeat it; acr_values is voluntary
// (reported as it is, no step-up); an essential acr in `claims` that the session does not meet
// asks for a new sign-in when the account's factors can meet it (login_required under
// prompt=none), and is access_denied when they cannot (Core §5.5.1.1); a consent form whose
// claims were changed by hand is checked again.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Secret, TOTP } from 'otpauth';
import { CookieJar, httpRequest, type HttpResult } from '../helpers/browser.js';
import { authorize, DECISION_PATH, signIn, type AuthorizeOptions } from '../helpers/authorize.js';
import { hiddenFields } from '../helpers/html.js';
import { textById } from '../helpers/pages.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { exchangeCode, refresh } from '../helpers/token.js';

const PWD = 'urn:latchkey:acr:pwd';
const MFA = 'urn:latchkey:acr:mfa';

function essential(values: string[]): string {
  return JSON.stringify({ id_token: { acr: { essential: true, values } } });
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] acr in ID tokens`, () => {
    let server: TestServer;
    let client: TestClient;
    before(async () => {
      server = await startTestServer(kind, { overrides: { loginRateLimit: 0 }, env: { LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } });
      client = await createClient(server, { name: 'RP' });
    });
    after(() => server.close());

    async function submit(jar: CookieJar, pagePath: string, action: string, fields: Record<string, string> = {}): Promise<HttpResult> {
      const page = await httpRequest(server, 'GET', pagePath, { jar });
      assert.equal(page.status, 200, `GET ${pagePath} → ${page.status}`);
      return httpRequest(server, 'POST', action, { jar, form: { ...hiddenFields(page.body, action), ...fields } });
    }

    function code(secret: string): string {
      return new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 }).generate({ timestamp: server.clock.nowMs() });
    }

    /** Turns on an authenticator app in the signed-in `jar` (the session stays a password one); returns its key. */
    async function enrolTotp(jar: CookieJar): Promise<string> {
      assert.equal((await submit(jar, '/account', '/account/totp/start')).location, '/account/totp');
      const setup = await httpRequest(server, 'GET', '/account/totp', { jar });
      const secret = textById(setup.body, 'totp-secret').replace(/\s/g, '');
      const confirmed = await httpRequest(server, 'POST', '/account/totp/confirm', { jar, form: { ...hiddenFields(setup.body, '/account/totp/confirm'), code: code(secret) } });
      assert.equal(confirmed.status, 200);
      server.clock.advance(30);
      return secret;
    }

    /** Password and then an authenticator code through the login pages. */
    async function signInWithCode(user: TestUser, secret: string, jar = new CookieJar(), loginPage = '/login'): Promise<CookieJar> {
      const first = await submit(jar, loginPage, '/login', { email: user.email, password: user.password });
      assert.equal(first.location, '/login/factor');
      const done = await submit(jar, '/login/factor', '/login/factor', { code: code(secret) });
      assert.equal(done.status, 303, done.body.slice(0, 300));
      server.clock.advance(30);
      return jar;
    }

    function flow(jar: CookieJar, extra: Array<[string, string]> = [], more: Partial<AuthorizeOptions> = {}) {
      return authorize(server, { clientId: client.clientId, redirectUri: client.redirectUri, scope: 'openid', state: 'st', extra, cookies: jar, ...more });
    }

    async function idTokenOf(jar: CookieJar, extra: Array<[string, string]> = []): Promise<{ acr: unknown; amr: unknown; refreshed: unknown }> {
      const result = await flow(jar, extra);
      assert.ok(result.code, `a code (status ${result.status}, error ${result.error}: ${result.errorDescription})`);
      const res = await exchangeCode(server, client, result.code);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const payload = decodeJwt(res.body.id_token as string);
      const again = await refresh(server, client, res.body.refresh_token as string);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      return { acr: payload.acr, amr: payload.amr, refreshed: decodeJwt(again.body.id_token as string).acr };
    }

    test('discovery lists the acr values, weakest first, and acr among the claims', async () => {
      const doc = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.deepEqual(doc.acr_values_supported, [PWD, MFA, 'phr']);
      assert.ok((doc.claims_supported as string[]).includes('acr'));
    });

    test('a password login: acr urn:latchkey:acr:pwd, repeated by the refreshed ID token; acr_values is voluntary and reported as it is', async () => {
      const user = await createUser(server);
      const jar = await signIn(server, user.email, user.password);
      assert.deepEqual(await idTokenOf(jar), { acr: PWD, amr: ['pwd'], refreshed: PWD });
      // Asking for more (voluntary, Core §3.1.2.1) changes nothing: no new sign-in, the truth reported.
      assert.deepEqual(await idTokenOf(jar, [['acr_values', `phr ${MFA}`]]), { acr: PWD, amr: ['pwd'], refreshed: PWD });
      // An essential request the session meets: the ID token names that value.
      assert.deepEqual(await idTokenOf(jar, [['claims', essential([PWD])]]), { acr: PWD, amr: ['pwd'], refreshed: PWD });
    });

    test('password and an authenticator code: acr urn:latchkey:acr:mfa; an essential request for a weaker value gets that value', async () => {
      const user = await createUser(server);
      const secret = await enrolTotp(await signIn(server, user.email, user.password));
      const jar = await signInWithCode(user, secret);
      assert.deepEqual(await idTokenOf(jar), { acr: MFA, amr: ['pwd', 'otp', 'mfa'], refreshed: MFA });
      assert.deepEqual(await idTokenOf(jar, [['claims', essential([PWD])]]), { acr: PWD, amr: ['pwd', 'otp', 'mfa'], refreshed: PWD });
      assert.deepEqual(await idTokenOf(jar, [['claims', essential(['phr', MFA])]]), { acr: MFA, amr: ['pwd', 'otp', 'mfa'], refreshed: MFA });
    });

    test('an essential acr the session does not meet: a new sign-in when the account can meet it, else access_denied', async () => {
      // A password-only account cannot reach mfa: the authentication has failed (Core §5.5.1.1).
      const plain = await createUser(server);
      const plainJar = await signIn(server, plain.email, plain.password);
      const refused = await flow(plainJar, [['claims', essential([MFA])]]);
      assert.equal(refused.status, 302);
      assert.equal(refused.error, 'access_denied');
      assert.equal(refused.redirect?.searchParams.get('state'), 'st');
      // Nor a value we never issue, nor (for anyone) phr without a passkey.
      assert.equal((await flow(plainJar, [['claims', essential(['urn:other:gold'])]])).error, 'access_denied');
      const unmet = server.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true && l.event === 'login.acr_unmet' && l.user_id === plain.id);
      assert.deepEqual(unmet.map((l) => [l.reason, l.client_id]), [['denied', client.clientId], ['denied', client.clientId]]);

      // An account with an authenticator app, signed in with its password before the app was added.
      const user = await createUser(server);
      const jar = await signIn(server, user.email, user.password);
      const secret = await enrolTotp(jar);
      assert.equal((await flow(jar, [['claims', essential(['phr'])]])).error, 'access_denied', 'no passkey: phr is out of reach');
      const stepUp = await flow(jar, [['claims', essential([MFA])]]);
      assert.ok(stepUp.loginShown, 'the login page asks for a new sign-in');
      assert.ok(server.logs.some((l) => l.includes('"event":"login.acr_unmet"') && l.includes('"reason":"step_up"') && l.includes(`"user_id":${user.id}`)));
      assert.equal(stepUp.status, 200);
      assert.equal(stepUp.redirect, null);
      // prompt=none shows no page: login_required at the redirect URI.
      const none = await flow(jar, [['claims', essential([MFA])]], { prompt: 'none' });
      assert.equal(none.error, 'login_required');
      // Signing in again (password, then the code) meets it.
      assert.match(stepUp.loginPage ?? '', /name="password"/);
      await signInWithCode(user, secret, jar, '/login?next=%2Faccount');
      assert.deepEqual(await idTokenOf(jar, [['claims', essential([MFA])]]), { acr: MFA, amr: ['pwd', 'otp', 'mfa'], refreshed: MFA });
    });

    test('a hand-made consent decision adding an essential acr is checked again: access_denied, or a new sign-in when the account can meet it', async () => {
      for (const withApp of [false, true]) {
        const user = await createUser(server);
        const jar = await signIn(server, user.email, user.password);
        if (withApp) await enrolTotp(jar);
        // An ordinary request's consent page, then its form with the claims changed by hand.
        const shown = await flow(jar, [], { decision: 'stop' });
        assert.ok(shown.consentShown && shown.consentPage);
        const fields = hiddenFields(shown.consentPage, DECISION_PATH);
        const wire = JSON.parse(Buffer.from(fields.authorization_request ?? '', 'base64url').toString('utf8')) as Record<string, string>;
        wire.claims = essential([MFA]);
        const forged = await httpRequest(server, 'POST', DECISION_PATH, {
          jar, form: { ...fields, authorization_request: Buffer.from(JSON.stringify(wire)).toString('base64url'), decision: 'allow' },
        });
        if (withApp) {
          assert.equal(forged.status, 303, forged.body.slice(0, 300));
          assert.match(forged.location ?? '', /^\/login\?next=/);
        } else {
          assert.equal(forged.status, 302, forged.body.slice(0, 300));
          assert.equal(new URL(forged.location ?? '').searchParams.get('error'), 'access_denied');
          assert.equal(new URL(forged.location ?? '').searchParams.get('code'), null);
        }
      }
    });
  });
}
