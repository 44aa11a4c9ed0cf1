// ID tokens over real HTTP (SPEC.md "OpenID Connect"): the code exchange with scope=openid
// answers an ID token that verifies with jose against the JWKS alone, carries every claim the
// SPEC names, and a refresh answers another with the same sub, aud and auth_time and no nonce.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { createHash } from 'node:crypto';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { authorize } from '../helpers/authorize.js';
import { exchangeCode, refresh } from '../helpers/token.js';

async function jwks(server: TestServer): Promise<JSONWebKeySet> {
  const res = await fetch(`${server.url}/.well-known/jwks.json`);
  return (await res.json()) as JSONWebKeySet;
}

function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] ID tokens`, () => {
    let server: TestServer;
    let user: TestUser;
    let client: TestClient;
    let es256: TestClient;
    before(async () => {
      server = await startTestServer(kind);
      user = await createUser(server, { email: 'ida@example.com', name: 'Ida', locale: 'nl' });
      client = await createClient(server, { name: 'RP' });
      es256 = await createClient(server, { name: 'RP ES', idTokenSignedResponseAlg: 'ES256' });
    });
    after(() => server.close());

    async function openidCode(c: TestClient, extra: Array<[string, string]>, scope = 'openid profile email') {
      const result = await authorize(server, {
        clientId: c.clientId, redirectUri: c.redirectUri, scope, state: 'st', extra, login: { email: user.email, password: user.password },
      });
      assert.equal(result.status, 302, result.final.body);
      assert.equal(result.redirect?.searchParams.get('iss'), server.config.issuer);
      assert.ok(result.code);
      return result.code;
    }

    test('code exchange with openid: an RS256 ID token with every claim, verified against the JWKS alone; refresh keeps sub, aud, auth_time and drops nonce', async () => {
      const code = await openidCode(client, [['nonce', 'n-0S6_WzA2Mj']]);
      const res = await exchangeCode(server, client, code);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const idToken = res.body.id_token as string;
      assert.equal(typeof idToken, 'string');
      const header = decodeProtectedHeader(idToken);
      assert.equal(header.alg, 'RS256');
      assert.equal(typeof header.kid, 'string');
      const { payload } = await jwtVerify(idToken, createLocalJWKSet(await jwks(server)), { issuer: server.config.issuer, audience: client.clientId });
      assert.equal(typeof payload.sub, 'string');
      assert.notEqual(payload.sub, String(user.id));
      assert.equal(payload.nonce, 'n-0S6_WzA2Mj');
      assert.equal(payload.at_hash, atHash(res.body.access_token as string));
      assert.equal(typeof payload.auth_time, 'number');
      assert.equal(typeof payload.sid, 'string');
      assert.deepEqual(payload.amr, ['pwd']);
      assert.equal(payload.name, 'Ida');
      assert.equal(payload.locale, 'nl');
      assert.equal(payload.email, 'ida@example.com');
      assert.equal(payload.email_verified, false);
      assert.equal(typeof payload.updated_at, 'number');
      assert.equal(payload.exp! - payload.iat!, 3600);

      const refreshed = await refresh(server, client, res.body.refresh_token as string);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const again = await jwtVerify(refreshed.body.id_token as string, createLocalJWKSet(await jwks(server)), { issuer: server.config.issuer, audience: client.clientId });
      assert.equal(again.payload.sub, payload.sub);
      assert.equal(again.payload.auth_time, payload.auth_time);
      assert.equal(again.payload.sid, payload.sid);
      assert.equal(again.payload.nonce, undefined);
      assert.equal(again.payload.at_hash, atHash(refreshed.body.access_token as string));
    });

    test('a client registered with ES256 gets ES256 ID tokens; scope without openid gets none', async () => {
      const res = await exchangeCode(server, es256, await openidCode(es256, []));
      assert.equal(decodeProtectedHeader(res.body.id_token as string).alg, 'ES256');
      await jwtVerify(res.body.id_token as string, createLocalJWKSet(await jwks(server)), { issuer: server.config.issuer, audience: es256.clientId });
      const plain = await authorize(server, { clientId: client.clientId, redirectUri: client.redirectUri, scope: 'profile', cookies: undefined, login: { email: user.email, password: user.password } });
      const oauth = await exchangeCode(server, client, plain.code!);
      assert.equal(oauth.status, 200);
      assert.equal(oauth.body.id_token, undefined);
    });
  });
}
