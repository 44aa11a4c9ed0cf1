// The authorization code flow through the browser pages (RFC 6749 §4.1, SPEC.md "Authorization
// endpoint"): login, consent, allow and deny, remembered consent, prompt=consent and
// prompt=login, CSRF on the decision, and what the issued code row holds for the token endpoint.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenKey } from '../../src/oauth/crypto.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser } from '../helpers/fixtures.js';
import { exchangeCode, getUser } from '../helpers/token.js';
import { pkcePair } from '../helpers/pkce.js';
import { CookieJar, httpRequest } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { authorize, authorizePath, DECISION_PATH, signIn } from '../helpers/authorize.js';

const REDIRECT = 'https://app.example/callback';

for (const kind of databaseKinds()) {
  describe(`[${kind}] authorization code flow`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server.close();
    });

    const codeRows = async (clientId: number) =>
      server.services.store.db.selectFrom('authorization_codes').selectAll().where('client_id', '=', clientId).execute();

    test('without a session the request goes to the login page and comes back to itself', async () => {
      const { clientId } = await createClient(server);
      const path = authorizePath({ clientId, redirectUri: REDIRECT, state: 'xyz' });
      const res = await httpRequest(server, 'GET', path);
      assert.equal(res.status, 303);
      const location = new URL(res.location ?? '', server.url);
      assert.equal(location.pathname, '/login');
      assert.equal(location.searchParams.get('next'), path);
    });

    test('login, consent, allow: 302 to the redirect URI with the code and the state unchanged', async () => {
      const user = await createUser(server, { locale: 'en' });
      const { client, clientId } = await createClient(server, { name: 'Photo <Printer> & Co' });
      const { challenge } = pkcePair();
      const state = 'a b&c=d+e%20/?#é😀"\'<>\\';
      const result = await authorize(server, {
        clientId, redirectUri: REDIRECT, state, scope: 'profile email', codeChallenge: challenge,
        login: { email: user.email, password: user.password },
      });
      assert.ok(result.loginShown);
      assert.ok(result.consentShown);
      // The page names the client (escaped) and says what each scope means.
      assert.match(result.consentPage ?? '', /Photo &lt;Printer&gt; &amp; Co/);
      assert.match(result.consentPage ?? '', /Your e-mail address/);
      assert.match(result.consentPage ?? '', /<button type="submit" name="decision" value="allow">/);
      assert.match(result.consentPage ?? '', /<button type="submit" name="decision" value="deny"/);
      assert.equal(result.status, 302);
      assert.equal(result.error, null);
      assert.equal(result.state, state);
      assert.ok(result.code && result.code.length >= 43);
      assert.ok(result.location?.startsWith(`${REDIRECT}?code=`));
      // RFC 9207: iss on every authorization response (SPEC.md "OpenID Connect").
      assert.equal([...(result.redirect?.searchParams.keys() ?? [])].join(','), 'code,state,iss');

      // The row the token endpoint consumes.
      const rows = await codeRows(client.id);
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.code_hash, tokenKey(result.code));
      assert.equal(row.user_id, user.id);
      assert.equal(row.organization_id, null);
      assert.equal(row.redirect_uri, REDIRECT);
      assert.equal(row.redirect_uri_sent, 1);
      assert.equal(row.scope, 'profile email');
      assert.equal(row.code_challenge, challenge);
      assert.equal(row.code_challenge_method, 'S256');
      assert.equal(row.expires_at - row.created_at, 600);
      assert.equal(row.consumed_at, null);
      const grant = await server.services.store.db.selectFrom('grants').selectAll().where('id', '=', row.grant_id).executeTakeFirstOrThrow();
      assert.equal(grant.grant_type, 'authorization_code');
      assert.equal(grant.user_id, user.id);
      assert.equal(grant.client_id, client.id);
      assert.equal(grant.scope, 'profile email');
      assert.equal(grant.revoked_at, null);
    });

    test('a state with line breaks and control characters survives the consent form byte for byte', async () => {
      const user = await createUser(server);
      const { clientId } = await createClient(server);
      const state = 'line1\r\nline2\ttab\u0000nul\u2028';
      const result = await authorize(server, { clientId, redirectUri: REDIRECT, state, login: { email: user.email, password: user.password } });
      assert.ok(result.consentShown);
      assert.equal(result.state, state);
    });

    test('deny: 302 with error=access_denied and the state, and no code is issued', async () => {
      const user = await createUser(server);
      const { client, clientId } = await createClient(server);
      const result = await authorize(server, { clientId, redirectUri: REDIRECT, state: 's-1', decision: 'deny', login: { email: user.email, password: user.password } });
      assert.equal(result.status, 302);
      assert.equal(result.error, 'access_denied');
      assert.equal(result.state, 's-1');
      assert.equal(result.code, null);
      assert.ok(result.location?.startsWith(`${REDIRECT}?error=access_denied&`));
      assert.equal((await codeRows(client.id)).length, 0);
      // Denying remembers nothing: the next request asks again.
      const again = await authorize(server, { clientId, redirectUri: REDIRECT, cookies: result.cookies, decision: 'stop' });
      assert.ok(again.consentShown);
    });

    test('deny without a state: no state parameter at all', async () => {
      const user = await createUser(server);
      const { clientId } = await createClient(server);
      const result = await authorize(server, { clientId, redirectUri: REDIRECT, decision: 'deny', login: { email: user.email, password: user.password } });
      assert.equal(result.error, 'access_denied');
      assert.equal(result.redirect?.searchParams.has('state'), false);
    });

    test('consent is remembered: the second request goes straight back with a new code', async () => {
      const user = await createUser(server);
      const { client, clientId } = await createClient(server);
      const first = await authorize(server, { clientId, redirectUri: REDIRECT, state: 'one', login: { email: user.email, password: user.password } });
      assert.ok(first.consentShown);
      assert.ok(first.code);

      const res = await httpRequest(server, 'GET', authorizePath({ clientId, redirectUri: REDIRECT, state: 'two' }), { jar: first.cookies });
      assert.equal(res.status, 302);
      const location = new URL(res.location ?? '');
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
      assert.equal(location.searchParams.get('state'), 'two');
      const code = location.searchParams.get('code');
      assert.ok(code && code !== first.code);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal((await codeRows(client.id)).length, 2);

      // A narrower scope is covered too; a scope not consented to asks again.
      const narrower = await authorize(server, { clientId, redirectUri: REDIRECT, scope: 'email', cookies: first.cookies });
      assert.equal(narrower.consentShown, false);
      assert.ok(narrower.code);
    });

    test('consent for fewer scopes does not cover more', async () => {
      const user = await createUser(server);
      const { clientId } = await createClient(server);
      const first = await authorize(server, { clientId, redirectUri: REDIRECT, scope: 'profile', login: { email: user.email, password: user.password } });
      assert.ok(first.code);
      const wider = await authorize(server, { clientId, redirectUri: REDIRECT, scope: 'profile email', cookies: first.cookies, decision: 'stop' });
      assert.ok(wider.consentShown);
    });

    test('prompt=consent asks again although consent is remembered', async () => {
      const user = await createUser(server);
      const { clientId } = await createClient(server);
      const first = await authorize(server, { clientId, redirectUri: REDIRECT, login: { email: user.email, password: user.password } });
      assert.ok(first.code);
      const again = await authorize(server, { clientId, redirectUri: REDIRECT, prompt: 'consent', state: 'pc', cookies: first.cookies });
      assert.ok(again.consentShown);
      assert.equal(again.loginShown, false);
      assert.ok(again.code);
      assert.equal(again.state, 'pc');
    });

    test('prompt=login asks for the password again, then continues without asking twice', async () => {
      const user = await createUser(server, { locale: 'en' });
      const { clientId } = await createClient(server);
      const first = await authorize(server, { clientId, redirectUri: REDIRECT, login: { email: user.email, password: user.password } });
      assert.ok(first.code);
      const jar = first.cookies;
      const sessionBefore = jar.cookies.get('lk_session');

      const path = authorizePath({ clientId, redirectUri: REDIRECT, prompt: 'login', state: 'pl' });
      const res = await httpRequest(server, 'GET', path, { jar });
      assert.equal(res.status, 303);
      const login = new URL(res.location ?? '', server.url);
      assert.equal(login.pathname, '/login');
      assert.doesNotMatch(login.searchParams.get('next') ?? '', /prompt/);
      const page = await httpRequest(server, 'GET', login.pathname + login.search, { jar });
      assert.equal(page.status, 200);
      assert.match(page.body, /Confirm it is you/);
      assert.match(page.body, new RegExp(`value="${user.email}"`));

      const result = await authorize(server, { clientId, redirectUri: REDIRECT, prompt: 'login', state: 'pl', cookies: jar, login: { email: user.email, password: user.password } });
      assert.ok(result.loginShown);
      assert.equal(result.consentShown, false); // consent stays remembered
      assert.ok(result.code);
      assert.equal(result.state, 'pl');
      assert.notEqual(jar.cookies.get('lk_session'), sessionBefore); // a new session after the password

      // A wrong password on the re-authentication does not continue.
      const wrong = await authorize(server, { clientId, redirectUri: REDIRECT, prompt: 'login', cookies: jar, login: { email: user.email, password: 'not the password' } });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.code, null);
    });

    test('prompt=login together with prompt=consent keeps asking for consent after the password', async () => {
      const user = await createUser(server);
      const { clientId } = await createClient(server);
      const first = await authorize(server, { clientId, redirectUri: REDIRECT, login: { email: user.email, password: user.password } });
      const result = await authorize(server, { clientId, redirectUri: REDIRECT, prompt: 'login consent', cookies: first.cookies, login: { email: user.email, password: user.password } });
      assert.ok(result.loginShown);
      assert.ok(result.consentShown);
      assert.ok(result.code);
    });

    test('redirect_uri may be left out when the client has exactly one', async () => {
      const user = await createUser(server);
      const { client, clientId } = await createClient(server, { redirectUris: ['https://only.example/cb'] });
      const result = await authorize(server, { clientId, state: 'st', login: { email: user.email, password: user.password } });
      assert.equal(result.status, 302);
      assert.ok(result.location?.startsWith('https://only.example/cb?code='));
      assert.equal(result.state, 'st');
      const [row] = await codeRows(client.id);
      assert.equal(row?.redirect_uri, 'https://only.example/cb');
      assert.equal(row?.redirect_uri_sent, 0);
    });

    test('a registered redirect URI with a query keeps it and gets &code=', async () => {
      const user = await createUser(server);
      const uri = 'https://app.example/cb?tenant=42';
      const { clientId } = await createClient(server, { redirectUris: [uri, REDIRECT] });
      const result = await authorize(server, { clientId, redirectUri: uri, state: 'q', login: { email: user.email, password: user.password } });
      assert.ok(result.location?.startsWith(`${uri}&code=`), result.location ?? '');
      assert.equal(result.redirect?.searchParams.get('tenant'), '42');
      assert.equal(result.state, 'q');
    });

    test('the decision without a CSRF token (or with a wrong one) is refused with 403 and issues nothing', async () => {
      const user = await createUser(server);
      const { client, clientId } = await createClient(server);
      const stopped = await authorize(server, { clientId, redirectUri: REDIRECT, decision: 'stop', login: { email: user.email, password: user.password } });
      const fields = hiddenFields(stopped.consentPage ?? '', DECISION_PATH);
      const { csrf_token: _csrf, ...withoutToken } = fields;

      const missing = await httpRequest(server, 'POST', DECISION_PATH, { jar: stopped.cookies, form: { ...withoutToken, decision: 'allow' } });
      assert.equal(missing.status, 403);
      assert.equal(missing.location, null);
      const wrong = await httpRequest(server, 'POST', DECISION_PATH, { jar: stopped.cookies, form: { ...fields, csrf_token: 'x'.repeat(43), decision: 'allow' } });
      assert.equal(wrong.status, 403);
      // Another browser's token (a cross-site form) does not work either.
      const other = await signIn(server, user.email, user.password);
      const otherPage = await authorize(server, { clientId, redirectUri: REDIRECT, decision: 'stop', cookies: other });
      const foreign = hiddenFields(otherPage.consentPage ?? '', DECISION_PATH).csrf_token ?? '';
      const crossed = await httpRequest(server, 'POST', DECISION_PATH, { jar: stopped.cookies, form: { ...withoutToken, csrf_token: foreign, decision: 'allow' } });
      assert.equal(crossed.status, 403);
      assert.equal((await codeRows(client.id)).length, 0);
      assert.equal(await server.services.grants.findConsent(user.id, client.id, null), undefined);
    });

    test('a tampered decision form cannot move the redirect to an unregistered URI', async () => {
      const user = await createUser(server);
      const { client, clientId } = await createClient(server);
      const stopped = await authorize(server, { clientId, redirectUri: REDIRECT, decision: 'stop', login: { email: user.email, password: user.password } });
      const fields = hiddenFields(stopped.consentPage ?? '', DECISION_PATH);
      const request = JSON.parse(Buffer.from(fields.authorization_request ?? '', 'base64url').toString('utf8')) as Record<string, string>;
      const forged = Buffer.from(JSON.stringify({ ...request, redirect_uri: 'https://evil.example/steal' })).toString('base64url');
      const res = await httpRequest(server, 'POST', DECISION_PATH, { jar: stopped.cookies, form: { ...fields, authorization_request: forged, decision: 'allow' } });
      assert.equal(res.status, 400);
      assert.equal(res.location, null);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);

      const garbage = await httpRequest(server, 'POST', DECISION_PATH, { jar: stopped.cookies, form: { ...fields, authorization_request: '%%%not-base64', decision: 'allow' } });
      assert.equal(garbage.status, 400);
      assert.equal(garbage.location, null);
      // A scope the client may not have, slipped into the form, is refused by redirect.
      const widened = Buffer.from(JSON.stringify({ ...request, scope: 'profile admin' })).toString('base64url');
      const scoped = await httpRequest(server, 'POST', DECISION_PATH, { jar: stopped.cookies, form: { ...fields, authorization_request: widened, decision: 'allow' } });
      assert.equal(scoped.status, 302);
      assert.equal(new URL(scoped.location ?? '').searchParams.get('error'), 'invalid_scope');
      assert.equal((await codeRows(client.id)).length, 0);
    });

    test('a decision that is neither allow nor deny shows the page again and issues nothing', async () => {
      const user = await createUser(server, { locale: 'en' });
      const { client, clientId } = await createClient(server);
      const stopped = await authorize(server, { clientId, redirectUri: REDIRECT, decision: 'stop', login: { email: user.email, password: user.password } });
      const fields = hiddenFields(stopped.consentPage ?? '', DECISION_PATH);
      const res = await httpRequest(server, 'POST', DECISION_PATH, { jar: stopped.cookies, form: { ...fields, decision: 'maybe' } });
      assert.equal(res.status, 400);
      assert.match(res.body, /Choose Allow or Deny/);
      assert.equal((await codeRows(client.id)).length, 0);
    });

    test('prompt=none with a session: a code when consent is remembered, consent_required when not', async () => {
      const user = await createUser(server);
      const { clientId } = await createClient(server);
      const jar = await signIn(server, user.email, user.password);
      const before = await authorize(server, { clientId, redirectUri: REDIRECT, prompt: 'none', state: 'n1', cookies: jar });
      assert.equal(before.consentShown, false);
      assert.equal(before.error, 'consent_required');
      assert.equal(before.state, 'n1');
      await authorize(server, { clientId, redirectUri: REDIRECT, cookies: jar });
      const afterConsent = await authorize(server, { clientId, redirectUri: REDIRECT, prompt: 'none', state: 'n2', cookies: jar });
      assert.ok(afterConsent.code);
      assert.equal(afterConsent.state, 'n2');
    });

    test('the code from the pages is exchanged at the token endpoint (PKCE, redirect_uri) and names the user', async () => {
      const user = await createUser(server);
      const client = await createClient(server);
      const { verifier, challenge } = pkcePair();
      const result = await authorize(server, { clientId: client.clientId, redirectUri: REDIRECT, codeChallenge: challenge, login: { email: user.email, password: user.password } });
      assert.ok(result.code);
      const wrongVerifier = await exchangeCode(server, client, result.code, { code_verifier: pkcePair().verifier });
      assert.equal(wrongVerifier.body.error, 'invalid_grant');
      const again = await authorize(server, { clientId: client.clientId, redirectUri: REDIRECT, codeChallenge: challenge, cookies: result.cookies });
      assert.ok(again.code);
      const tokens = await exchangeCode(server, client, again.code, { code_verifier: verifier });
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      assert.equal(tokens.body.scope, 'profile email');
      const me = await getUser(server, String(tokens.body.access_token));
      assert.equal(me.status, 200);
      assert.equal(me.body.email, user.email);
    });

    test('signed out between the page and the decision: back to the login page, then the request', async () => {
      const user = await createUser(server);
      const { clientId } = await createClient(server);
      const stopped = await authorize(server, { clientId, redirectUri: REDIRECT, state: 'so', decision: 'stop', login: { email: user.email, password: user.password } });
      const fields = hiddenFields(stopped.consentPage ?? '', DECISION_PATH);
      const out = await httpRequest(server, 'POST', '/logout', { jar: stopped.cookies, form: { csrf_token: fields.csrf_token ?? '' } });
      assert.equal(out.status, 303);
      assert.equal(out.location, '/login');
      // The old form's token died with the session.
      const res = await httpRequest(server, 'POST', DECISION_PATH, { jar: stopped.cookies, form: { ...fields, decision: 'allow' } });
      assert.equal(res.status, 403);
      // A fresh anonymous session with its own token: sent to log in, coming back to the request.
      const jar = new CookieJar();
      const login = await httpRequest(server, 'GET', '/login', { jar });
      const anonymous = hiddenFields(login.body, '/login').csrf_token ?? '';
      const res2 = await httpRequest(server, 'POST', DECISION_PATH, { jar, form: { ...fields, csrf_token: anonymous, decision: 'allow' } });
      assert.equal(res2.status, 303);
      const next = new URL(res2.location ?? '', server.url).searchParams.get('next') ?? '';
      assert.ok(next.startsWith('/oauth/authorize?'), next);
      assert.equal(new URL(next, server.url).searchParams.get('state'), 'so');
    });
  });
}
