// Every way a token request or a protected-resource call fails, with the `error` code
// asserted (RFC 6749 §5.2, RFC 6750 §3.1), on each database. None of them may be a 5xx.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nowSeconds } from '../../src/oauth/clock.js';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, mintCode, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { basicHeader, exchangeCode, getUser, postToken, refresh, secretPost, tokensOf, type JsonResponse } from '../helpers/token.js';
import { newVerifier } from '../helpers/pkce.js';

function assertError(res: JsonResponse, status: number, error: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error, error, JSON.stringify(res.body));
  assert.equal(typeof res.body.error_description, 'string');
  assert.equal(res.headers.get('cache-control'), 'no-store');
}

async function rawToken(server: TestServer, body: string | undefined, contentType: string | undefined, path = '/oauth/token'): Promise<JsonResponse> {
  const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {};
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] token endpoint failures`, () => {
    let server: TestServer;
    let user: TestUser;
    let client: TestClient;
    let other: TestClient;

    before(async () => {
      server = await startTestServer(kind);
      user = await createUser(server);
      client = await createClient(server);
      other = await createClient(server);
    });
    after(async () => {
      await server.close();
    });

    describe('client authentication', () => {
      test('wrong secret over Basic: 401 invalid_client with WWW-Authenticate: Basic', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        const res = await postToken(server, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri }, { basic: { id: client.clientId, secret: 'wrong' } });
        assertError(res, 401, 'invalid_client');
        assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="latchkey"/);
      });

      test('wrong secret in the body: 401 invalid_client without a Basic challenge', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        const res = await exchangeCode(server, client, code, { client_secret: 'wrong' });
        assertError(res, 401, 'invalid_client');
        assert.equal(res.headers.get('www-authenticate'), null);
        // The code was not touched: the right secret still exchanges it.
        assert.equal((await exchangeCode(server, client, code)).status, 200);
      });

      test('unknown client, and a confidential client without its secret: invalid_client', async () => {
        assertError(await postToken(server, { grant_type: 'client_credentials', client_id: 'nobody', client_secret: 'x' }), 401, 'invalid_client');
        assertError(await postToken(server, { grant_type: 'refresh_token', refresh_token: 'x', client_id: client.clientId }), 401, 'invalid_client');
        assertError(await postToken(server, { grant_type: 'refresh_token', refresh_token: 'x' }), 401, 'invalid_client');
      });

      test('Basic and client_secret at once: invalid_request (RFC 6749 §2.3)', async () => {
        const res = await postToken(server, { grant_type: 'refresh_token', refresh_token: 'x', ...secretPost(client) }, { basic: { id: client.clientId, secret: client.clientSecret ?? '' } });
        assertError(res, 400, 'invalid_request');
      });
    });

    describe('authorization_code', () => {
      test('a code used twice: invalid_grant, and the tokens of the first use stop working', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        const first = tokensOf(await exchangeCode(server, client, code));
        assert.equal((await getUser(server, first.accessToken)).status, 200);
        assertError(await exchangeCode(server, client, code), 400, 'invalid_grant');
        const me = await getUser(server, first.accessToken);
        assert.equal(me.status, 401);
        assert.equal(me.body.error, 'invalid_token');
        assertError(await refresh(server, client, first.refreshToken), 400, 'invalid_grant');
        assert.ok(server.logs.some((l) => l.includes('"level":40') && l.includes('code')), 'the replay is logged as a warning');
      });

      test('an expired code: invalid_grant', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        server.clock.advance(601);
        try {
          assertError(await exchangeCode(server, client, code), 400, 'invalid_grant');
        } finally {
          server.clock.advance(-601);
        }
      });

      test('an unknown code, and another client\'s code (left usable for its owner): invalid_grant', async () => {
        assertError(await exchangeCode(server, client, 'no-such-code'), 400, 'invalid_grant');
        const { code } = await mintCode(server, { client, userId: user.id });
        assertError(await exchangeCode(server, other, code, { redirect_uri: client.redirectUri }), 400, 'invalid_grant');
        assert.equal((await exchangeCode(server, client, code)).status, 200);
      });

      test('redirect_uri different from, or missing after, the authorization request: invalid_grant', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        assertError(await exchangeCode(server, client, code, { redirect_uri: 'https://app.example/elsewhere' }), 400, 'invalid_grant');
        assertError(await postToken(server, { grant_type: 'authorization_code', code, ...secretPost(client) }), 400, 'invalid_grant');
        // A refused exchange does not use the code up.
        assert.equal((await exchangeCode(server, client, code)).status, 200);
        const unsent = await mintCode(server, { client, userId: user.id, redirectUriSent: false });
        assertError(await exchangeCode(server, client, unsent.code, { redirect_uri: 'https://app.example/elsewhere' }), 400, 'invalid_grant');
      });

      test('PKCE: verifier missing, wrong, malformed, or sent without a challenge: invalid_grant', async () => {
        const verifier = newVerifier();
        const { code } = await mintCode(server, { client, userId: user.id, codeVerifier: verifier });
        assertError(await exchangeCode(server, client, code), 400, 'invalid_grant');
        assertError(await exchangeCode(server, client, code, { code_verifier: newVerifier() }), 400, 'invalid_grant');
        assertError(await exchangeCode(server, client, code, { code_verifier: 'short' }), 400, 'invalid_grant');
        assert.equal((await exchangeCode(server, client, code, { code_verifier: verifier })).status, 200);
        const plain = await mintCode(server, { client, userId: user.id });
        assertError(await exchangeCode(server, client, plain.code, { code_verifier: newVerifier() }), 400, 'invalid_grant');
      });

      test('a public client must have used PKCE', async () => {
        const pub = await createClient(server, { isPublic: true });
        const { code } = await mintCode(server, { client: pub, userId: user.id });
        const res = await postToken(server, { grant_type: 'authorization_code', code, redirect_uri: pub.redirectUri, client_id: pub.clientId });
        assertError(res, 400, 'invalid_grant');
      });

      test('a revoked grant\'s code: invalid_grant', async () => {
        const { code, grantId } = await mintCode(server, { client, userId: user.id });
        await server.services.grants.revoke(grantId, nowSeconds(server.clock));
        assertError(await exchangeCode(server, client, code), 400, 'invalid_grant');
      });

      test('a client not allowed the grant: unauthorized_client; the code parameter missing: invalid_request', async () => {
        const machine = await createClient(server, { grantTypes: ['client_credentials'] });
        assertError(await postToken(server, { grant_type: 'authorization_code', code: 'x', ...secretPost(machine) }), 400, 'unauthorized_client');
        assertError(await postToken(server, { grant_type: 'authorization_code', ...secretPost(client) }), 400, 'invalid_request');
      });
    });

    describe('refresh_token', () => {
      test('a refresh token used twice: invalid_grant, and the newest pair is revoked too', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        const first = tokensOf(await exchangeCode(server, client, code));
        const second = tokensOf(await refresh(server, client, first.refreshToken));
        assertError(await refresh(server, client, first.refreshToken), 400, 'invalid_grant');
        assertError(await refresh(server, client, second.refreshToken), 400, 'invalid_grant');
        const me = await getUser(server, second.accessToken);
        assert.equal(me.status, 401);
        assert.equal(me.body.error, 'invalid_token');
      });

      test('another client\'s refresh token: invalid_grant, and it stays usable for its owner', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        const pair = tokensOf(await exchangeCode(server, client, code));
        assertError(await refresh(server, other, pair.refreshToken), 400, 'invalid_grant');
        assert.equal((await refresh(server, client, pair.refreshToken)).status, 200);
      });

      test('an expired refresh token (30 days under the standard profile): invalid_grant', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        const pair = tokensOf(await exchangeCode(server, client, code));
        server.clock.advance(30 * 86_400);
        try {
          assertError(await refresh(server, client, pair.refreshToken), 400, 'invalid_grant');
        } finally {
          server.clock.advance(-30 * 86_400);
        }
      });

      test('an unknown refresh token, a revoked grant: invalid_grant', async () => {
        assertError(await refresh(server, client, 'not-a-token'), 400, 'invalid_grant');
        const { code, grantId } = await mintCode(server, { client, userId: user.id });
        const pair = tokensOf(await exchangeCode(server, client, code));
        await server.services.grants.revoke(grantId, nowSeconds(server.clock));
        assertError(await refresh(server, client, pair.refreshToken), 400, 'invalid_grant');
        assert.equal((await getUser(server, pair.accessToken)).status, 401);
      });

      test('a malformed scope: invalid_scope', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        const pair = tokensOf(await exchangeCode(server, client, code));
        assertError(await refresh(server, client, pair.refreshToken, { scope: 'profile "email"' }), 400, 'invalid_scope');
      });
    });

    describe('password and client_credentials', () => {
      test('password grant for a client not allowed it: unauthorized_client', async () => {
        const res = await postToken(server, { grant_type: 'password', username: user.email, password: user.password, ...secretPost(client) });
        assertError(res, 400, 'unauthorized_client');
      });

      test('wrong password, unknown user: invalid_grant; missing password: invalid_request; unknown scope: invalid_scope', async () => {
        const pw = await createClient(server, { grantTypes: ['password'] });
        assertError(await postToken(server, { grant_type: 'password', username: user.email, password: 'nope', ...secretPost(pw) }), 400, 'invalid_grant');
        assertError(await postToken(server, { grant_type: 'password', username: 'ghost@example.com', password: 'nope', ...secretPost(pw) }), 400, 'invalid_grant');
        assertError(await postToken(server, { grant_type: 'password', username: user.email, ...secretPost(pw) }), 400, 'invalid_request');
        assertError(await postToken(server, { grant_type: 'password', username: user.email, password: user.password, scope: 'admin', ...secretPost(pw) }), 400, 'invalid_scope');
      });

      test('client_credentials for a client not allowed it: unauthorized_client; a scope it lacks: invalid_scope', async () => {
        assertError(await postToken(server, { grant_type: 'client_credentials', ...secretPost(client) }), 400, 'unauthorized_client');
        const machine = await createClient(server, { grantTypes: ['client_credentials'], scopes: ['profile'] });
        assertError(await postToken(server, { grant_type: 'client_credentials', scope: 'email', ...secretPost(machine) }), 400, 'invalid_scope');
      });
    });

    describe('the request itself', () => {
      test('unknown or missing grant_type', async () => {
        assertError(await postToken(server, { grant_type: 'implicit', ...secretPost(client) }), 400, 'unsupported_grant_type');
        assertError(await postToken(server, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', ...secretPost(client) }), 400, 'unsupported_grant_type');
        assertError(await postToken(server, { ...secretPost(client) }), 400, 'invalid_request');
        assertError(await postToken(server, { grant_type: 'password', ...secretPost(client) }, { path: '/refresh' }), 400, 'unsupported_grant_type');
      });

      test('a repeated parameter: invalid_request (RFC 6749 §3.2)', async () => {
        const { code } = await mintCode(server, { client, userId: user.id });
        const body = `grant_type=authorization_code&code=${code}&code=${code}&redirect_uri=${encodeURIComponent(client.redirectUri)}&client_id=${client.clientId}&client_secret=${client.clientSecret ?? ''}`;
        assertError(await rawToken(server, body, 'application/x-www-form-urlencoded'), 400, 'invalid_request');
        const json = JSON.stringify({ grant_type: 'authorization_code', code: [code, code], ...secretPost(client) });
        assertError(await rawToken(server, json, 'application/json'), 400, 'invalid_request');
        const form = new FormData();
        form.append('grant_type', 'client_credentials');
        form.append('scope', 'profile');
        form.append('scope', 'email');
        const res = await fetch(`${server.url}/oauth/token`, { method: 'POST', body: form, headers: { authorization: basicHeader(client.clientId, client.clientSecret ?? '') } });
        assert.equal(res.status, 400);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      });

      test('no body, an unsupported media type, malformed JSON or percent-encoding, a nested value: invalid_request', async () => {
        assertError(await rawToken(server, undefined, undefined), 400, 'invalid_request');
        assertError(await rawToken(server, 'grant_type=client_credentials', 'text/plain'), 400, 'invalid_request');
        assertError(await rawToken(server, '{"grant_type":', 'application/json'), 400, 'invalid_request');
        assertError(await rawToken(server, '', 'application/json'), 400, 'invalid_request');
        assertError(await rawToken(server, '"just a string"', 'application/json'), 400, 'invalid_request');
        assertError(await rawToken(server, '{"grant_type":{"a":1}}', 'application/json'), 400, 'invalid_request');
        assertError(await rawToken(server, 'grant_type=%E0%A4%A', 'application/x-www-form-urlencoded'), 400, 'invalid_request');
        assertError(await rawToken(server, 'grant_type=%FF', 'application/x-www-form-urlencoded'), 400, 'invalid_request');
      });

      test('a file part in a multipart body is refused', async () => {
        const form = new FormData();
        form.append('grant_type', 'client_credentials');
        form.append('client_id', client.clientId);
        form.append('client_secret', new Blob([client.clientSecret ?? ''], { type: 'text/plain' }), 'secret.txt');
        const res = await fetch(`${server.url}/oauth/token`, { method: 'POST', body: form });
        assert.equal(res.status, 400);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
      });

      test('hostile values never produce a 5xx', async () => {
        const pw = await createClient(server, { grantTypes: ['password', 'refresh_token', 'authorization_code'] });
        const values = ['\u0000', 'a'.repeat(10_000), '\u{1F600}', '%', '../../etc/passwd', "' OR 1=1 --"];
        for (const v of values) {
          const cases: Array<Record<string, string>> = [
            { grant_type: 'authorization_code', code: v, redirect_uri: v, code_verifier: v, ...secretPost(client) },
            { grant_type: 'refresh_token', refresh_token: v, scope: v, ...secretPost(client) },
            { grant_type: 'password', username: v, password: v, ...secretPost(pw) },
            { grant_type: v, client_id: v, client_secret: v },
            { grant_type: 'refresh_token', refresh_token: 'x', client_id: v, client_secret: v },
            { grant_type: 'refresh_token', refresh_token: 'x', client_id: v },
          ];
          for (const params of cases) {
            const res = await postToken(server, params);
            assert.ok(res.status >= 400 && res.status < 500, `${res.status} for ${JSON.stringify(params).slice(0, 80)}`);
            assert.equal(typeof res.body.error, 'string');
          }
          const me = await fetch(`${server.url}/api/user`, { headers: { authorization: `Bearer ${encodeURIComponent(v)}` } });
          assert.equal(me.status, 401);
        }
        const badBasic = await postToken(server, { grant_type: 'client_credentials' }, { headers: { authorization: 'Basic %%%' } });
        assertError(badBasic, 401, 'invalid_client');
        const nulBasic = await postToken(server, { grant_type: 'client_credentials' }, { basic: { id: '\u0000', secret: 'x' } });
        assertError(nulBasic, 401, 'invalid_client');
      });
    });

    describe('/api/user', () => {
      test('no token: 401 with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
        for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer' }] as Array<Record<string, string>>) {
          const res = await fetch(`${server.url}/api/user`, { headers });
          assert.equal(res.status, 401);
          // RFC 6750 §3.1: no error code; RFC 9728 §5.1: where the resource's metadata is.
          assert.equal(res.headers.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="${server.url}/.well-known/oauth-protected-resource"`);
          assert.equal(res.headers.get('cache-control'), 'no-store');
        }
      });

      test('unknown, malformed or revoked token: 401 invalid_token', async () => {
        for (const token of ['unknown-token', 'two words']) {
          const res = await getUser(server, token);
          assert.equal(res.status, 401);
          assert.equal(res.body.error, 'invalid_token');
          assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", error="invalid_token"/);
        }
        const { code } = await mintCode(server, { client, userId: user.id });
        const pair = tokensOf(await exchangeCode(server, client, code));
        const { tokenKey } = await import('../../src/oauth/crypto.js');
        await server.services.accessTokens.revoke(tokenKey(pair.accessToken), nowSeconds(server.clock));
        const revoked = await getUser(server, pair.accessToken);
        assert.equal(revoked.status, 401);
        assert.equal(revoked.body.error, 'invalid_token');
      });

      test('a token with neither profile nor email scope: 403 insufficient_scope', async () => {
        const { code } = await mintCode(server, { client, userId: user.id, scope: '' });
        const res = await exchangeCode(server, client, code);
        assert.equal(res.status, 200);
        assert.equal(res.body.scope, undefined);
        const me = await getUser(server, String(res.body.access_token));
        assert.equal(me.status, 403);
        assert.equal(me.body.error, 'insufficient_scope');
        assert.match(me.headers.get('www-authenticate') ?? '', /error="insufficient_scope".*scope="profile email"/);
      });
    });
  });
}
