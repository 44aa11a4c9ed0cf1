// An attacker's review of the OpenID Connect endpoints, over real HTTP on both databases:
// attacks that were found to work once, each kept as a test that attacks it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { createClient, createUser, type TestClient } from '../helpers/fixtures.js';
import { httpRequest } from '../helpers/browser.js';
import { authorize, signIn } from '../helpers/authorize.js';
import { exchangeCode } from '../helpers/token.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

for (const kind of databaseKinds()) {
  describe(`[${kind}] OpenID Connect attacks`, () => {
    let server: TestServer;
    let narrow: TestClient;

    before(async () => {
      server = await startTestServer(kind, { overrides: { loginRateLimit: 0 } });
      // An operator allowed this client openid and profile only: never the e-mail address.
      narrow = await createClient(server, { name: 'Narrow', redirectUris: ['https://narrow.example/cb'], scopes: ['openid', 'profile'] });
    });
    after(async () => {
      await server.close();
    });

    test('a claims request cannot reach claims of a scope the client may not ask for', async () => {
      const user = await createUser(server);
      const jar = await signIn(server, user.email, user.password);
      const claims = JSON.stringify({ id_token: { email: null, email_verified: null }, userinfo: { email: { essential: true } } });
      const res = await authorize(server, {
        clientId: narrow.clientId, redirectUri: narrow.redirectUri, scope: 'openid profile', state: 's', cookies: jar,
        extra: [['claims', claims], ['nonce', 'n']],
      });
      if (res.code !== null) {
        const tokens = await exchangeCode(server, narrow, res.code);
        assert.equal(tokens.status, 200);
        const idToken = decodeJwt(String(tokens.body.id_token));
        assert.equal(idToken.email, undefined, `the ID token leaks the e-mail: ${JSON.stringify(idToken)}`);
        const info = await httpRequest(server, 'GET', '/oauth/userinfo', { headers: { authorization: `Bearer ${String(tokens.body.access_token)}` } });
        assert.equal(info.status, 200);
        assert.equal((JSON.parse(info.body) as Record<string, unknown>).email, undefined, `UserInfo leaks the e-mail: ${info.body}`);
      }
      if (res.consentPage !== null) assert.doesNotMatch(res.consentPage, /Your e-mail address/, 'the consent page asks for a scope the client may not have');
    });

    test('remembered consent for profile does not silently grant the e-mail address through claims', async () => {
      const wide = await createClient(server, { name: 'Wide', redirectUris: ['https://wide.example/cb'], scopes: ['openid', 'profile', 'email'] });
      const user = await createUser(server, { locale: 'en' });
      const jar = await signIn(server, user.email, user.password);
      const first = await authorize(server, { clientId: wide.clientId, redirectUri: wide.redirectUri, scope: 'openid profile', state: 's', cookies: jar });
      assert.ok(first.code, 'the first request is consented');
      const claims = JSON.stringify({ userinfo: { email: null }, id_token: { email_verified: { essential: true } } });
      const silent = await authorize(server, {
        clientId: wide.clientId, redirectUri: wide.redirectUri, scope: 'openid profile', prompt: 'none', state: 's', cookies: jar, extra: [['claims', claims]],
      });
      assert.equal(silent.error, 'consent_required');
      const asked = await authorize(server, {
        clientId: wide.clientId, redirectUri: wide.redirectUri, scope: 'openid profile', state: 's', cookies: jar, extra: [['claims', claims]], decision: 'stop',
      });
      assert.ok(asked.consentPage, 'the consent page is shown again');
      assert.match(asked.consentPage, /Your e-mail address/);
    });
  });
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] RP-initiated logout for a client anyone could register`, () => {
    let server: TestServer;
    let portal: TestClient;

    before(async () => {
      server = await startTestServer(kind, { overrides: { loginRateLimit: 0 } });
      // Registered in the developer portal by an attacker: any https URI is accepted.
      portal = await createClient(server, {
        name: 'Portal app', trusted: false, redirectUris: ['https://evil.example/cb'], postLogoutRedirectUris: ['https://evil.example/phish'],
      });
    });
    after(async () => {
      await server.close();
    });

    /** The attacker's own ID token for the attacker's own client: a valid hint. */
    async function attackersHint(): Promise<string> {
      const attacker = await createUser(server);
      const jar = await signIn(server, attacker.email, attacker.password);
      const res = await authorize(server, { clientId: portal.clientId, redirectUri: portal.redirectUri, scope: 'openid', state: 's', cookies: jar });
      assert.ok(res.code, `no code: ${res.status} ${res.location}`);
      const tokens = await exchangeCode(server, portal, res.code);
      return String(tokens.body.id_token);
    }

    test('a visitor who is signed out is not bounced to its post-logout URI (open redirect), with client_id or with the attacker\'s own hint', async () => {
      const hint = await attackersHint();
      const variants: Array<Record<string, string>> = [
        { client_id: portal.clientId, post_logout_redirect_uri: 'https://evil.example/phish', state: 'x' },
        { id_token_hint: hint, post_logout_redirect_uri: 'https://evil.example/phish', state: 'x' },
        { id_token_hint: hint, client_id: portal.clientId, post_logout_redirect_uri: 'https://evil.example/phish' },
      ];
      for (const params of variants) {
        for (const method of ['GET', 'POST'] as const) {
          const query = new URLSearchParams(params);
          const res = method === 'GET'
            ? await httpRequest(server, 'GET', `/oauth/logout?${query.toString()}`, {})
            : await httpRequest(server, 'POST', '/oauth/logout', { form: query });
          const label = `${method} ${Object.keys(params).join('+')}`;
          assert.equal(res.location, null, `${label}: redirected to ${res.location}`);
          assert.equal(res.status, 200, label);
          // The way back is offered as a link the visitor chooses, naming where it goes.
          assert.match(res.body, /href="https:\/\/evil\.example\/phish\?state=x"|href="https:\/\/evil\.example\/phish"/, label);
          assert.match(res.body, /evil\.example/, label);
        }
      }
    });
  });
}
