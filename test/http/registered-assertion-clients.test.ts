// Issue 23's parts together: a client that registers itself (RFC 7591) for private_key_jwt or
// client_secret_jwt then authenticates with the assertions it signs (RFC 7523 §2.2) at the token,
// introspection and revocation endpoints; one that rotates its keys through RFC 7592 PUT is
// refused with the old key at once; and a client_secret_jwt client's secret cannot stand in for
// the assertion (it was registered for client_secret_jwt, not client_secret_basic).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ASSERTION_TYPE, newKeyPair, signAssertion } from '../helpers/assertion-clients.js';

const FORM = 'application/x-www-form-urlencoded';

async function register(server: TestServer, metadata: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}/oauth/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata),
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 201, JSON.stringify(body));
  return body;
}

async function post(server: TestServer, path: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': FORM, ...headers }, body: new URLSearchParams(params).toString() });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

for (const kind of databaseKinds()) {
  describe(`dynamically registered clients authenticate by assertion [${kind}]`, () => {
    let server: TestServer;
    let tokenEndpoint: string;
    before(async () => {
      server = await startTestServer(kind, { file: { registration: 'open' } });
      tokenEndpoint = `${server.url}/oauth/token`;
    });
    after(async () => server.close());

    test('private_key_jwt: registered with its jwks, it gets, introspects and revokes a token with signed assertions; after a PUT with a new key the old key is refused', async () => {
      const first = await newKeyPair('ES256');
      const registered = await register(server, {
        client_name: 'Machine', grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [first.publicJwk] }, scope: 'profile',
      });
      const clientId = String(registered.client_id);
      assert.equal(registered.client_secret, undefined);
      const assertion = (key = first) => signAssertion({ clientId, aud: tokenEndpoint, key: key.privateKey, alg: key.alg, kid: key.kid });

      const token = await post(server, '/oauth/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion() });
      assert.equal(token.status, 200, JSON.stringify(token.body));
      const accessToken = String(token.body.access_token);

      // aud may be the issuer too (SPEC); introspection with an assertion of its own.
      const introspected = await post(server, '/oauth/introspect', {
        token: accessToken, client_assertion_type: ASSERTION_TYPE,
        client_assertion: await signAssertion({ clientId, aud: server.config.issuer, key: first.privateKey, alg: first.alg, kid: first.kid }),
      });
      assert.equal(introspected.status, 200);
      assert.equal(introspected.body.active, true);
      assert.equal(introspected.body.client_id, clientId);

      // RFC 7592 §2.2: a new key set replaces the old one, and the old key stops working at once.
      const second = await newKeyPair('ES256');
      const put = await fetch(String(registered.registration_client_uri), {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${String(registered.registration_access_token)}` },
        body: JSON.stringify({
          client_id: clientId, client_name: 'Machine', grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [second.publicJwk] }, scope: 'profile',
        }),
      });
      assert.equal(put.status, 200, await put.clone().text());
      const stale = await post(server, '/oauth/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(first) });
      assert.equal(stale.status, 401);
      assert.equal(stale.body.error, 'invalid_client');
      const fresh = await post(server, '/oauth/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(second) });
      assert.equal(fresh.status, 200, JSON.stringify(fresh.body));

      // Revocation with an assertion; the token is then inactive.
      const revoked = await post(server, '/oauth/revoke', { token: accessToken, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(second) });
      assert.equal(revoked.status, 200);
      const after = await post(server, '/oauth/introspect', { token: accessToken, client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(second) });
      assert.equal(after.body.active, false);
    });

    test('client_secret_jwt: the secret it was given signs HS256 assertions that are accepted; the same secret sent as a password is refused', async () => {
      const registered = await register(server, {
        client_name: 'HMAC machine', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_jwt', scope: 'profile',
      });
      const clientId = String(registered.client_id);
      const secret = String(registered.client_secret);
      assert.ok(secret.length >= 32);
      const key = new TextEncoder().encode(secret);
      const ok = await post(server, '/oauth/token', {
        grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE,
        client_assertion: await signAssertion({ clientId, aud: tokenEndpoint, key, alg: 'HS256' }),
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));

      // A wrong secret's HMAC, and the right secret as client_secret_basic / _post: all refused.
      const wrong = await post(server, '/oauth/token', {
        grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE,
        client_assertion: await signAssertion({ clientId, aud: tokenEndpoint, key: new TextEncoder().encode(`${secret}x`), alg: 'HS256' }),
      });
      assert.equal(wrong.status, 401);
      const basic = await post(server, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` });
      assert.equal(basic.status, 401);
      assert.equal(basic.body.error, 'invalid_client');
      const body = await post(server, '/oauth/token', { grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
      assert.equal(body.status, 401);
    });
  });
}
