// The token endpoint's successful paths, spoken over HTTP to a started server on each
// database: every grant, every body format and client authentication method, rotation,
// scope narrowing, and what /api/user answers for the tokens.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { freezeClock, startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, mintCode, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { exchangeCode, getUser, postToken, refresh, secretPost, tokensOf, type JsonResponse } from '../helpers/token.js';
import { newVerifier } from '../helpers/pkce.js';

function assertTokenResponse(res: JsonResponse, expected: { expiresIn: number; scope: string; refresh: boolean }): void {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('pragma'), 'no-cache');
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const keys = ['token_type', 'expires_in', 'access_token', ...(expected.refresh ? ['refresh_token'] : []), 'scope'];
  assert.deepEqual(Object.keys(res.body), keys);
  assert.equal(res.body.token_type, 'Bearer');
  assert.equal(res.body.expires_in, expected.expiresIn);
  assert.equal(res.body.scope, expected.scope);
  assert.match(String(res.body.access_token), /^[0-9a-z]{9}[A-Za-z0-9_-]{43}$/);
  if (expected.refresh) assert.match(String(res.body.refresh_token), /^[0-9a-z]{9}[A-Za-z0-9_-]{43}$/);
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] token endpoint, standard profile`, () => {
    let server: TestServer;
    let user: TestUser;
    let client: TestClient;

    before(async () => {
      server = await startTestServer(kind);
      user = await createUser(server, { name: 'John Doe', email: 'john@doe.com', locale: 'nl' });
      client = await createClient(server, { redirectUris: ['https://app.example/cb', 'https://app.example/other'] });
    });
    after(async () => {
      await server.close();
    });

    test('authorization_code with client_secret_post (form): the RFC 6749 §5.1 answer and the user identity', async () => {
      const { code } = await mintCode(server, { client, userId: user.id });
      const res = await exchangeCode(server, client, code);
      assertTokenResponse(res, { expiresIn: 3600, scope: 'profile email', refresh: true });
      const { accessToken } = tokensOf(res);
      for (const path of ['/api/user', '/oauth/userinfo']) {
        const me = await getUser(server, accessToken, { path });
        assert.equal(me.status, 200);
        assert.equal(me.headers.get('cache-control'), 'no-store');
        assert.deepEqual(me.body, { id: user.id, name: 'John Doe', email: 'john@doe.com', locale: 'nl' });
      }
    });

    test('client_secret_basic with a JSON body, and a multipart body', async () => {
      const first = await mintCode(server, { client, userId: user.id });
      const json = await postToken(server, { grant_type: 'authorization_code', code: first.code, redirect_uri: client.redirectUri }, {
        format: 'json', basic: { id: client.clientId, secret: client.clientSecret ?? '' },
      });
      assertTokenResponse(json, { expiresIn: 3600, scope: 'profile email', refresh: true });
      const second = await mintCode(server, { client, userId: user.id });
      const multipart = await postToken(server, { grant_type: 'authorization_code', code: second.code, redirect_uri: client.redirectUri, ...secretPost(client) }, { format: 'multipart' });
      assertTokenResponse(multipart, { expiresIn: 3600, scope: 'profile email', refresh: true });
    });

    test('the redirect URI of the authorization request, when it was not sent there, may be left out', async () => {
      const { code } = await mintCode(server, { client, userId: user.id, redirectUriSent: false });
      const res = await postToken(server, { grant_type: 'authorization_code', code, ...secretPost(client) });
      assertTokenResponse(res, { expiresIn: 3600, scope: 'profile email', refresh: true });
    });

    test('refresh rotates: a new pair; the old pair (refresh and access token) is invalidated', async () => {
      const { code } = await mintCode(server, { client, userId: user.id });
      const first = tokensOf(await exchangeCode(server, client, code));
      const rotated = await refresh(server, client, first.refreshToken);
      assertTokenResponse(rotated, { expiresIn: 3600, scope: 'profile email', refresh: true });
      const second = tokensOf(rotated);
      assert.notEqual(second.accessToken, first.accessToken);
      assert.notEqual(second.refreshToken, first.refreshToken);
      assert.equal((await getUser(server, second.accessToken)).status, 200);
      const stale = await getUser(server, first.accessToken);
      assert.equal(stale.status, 401, 'the access token of the used pair ends with the refresh');
      assert.equal(stale.body.error, 'invalid_token');
      // The used token is marked used; its successor is recorded only when refresh_retry_window
      // (default 0) needs it (test/hardening/refresh-retry.test.ts).
      const { tokenKey } = await import('../../src/oauth/crypto.js');
      const oldRow = await server.services.refreshTokens.find(tokenKey(first.refreshToken));
      assert.equal(oldRow?.successorHash, null);
      assert.notEqual(oldRow?.consumedAt, null);
      const third = await refresh(server, client, second.refreshToken);
      assert.equal(third.status, 200);
    });

    test('tokens issued before the time prefix (43 characters, stored under SHA-256 alone) keep working', async () => {
      const { newSecret, sha256Hex } = await import('../../src/oauth/crypto.js');
      const { nowSeconds } = await import('../../src/oauth/clock.js');
      const now = nowSeconds(server.clock);
      const scope = 'profile email';
      const grantId = await server.services.grants.insert({ clientId: client.client.id, userId: user.id, organizationId: null, scope, grantType: 'authorization_code', now });
      const legacyAccess = newSecret();
      const legacyRefresh = newSecret();
      const common = { grantId: grantId, clientId: client.client.id, userId: user.id, organizationId: null, scope, createdAt: now };
      await server.services.accessTokens.insert({ ...common, tokenHash: sha256Hex(legacyAccess), jti: null, expiresAt: now + 3600 });
      await server.services.refreshTokens.insert({ ...common, tokenHash: sha256Hex(legacyRefresh), expiresAt: null, accessTokenHash: sha256Hex(legacyAccess) });

      assert.deepEqual((await getUser(server, legacyAccess)).body, { id: user.id, name: 'John Doe', email: 'john@doe.com', locale: 'nl' });
      const introspected = await fetch(`${server.url}/oauth/introspect`, { method: 'POST', body: new URLSearchParams({ token: legacyAccess, ...secretPost(client) }) });
      assert.equal(((await introspected.json()) as { active?: unknown }).active, true);
      const rotated = await refresh(server, client, legacyRefresh);
      assertTokenResponse(rotated, { expiresIn: 3600, scope, refresh: true });
      assert.equal((await getUser(server, legacyAccess)).status, 401, 'the legacy pair ends with the refresh, as any pair does');
      assert.equal((await refresh(server, client, legacyRefresh)).body.error, 'invalid_grant');
    });

    test('refresh may narrow the scope; the new refresh token keeps the original scope (RFC 6749 §6)', async () => {
      const { code } = await mintCode(server, { client, userId: user.id });
      const first = tokensOf(await exchangeCode(server, client, code));
      const narrowed = await refresh(server, client, first.refreshToken, { scope: 'email' });
      assertTokenResponse(narrowed, { expiresIn: 3600, scope: 'email', refresh: true });
      const me = await getUser(server, tokensOf(narrowed).accessToken);
      assert.deepEqual(me.body, { id: user.id, email: 'john@doe.com' });
      const full = await refresh(server, client, tokensOf(narrowed).refreshToken);
      assertTokenResponse(full, { expiresIn: 3600, scope: 'profile email', refresh: true });
    });

    test('a widening refresh is invalid_scope and does not use the refresh token up', async () => {
      const { code } = await mintCode(server, { client, userId: user.id, scope: 'profile' });
      const first = tokensOf(await exchangeCode(server, client, code));
      const widened = await refresh(server, client, first.refreshToken, { scope: 'profile email' });
      assert.equal(widened.status, 400);
      assert.equal(widened.body.error, 'invalid_scope');
      const ok = await refresh(server, client, first.refreshToken);
      assertTokenResponse(ok, { expiresIn: 3600, scope: 'profile', refresh: true });
      assert.deepEqual((await getUser(server, tokensOf(ok).accessToken)).body, { id: user.id, name: 'John Doe', locale: 'nl' });
    });

    test('public client with PKCE: code exchange and refresh by client_id alone', async () => {
      const pub = await createClient(server, { isPublic: true });
      const verifier = newVerifier();
      const { code } = await mintCode(server, { client: pub, userId: user.id, codeVerifier: verifier });
      const res = await postToken(server, { grant_type: 'authorization_code', code, redirect_uri: pub.redirectUri, client_id: pub.clientId, code_verifier: verifier });
      assertTokenResponse(res, { expiresIn: 3600, scope: 'profile email', refresh: true });
      const rotated = await postToken(server, { grant_type: 'refresh_token', refresh_token: tokensOf(res).refreshToken, client_id: pub.clientId });
      assertTokenResponse(rotated, { expiresIn: 3600, scope: 'profile email', refresh: true });
    });

    test('a confidential client may use PKCE too', async () => {
      const verifier = newVerifier();
      const { code } = await mintCode(server, { client, userId: user.id, codeVerifier: verifier });
      const res = await exchangeCode(server, client, code, { code_verifier: verifier });
      assertTokenResponse(res, { expiresIn: 3600, scope: 'profile email', refresh: true });
    });

    test('a client without the refresh_token grant gets no refresh token', async () => {
      const codeOnly = await createClient(server, { grantTypes: ['authorization_code'] });
      const { code } = await mintCode(server, { client: codeOnly, userId: user.id });
      const res = await exchangeCode(server, codeOnly, code);
      assertTokenResponse(res, { expiresIn: 3600, scope: 'profile email', refresh: false });
    });

    test('a grant bound to an organization: the identity names it; integrations off stops the tokens, on again restores them', async () => {
      const org = await server.services.orgs.insert({ name: 'Acme Roofing', integrationsEnabled: true, now: 0 });
      const { code } = await mintCode(server, { client, userId: user.id, organizationId: org.id });
      const pair = tokensOf(await exchangeCode(server, client, code));
      const me = await getUser(server, pair.accessToken);
      assert.deepEqual(me.body, { id: user.id, name: 'John Doe', email: 'john@doe.com', locale: 'nl', organization: { id: org.id, name: 'Acme Roofing' } });

      await server.services.orgs.setIntegrations(org.id, false);
      const off = await getUser(server, pair.accessToken);
      assert.equal(off.status, 401);
      assert.equal(off.body.error, 'invalid_token');
      const refused = await refresh(server, client, pair.refreshToken);
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error, 'invalid_grant');

      await server.services.orgs.setIntegrations(org.id, true);
      assert.equal((await getUser(server, pair.accessToken)).status, 200);
      const again = await refresh(server, client, pair.refreshToken);
      assertTokenResponse(again, { expiresIn: 3600, scope: 'profile email', refresh: true });
    });

    test('password grant (Basic), default scope = the client\'s full set', async () => {
      const pw = await createClient(server, { grantTypes: ['password', 'refresh_token'] });
      const res = await postToken(server, { grant_type: 'password', username: user.email.toUpperCase(), password: user.password }, {
        basic: { id: pw.clientId, secret: pw.clientSecret ?? '' },
      });
      assertTokenResponse(res, { expiresIn: 3600, scope: 'profile email', refresh: true });
      assert.equal((await getUser(server, tokensOf(res).accessToken)).body.id, user.id);
      const narrow = await postToken(server, { grant_type: 'password', username: user.email, password: user.password, scope: 'email', ...secretPost(pw) });
      assertTokenResponse(narrow, { expiresIn: 3600, scope: 'email', refresh: true });
    });

    test('client_credentials: an access token without refresh token, which cannot read a user', async () => {
      const machine = await createClient(server, { grantTypes: ['client_credentials'], scopes: ['profile'] });
      const res = await postToken(server, { grant_type: 'client_credentials', ...secretPost(machine) });
      assertTokenResponse(res, { expiresIn: 3600, scope: 'profile', refresh: false });
      const me = await getUser(server, String(res.body.access_token));
      assert.equal(me.status, 403);
      assert.equal(me.body.error, 'insufficient_scope');
      assert.match(me.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", error="insufficient_scope"/);
    });

    test('grant_type is case-insensitive and values are trimmed', async () => {
      const { code } = await mintCode(server, { client, userId: user.id });
      const res = await postToken(server, { grant_type: ' Authorization_Code ', code: ` ${code} `, redirect_uri: client.redirectUri, ...secretPost(client) });
      assertTokenResponse(res, { expiresIn: 3600, scope: 'profile email', refresh: true });
    });

    test('an access token lives exactly expires_in seconds', async () => {
      const unfreeze = freezeClock(server);
      try {
        const { code } = await mintCode(server, { client, userId: user.id });
        const { accessToken } = tokensOf(await exchangeCode(server, client, code));
        server.clock.advance(3599);
        assert.equal((await getUser(server, accessToken)).status, 200);
        server.clock.advance(1);
        const expired = await getUser(server, accessToken);
        assert.equal(expired.status, 401);
        assert.equal(expired.body.error, 'invalid_token');
        assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        server.clock.advance(-3600);
      } finally {
        unfreeze();
      }
    });
  });
}
