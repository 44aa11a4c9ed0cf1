// OpenID Connect UserInfo (Core §5.3) at /oauth/userinfo over HTTP, on each database. The
// tests are named after the OpenID conformance suite modules they mirror (oidcc-userinfo-get,
// oidcc-userinfo-post-header, oidcc-userinfo-post-body, oidcc-scope-*, oidcc-claims-essential)
// and repeat those modules' checks on the answer; then the RFC 6750 refusals and the attacks.
// Tokens come from the store (test/helpers/oidc.ts), as the token endpoint writes them, and
// once through the whole flow (authorization endpoint, code exchange, ID token).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import * as oidcClient from 'openid-client';
import { nowSeconds } from '../../src/oauth/clock.js';
import type { User } from '../../src/oauth/model.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createOrganization, createUser, type TestClient } from '../helpers/fixtures.js';
import { authorize } from '../helpers/authorize.js';
import { issueOpenIdAccessToken } from '../helpers/oidc.js';
import { exchangeCode, postToken, secretPost } from '../helpers/token.js';

const SCOPES = ['openid', 'profile', 'email'];

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // Tests read fields freely and assert on them.
  body: Record<string, unknown>;
}

async function call(server: TestServer, init: { method?: 'GET' | 'POST' | 'HEAD'; authorization?: string; contentType?: string; body?: string; query?: string; path?: string }): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.authorization !== undefined) headers.authorization = init.authorization;
  if (init.contentType !== undefined) headers['content-type'] = init.contentType;
  const res = await fetch(`${server.url}${init.path ?? '/oauth/userinfo'}${init.query ?? ''}`, {
    method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  if (text !== '') body = JSON.parse(text) as Record<string, unknown>;
  return { status: res.status, headers: res.headers, text, body };
}

const getInfo = (server: TestServer, token: string) => call(server, { authorization: `Bearer ${token}` });
const postHeader = (server: TestServer, token: string) => call(server, { method: 'POST', authorization: `Bearer ${token}` });
const postBody = (server: TestServer, token: string) =>
  call(server, { method: 'POST', contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams({ access_token: token }).toString() });

/** The checks the conformance suite makes on every UserInfo answer (AbstractOIDCCUserInfoTest). */
function assertConformingUserinfo(res: Answer, subject: string): void {
  // EnsureHttpStatusCodeIs200, EnsureContentTypeJson (OIDCC-5.3.2).
  assert.equal(res.status, 200, res.text);
  assert.equal((res.headers.get('content-type') ?? '').split(';')[0]?.trim(), 'application/json');
  // The answer is about a person: never cached (OIDC Core §5.3.2 defers to RFC 6750 §5.3).
  assert.equal(res.headers.get('cache-control'), 'no-store');
  // EnsureUserInfoContainsSub, and VerifyUserInfoAndIdToken…SameSub: the user's subject.
  assert.equal(res.body.sub, subject);
  // ValidateUserInfoStandardClaims (OIDCC-5.1): each standard claim has its type; strings are not blank.
  const strings = ['sub', 'name', 'locale', 'email'];
  for (const [claim, value] of Object.entries(res.body)) {
    if (strings.includes(claim)) assert.ok(typeof value === 'string' && value.trim() !== '' && value.toLowerCase() !== 'null', `${claim}: ${String(value)}`);
    if (claim === 'email_verified') assert.equal(typeof value, 'boolean');
    if (claim === 'updated_at') {
      // EnsureUserInfoUpdatedAtValid: a number, after 1990, not in the future (5 minutes' skew).
      assert.equal(typeof value, 'number');
      assert.ok((value as number) > Date.UTC(1990, 0, 1) / 1000 && (value as number) <= Date.now() / 1000 + 300, `updated_at ${String(value)}`);
    }
  }
  assert.equal('id' in res.body, false, 'an OpenID answer has no `id` (SPEC.md)');
}

/** RFC 6750 §3: the status, the error in the body and in the Bearer challenge. */
function assertRefused(res: Answer, status: number, error: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body.error, error, res.text);
  assert.equal(typeof res.body.error_description, 'string');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const challenge = res.headers.get('www-authenticate') ?? '';
  assert.match(challenge, new RegExp(`^Bearer realm="latchkey", error="${error}", error_description="[^"]+"`), challenge);
}

/** No token at all (RFC 6750 §3.1): 401 and a challenge with the realm and no error (plus RFC 9728 §5.1 resource_metadata). */
function assertNoToken(res: Answer): void {
  assert.equal(res.status, 401, res.text);
  assert.equal(res.body.error, 'invalid_token');
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", resource_metadata="http:\/\/[^"]+\/\.well-known\/oauth-protected-resource"$/);
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] OpenID Connect UserInfo`, () => {
    let server: TestServer;
    let app: TestClient;
    let user: User;
    let password: string;

    before(async () => {
      server = await startTestServer(kind, { file: { scopes: SCOPES } });
      app = await createClient(server, { name: 'RP', scopes: SCOPES });
      const created = await createUser(server, { email: 'jane@example.com', name: 'Jane Roe', locale: 'en' });
      user = (await server.services.users.findById(created.id))!;
      password = created.password;
    });
    after(async () => {
      await server.close();
    });

    const token = async (scope: string, more: Partial<Parameters<typeof issueOpenIdAccessToken>[1]> = {}) =>
      (await issueOpenIdAccessToken(server, { client: app, userId: user.id, scope, ...more })).accessToken;
    const allClaims = () => ({
      sub: user.subject, name: 'Jane Roe', locale: 'en', updated_at: user.updatedAt, email: 'jane@example.com', email_verified: false,
    });

    test('oidcc-userinfo-get: GET with the Bearer header answers the OpenID claims of the granted scopes, not the identity', async () => {
      const res = await getInfo(server, await token('openid profile email'));
      assertConformingUserinfo(res, user.subject);
      assert.deepEqual(res.body, allClaims());
      assert.equal(typeof res.body.updated_at, 'number');
    });

    test('oidcc-userinfo-get through a relying-party library: openid-client discovers the provider and reads UserInfo, checking sub', async () => {
      const config = await oidcClient.discovery(new URL(server.url), app.clientId, app.clientSecret ?? undefined, undefined, {
        execute: [oidcClient.allowInsecureRequests],
      });
      assert.equal(config.serverMetadata().userinfo_endpoint, `${server.url}/oauth/userinfo`);
      const info = await oidcClient.fetchUserInfo(config, await token('openid email'), user.subject);
      assert.deepEqual(info, { sub: user.subject, email: 'jane@example.com', email_verified: false });
      // A library that expects another subject refuses the answer (OIDC Core §5.3.4).
      await assert.rejects(oidcClient.fetchUserInfo(config, await token('openid'), 'someone-else'));
    });

    test('oidcc-claims-essential end to end: the authorization endpoint\'s `claims` request reaches UserInfo, whose sub is the ID token\'s', async () => {
      const result = await authorize(server, {
        clientId: app.clientId, redirectUri: app.redirectUri, scope: 'openid profile', state: 'st',
        extra: [['nonce', 'n-1'], ['claims', JSON.stringify({ userinfo: { email: { essential: true } }, id_token: { email_verified: null } })]],
        login: { email: user.email, password },
      });
      assert.ok(result.code, `no code: ${result.status}`);
      const tokens = await exchangeCode(server, app, result.code);
      assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
      const idToken = decodeJwt(String(tokens.body.id_token));
      const accessToken = String(tokens.body.access_token);
      const expected = { sub: user.subject, name: 'Jane Roe', locale: 'en', updated_at: user.updatedAt, email: 'jane@example.com' };
      for (const res of [await getInfo(server, accessToken), await postHeader(server, accessToken), await postBody(server, accessToken)]) {
        assertConformingUserinfo(res, user.subject);
        assert.deepEqual(res.body, expected);
        // VerifyUserInfoAndIdTokenInTokenEndpointSameSub (OIDCC-5.3.2).
        assert.equal(res.body.sub, idToken.sub);
      }
    });

    test('oidcc-userinfo-post-header: POST with the Bearer header, with no body or an empty form body', async () => {
      const access = await token('openid profile email');
      const bare = await postHeader(server, access);
      assertConformingUserinfo(bare, user.subject);
      assert.deepEqual(bare.body, allClaims());
      const emptyForm = await call(server, { method: 'POST', authorization: `Bearer ${access}`, contentType: 'application/x-www-form-urlencoded', body: '' });
      assert.deepEqual(emptyForm.body, allClaims());
      // An empty access_token is no parameter (RFC 6749 §3.1): the header's token is the one.
      const emptyParam = await call(server, { method: 'POST', authorization: `Bearer ${access}`, contentType: 'application/x-www-form-urlencoded', body: 'access_token=' });
      assert.deepEqual(emptyParam.body, allClaims());
    });

    test('oidcc-userinfo-post-body: POST with access_token in a form body (RFC 6750 §2.2), in both access-token formats', async () => {
      const res = await postBody(server, await token('openid profile email'));
      assertConformingUserinfo(res, user.subject);
      assert.deepEqual(res.body, allClaims());
      // With a charset parameter on the content type, and the Huddle scheme's server config aside.
      const withCharset = await call(server, {
        method: 'POST', contentType: 'application/x-www-form-urlencoded; charset=UTF-8', body: `access_token=${encodeURIComponent(await token('openid'))}`,
      });
      assert.deepEqual(withCharset.body, { sub: user.subject });

      const jwtServer = await startTestServer(kind, { file: { scopes: SCOPES, access_token_format: 'jwt' } });
      try {
        const jwtApp = await createClient(jwtServer);
        const ann = (await jwtServer.services.users.findById((await createUser(jwtServer, { name: 'Ann' })).id))!;
        const { accessToken } = await issueOpenIdAccessToken(jwtServer, { client: jwtApp, userId: ann.id, scope: 'openid profile' });
        assert.equal(accessToken.split('.').length, 3, 'a JWT access token');
        const expected = { sub: ann.subject, name: 'Ann', locale: 'nl', updated_at: ann.updatedAt };
        assert.deepEqual((await postBody(jwtServer, accessToken)).body, expected);
        assert.deepEqual((await getInfo(jwtServer, accessToken)).body, expected);
      } finally {
        await jwtServer.close();
      }
    });

    test('oidcc-scope-profile, oidcc-scope-email: the claims of the granted scopes only; openid alone is {sub}, not insufficient_scope', async () => {
      assert.deepEqual((await getInfo(server, await token('openid profile'))).body, { sub: user.subject, name: 'Jane Roe', locale: 'en', updated_at: user.updatedAt });
      assert.deepEqual((await getInfo(server, await token('openid email'))).body, { sub: user.subject, email: 'jane@example.com', email_verified: false });
      const alone = await getInfo(server, await token('openid'));
      assertConformingUserinfo(alone, user.subject);
      assert.deepEqual(alone.body, { sub: user.subject });
      // offline_access changes nothing (SPEC.md).
      assert.deepEqual((await getInfo(server, await token('openid offline_access'))).body, { sub: user.subject });
    });

    test('oidcc-claims-essential: claims the grant\'s `claims` request names for userinfo are answered; its id_token member is not', async () => {
      const requested = await token('openid', { claims: { userinfo: { name: { essential: true }, email: null } } });
      assert.deepEqual((await getInfo(server, requested)).body, { sub: user.subject, name: 'Jane Roe', email: 'jane@example.com' });
      const idTokenOnly = await token('openid', { claims: { id_token: { email: null } } });
      assert.deepEqual((await getInfo(server, idTokenOnly)).body, { sub: user.subject });
      // Beside a granted scope: the union.
      const both = await token('openid profile', { claims: { userinfo: { email_verified: null } } });
      assert.deepEqual((await postBody(server, both)).body, { sub: user.subject, name: 'Jane Roe', locale: 'en', updated_at: user.updatedAt, email_verified: false });
    });

    test('organization: bound grants answer {id,name} beside the claims', async () => {
      const org = await createOrganization(server, { name: 'Acme', memberIds: [user.id] });
      const res = await getInfo(server, await token('openid profile', { organizationId: org.id }));
      assert.deepEqual(res.body, { sub: user.subject, name: 'Jane Roe', locale: 'en', updated_at: user.updatedAt, organization: { id: org.id, name: 'Acme' } });
    });

    test('the claims follow the account: a verified address and a new name show at once, with a later updated_at', async () => {
      const ann = await createUser(server, { name: 'Ann', email: 'ann@example.com' });
      const access = await token('openid profile email', { userId: ann.id });
      const earlier = await getInfo(server, access);
      assert.equal(earlier.body.email_verified, false);
      server.clock.advance(60);
      await server.services.users.update(ann.id, { name: 'Ann Smith', emailVerified: true }, nowSeconds(server.clock));
      const later = await getInfo(server, access);
      assert.equal(later.body.name, 'Ann Smith');
      assert.equal(later.body.email_verified, true);
      assert.ok((later.body.updated_at as number) > (earlier.body.updated_at as number));
      assert.equal(later.body.sub, earlier.body.sub, 'sub never changes');
    });

    test('tokens without openid: /oauth/userinfo answers exactly the identity, byte for byte as /api/user', async () => {
      for (const scope of ['profile email', 'profile', 'email']) {
        const access = await token(scope);
        const userinfo = await getInfo(server, access);
        const api = await call(server, { path: '/api/user', authorization: `Bearer ${access}` });
        assert.equal(userinfo.status, 200);
        assert.equal(userinfo.text, api.text, scope);
        assert.equal(userinfo.headers.get('content-type'), api.headers.get('content-type'));
        const identity = { id: user.id, name: 'Jane Roe', email: 'jane@example.com', locale: 'en' };
        const expected = Object.fromEntries(Object.entries(identity).filter(([k]) => k === 'id' || (scope.includes('profile') && (k === 'name' || k === 'locale')) || (scope.includes('email') && k === 'email')));
        assert.equal(userinfo.text, JSON.stringify(expected));
        // The same through POST, header or body.
        assert.equal((await postHeader(server, access)).text, api.text);
        assert.equal((await postBody(server, access)).text, api.text);
      }
      // Neither profile nor email, without openid: still 403 insufficient_scope.
      assertRefused(await getInfo(server, await token('calendar')), 403, 'insufficient_scope');
    });

    test('/api/user answers the identity even for an openid token', async () => {
      const api = await call(server, { path: '/api/user', authorization: `Bearer ${await token('openid profile email')}` });
      assert.deepEqual(api.body, { id: user.id, name: 'Jane Roe', email: 'jane@example.com', locale: 'en' });
      // openid alone reads no identity there (neither profile nor email).
      assertRefused(await call(server, { path: '/api/user', authorization: `Bearer ${await token('openid')}` }), 403, 'insufficient_scope');
      // /api/user has no POST.
      assert.equal((await call(server, { method: 'POST', path: '/api/user', authorization: `Bearer ${await token('openid')}` })).status, 404);
    });

    test('HEAD answers like GET, without a body', async () => {
      const access = await token('openid email');
      const res = await call(server, { method: 'HEAD', authorization: `Bearer ${access}` });
      assert.equal(res.status, 200);
      assert.equal(res.text, '');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal((await call(server, { method: 'HEAD' })).status, 401);
    });

    describe('refusals (RFC 6750 §3.1) and attacks', () => {
      test('a token in the header and in the body: 400 invalid_request with the challenge, whichever is valid', async () => {
        const access = await token('openid profile');
        const other = await token('openid email');
        for (const [header, bodyToken] of [[access, access], [access, other], [access, 'not-a-token'], ['a"b', access]] as const) {
          const res = await call(server, {
            method: 'POST', authorization: `Bearer ${header}`, contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams({ access_token: bodyToken }).toString(),
          });
          assertRefused(res, 400, 'invalid_request');
          assert.equal('sub' in res.body, false);
        }
        // Basic is not a way of sending an access token: the body's token is the only one.
        const basic = await call(server, {
          method: 'POST', authorization: 'Basic dXNlcjpwYXNz', contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams({ access_token: access }).toString(),
        });
        assert.equal(basic.body.sub, user.subject);
      });

      test('two tokens in the body: 400 invalid_request', async () => {
        const access = await token('openid');
        for (const body of [`access_token=${access}&access_token=${access}`, `access_token=${access}&access_token=`, `access_token=&access_token=${access}`]) {
          assertRefused(await call(server, { method: 'POST', contentType: 'application/x-www-form-urlencoded', body }), 400, 'invalid_request');
        }
      });

      test('a token in the query string is never read: no token, whatever else is sent', async () => {
        const access = await token('openid profile');
        const query = `?access_token=${encodeURIComponent(access)}`;
        assertNoToken(await call(server, { query }));
        assertNoToken(await call(server, { method: 'POST', query }));
        assertNoToken(await call(server, { method: 'POST', query, contentType: 'application/x-www-form-urlencoded', body: 'scope=openid' }));
        assertNoToken(await call(server, { path: '/api/user', query }));
        // Beside a header, the query string changes nothing.
        const withHeader = await call(server, { query: '?access_token=forged', authorization: `Bearer ${access}` });
        assert.equal(withHeader.body.sub, user.subject);
      });

      test('another body type: 400 invalid_request with the challenge, never searched for a token', async () => {
        const access = await token('openid profile');
        const form = new FormData();
        form.append('access_token', access);
        const multipart = await fetch(`${server.url}/oauth/userinfo`, { method: 'POST', body: form });
        assertRefused({ status: multipart.status, headers: multipart.headers, text: '', body: (await multipart.json()) as Record<string, unknown> }, 400, 'invalid_request');
        for (const [contentType, body] of [
          ['application/json', JSON.stringify({ access_token: access })],
          ['application/json', '{'],
          ['text/plain', `access_token=${access}`],
          ['application/x-www-form-urlencoded-evil', `access_token=${access}`],
          ['not a media type', `access_token=${access}`],
        ]) {
          const res = await call(server, { method: 'POST', contentType, body });
          assertRefused(res, 400, 'invalid_request');
          assert.equal('sub' in res.body, false, contentType);
        }
        // Even beside a header token: the body is refused, not ignored.
        assertRefused(await call(server, { method: 'POST', authorization: `Bearer ${access}`, contentType: 'application/json', body: '{}' }), 400, 'invalid_request');
      });

      test('control characters, bad encodings and oversize values in the body: refused before any lookup, never a 5xx', async () => {
        const access = await token('openid');
        const form = (body: string) => call(server, { method: 'POST', contentType: 'application/x-www-form-urlencoded', body });
        // Not a b64token (RFC 6750 §2.1): 401 invalid_token "malformed".
        for (const value of [`${access}%00`, `%00${access}`, `${access}%0D%0AX-Injected:%201`, `${access}%09`, `${access}%20x`, `${access}%22`, '%E2%80%A8', `${'a'.repeat(5000)}`]) {
          const res = await form(`access_token=${value}`);
          assertRefused(res, 401, 'invalid_token');
          assert.equal(res.body.error_description, 'the access token is malformed', value.slice(0, 40));
        }
        // Not valid percent-encoding or UTF-8: 400 invalid_request, with the challenge.
        for (const body of ['access_token=%ZZ', 'access_token=%C3%28', 'access_token=%', `access_token=${access}%FF`]) {
          assertRefused(await form(body), 400, 'invalid_request');
        }
        // A huge body: 413 before parsing.
        const huge = await form(`access_token=${access}&pad=${'x'.repeat(64 * 1024)}`);
        assert.equal(huge.status, 413);
        assert.equal(huge.body.error, 'invalid_request');
        assert.match(huge.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", error="invalid_request"/);
        // Many parameters are fine as long as one is access_token.
        assert.deepEqual((await form(`a=1&b=2&access_token=${access}&c=3`)).body, { sub: user.subject });
        // The server is still answering right.
        assert.deepEqual((await postBody(server, access)).body, { sub: user.subject });
      });

      test('a revoked or expired openid token: 401 invalid_token by every method', async () => {
        const { accessToken, grantId } = await issueOpenIdAccessToken(server, { client: app, userId: user.id, scope: 'openid profile' });
        assert.equal((await getInfo(server, accessToken)).status, 200);
        await server.services.grants.revoke(grantId, nowSeconds(server.clock));
        for (const res of [await getInfo(server, accessToken), await postHeader(server, accessToken), await postBody(server, accessToken)]) {
          assertRefused(res, 401, 'invalid_token');
          assert.equal(res.body.error_description, 'the access token has been revoked');
        }
        const expiring = await token('openid email');
        server.clock.advance(server.config.accessTokenTtl);
        try {
          for (const res of [await getInfo(server, expiring), await postHeader(server, expiring), await postBody(server, expiring)]) {
            assertRefused(res, 401, 'invalid_token');
            assert.equal(res.body.error_description, 'the access token has expired');
          }
        } finally {
          server.clock.advance(-server.config.accessTokenTtl);
        }
        assertRefused(await getInfo(server, 'unknownTokenValue'), 401, 'invalid_token');
        assertRefused(await postBody(server, 'unknownTokenValue'), 401, 'invalid_token');
      });

      test('a client_credentials token, with openid in its scope or not: 403 insufficient_scope (no user behind it)', async () => {
        const machine = await createClient(server, { grantTypes: ['client_credentials'], scopes: SCOPES });
        const issued = await postToken(server, { grant_type: 'client_credentials', ...secretPost(machine) });
        assert.equal(issued.status, 200, JSON.stringify(issued.body));
        const stored = await issueOpenIdAccessToken(server, { client: machine, userId: null, scope: 'openid profile email' });
        for (const access of [String(issued.body.access_token), stored.accessToken]) {
          for (const res of [await getInfo(server, access), await postBody(server, access)]) {
            assertRefused(res, 403, 'insufficient_scope');
            assert.match(res.headers.get('www-authenticate') ?? '', /scope="profile email"$/);
          }
        }
      });

      test('a burst of mixed requests for two users at once: each answer is its own token\'s, none a 5xx', async () => {
        const bob = (await server.services.users.findById((await createUser(server, { name: 'Bob' })).id))!;
        const janeToken = await token('openid');
        const bobToken = await token('openid', { userId: bob.id });
        const requests = Array.from({ length: 60 }, (_, i) => {
          const [access, subject] = i % 2 === 0 ? [janeToken, user.subject] : [bobToken, bob.subject];
          const send = [getInfo, postHeader, postBody][i % 3]!;
          return send(server, access).then((res) => ({ res, subject }));
        });
        const both = Array.from({ length: 10 }, () => call(server, {
          method: 'POST', authorization: `Bearer ${janeToken}`, contentType: 'application/x-www-form-urlencoded', body: `access_token=${bobToken}`,
        }));
        for (const { res, subject } of await Promise.all(requests)) assert.deepEqual(res.body, { sub: subject });
        for (const res of await Promise.all(both)) assertRefused(res, 400, 'invalid_request');
      });
    });
  });
}
