// POST /oauth/introspect (RFC 7662) over HTTP on each database: the shape of an active
// answer for every kind of token, exactly {"active":false} for everything not usable (or
// not the caller's), and every error path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { getUser, postToken, refresh, secretPost, tokensOf } from '../helpers/token.js';
import { basicOf, introspectToken, issueTokens, postEndpoint, revokeToken } from '../helpers/token-admin.js';

const INACTIVE = { active: false };

for (const kind of databaseKinds()) {
  describe(`[${kind}] POST /oauth/introspect`, () => {
    let server: TestServer;
    let user: TestUser;
    let client: TestClient;
    let other: TestClient;

    before(async () => {
      server = await startTestServer(kind);
      user = await createUser(server, { email: 'john@doe.com', name: 'John Doe' });
      client = await createClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials', 'password'] });
      other = await createClient(server, { name: 'Other app' });
    });
    after(async () => {
      await server.close();
    });

    test('an active access token: RFC 7662 §2.2 fields, not cacheable', async () => {
      const t = await issueTokens(server, client, user.id);
      const res = await postEndpoint(server, '/oauth/introspect', { token: t.accessToken }, { basic: basicOf(client) });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = res.json ?? {};
      const iat = Number(body.iat);
      assert.ok(Math.abs(iat - Math.floor(server.clock.nowMs() / 1000)) <= 2);
      assert.deepEqual(body, {
        active: true,
        scope: 'profile email',
        client_id: client.clientId,
        username: 'john@doe.com',
        sub: String(user.id),
        exp: iat + 3600,
        iat,
        token_type: 'Bearer',
        iss: server.config.issuer,
        aud: `${server.config.issuer}/api`,
      });
    });

    test('an active refresh token: token_type refresh_token, its own expiry, no audience', async () => {
      const t = await issueTokens(server, client, user.id);
      const body = await introspectToken(server, client, t.refreshToken, { token_type_hint: 'refresh_token' });
      const iat = Number(body.iat);
      assert.deepEqual(body, {
        active: true,
        scope: 'profile email',
        client_id: client.clientId,
        username: 'john@doe.com',
        sub: String(user.id),
        exp: iat + 30 * 86_400,
        iat,
        token_type: 'refresh_token',
        iss: server.config.issuer,
      });
    });

    test('username (the e-mail) only under the email scope', async () => {
      const t = await issueTokens(server, client, user.id, { scope: 'profile' });
      const body = await introspectToken(server, client, t.accessToken);
      assert.equal(body.active, true);
      assert.equal(body.scope, 'profile');
      assert.equal(body.sub, String(user.id));
      assert.equal('username' in body, false);
    });

    test('client_credentials: no user, so sub is the client and there is no username', async () => {
      const res = await postToken(server, { grant_type: 'client_credentials', ...secretPost(client) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const body = await introspectToken(server, client, String(res.body.access_token));
      assert.equal(body.active, true);
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.client_id, client.clientId);
      assert.equal(body.sub, client.clientId);
      assert.equal(body.scope, 'profile email');
      assert.equal('username' in body, false);
      assert.equal('org_id' in body, false);
    });

    test('a grant bound to an organization carries org_id; integrations off makes it inactive', async () => {
      const org = await server.services.orgs.insert({ name: 'Acme', integrationsEnabled: true, now: 0 });
      const t = await issueTokens(server, client, user.id, { organizationId: org.id });
      assert.equal((await introspectToken(server, client, t.accessToken)).org_id, org.id);
      assert.equal((await introspectToken(server, client, t.refreshToken)).org_id, org.id);
      await server.services.orgs.setIntegrations(org.id, false);
      assert.deepEqual(await introspectToken(server, client, t.accessToken), INACTIVE);
      assert.deepEqual(await introspectToken(server, client, t.refreshToken), INACTIVE);
      await server.services.orgs.setIntegrations(org.id, true);
      assert.equal((await introspectToken(server, client, t.accessToken)).active, true);
    });

    test('token_type_hint only orders the lookup', async () => {
      const t = await issueTokens(server, client, user.id);
      assert.equal((await introspectToken(server, client, t.accessToken, { token_type_hint: 'refresh_token' })).token_type, 'Bearer');
      assert.equal((await introspectToken(server, client, t.refreshToken, { token_type_hint: 'access_token' })).token_type, 'refresh_token');
      assert.equal((await introspectToken(server, client, t.refreshToken, { token_type_hint: 'bogus' })).token_type, 'refresh_token');
    });

    test('JSON and multipart bodies, client_secret_post', async () => {
      const t = await issueTokens(server, client, user.id);
      for (const format of ['json', 'multipart'] as const) {
        const res = await postEndpoint(server, '/oauth/introspect', { token: t.accessToken, ...secretPost(client) }, { format });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json?.active, true);
      }
    });

    test('unknown, malformed or over-long tokens: exactly {"active":false}', async () => {
      for (const token of ['no-such-token', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.', 'x'.repeat(5000), '\u2603']) {
        assert.deepEqual(await introspectToken(server, client, token), INACTIVE, token.slice(0, 20));
      }
    });

    test("another client's tokens are inactive to the caller (and stay active to their owner)", async () => {
      const t = await issueTokens(server, client, user.id);
      assert.deepEqual(await introspectToken(server, other, t.accessToken), INACTIVE);
      assert.deepEqual(await introspectToken(server, other, t.refreshToken), INACTIVE);
      assert.equal((await introspectToken(server, client, t.accessToken)).active, true);
    });

    test('revoked: the token itself, or its grant through refresh-token revocation', async () => {
      const a = await issueTokens(server, client, user.id);
      await revokeToken(server, client, a.accessToken);
      assert.deepEqual(await introspectToken(server, client, a.accessToken), INACTIVE);
      const b = await issueTokens(server, client, user.id);
      await revokeToken(server, client, b.refreshToken);
      assert.deepEqual(await introspectToken(server, client, b.accessToken), INACTIVE);
      assert.deepEqual(await introspectToken(server, client, b.refreshToken), INACTIVE);
    });

    test('a used (rotated) refresh token is inactive; a replay revokes the grant and all of it goes inactive', async () => {
      const t = await issueTokens(server, client, user.id);
      const next = tokensOf(await refresh(server, client, t.refreshToken));
      assert.deepEqual(await introspectToken(server, client, t.refreshToken), INACTIVE);
      assert.equal((await introspectToken(server, client, next.refreshToken)).active, true);
      const replay = await refresh(server, client, t.refreshToken);
      assert.equal(replay.body.error, 'invalid_grant');
      assert.deepEqual(await introspectToken(server, client, next.accessToken), INACTIVE);
      assert.deepEqual(await introspectToken(server, client, next.refreshToken), INACTIVE);
    });

    test('the token parameter is required; client authentication failures are invalid_client', async () => {
      const noToken = await postEndpoint(server, '/oauth/introspect', {}, { basic: basicOf(client) });
      assert.equal(noToken.status, 400);
      assert.equal(noToken.json?.error, 'invalid_request');
      const t = await issueTokens(server, client, user.id);
      const wrong = await postEndpoint(server, '/oauth/introspect', { token: t.accessToken }, { basic: { id: client.clientId, secret: 'nope' } });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json?.error, 'invalid_client');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic /);
      const none = await postEndpoint(server, '/oauth/introspect', { token: t.accessToken });
      assert.equal(none.status, 401);
      assert.equal(none.json?.error, 'invalid_client');
      const idOnly = await postEndpoint(server, '/oauth/introspect', { token: t.accessToken, client_id: client.clientId });
      assert.equal(idOnly.status, 401);
      assert.equal(idOnly.json?.error, 'invalid_client');
      const inQuery = await postEndpoint(server, '/oauth/introspect', {}, { basic: basicOf(client), query: `?token=${t.accessToken}` });
      assert.equal(inQuery.status, 400);
      assert.equal(inQuery.json?.error, 'invalid_request');
      const badJson = await postEndpoint(server, '/oauth/introspect', {}, { basic: basicOf(client), raw: { contentType: 'application/json', body: '{' } });
      assert.equal(badJson.status, 400);
      assert.equal(badJson.json?.error, 'invalid_request');
    });

    // Last: it moves the clock.
    test('expired: access token after its lifetime, refresh token after its own', async () => {
      const t = await issueTokens(server, client, user.id);
      server.clock.advance(3600);
      assert.deepEqual(await introspectToken(server, client, t.accessToken), INACTIVE);
      assert.equal((await getUser(server, t.accessToken)).status, 401);
      assert.equal((await introspectToken(server, client, t.refreshToken)).active, true);
      server.clock.advance(30 * 86_400);
      assert.deepEqual(await introspectToken(server, client, t.refreshToken), INACTIVE);
    });
  });

  describe(`[${kind}] introspection under the hover profile`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { profile: 'hover' });
    });
    after(async () => {
      await server.close();
    });

    test('a refresh token that never expires has no exp', async () => {
      const user = await createUser(server);
      const client = await createClient(server);
      const t = await issueTokens(server, client, user.id);
      const body = await introspectToken(server, client, t.refreshToken);
      assert.equal(body.active, true);
      assert.equal(body.token_type, 'refresh_token');
      assert.equal('exp' in body, false);
      assert.equal(Number((await introspectToken(server, client, t.accessToken)).exp) - Number(body.iat), 7200);
    });
  });
}
