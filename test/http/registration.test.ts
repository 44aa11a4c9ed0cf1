// RFC 7591 dynamic client registration and RFC 7592 management over real HTTP, on SQLite and
// PostgreSQL: the three modes, every RFC 7591 error path (and nothing stored for any of them),
// initial access tokens counted atomically under a burst, the registration access token rotated
// on update, a deleted client's tokens dead at once (on a second server on the same PostgreSQL
// too), secrets stored only as hashes (and the client_secret_jwt secret sealed), the per-address
// rate limit, and the metadata's registration_endpoint.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { databaseKinds } from '../helpers/databases.js';
import { call, clientCount, managePath, register, type Answer } from '../helpers/registration.js';
import { signUp } from '../helpers/pages.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, mintCode, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { exchangeCode, getUser, postToken, tokensOf } from '../helpers/token.js';
import { postEndpoint } from '../helpers/token-admin.js';
import { newSecret, sha256Hex } from '../../src/oauth/crypto.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { openClientSecret } from '../../src/oauth/sealed-secret.js';
import type { Client } from '../../src/oauth/model.js';

const CODE_CLIENT = { redirect_uris: ['https://app.example/cb'], client_name: 'Registered app', grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] };

function rsaPublicJwk(): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' };
}

function rsaPrivateJwk(): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'k1' };
}

/** The client a registration answer describes, as the token-endpoint helpers take it. */
async function asTestClient(server: TestServer, answer: Answer): Promise<TestClient> {
  const client = await server.services.clients.findByClientId(String(answer.json.client_id));
  assert.ok(client, 'the registered client is stored');
  return { client, clientId: client.clientId, clientSecret: typeof answer.json.client_secret === 'string' ? answer.json.client_secret : null, redirectUri: client.redirectUris[0] ?? '' };
}

/** [body, expected error] for every RFC 7591 §3.2.2 refusal the server makes. */
const REFUSALS: Array<[string, unknown, string]> = [
  ['no redirect_uris for the code flow', { client_name: 'x' }, 'invalid_redirect_uri'],
  ['redirect_uris not an array', { redirect_uris: 'https://a.example/cb' }, 'invalid_redirect_uri'],
  ['redirect_uris holding a number', { redirect_uris: [42] }, 'invalid_redirect_uri'],
  ['an empty redirect_uris', { redirect_uris: [] }, 'invalid_redirect_uri'],
  ['a plain http redirect URI', { redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri'],
  ['a redirect URI with a fragment', { redirect_uris: ['https://app.example/cb#x'] }, 'invalid_redirect_uri'],
  ['a javascript: redirect URI', { redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri'],
  ['a relative redirect URI', { redirect_uris: ['/cb'] }, 'invalid_redirect_uri'],
  ['a redirect URI with user information', { redirect_uris: ['https://user:pw@app.example/cb'] }, 'invalid_redirect_uri'],
  ['a redirect URI with a control character', { redirect_uris: ['https://app.example/c\u0000b'] }, 'invalid_redirect_uri'],
  ['a redirect URI with a line feed', { redirect_uris: ['https://app.example/cb\nLocation: https://evil.example'] }, 'invalid_redirect_uri'],
  ['21 redirect URIs', { redirect_uris: Array.from({ length: 21 }, (_, i) => `https://app.example/cb${i}`) }, 'invalid_redirect_uri'],
  ['a software statement', { ...CODE_CLIENT, software_statement: 'eyJhbGciOiJub25lIn0.e30.' }, 'invalid_software_statement'],
  ['an unknown grant type', { ...CODE_CLIENT, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] }, 'invalid_client_metadata'],
  ['the implicit grant', { ...CODE_CLIENT, grant_types: ['implicit'], response_types: ['token'] }, 'invalid_client_metadata'],
  ['the password grant', { ...CODE_CLIENT, grant_types: ['password'] }, 'invalid_client_metadata'],
  ['grant_types not an array', { ...CODE_CLIENT, grant_types: 'authorization_code' }, 'invalid_client_metadata'],
  ['an empty grant_types', { ...CODE_CLIENT, grant_types: [] }, 'invalid_client_metadata'],
  ['refresh_token alone', { ...CODE_CLIENT, grant_types: ['refresh_token'] }, 'invalid_client_metadata'],
  ['response_types token', { ...CODE_CLIENT, response_types: ['token'] }, 'invalid_client_metadata'],
  ['response_types without code for authorization_code', { ...CODE_CLIENT, response_types: [] }, 'invalid_client_metadata'],
  ['response_types code without authorization_code', { grant_types: ['client_credentials'], response_types: ['code'] }, 'invalid_client_metadata'],
  ['an unknown token_endpoint_auth_method', { ...CODE_CLIENT, token_endpoint_auth_method: 'tls_client_auth' }, 'invalid_client_metadata'],
  ['token_endpoint_auth_method not a string', { ...CODE_CLIENT, token_endpoint_auth_method: ['none'] }, 'invalid_client_metadata'],
  ['none with client_credentials', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }, 'invalid_client_metadata'],
  ['private_key_jwt without keys', { ...CODE_CLIENT, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
  ['jwks and jwks_uri together', { ...CODE_CLIENT, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [rsaPublicJwk()] }, jwks_uri: 'https://app.example/jwks' }, 'invalid_client_metadata'],
  ['jwks holding a private key', { ...CODE_CLIENT, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [rsaPrivateJwk()] } }, 'invalid_client_metadata'],
  ['jwks holding a symmetric key', { ...CODE_CLIENT, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'invalid_client_metadata'],
  ['jwks that is no JWK Set', { ...CODE_CLIENT, jwks: [rsaPublicJwk()] }, 'invalid_client_metadata'],
  ['jwks with an empty keys array', { ...CODE_CLIENT, jwks: { keys: [] } }, 'invalid_client_metadata'],
  ['jwks with a broken key', { ...CODE_CLIENT, jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }] } }, 'invalid_client_metadata'],
  ['jwks with a 1024-bit RSA key', { ...CODE_CLIENT, jwks: { keys: [generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' })] } }, 'invalid_client_metadata'],
  ['an http jwks_uri', { ...CODE_CLIENT, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://app.example/jwks' }, 'invalid_client_metadata'],
  ['a jwks_uri that is no URL', { ...CODE_CLIENT, jwks_uri: 'not a url' }, 'invalid_client_metadata'],
  ['a scope the server does not offer', { ...CODE_CLIENT, scope: 'profile admin' }, 'invalid_client_metadata'],
  ['scope not a string', { ...CODE_CLIENT, scope: ['profile'] }, 'invalid_client_metadata'],
  ['an empty scope', { ...CODE_CLIENT, scope: ' ' }, 'invalid_client_metadata'],
  ['client_name not a string', { ...CODE_CLIENT, client_name: { en: 'x' } }, 'invalid_client_metadata'],
  ['an empty client_name', { ...CODE_CLIENT, client_name: '  ' }, 'invalid_client_metadata'],
  ['a client_name of 201 characters', { ...CODE_CLIENT, client_name: 'x'.repeat(201) }, 'invalid_client_metadata'],
  ['a client_name with a bidi override', { ...CODE_CLIENT, client_name: 'Good\u202eelgooG' }, 'invalid_client_metadata'],
  ['an http logo_uri', { ...CODE_CLIENT, logo_uri: 'http://app.example/logo.png' }, 'invalid_client_metadata'],
  ['a javascript: client_uri', { ...CODE_CLIENT, client_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
  ['a policy_uri with a fragment', { ...CODE_CLIENT, policy_uri: 'https://app.example/p#x' }, 'invalid_client_metadata'],
  ['a tos_uri that is a number', { ...CODE_CLIENT, tos_uri: 7 }, 'invalid_client_metadata'],
  ['contacts not an array', { ...CODE_CLIENT, contacts: 'ops@app.example' }, 'invalid_client_metadata'],
  ['contacts with a control character', { ...CODE_CLIENT, contacts: ['ops@app.example\r\nBcc: x@y'] }, 'invalid_client_metadata'],
  ['software_id not a string', { ...CODE_CLIENT, software_id: 12 }, 'invalid_client_metadata'],
  ['an unknown id_token_signed_response_alg', { ...CODE_CLIENT, id_token_signed_response_alg: 'none' }, 'invalid_client_metadata'],
  ['a bad post_logout_redirect_uri', { ...CODE_CLIENT, post_logout_redirect_uris: ['http://app.example/bye'] }, 'invalid_client_metadata'],
  ['a JSON array body', [CODE_CLIENT], 'invalid_client_metadata'],
  ['a JSON string body', 'hello', 'invalid_client_metadata'],
  ['a JSON null body', null, 'invalid_client_metadata'],
];

for (const kind of databaseKinds()) {
  describe(`[${kind}] dynamic client registration (RFC 7591, RFC 7592)`, () => {
    let server: TestServer;
    let user: TestUser;
    before(async () => {
      server = await startTestServer(kind, { file: { registration: 'open' }, overrides: { registrationRateLimit: 0 } });
      user = await createUser(server, { locale: 'en' });
    });
    after(async () => {
      await server.close();
    });

    test('closed (the default): 403 access_denied, nothing stored, and no registration_endpoint in either metadata document', async () => {
      const closed = await startTestServer(kind);
      try {
        const before = await clientCount(closed);
        const res = await register(closed, CODE_CLIENT);
        assert.equal(res.status, 403);
        assert.equal(res.json.error, 'access_denied');
        // Closed is answered as closed whatever the body.
        assert.equal((await call(closed, 'POST', '/oauth/register', { raw: 'not json', contentType: 'text/plain' })).json.error, 'access_denied');
        assert.equal(await clientCount(closed), before);
        for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
          const doc = await (await fetch(`${closed.url}${path}`)).json() as Record<string, unknown>;
          assert.equal(doc.registration_endpoint, undefined, path);
        }
      } finally {
        await closed.close();
      }
    });

    test('open: both metadata documents advertise registration_endpoint', async () => {
      for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
        const doc = await (await fetch(`${server.url}${path}`)).json() as Record<string, unknown>;
        assert.equal(doc.registration_endpoint, `${server.config.issuer}/oauth/register`, path);
      }
    });

    test('a full document: 201 with credentials and every accepted field echoed; only hashes stored; unknown fields ignored', async () => {
      const body = {
        redirect_uris: ['https://app.example/cb', 'http://127.0.0.1:8123/cb'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        client_name: 'Full app',
        scope: 'openid profile',
        post_logout_redirect_uris: ['https://app.example/bye'],
        id_token_signed_response_alg: 'ES256',
        logo_uri: 'https://app.example/logo.png',
        client_uri: 'https://app.example/',
        policy_uri: 'https://app.example/privacy',
        tos_uri: 'https://app.example/tos',
        contacts: ['ops@app.example'],
        software_id: '4NRB1-0XZABZI9E6-5SM3R',
        software_version: '2.1',
        jwks_uri: 'https://app.example/jwks.json',
        something_unknown: { nested: true },
      };
      const res = await register(server, body);
      assert.equal(res.status, 201, JSON.stringify(res.json));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const r = res.json;
      assert.equal(typeof r.client_id, 'string');
      assert.equal(typeof r.client_secret, 'string');
      assert.equal(typeof r.registration_access_token, 'string');
      assert.equal(r.registration_client_uri, `${server.config.issuer}/oauth/register/${String(r.client_id)}`);
      assert.equal(r.client_secret_expires_at, 0);
      assert.ok(Math.abs(Number(r.client_id_issued_at) - nowSeconds(server.clock)) <= 5);
      assert.equal(r.token_endpoint_auth_method, 'client_secret_basic', 'the RFC 7591 default');
      const { something_unknown: _ignored, ...accepted } = body;
      for (const [key, value] of Object.entries(accepted)) assert.deepEqual(r[key], value, key);
      assert.equal(r.something_unknown, undefined);

      const stored = await server.services.clients.findByClientId(String(r.client_id));
      assert.ok(stored);
      assert.equal(stored.secretHash, sha256Hex(String(r.client_secret)));
      assert.equal(stored.registrationTokenHash, sha256Hex(String(r.registration_access_token)));
      assert.equal(stored.secretSealed, null, 'only client_secret_jwt keeps its secret sealed');
      assert.equal(stored.registration, 'open');
      assert.equal(stored.ownerUserId, null);
      assert.equal(stored.trusted, false, 'errors never redirect before consent for a client anyone registered');
      assert.ok(server.logs.some((l) => l.includes('"event":"client.registered"') && l.includes(String(r.client_id))), 'audited');
      assert.ok(!server.logs.some((l) => l.includes(String(r.client_secret)) || l.includes(String(r.registration_access_token))), 'no secret in the logs');
      const row = JSON.stringify(await server.services.store.db.selectFrom('clients').selectAll().where('client_id', '=', String(r.client_id)).executeTakeFirst());
      assert.ok(!row.includes(String(r.client_secret)) && !row.includes(String(r.registration_access_token)), 'no secret in clear in the row');

      // GET answers the same document, without the credentials (stored only as hashes).
      const read = await call(server, 'GET', managePath(String(r.client_id)), { token: String(r.registration_access_token) });
      assert.equal(read.status, 200, JSON.stringify(read.json));
      const { client_secret: _s, registration_access_token: _t, ...rest } = r;
      assert.deepEqual(read.json, rest);
    });

    test('the defaults: authorization_code and code, client_secret_basic, every offered scope, the client_id as name', async () => {
      const res = await register(server, { redirect_uris: ['https://app.example/cb'] });
      assert.equal(res.status, 201);
      assert.deepEqual(res.json.grant_types, ['authorization_code']);
      assert.deepEqual(res.json.response_types, ['code']);
      assert.equal(res.json.token_endpoint_auth_method, 'client_secret_basic');
      assert.equal(res.json.scope, server.config.scopes.join(' '));
      assert.equal(res.json.client_name, res.json.client_id);
      const machine = await register(server, { grant_types: ['client_credentials'] });
      assert.equal(machine.status, 201, JSON.stringify(machine.json));
      assert.deepEqual(machine.json.response_types, []);
      assert.deepEqual(machine.json.redirect_uris, []);
    });

    test('none and private_key_jwt get no client_secret; client_secret_jwt keeps its secret sealed as well as hashed', async () => {
      const pub = await register(server, { ...CODE_CLIENT, grant_types: ['authorization_code'], token_endpoint_auth_method: 'none' });
      assert.equal(pub.status, 201);
      assert.equal(pub.json.client_secret, undefined);
      assert.equal(pub.json.client_secret_expires_at, undefined);
      assert.equal((await server.services.clients.findByClientId(String(pub.json.client_id)))?.isPublic, true);

      const jwk = rsaPublicJwk();
      const keyed = await register(server, { ...CODE_CLIENT, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } });
      assert.equal(keyed.status, 201, JSON.stringify(keyed.json));
      assert.equal(keyed.json.client_secret, undefined);
      assert.deepEqual(keyed.json.jwks, { keys: [jwk] });
      const keyedClient = await server.services.clients.findByClientId(String(keyed.json.client_id));
      assert.equal(keyedClient?.secretHash, null);
      assert.equal(keyedClient?.isPublic, false);
      assert.deepEqual(keyedClient?.jwks, { keys: [jwk] });

      const hmac = await register(server, { ...CODE_CLIENT, token_endpoint_auth_method: 'client_secret_jwt' });
      assert.equal(hmac.status, 201);
      const secret = String(hmac.json.client_secret);
      const hmacClient = await server.services.clients.findByClientId(String(hmac.json.client_id));
      assert.ok(hmacClient?.secretSealed);
      assert.ok(!hmacClient.secretSealed.includes(secret));
      assert.equal(hmacClient.secretHash, sha256Hex(secret));
      assert.equal(openClientSecret(hmacClient.secretSealed, hmacClient.clientId, server.config.encryptionKey), secret);
    });

    test('every RFC 7591 error path: the right code, a description, 400, and no client stored', async () => {
      const before = await clientCount(server);
      for (const [what, body, error] of REFUSALS) {
        const res = await register(server, body);
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.json)}`);
        assert.equal(res.json.error, error, `${what}: ${JSON.stringify(res.json)}`);
        assert.equal(typeof res.json.error_description, 'string', what);
        assert.ok(String(res.json.error_description).length > 10, what);
      }
      // The body itself: not JSON, malformed, empty, too large.
      const raw: Array<[string, { raw?: string; contentType?: string }]> = [
        ['a form body', { raw: 'redirect_uris=https://app.example/cb', contentType: 'application/x-www-form-urlencoded' }],
        ['text/plain', { raw: JSON.stringify(CODE_CLIENT), contentType: 'text/plain' }],
        ['malformed JSON', { raw: '{"redirect_uris": [' }],
        ['an empty body', { raw: '' }],
        ['no body at all', {}],
        ['a body over 16 KB', { raw: JSON.stringify({ ...CODE_CLIENT, client_name: 'x', padding: 'y'.repeat(17_000) }) }],
        ['a body far over the server\'s own limit', { raw: JSON.stringify({ padding: 'y'.repeat(200_000) }) }],
      ];
      for (const [what, options] of raw) {
        const res = await call(server, 'POST', '/oauth/register', options);
        assert.equal(res.status, 400, `${what}: ${res.status} ${JSON.stringify(res.json)}`);
        assert.equal(res.json.error, 'invalid_client_metadata', what);
      }
      // A "__proto__" member is an unknown member like any other, never the document's prototype.
      const proto = await call(server, 'POST', '/oauth/register', { raw: '{"__proto__": {"redirect_uris": ["https://app.example/cb"]}}' });
      assert.equal(proto.json.error, 'invalid_redirect_uri');
      assert.equal(await clientCount(server), before, 'no refused registration left a client behind');
    });

    test('RFC 7592: read, update (the registration access token rotates; the old one is refused), delete', async () => {
      const created = await register(server, { ...CODE_CLIENT, contacts: ['a@app.example'] });
      assert.equal(created.status, 201);
      const clientId = String(created.json.client_id);
      const secret = String(created.json.client_secret);
      const oldToken = String(created.json.registration_access_token);

      // Wrong, missing and malformed tokens, and an unknown client: 401 invalid_token alike.
      for (const token of [undefined, 'wrong', newSecret(), `${oldToken}x`]) {
        const res = await call(server, 'GET', managePath(clientId), token === undefined ? {} : { token });
        assert.equal(res.status, 401);
        assert.equal(res.json.error, 'invalid_token');
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer /);
      }
      // Hostile client ids in the path: refused, never a 5xx.
      for (const id of ['%00', '\u0000x', 'x'.repeat(150), '../register', '%2F..%2F', '💥', '"\'<>']) {
        for (const method of ['GET', 'PUT', 'DELETE']) {
          const res = await call(server, method, `/oauth/register/${id.startsWith('%') ? id : encodeURIComponent(id)}`, { token: oldToken, ...(method === 'PUT' ? { body: { client_id: id } } : {}) });
          assert.equal(res.status, 401, `${method} ${id}: ${res.status}`);
        }
      }
      assert.ok((await call(server, 'GET', `/oauth/register/${'x'.repeat(300)}`, { token: oldToken })).status < 500);
      const unknown = await call(server, 'GET', managePath('no-such-client'), { token: oldToken });
      assert.equal(unknown.status, 401);
      assert.equal(unknown.json.error, 'invalid_token');
      // Another registered client's token does not open this one.
      const other = await register(server, CODE_CLIENT);
      assert.equal((await call(server, 'GET', managePath(clientId), { token: String(other.json.registration_access_token) })).status, 401);

      // PUT must carry this client's client_id (RFC 7592 §2.2).
      const noId = await call(server, 'PUT', managePath(clientId), { token: oldToken, body: { ...CODE_CLIENT } });
      assert.equal(noId.status, 400);
      assert.equal(noId.json.error, 'invalid_client_metadata');
      const otherId = await call(server, 'PUT', managePath(clientId), { token: oldToken, body: { ...CODE_CLIENT, client_id: String(other.json.client_id) } });
      assert.equal(otherId.json.error, 'invalid_client_metadata');
      const chosenSecret = await call(server, 'PUT', managePath(clientId), { token: oldToken, body: { ...CODE_CLIENT, client_id: clientId, client_secret: 'my own secret' } });
      assert.equal(chosenSecret.json.error, 'invalid_client_metadata');
      const badUri = await call(server, 'PUT', managePath(clientId), { token: oldToken, body: { client_id: clientId, redirect_uris: ['http://evil.example/cb'] } });
      assert.equal(badUri.json.error, 'invalid_redirect_uri');

      const updated = await call(server, 'PUT', managePath(clientId), {
        token: oldToken,
        body: { client_id: clientId, client_secret: secret, redirect_uris: ['https://app.example/new'], client_name: 'Renamed', grant_types: ['authorization_code', 'client_credentials'] },
      });
      assert.equal(updated.status, 200, JSON.stringify(updated.json));
      assert.equal(updated.json.client_id, clientId, 'the client_id never changes');
      assert.equal(updated.json.client_name, 'Renamed');
      assert.deepEqual(updated.json.redirect_uris, ['https://app.example/new']);
      assert.equal(updated.json.contacts, undefined, 'PUT replaces the metadata: members left out are gone');
      assert.equal(updated.json.client_secret, undefined, 'the secret is kept');
      const newToken = String(updated.json.registration_access_token);
      assert.notEqual(newToken, oldToken);

      const withOld = await call(server, 'GET', managePath(clientId), { token: oldToken });
      assert.equal(withOld.status, 401, 'the old registration access token stops working');
      assert.equal((await call(server, 'PUT', managePath(clientId), { token: oldToken, body: { client_id: clientId, ...CODE_CLIENT } })).status, 401);
      assert.equal((await call(server, 'DELETE', managePath(clientId), { token: oldToken })).status, 401);
      const withNew = await call(server, 'GET', managePath(clientId), { token: newToken });
      assert.equal(withNew.status, 200);
      assert.equal(withNew.json.client_name, 'Renamed');
      // The kept secret still authenticates.
      const cc = await postToken(server, { grant_type: 'client_credentials', scope: 'profile' }, { basic: { id: clientId, secret } });
      assert.equal(cc.status, 200, JSON.stringify(cc.body));

      // Two updates at once with the same token: one wins, the other is refused.
      const racing = await Promise.all([1, 2].map((n) => call(server, 'PUT', managePath(clientId), { token: newToken, body: { ...CODE_CLIENT, client_id: clientId, client_name: `Race ${n}` } })));
      assert.deepEqual(racing.map((r) => r.status).sort(), [200, 401]);
      const winner = String(racing.find((r) => r.status === 200)?.json.registration_access_token);

      // Switching to client_secret_jwt issues a new secret (the old one is known only by its hash).
      const toJwt = await call(server, 'PUT', managePath(clientId), { token: winner, body: { ...CODE_CLIENT, client_id: clientId, token_endpoint_auth_method: 'client_secret_jwt' } });
      assert.equal(toJwt.status, 200);
      assert.equal(typeof toJwt.json.client_secret, 'string');
      assert.notEqual(toJwt.json.client_secret, secret);

      const deleted = await call(server, 'DELETE', managePath(clientId), { token: String(toJwt.json.registration_access_token) });
      assert.equal(deleted.status, 204);
      assert.equal(await server.services.clients.findByClientId(clientId), undefined);
      assert.equal((await call(server, 'GET', managePath(clientId), { token: String(toJwt.json.registration_access_token) })).status, 401);
    });

    test('a deleted client\'s tokens stop working at once (used just before, so kept in memory)', async () => {
      const created = await register(server, CODE_CLIENT);
      const client = await asTestClient(server, created);
      const { code } = await mintCode(server, { client, userId: user.id });
      const { accessToken, refreshToken } = tokensOf(await exchangeCode(server, client, code));
      const cc = await postToken(server, { grant_type: 'client_credentials', scope: 'profile' }, { basic: { id: client.clientId, secret: client.clientSecret ?? '' } });
      const machineToken = String(cc.body.access_token);
      for (let i = 0; i < 2; i++) {
        assert.equal((await getUser(server, accessToken)).status, 200);
        const active = await postEndpoint(server, '/oauth/introspect', { token: machineToken }, { basic: { id: client.clientId, secret: client.clientSecret ?? '' } });
        assert.equal(active.json?.active, true);
      }
      const res = await call(server, 'DELETE', managePath(client.clientId), { token: String(created.json.registration_access_token) });
      assert.equal(res.status, 204);
      assert.equal((await getUser(server, accessToken)).status, 401, 'the access token is dead the instant DELETE is answered');
      assert.equal((await getUser(server, accessToken, { path: '/oauth/userinfo' })).status, 401);
      const refreshed = await postToken(server, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.clientId, client_secret: client.clientSecret ?? '' });
      assert.equal(refreshed.status, 401, JSON.stringify(refreshed.body));
      assert.equal(refreshed.body.error, 'invalid_client');
      // The client itself can no longer introspect (it is gone); another client sees the token inactive.
      const self = await postEndpoint(server, '/oauth/introspect', { token: machineToken }, { basic: { id: client.clientId, secret: client.clientSecret ?? '' } });
      assert.equal(self.status, 401);
      const operator = await createClient(server, { grantTypes: ['client_credentials'] });
      const seen = await postEndpoint(server, '/oauth/introspect', { token: machineToken }, { basic: { id: operator.clientId, secret: operator.clientSecret ?? '' } });
      assert.deepEqual(seen.json, { active: false });
      const rows = await server.services.store.db.selectFrom('access_tokens').select('token_hash').where('client_id', '=', client.client.id).execute();
      assert.deepEqual(rows, [], 'its tokens are gone with it');
    });

    test('a deleted client\'s tokens stop working at once on a second server on the same database', { skip: kind === 'postgres' ? false : 'two servers share a database on PostgreSQL' }, async () => {
      const second = await startTestServer(kind, { database: server.db, file: { registration: 'open' } });
      try {
        const created = await register(server, CODE_CLIENT);
        const client = await asTestClient(server, created);
        const { code } = await mintCode(server, { client, userId: user.id });
        const { accessToken } = tokensOf(await exchangeCode(server, client, code));
        const basic = { id: client.clientId, secret: client.clientSecret ?? '' };
        const cc = String((await postToken(second, { grant_type: 'client_credentials', scope: 'profile' }, { basic })).body.access_token);
        // The second server reads both tokens and the client, and keeps them.
        for (let i = 0; i < 3; i++) {
          assert.equal((await getUser(second, accessToken)).status, 200);
          assert.equal((await postEndpoint(second, '/oauth/introspect', { token: cc }, { basic })).json?.active, true);
        }
        assert.equal((await call(server, 'DELETE', managePath(client.clientId), { token: String(created.json.registration_access_token) })).status, 204);
        assert.equal((await getUser(second, accessToken)).status, 401, 'refused at the other server the instant DELETE is answered');
        assert.equal((await postEndpoint(second, '/oauth/introspect', { token: cc }, { basic })).status, 401, 'the deleted client no longer authenticates there either');
        assert.equal((await postToken(second, { grant_type: 'client_credentials', scope: 'profile' }, { basic })).status, 401);
      } finally {
        await second.close();
      }
    });

    test('token mode: an initial access token is required, checked for expiry and uses, and its owner owns the clients', async () => {
      const gated = await startTestServer(kind, { file: { registration: 'token' } });
      try {
        const now = nowSeconds(gated.clock);
        const owner = await createUser(gated);
        const mint = async (o: { expiresAt?: number | null; maxUses?: number | null; ownerUserId?: number | null } = {}) => {
          const token = newSecret();
          await gated.services.registrationTokens.insert({ tokenHash: sha256Hex(token), expiresAt: o.expiresAt ?? null, maxUses: o.maxUses ?? null, ownerUserId: o.ownerUserId ?? null, now });
          return token;
        };
        const before = await clientCount(gated);
        const expired = await mint({ expiresAt: now + 60 });
        gated.clock.advance(61);
        const usedUp = await mint({ maxUses: 1 });
        assert.equal((await register(gated, CODE_CLIENT, usedUp)).status, 201);
        const after1 = await clientCount(gated);
        for (const [what, token] of [['missing', undefined], ['unknown', newSecret()], ['expired', expired], ['used up', usedUp], ['not a token', 'a b']] as const) {
          const res = await register(gated, CODE_CLIENT, token);
          assert.equal(res.status, 401, what);
          assert.equal(res.json.error, 'invalid_token', what);
        }
        assert.equal(await clientCount(gated), after1);
        assert.equal(after1, before + 1);

        // A refused document costs the token no use.
        const once = await mint({ maxUses: 1 });
        assert.equal((await register(gated, { redirect_uris: ['http://evil.example/'] }, once)).json.error, 'invalid_redirect_uri');
        const ok = await register(gated, CODE_CLIENT, once);
        assert.equal(ok.status, 201);
        const stored = await gated.services.clients.findByClientId(String(ok.json.client_id));
        assert.equal(stored?.registration, 'token');

        const owned = await mint({ ownerUserId: owner.id });
        const mine = await register(gated, CODE_CLIENT, owned);
        assert.equal((await gated.services.clients.findByClientId(String(mine.json.client_id)))?.ownerUserId, owner.id);
        assert.deepEqual((await gated.services.clients.listByOwner(owner.id)).map((c: Client) => c.clientId), [mine.json.client_id]);
      } finally {
        await gated.close();
      }
    });

    test('a token minted for a user: the clients registered with it are in that user\'s developer portal, which copes with their methods', async () => {
      const gated = await startTestServer(kind, { file: { registration: 'token' } });
      try {
        const portal = await signUp(gated.url, { email: 'dev-owner@example.com', name: 'Dev Owner', locale: 'en' });
        const owner = await gated.services.users.findByEmail('dev-owner@example.com');
        assert.ok(owner);
        const token = newSecret();
        await gated.services.registrationTokens.insert({ tokenHash: sha256Hex(token), expiresAt: null, maxUses: 3, ownerUserId: owner.id, now: nowSeconds(gated.clock) });
        const keyed = await register(gated, { ...CODE_CLIENT, client_name: 'Keyed agent', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [rsaPublicJwk()] } }, token);
        const hmac = await register(gated, { ...CODE_CLIENT, client_name: 'HMAC agent', token_endpoint_auth_method: 'client_secret_jwt' }, token);
        const basic = await register(gated, { ...CODE_CLIENT, client_name: 'Basic agent' }, token);
        assert.deepEqual([keyed.status, hmac.status, basic.status], [201, 201, 201]);

        const list = await portal.get('/developer/clients');
        assert.equal(list.status, 200);
        for (const name of ['Keyed agent', 'HMAC agent', 'Basic agent']) assert.match(list.body, new RegExp(name));
        assert.match(list.body, /private_key_jwt/);
        assert.match(list.body, /registered by the app itself/);
        // No secret to reset for private_key_jwt; client_secret_jwt's is also sealed, so not by hash alone; basic's may be.
        for (const [answer, resettable] of [[keyed, false], [hmac, false], [basic, true]] as const) {
          const id = encodeURIComponent(String(answer.json.client_id));
          const page = await portal.get(`/developer/clients/${id}`);
          assert.equal(page.status, 200);
          assert.equal(page.body.includes('/reset-secret'), resettable, String(answer.json.client_name));
          assert.equal((await portal.get(`/developer/clients/${id}/reset-secret`)).status, resettable ? 200 : 404);
        }
      } finally {
        await gated.close();
      }
    });

    test('token mode under a burst: N+1 registrations sent at once with a token of N uses register exactly N', async () => {
      const gated = await startTestServer(kind, { file: { registration: 'token' }, overrides: { registrationRateLimit: 0 } });
      try {
        const N = 10;
        const token = newSecret();
        await gated.services.registrationTokens.insert({ tokenHash: sha256Hex(token), expiresAt: null, maxUses: N, ownerUserId: null, now: nowSeconds(gated.clock) });
        const before = await clientCount(gated);
        const answers = await Promise.all(Array.from({ length: N + 1 }, () => register(gated, CODE_CLIENT, token)));
        assert.equal(answers.filter((a) => a.status === 201).length, N);
        assert.deepEqual(answers.filter((a) => a.status !== 201).map((a) => [a.status, a.json.error]), [[401, 'invalid_token']]);
        assert.equal(await clientCount(gated), before + N);
        const row = await gated.services.store.db.selectFrom('registration_tokens').select(['uses', 'max_uses']).executeTakeFirstOrThrow();
        assert.equal(row.uses, N);
      } finally {
        await gated.close();
      }
    });

    test('a per-address rate limit: 429 slow_down with Retry-After once the budget is spent', async () => {
      const limited = await startTestServer(kind, { file: { registration: 'open' }, overrides: { registrationRateLimit: 3 } });
      try {
        const answers = [];
        for (let i = 0; i < 5; i++) answers.push(await register(limited, CODE_CLIENT));
        assert.deepEqual(answers.map((a) => a.status), [201, 201, 201, 429, 429]);
        const refused = answers[3]!;
        assert.equal(refused.json.error, 'slow_down');
        assert.match(String(refused.json.error_description), /Try again in \d+ seconds/);
        assert.ok(Number(refused.headers.get('retry-after')) > 0);
      } finally {
        await limited.close();
      }
    });

    test('the rate limit holds under a burst: 20 registrations sent at once with a budget of 3 store exactly 3 clients', async () => {
      const limited = await startTestServer(kind, { file: { registration: 'open' }, overrides: { registrationRateLimit: 3 } });
      try {
        const before = await clientCount(limited);
        const answers = await Promise.all(Array.from({ length: 20 }, () => register(limited, CODE_CLIENT)));
        const statuses = answers.map((a) => a.status);
        assert.equal(statuses.filter((s) => s === 201).length, 3, statuses.join(','));
        assert.equal(statuses.filter((s) => s === 429).length, 17, statuses.join(','));
        assert.equal(await clientCount(limited), before + 3);
      } finally {
        await limited.close();
      }
    });
  });
}
