// Validation of the authorization request (RFC 6749 §4.1.1, §4.1.2.1; RFC 7636; RFC 9700
// §4.1): an unknown client or an unregistered redirect URI is a 400 page and never a
// redirect; every other error is a redirect to the client with error, error_description and
// the original state. Validation happens before any login, so no session is needed here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, type TestClient } from '../helpers/fixtures.js';
import { pkcePair } from '../helpers/pkce.js';
import { httpRequest } from '../helpers/browser.js';
import { authorizePath, type AuthorizeOptions } from '../helpers/authorize.js';

const REDIRECT = 'https://app.example/callback';
const SECOND = 'https://app.example/other';
const ERROR_CODES = ['invalid_request', 'unsupported_response_type', 'invalid_scope', 'unauthorized_client', 'access_denied', 'server_error', 'login_required', 'consent_required'];

for (const kind of databaseKinds()) {
  describe(`[${kind}] authorization request validation`, () => {
    let server: TestServer;
    let client: TestClient;
    before(async () => {
      server = await startTestServer(kind);
      client = await createClient(server, { redirectUris: [REDIRECT, SECOND], scopes: ['profile', 'email'] });
    });
    after(async () => {
      await server.close();
    });

    /** A page error: 400, HTML, no Location, and the message says what is wrong. */
    async function expectPage(path: string, message: RegExp) {
      const res = await httpRequest(server, 'GET', path);
      assert.equal(res.status, 400, `${path} → ${res.status}`);
      assert.equal(res.location, null, `${path} must not redirect`);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(res.body, message);
      assert.doesNotMatch(res.body, /at .*\.ts:\d+/); // no stack trace
      return res;
    }

    /** An error redirect to `redirectUri` with this code and the original state. */
    async function expectRedirect(options: AuthorizeOptions | string, error: string, state: string | null, redirectUri = REDIRECT) {
      const path = typeof options === 'string' ? options : authorizePath({ clientId: client.clientId, redirectUri: REDIRECT, ...options });
      const res = await httpRequest(server, 'GET', path);
      assert.equal(res.status, 302, `${path} → ${res.status} ${res.body.slice(0, 200)}`);
      const location = new URL(res.location ?? '');
      assert.equal(`${location.origin}${location.pathname}`, redirectUri);
      assert.equal(location.searchParams.get('error'), error);
      assert.ok(ERROR_CODES.includes(error));
      assert.ok((location.searchParams.get('error_description') ?? '').length > 0);
      // RFC 6749 §4.1.2.1: error_description is limited to printable ASCII without " and \.
      assert.match(location.searchParams.get('error_description') ?? '', /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
      assert.equal(location.searchParams.get('state'), state);
      assert.equal(location.searchParams.has('code'), false);
      return location;
    }

    test('unknown or missing client_id: 400 page, no redirect', async () => {
      await expectPage(authorizePath({ clientId: 'no-such-client', redirectUri: REDIRECT, state: 's' }), /not registered/);
      await expectPage(authorizePath({ redirectUri: REDIRECT, state: 's' }), /client_id is missing/);
      await expectPage(authorizePath({ clientId: 'x'.repeat(5000), redirectUri: REDIRECT }), /not registered/);
      await expectPage(`/oauth/authorize?response_type=code&client_id=${client.clientId}&client_id=other&redirect_uri=${encodeURIComponent(REDIRECT)}`, /more than once/);
    });

    test('a redirect_uri that is not exactly a registered one: 400 page, no redirect', async () => {
      const attempts = [
        'https://app.example/callback/extra', // added path
        'https://app.example/callbackx',
        'https://app.example/callback/', // trailing slash
        'https://APP.example/callback', // host case
        'HTTPS://app.example/callback', // scheme case
        'https://app.example:443/callback', // explicit default port
        'http://app.example/callback', // downgrade
        'https://app.example/callback?x=1', // added query
        'https://app.example/callback#frag',
        'https://app.example/%63allback', // percent-encoded
        'https://app.example@evil.example/callback', // userinfo trick
        'https://evil.example@app.example/callback',
        'https://evil.example/callback?https://app.example/callback',
        'https://evil.example/https://app.example/callback',
        'https://app.example.evil.example/callback',
        '//app.example/callback',
        '/callback',
        'javascript:alert(1)',
        'javascript://app.example/callback%0aalert(1)',
        'data:text/html,<script>alert(1)</script>',
        ` ${REDIRECT}`,
        `${REDIRECT} `,
      ];
      for (const redirectUri of attempts) {
        await expectPage(authorizePath({ clientId: client.clientId, redirectUri, state: 'st' }), /redirect_uri of this request is not registered/);
      }
      // Repeated redirect_uri, even with the same value twice.
      await expectPage(`/oauth/authorize?response_type=code&client_id=${client.clientId}&redirect_uri=${encodeURIComponent(REDIRECT)}&redirect_uri=${encodeURIComponent(REDIRECT)}`, /more than once/);
    });

    test('redirect_uri left out while several are registered: 400 page', async () => {
      await expectPage(authorizePath({ clientId: client.clientId, state: 'st' }), /more than one/);
      // An empty value counts as left out (RFC 6749 §3.1).
      await expectPage(`/oauth/authorize?response_type=code&client_id=${client.clientId}&redirect_uri=`, /more than one/);
    });

    test('errors before the client is known never redirect, even with a bad response_type', async () => {
      await expectPage(authorizePath({ clientId: 'nope', redirectUri: REDIRECT, responseType: 'token' }), /not registered/);
      await expectPage(authorizePath({ clientId: client.clientId, redirectUri: 'https://evil.example/', responseType: null }), /not registered/);
    });

    test('response_type missing → invalid_request; anything but code → unsupported_response_type; state echoed', async () => {
      await expectRedirect({ responseType: null, state: 'abc' }, 'invalid_request', 'abc');
      await expectRedirect({ responseType: 'token', state: 'abc' }, 'unsupported_response_type', 'abc');
      await expectRedirect({ responseType: 'code token', state: 'abc' }, 'unsupported_response_type', 'abc');
      await expectRedirect({ responseType: 'CODE', state: 'abc' }, 'unsupported_response_type', 'abc');
      await expectRedirect({ responseType: 'id_token' }, 'unsupported_response_type', null);
      // The second registered URI gets the error when it is the one asked for.
      await expectRedirect({ redirectUri: SECOND, responseType: 'token', state: 'two' }, 'unsupported_response_type', 'two', SECOND);
    });

    test('the state comes back exactly, odd characters and all', async () => {
      const state = 'a b&c=d+e%/?#é😀"\'<>\\;,';
      await expectRedirect({ responseType: 'token', state }, 'unsupported_response_type', state);
    });

    test('scope: malformed, unknown, or beyond the client → invalid_scope', async () => {
      await expectRedirect({ scope: 'admin', state: 's1' }, 'invalid_scope', 's1');
      await expectRedirect({ scope: 'profile admin', state: 's2' }, 'invalid_scope', 's2');
      await expectRedirect({ scope: 'profile "email"', state: 's3' }, 'invalid_scope', 's3');
      await expectRedirect({ scope: 'profile\\email' }, 'invalid_scope', null);
      await expectRedirect({ scope: 'Profile' }, 'invalid_scope', null); // scopes are case-sensitive (RFC 6749 §3.3)
      const narrow = await createClient(server, { redirectUris: [REDIRECT], scopes: ['profile'] });
      await expectRedirect(authorizePath({ clientId: narrow.clientId, scope: 'email', state: 'n' }), 'invalid_scope', 'n');
    });

    test('a client not allowed the authorization code grant → unauthorized_client', async () => {
      const machine = await createClient(server, { redirectUris: [REDIRECT], grantTypes: ['client_credentials'] });
      await expectRedirect(authorizePath({ clientId: machine.clientId, redirectUri: REDIRECT, state: 'u' }), 'unauthorized_client', 'u');
    });

    test('PKCE: plain refused, method without challenge, challenge without method, malformed challenges', async () => {
      const { challenge } = pkcePair();
      await expectRedirect({ codeChallenge: challenge, codeChallengeMethod: 'plain', state: 'p1' }, 'invalid_request', 'p1');
      await expectRedirect({ codeChallenge: 'a'.repeat(43), codeChallengeMethod: 'plain' }, 'invalid_request', null);
      await expectRedirect({ codeChallenge: challenge, codeChallengeMethod: 's256' }, 'invalid_request', null);
      await expectRedirect({ codeChallengeMethod: 'S256', state: 'p2' }, 'invalid_request', 'p2');
      await expectRedirect(`${authorizePath({ clientId: client.clientId, redirectUri: REDIRECT, state: 'p3' })}&code_challenge=${challenge}`, 'invalid_request', 'p3');
      await expectRedirect({ codeChallenge: 'short' }, 'invalid_request', null);
      await expectRedirect({ codeChallenge: 'a'.repeat(129) }, 'invalid_request', null);
      await expectRedirect({ codeChallenge: `${'a'.repeat(42)}=` }, 'invalid_request', null);
      await expectRedirect({ codeChallenge: `${'a'.repeat(42)}+` }, 'invalid_request', null);
    });

    test('a public client must use PKCE; with S256 it goes on to the login page', async () => {
      const spa = await createClient(server, { redirectUris: [REDIRECT], isPublic: true });
      await expectRedirect(authorizePath({ clientId: spa.clientId, redirectUri: REDIRECT, state: 'pub' }), 'invalid_request', 'pub');
      const ok = await httpRequest(server, 'GET', authorizePath({ clientId: spa.clientId, redirectUri: REDIRECT, codeChallenge: pkcePair().challenge }));
      assert.equal(ok.status, 303);
      assert.ok(ok.location?.startsWith('/login?next='));
    });

    test('repeated parameters → invalid_request (and a repeated state is not echoed)', async () => {
      const base = authorizePath({ clientId: client.clientId, redirectUri: REDIRECT, state: 'r' });
      await expectRedirect(`${base}&scope=profile&scope=email`, 'invalid_request', 'r');
      await expectRedirect(`${base}&response_type=code`, 'invalid_request', 'r');
      await expectRedirect(`${base}&state=other`, 'invalid_request', null);
      await expectRedirect(`${base}&prompt=login&prompt=consent`, 'invalid_request', 'r');
    });

    test('prompt: unknown values and none with others → invalid_request; none without a session → login_required', async () => {
      await expectRedirect({ prompt: 'select_everything', state: 'q' }, 'invalid_request', 'q');
      await expectRedirect({ prompt: 'none select_account', state: 'q' }, 'invalid_request', 'q');
      await expectRedirect({ prompt: 'none login', state: 'q' }, 'invalid_request', 'q');
      await expectRedirect({ prompt: 'none', state: 'q' }, 'login_required', 'q');
    });

    test('validation comes before the login page: a bad request is answered without signing in', async () => {
      const res = await httpRequest(server, 'GET', authorizePath({ clientId: client.clientId, redirectUri: REDIRECT, scope: 'nope' }));
      assert.equal(res.status, 302);
      assert.ok(res.location?.startsWith(REDIRECT));
    });

    test('an error redirect keeps the registered query and appends with &', async () => {
      const uri = 'https://app.example/cb?tenant=7&x=%20y';
      const c = await createClient(server, { redirectUris: [uri] });
      const res = await httpRequest(server, 'GET', authorizePath({ clientId: c.clientId, redirectUri: uri, responseType: 'token', state: 'k' }));
      assert.equal(res.status, 302);
      assert.ok(res.location?.startsWith(`${uri}&error=unsupported_response_type&error_description=`), res.location ?? '');
      assert.ok(res.location?.endsWith(`&state=k&iss=${encodeURIComponent(server.config.issuer)}`), res.location ?? '');
    });

    test('malformed input never yields a 5xx', async () => {
      const id = client.clientId;
      const paths = [
        '/oauth/authorize',
        '/oauth/authorize?',
        '/oauth/authorize?%zz=1',
        `/oauth/authorize?client_id=${id}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=%ED%A0%80&response_type=code`,
        `/oauth/authorize?client_id=${id}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=%zz%&response_type=token`,
        `/oauth/authorize?client_id=${id}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=${'x'.repeat(6000)}&response_type=token`,
        `/oauth/authorize?client_id=${id}&redirect_uri=${encodeURIComponent(REDIRECT)}&scope=%00&response_type=code`,
        `/oauth/authorize?client_id=%00&redirect_uri=x`,
        `/oauth/authorize?__proto__=x&constructor=y&client_id=${id}&redirect_uri=${encodeURIComponent(REDIRECT)}`,
        `/oauth/authorize?client_id[]=${id}`,
      ];
      for (const path of paths) {
        const res = await httpRequest(server, 'GET', path);
        assert.ok(res.status < 500, `${path.slice(0, 80)} → ${res.status}`);
        assert.ok([302, 303, 400].includes(res.status), `${path.slice(0, 80)} → ${res.status}`);
      }
      // An encoded lone surrogate is not UTF-8: the request cannot be read as sent, so it is
      // invalid_request (before its response_type is looked at), with the state as it could be read.
      const odd = await httpRequest(server, 'GET', `/oauth/authorize?client_id=${id}&redirect_uri=${encodeURIComponent(REDIRECT)}&state=%ED%A0%80&response_type=token`);
      const oddLocation = new URL(odd.location ?? '');
      assert.equal(oddLocation.searchParams.get('error'), 'invalid_request');
      assert.match(oddLocation.searchParams.get('error_description') ?? '', /not valid percent-encoded UTF-8/);
      assert.equal(oddLocation.searchParams.get('state'), '\uFFFD\uFFFD\uFFFD');
    });
  });
}
