// Hostile registration documents (fast-check): 2,000 generated POSTs to /oauth/register on
// SQLite (and 400 on PostgreSQL), a mix of valid-ish client metadata and broken: members of the
// wrong type, control characters and bidi marks, huge strings (past the 16 KB limit), nested
// junk, bad and odd URLs (fragments, user information, javascript:, IDNs, IPv6, spaces,
// backslashes), unicode, JWK Sets with private or broken keys, raw bodies that are not JSON
// or not JSON objects, and odd content types. Properties: never a 5xx; a refusal is 400 with
// an RFC 7591 §3.2.2 code and an error_description in RFC 6749's character set; a 201 answers
// a client that is stored; and the clients table grows by exactly the number of 201s — no
// refused document leaves a client behind. Sent 20 at a time. The counts are printed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { databaseKinds } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { clientCount } from '../helpers/registration.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
const BATCH = 20;
const RUNS: Record<string, number> = { sqlite: 100, postgres: 20 }; // × BATCH documents: 2,000 and 400
const RFC7591_CODES = new Set(['invalid_redirect_uri', 'invalid_client_metadata', 'invalid_software_statement']);
const ERROR_DESCRIPTION = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

const publicRsa = { ...generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }), kid: 'r1' };
const privateEc = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }), kid: 'e1' };
const publicEc = { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), kid: 'e2' };

const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', 'a\r\nb', '\u202egnp.exe', '\u2028', '\ufeff', 'Δοκιμή', '测试应用', '🦄🦄', '\\', '"', '<script>', '%00', '\ud800'),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => 'x'.repeat(n)),
);

const url = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('https://app.example/cb', 'http://127.0.0.1:8123/cb', 'http://localhost/cb', 'http://[::1]/cb', 'https://xn--80ak6aa92e.com/cb', 'https://例え.jp/cb') },
  { weight: 3, arbitrary: fc.constantFrom('http://app.example/cb', 'javascript:alert(1)', 'https://app.example/cb#f', 'https://u:p@app.example/', '//app.example/cb', 'https://app.example/\u0000', 'https://app.example\\@evil.example/', 'https://ex ample.com/', 'com.example.app:/cb', 'urn:ietf:wg:oauth:2.0:oob', 'data:text/html,x', 'https://', 'https:app.example', 'HTTPS://APP.EXAMPLE/CB', 'https://app.example/cb\n') },
  { weight: 2, arbitrary: fc.webUrl({ withFragments: true, withQueryParameters: true }) },
  { weight: 1, arbitrary: hostileText },
);

const junk = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, withNullPrototype: false }).map((v) => JSON.parse(JSON.stringify(v ?? null)) as unknown) },
  { weight: 1, arbitrary: hostileText },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 50 }, () => ({ a: [[[[]]]] }))) },
);

/** A value for `field`: mostly plausible, often broken. */
function valueOf(good: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: junk });
}

const grantTypes = fc.subarray(['authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', 'urn:x', ''], { minLength: 0, maxLength: 4 });
const jwks = fc.oneof(
  fc.constant({ keys: [publicRsa] }),
  fc.constant({ keys: [publicEc, publicRsa] }),
  fc.constant({ keys: [privateEc] }),
  fc.constant({ keys: [{ kty: 'oct', k: 'AAAA' }] }),
  fc.constant({ keys: [{ ...publicEc, x: 'AAAA' }] }),
  fc.constant({ keys: [] }),
  fc.record({ keys: fc.array(fc.dictionary(fc.constantFrom('kty', 'n', 'e', 'crv', 'x', 'y', 'kid', 'use', 'd'), hostileText), { maxLength: 3 }) }),
);

const randomDocument = fc.record({
  redirect_uris: valueOf(fc.array(url, { maxLength: 4 })),
  grant_types: valueOf(grantTypes),
  response_types: valueOf(fc.subarray(['code', 'token', 'id_token', 'none'])),
  token_endpoint_auth_method: valueOf(fc.constantFrom('client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none', 'tls_client_auth', '')),
  client_name: valueOf(hostileText),
  scope: valueOf(fc.constantFrom('openid', 'profile email', 'openid profile email', 'admin', '', ' profile  ', 'profile\u0000')),
  jwks: valueOf(jwks),
  jwks_uri: valueOf(url),
  post_logout_redirect_uris: valueOf(fc.array(url, { maxLength: 3 })),
  id_token_signed_response_alg: valueOf(fc.constantFrom('RS256', 'ES256', 'none', 'HS256')),
  logo_uri: valueOf(url),
  client_uri: valueOf(url),
  policy_uri: valueOf(url),
  tos_uri: valueOf(url),
  contacts: valueOf(fc.array(hostileText, { maxLength: 3 })),
  software_id: valueOf(hostileText),
  software_version: valueOf(hostileText),
  software_statement: valueOf(fc.constantFrom('eyJhbGciOiJub25lIn0.e30.', '')),
  __proto__: junk,
  constructor: junk,
  extra: junk,
}, { requiredKeys: [] });

/** A plausible document (redirect URIs the portal accepts, supported values), then up to two members replaced by anything. */
const goodDocument = fc.record({
  redirect_uris: fc.array(fc.constantFrom('https://app.example/cb', 'http://127.0.0.1:8123/cb', 'http://localhost/cb', 'https://例え.jp/cb'), { minLength: 1, maxLength: 3 }),
  client_name: fc.oneof(fc.constantFrom('App', 'Δοκιμή', '测试应用', 'My app 🦄'), fc.string({ minLength: 1, maxLength: 30 })),
  scope: fc.constantFrom('openid', 'profile email', 'openid profile email'),
  token_endpoint_auth_method: fc.constantFrom('client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'none'),
  grant_types: fc.constantFrom(['authorization_code'], ['authorization_code', 'refresh_token']),
  contacts: fc.array(fc.emailAddress(), { maxLength: 2 }),
  logo_uri: fc.constantFrom('https://app.example/logo.png', 'https://cdn.example/l.svg?x=1'),
  software_version: fc.constantFrom('1.0', '2.1-beta'),
  extra: junk,
}, { requiredKeys: ['redirect_uris'] });
const FIELDS = ['redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'client_name', 'scope', 'jwks', 'jwks_uri', 'contacts', 'logo_uri', 'tos_uri', 'software_id', 'post_logout_redirect_uris'];
const mutatedDocument = fc.tuple(goodDocument, fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(junk, url, jwks), { maxKeys: 2 }))
  .map(([doc, changes]) => ({ ...doc, ...changes }));
const document = fc.oneof({ weight: 2, arbitrary: goodDocument }, { weight: 3, arbitrary: mutatedDocument }, { weight: 3, arbitrary: randomDocument });

/** What one request sends: a JSON document, or a raw body with some content type. */
const request = fc.oneof(
  { weight: 8, arbitrary: document.map((doc) => ({ contentType: 'application/json', body: JSON.stringify(doc) })) },
  { weight: 1, arbitrary: fc.record({ contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jwt', ''), body: fc.oneof(hostileText, junk.map((j) => JSON.stringify(j))) }) },
  { weight: 1, arbitrary: fc.record({ contentType: fc.constant('application/json'), body: fc.string({ unit: 'binary', maxLength: 200 }) }) },
);

interface Tally {
  sent: number;
  created: number;
  refused: Record<string, number>;
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] hostile registration documents`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { file: { registration: 'open' }, overrides: { registrationRateLimit: 0 } });
    });
    after(() => server.close());

    test(`${(RUNS[kind] ?? 20) * BATCH} generated documents: no 5xx, RFC 7591 codes, and no client stored for any refused one`, { timeout: 120_000 }, async () => {
      const before = await clientCount(server);
      const tally: Tally = { sent: 0, created: 0, refused: {} };
      const createdIds: string[] = [];
      await fc.assert(fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const answers = await Promise.all(batch.map(async (r) => {
          const headers: Record<string, string> = {};
          if (r.contentType !== '') headers['content-type'] = r.contentType;
          const res = await fetch(`${server.url}/oauth/register`, { method: 'POST', headers, body: r.body });
          return { request: r, status: res.status, text: await res.text() };
        }));
        for (const a of answers) {
          tally.sent++;
          const shown = `${a.status} ${a.text.slice(0, 300)} for ${a.request.contentType} ${a.request.body.slice(0, 300)}`;
          assert.ok(a.status < 500, shown);
          const body = JSON.parse(a.text) as Record<string, unknown>;
          if (a.status === 201) {
            tally.created++;
            assert.equal(typeof body.client_id, 'string', shown);
            assert.equal(typeof body.registration_access_token, 'string', shown);
            createdIds.push(String(body.client_id));
          } else {
            assert.equal(a.status, 400, shown);
            assert.ok(RFC7591_CODES.has(String(body.error)), shown);
            assert.match(String(body.error_description), ERROR_DESCRIPTION, shown);
            tally.refused[String(body.error)] = (tally.refused[String(body.error)] ?? 0) + 1;
          }
        }
      }), { numRuns: RUNS[kind] ?? 20, seed: SEED, endOnFailure: true });
      process.stdout.write(`# registration fuzz [${kind}]: ${JSON.stringify(tally)}\n`);
      assert.equal(await clientCount(server), before + tally.created, 'exactly the accepted documents became clients');
      for (const id of createdIds.slice(0, 50)) assert.ok(await server.services.clients.findByClientId(id), id);
      assert.ok(tally.created > 0 && Object.keys(tally.refused).length >= 2, `a mix of accepted and refused: ${JSON.stringify(tally)}`);
      // Still answering.
      assert.equal((await fetch(`${server.url}/.well-known/oauth-authorization-server`)).status, 200);
    });
  });
}
