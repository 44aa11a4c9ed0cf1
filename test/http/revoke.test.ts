// POST /oauth/revoke (RFC 7009) over HTTP on each database: what is revoked (an access token
// alone; a refresh token's whole grant), what is not (another client's token), and every
// error path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, mintCode, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { getUser, postToken, refresh, secretPost, tokensOf } from '../helpers/token.js';
import { newVerifier } from '../helpers/pkce.js';
import { basicOf, introspectToken, issueTokens, postEndpoint, revokeToken, type RawResponse } from '../helpers/token-admin.js';

function assertRevoked200(res: RawResponse): void {
  assert.equal(res.status, 200, res.text);
  assert.equal(res.text, '');
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

function assertError(res: RawResponse, status: number, error: string): void {
  assert.equal(res.status, status, res.text);
  assert.equal(res.json?.error, error, res.text);
  assert.equal(typeof res.json?.error_description, 'string');
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] POST /oauth/revoke`, () => {
    let server: TestServer;
    let user: TestUser;
    let client: TestClient;
    let other: TestClient;

    before(async () => {
      server = await startTestServer(kind);
      user = await createUser(server);
      client = await createClient(server);
      other = await createClient(server, { name: 'Other app' });
    });
    after(async () => {
      await server.close();
    });

    test('an access token: that token stops working, the refresh token and the grant live on', async () => {
      const t = await issueTokens(server, client, user.id);
      assert.equal((await getUser(server, t.accessToken)).status, 200);
      assertRevoked200(await revokeToken(server, client, t.accessToken, { token_type_hint: 'access_token' }));
      const res = await getUser(server, t.accessToken);
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_token');
      assert.deepEqual(await introspectToken(server, client, t.accessToken), { active: false });
      // RFC 7009 §2.1 would allow revoking the grant too; Latchkey does not.
      assert.equal((await introspectToken(server, client, t.refreshToken)).active, true);
      const refreshed = await refresh(server, client, t.refreshToken);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.equal((await getUser(server, String(refreshed.body.access_token))).status, 200);
    });

    test('a refresh token: the whole grant ends — the refresh token and every access token from it', async () => {
      const t = await issueTokens(server, client, user.id);
      const second = await refresh(server, client, t.refreshToken);
      const accessToken2 = String(second.body.access_token);
      const refreshToken2 = String(second.body.refresh_token);
      // An unrelated authorization of the same user and client is not touched.
      const unrelated = await issueTokens(server, client, user.id);

      assertRevoked200(await revokeToken(server, client, refreshToken2, { token_type_hint: 'refresh_token' }));
      for (const token of [t.accessToken, accessToken2]) assert.equal((await getUser(server, token)).status, 401);
      const again = await refresh(server, client, refreshToken2);
      assert.equal(again.status, 400);
      assert.equal(again.body.error, 'invalid_grant');
      assert.deepEqual(await introspectToken(server, client, refreshToken2), { active: false });
      assert.equal((await getUser(server, unrelated.accessToken)).status, 200);
      assert.equal((await refresh(server, client, unrelated.refreshToken)).status, 200);
    });

    test('token_type_hint is only a hint: a wrong or unknown hint still finds the token', async () => {
      const a = await issueTokens(server, client, user.id);
      assertRevoked200(await revokeToken(server, client, a.refreshToken, { token_type_hint: 'access_token' }));
      assert.equal((await getUser(server, a.accessToken)).status, 401);
      const b = await issueTokens(server, client, user.id);
      assertRevoked200(await revokeToken(server, client, b.accessToken, { token_type_hint: 'refresh_token' }));
      assert.equal((await getUser(server, b.accessToken)).status, 401);
      const c = await issueTokens(server, client, user.id);
      assertRevoked200(await revokeToken(server, client, c.accessToken, { token_type_hint: 'id_token' }));
      assert.equal((await getUser(server, c.accessToken)).status, 401);
    });

    test("another client's token: 200, and nothing is revoked (RFC 7009 §2.1)", async () => {
      const t = await issueTokens(server, client, user.id);
      assertRevoked200(await revokeToken(server, other, t.accessToken));
      assertRevoked200(await revokeToken(server, other, t.refreshToken));
      assert.equal((await getUser(server, t.accessToken)).status, 200);
      assert.equal((await introspectToken(server, client, t.accessToken)).active, true);
      assert.equal((await introspectToken(server, client, t.refreshToken)).active, true);
      assert.ok(server.logs.some((l) => l.includes('"event":"token.revoke_refused"')));
    });

    test('an unknown, malformed, over-long or already revoked token: 200', async () => {
      assertRevoked200(await revokeToken(server, client, 'no-such-token'));
      assertRevoked200(await revokeToken(server, client, 'a.b.c'));
      assertRevoked200(await revokeToken(server, client, 'x'.repeat(5000)));
      assertRevoked200(await revokeToken(server, client, '\u00e9\u00fc \u2603'));
      const t = await issueTokens(server, client, user.id);
      assertRevoked200(await revokeToken(server, client, t.refreshToken));
      assertRevoked200(await revokeToken(server, client, t.refreshToken));
      assertRevoked200(await revokeToken(server, client, t.accessToken));
    });

    test('client_secret_post with a JSON body, and a multipart body', async () => {
      const a = await issueTokens(server, client, user.id);
      assertRevoked200(await postEndpoint(server, '/oauth/revoke', { token: a.accessToken, ...secretPost(client) }, { format: 'json' }));
      assert.equal((await getUser(server, a.accessToken)).status, 401);
      const b = await issueTokens(server, client, user.id);
      assertRevoked200(await postEndpoint(server, '/oauth/revoke', { token: b.accessToken, ...secretPost(client) }, { format: 'multipart' }));
      assert.equal((await getUser(server, b.accessToken)).status, 401);
    });

    test('a public client revokes its own token by client_id alone', async () => {
      const pub = await createClient(server, { isPublic: true, name: 'SPA' });
      const verifier = newVerifier();
      const { code } = await mintCode(server, { client: pub, userId: user.id, codeVerifier: verifier });
      const res = await postToken(server, { grant_type: 'authorization_code', code, redirect_uri: pub.redirectUri, client_id: pub.clientId, code_verifier: verifier });
      const { accessToken, refreshToken } = tokensOf(res);
      assertRevoked200(await postEndpoint(server, '/oauth/revoke', { token: refreshToken, client_id: pub.clientId }));
      assert.equal((await getUser(server, accessToken)).status, 401);
    });

    test('the token parameter is required: invalid_request', async () => {
      assertError(await postEndpoint(server, '/oauth/revoke', {}, { basic: basicOf(client) }), 400, 'invalid_request');
      assertError(await postEndpoint(server, '/oauth/revoke', { token: '' }, { basic: basicOf(client) }), 400, 'invalid_request');
      assertError(await postEndpoint(server, '/oauth/revoke', { token: '   ' }, { basic: basicOf(client) }), 400, 'invalid_request');
    });

    test('malformed requests: invalid_request, never a 5xx', async () => {
      const t = await issueTokens(server, client, user.id);
      // Repeated parameter (RFC 6749 §3.2).
      assertError(await postEndpoint(server, '/oauth/revoke', {}, { basic: basicOf(client), raw: { contentType: 'application/x-www-form-urlencoded', body: `token=${t.accessToken}&token=x` } }), 400, 'invalid_request');
      assertError(await postEndpoint(server, '/oauth/revoke', {}, { basic: basicOf(client), raw: { contentType: 'application/json', body: '{"token":' } }), 400, 'invalid_request');
      assertError(await postEndpoint(server, '/oauth/revoke', {}, { basic: basicOf(client), raw: { contentType: 'application/json', body: '["token"]' } }), 400, 'invalid_request');
      assertError(await postEndpoint(server, '/oauth/revoke', {}, { basic: basicOf(client), raw: { contentType: 'application/json', body: '{"token":{"a":1}}' } }), 400, 'invalid_request');
      assertError(await postEndpoint(server, '/oauth/revoke', {}, { basic: basicOf(client), raw: { contentType: 'application/x-www-form-urlencoded', body: 'token=%ZZ' } }), 400, 'invalid_request');
      assertError(await postEndpoint(server, '/oauth/revoke', {}, { basic: basicOf(client), raw: { contentType: 'text/plain', body: 'token' } }), 400, 'invalid_request');
      // The token belongs in the body, not the URL.
      assertError(await postEndpoint(server, '/oauth/revoke', {}, { basic: basicOf(client), query: `?token=${t.accessToken}` }), 400, 'invalid_request');
      assert.equal((await getUser(server, t.accessToken)).status, 200);
    });

    test('client authentication fails: invalid_client 401, and nothing is revoked', async () => {
      const t = await issueTokens(server, client, user.id);
      const wrongBasic = await revokeToken(server, client, t.accessToken, {}, { basic: { id: client.clientId, secret: 'wrong' } });
      assertError(wrongBasic, 401, 'invalid_client');
      assert.match(wrongBasic.headers.get('www-authenticate') ?? '', /^Basic /);
      assertError(await postEndpoint(server, '/oauth/revoke', { token: t.accessToken, client_id: client.clientId, client_secret: 'wrong' }), 401, 'invalid_client');
      assertError(await postEndpoint(server, '/oauth/revoke', { token: t.accessToken, client_id: 'nobody', client_secret: 'x' }), 401, 'invalid_client');
      // A confidential client must authenticate; its client_id alone is not enough.
      assertError(await postEndpoint(server, '/oauth/revoke', { token: t.accessToken, client_id: client.clientId }), 401, 'invalid_client');
      assertError(await postEndpoint(server, '/oauth/revoke', { token: t.accessToken }), 401, 'invalid_client');
      assert.equal((await getUser(server, t.accessToken)).status, 200);
    });
  });
}
