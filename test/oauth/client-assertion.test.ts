// Client authentication by assertion (RFC 7523 §2.2, §3; OIDC Core §9) against a real server,
// attacked the way attackers work: replays (one process, a burst at once), expired and
// over-long assertions on a moved clock, wrong aud, iss and sub, alg none and an HMAC keyed with
// the public key (algorithm confusion), a method the client is not registered for, malformed
// and huge assertions, unknown kids (one refetch of jwks_uri, then refusal) and jwks_uri
// servers that are slow, dripping, huge, redirecting, not JSON or at a private address — the
// request fails cleanly (invalid_client) within the fetch timeout while the server goes on
// serving others. Also introspection and revocation, and the purge of used jtis. SQLite and
// PostgreSQL (where the replay and the burst also run across two servers on one database).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK } from 'jose';
import { nowSeconds } from '../../src/oauth/clock.js';
import { purgeExpired } from '../../src/store/purge.js';
import { databaseKinds, freshDatabase, TEST_DATABASE_URL } from '../helpers/databases.js';
import { createClient } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { basicHeader } from '../helpers/token.js';
import {
  ASSERTION_TYPE, createAssertionClient, newKeyPair, signAssertion, startJwksServer, startLoopbackServer, unsignedAssertion,
  type AssertionClient, type KeyPair, type LoopbackServer,
} from '../helpers/assertion-clients.js';
import type { JsonWebKeySet } from '../../src/oauth/model.js';

const LOOPBACK = { LATCHKEY_ALLOW_LOOPBACK_FETCH: '1', LATCHKEY_PURGE_INTERVAL: '0' };

interface Answer { status: number; body: Record<string, unknown> }

async function post(server: TestServer, path: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(params).toString() });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function clientCredentials(server: TestServer, assertion: string, extra: Record<string, string> = {}): Promise<Answer> {
  return post(server, '/oauth/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion, ...extra });
}

function assertRefused(answer: Answer, code = 'invalid_client', status = 401): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error, code, JSON.stringify(answer.body));
}

function assertIssued(answer: Answer): void {
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(typeof answer.body.access_token, 'string');
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] client assertions (private_key_jwt, client_secret_jwt)`, () => {
    let server: TestServer;
    let es256: KeyPair;
    let pkj: AssertionClient;
    let csj: AssertionClient;

    before(async () => {
      server = await startTestServer(kind, { env: LOOPBACK });
      es256 = await newKeyPair('ES256');
      pkj = await createAssertionClient(server, { method: 'private_key_jwt', jwks: { keys: [es256.publicJwk] } });
      csj = await createAssertionClient(server, { method: 'client_secret_jwt' });
    });
    after(() => server.close());

    const sign = (extra: Partial<Parameters<typeof signAssertion>[0]> = {}) => signAssertion({
      clientId: pkj.clientId, aud: server.url, key: es256.privateKey, alg: 'ES256', kid: es256.kid, now: nowSeconds(server.clock), ...extra,
    });

    test('private_key_jwt with ES256, PS256, RS256 and EdDSA keys from the registered jwks; aud the issuer, the token endpoint, or an array with one', async () => {
      for (const alg of ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const) {
        const pair = await newKeyPair(alg);
        const c = await createAssertionClient(server, { method: 'private_key_jwt', jwks: { keys: [pair.publicJwk] } });
        for (const aud of [server.url, `${server.url}/oauth/token`, ['https://other.example', server.url]]) {
          const assertion = await signAssertion({ clientId: c.clientId, aud, key: pair.privateKey, alg, kid: pair.kid, now: nowSeconds(server.clock) });
          assertIssued(await clientCredentials(server, assertion));
        }
      }
      // client_id beside the assertion, naming the same client, is fine (RFC 7521 §4.2).
      assertIssued(await clientCredentials(server, await sign(), { client_id: pkj.clientId }));
    });

    test('client_secret_jwt: HS256 and HS512 with the sealed secret; a wrong secret, or the secret sent as such, is refused', async () => {
      const key = new TextEncoder().encode(csj.secret ?? '');
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        assertIssued(await clientCredentials(server, await signAssertion({ clientId: csj.clientId, aud: server.url, key, alg, now: nowSeconds(server.clock) })));
      }
      const wrong = await signAssertion({ clientId: csj.clientId, aud: server.url, key: new TextEncoder().encode(`${csj.secret ?? ''}x`), alg: 'HS256', now: nowSeconds(server.clock) });
      assertRefused(await clientCredentials(server, wrong));
      // Registered for client_secret_jwt: the secret itself, in the body or in Basic, is refused.
      assertRefused(await post(server, '/oauth/token', { grant_type: 'client_credentials', client_id: csj.clientId, client_secret: csj.secret ?? '' }));
      assertRefused(await post(server, '/oauth/token', { grant_type: 'client_credentials' }, { authorization: basicHeader(csj.clientId, csj.secret ?? '') }));
      // An asymmetric alg for a client_secret_jwt client.
      assertRefused(await clientCredentials(server, await signAssertion({ clientId: csj.clientId, aud: server.url, key: es256.privateKey, alg: 'ES256', now: nowSeconds(server.clock) })));
    });

    test('a replayed assertion is refused, and the replay is audited', async () => {
      const assertion = await sign();
      assertIssued(await clientCredentials(server, assertion));
      assertRefused(await clientCredentials(server, assertion));
      // At another endpoint too: the jti is spent.
      assertRefused(await post(server, '/oauth/introspect', { token: 'x', client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }));
      assert.ok(server.logs.some((l) => l.includes('"event":"client_auth.assertion_replayed"') && l.includes(pkj.clientId)));
    });

    test('a burst of 20 identical assertions sent at once: exactly one is accepted', async () => {
      const assertion = await sign();
      const answers = await Promise.all(Array.from({ length: 20 }, () => clientCredentials(server, assertion)));
      assert.equal(answers.filter((a) => a.status === 200).length, 1, JSON.stringify(answers.map((a) => a.status)));
      for (const a of answers) if (a.status !== 200) assertRefused(a);
    });

    test('exp: required, not past (moved clock), at most 10 minutes ahead; iat and nbf not in the future; jti required', async () => {
      const now = nowSeconds(server.clock);
      const stale = await sign({ now });
      server.clock.advance(60 + 31);
      try {
        assertRefused(await clientCredentials(server, stale), 'invalid_client');
      } finally {
        server.clock.advance(-(60 + 31));
      }
      const at = nowSeconds(server.clock);
      assertRefused(await clientCredentials(server, await sign({ claims: { exp: undefined } })));
      assertRefused(await clientCredentials(server, await sign({ claims: { exp: at + 3600 } })));
      assertRefused(await clientCredentials(server, await sign({ claims: { iat: at + 300, exp: at + 400 } })));
      assertRefused(await clientCredentials(server, await sign({ claims: { nbf: at + 300, exp: at + 400 } })));
      assertRefused(await clientCredentials(server, await sign({ claims: { jti: undefined } })));
      assertRefused(await clientCredentials(server, await sign({ claims: { jti: '' } })));
      assertRefused(await clientCredentials(server, await sign({ claims: { jti: 'j'.repeat(300) } })));
      // Within the limits: ten minutes ahead and a few seconds of skew are fine.
      assertIssued(await clientCredentials(server, await sign({ claims: { exp: at + 600, iat: at + 5 } })));
    });

    test('wrong aud, iss or sub; client_id naming another client; another client\'s key', async () => {
      assertRefused(await clientCredentials(server, await sign({ aud: 'https://evil.example' })));
      assertRefused(await clientCredentials(server, await sign({ aud: `${server.url}/oauth/introspect` })), 'invalid_client');
      assertRefused(await clientCredentials(server, await sign({ aud: [] })));
      assertRefused(await clientCredentials(server, await sign({ claims: { sub: 'someone-else' } })));
      assertRefused(await clientCredentials(server, await sign({ claims: { iss: 'someone-else' } })));
      assertRefused(await clientCredentials(server, await sign(), { client_id: csj.clientId }));
      // Claiming to be the client_secret_jwt client, signed with pkj's key.
      assertRefused(await clientCredentials(server, await sign({ clientId: csj.clientId })));
      // An unknown client.
      assertRefused(await clientCredentials(server, await sign({ clientId: 'no-such-client' })));
      // A key not in the client's set (same kid, other key).
      const other = await newKeyPair('ES256', es256.kid);
      assertRefused(await clientCredentials(server, await sign({ key: other.privateKey })));
    });

    test('alg none, and HS256 keyed with the public key (algorithm confusion), are refused for a private_key_jwt client', async () => {
      const now = nowSeconds(server.clock);
      assertRefused(await clientCredentials(server, unsignedAssertion({ iss: pkj.clientId, sub: pkj.clientId, aud: server.url, jti: 'none-1', exp: now + 60, iat: now })));
      const rsa = await newKeyPair('RS256');
      const c = await createAssertionClient(server, { method: 'private_key_jwt', jwks: { keys: [rsa.publicJwk] } });
      for (const secret of [JSON.stringify(rsa.publicJwk), rsa.publicJwk.n ?? '', JSON.stringify(await exportJWK(rsa.privateKey))]) {
        const confused = await signAssertion({ clientId: c.clientId, aud: server.url, key: new TextEncoder().encode(secret), alg: 'HS256', kid: rsa.kid, now });
        assertRefused(await clientCredentials(server, confused));
      }
    });

    test('the registered method decides: secrets from a private_key_jwt client and assertions from secret clients are refused', async () => {
      assertRefused(await post(server, '/oauth/token', { grant_type: 'client_credentials', client_id: pkj.clientId, client_secret: 'anything' }));
      assertRefused(await post(server, '/oauth/token', { grant_type: 'client_credentials', client_id: pkj.clientId }));
      const legacy = await createClient(server, { grantTypes: ['client_credentials'] });
      const pair = await newKeyPair('ES256');
      assertRefused(await clientCredentials(server, await signAssertion({ clientId: legacy.clientId, aud: server.url, key: pair.privateKey, alg: 'ES256', now: nowSeconds(server.clock) })));
      // The legacy client's own secret still works.
      assert.equal((await post(server, '/oauth/token', { grant_type: 'client_credentials', client_id: legacy.clientId, client_secret: legacy.clientSecret ?? '' })).status, 200);
    });

    test('malformed, conflicting and oversized assertions: invalid_request or invalid_client, never a 5xx', async () => {
      const good = await sign();
      assertRefused(await post(server, '/oauth/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: good }, { authorization: basicHeader(pkj.clientId, 'x') }), 'invalid_request', 400);
      assertRefused(await clientCredentials(server, good, { client_secret: 'x' }), 'invalid_request', 400);
      assertRefused(await post(server, '/oauth/token', { grant_type: 'client_credentials', client_assertion: good }), 'invalid_request', 400);
      assertRefused(await post(server, '/oauth/token', { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE }), 'invalid_request', 400);
      assertRefused(await post(server, '/oauth/token', { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer', client_assertion: good }));
      const [h, p] = good.split('.');
      for (const bad of [
        'not-a-jwt', 'a.b.c', `${h}.${p}`, `${h}.${p}.${'A'.repeat(9000)}`, `${h}.${Buffer.from('{"iss":"\u0000"}').toString('base64url')}.sig`,
        `${h}.${Buffer.from(JSON.stringify({ iss: 'x'.repeat(300), sub: 'x'.repeat(300) })).toString('base64url')}.c2ln`,
        `${Buffer.from('[]').toString('base64url')}.${p}.c2ln`, `${h}.${Buffer.from('null').toString('base64url')}.c2ln`, '\u0000.\u0001.\u0002', '..', 'é.é.é',
      ]) {
        const answer = await clientCredentials(server, bad);
        assert.ok(answer.status === 401 || answer.status === 400, `${bad.slice(0, 40)}: ${answer.status}`);
        assert.ok(answer.body.error === 'invalid_client' || answer.body.error === 'invalid_request', JSON.stringify(answer.body));
      }
      // The good one was never spent by all that.
      assertIssued(await clientCredentials(server, good));
    });

    test('the brute-force guard counts failed assertions: past the threshold the client_id waits (429), audited', async () => {
      const pair = await newKeyPair('ES256');
      const target = await createAssertionClient(server, { method: 'private_key_jwt', jwks: { keys: [pair.publicJwk] } });
      const forger = await newKeyPair('ES256', pair.kid);
      const answers: Answer[] = [];
      for (let i = 0; i < 12; i += 1) {
        answers.push(await clientCredentials(server, await signAssertion({ clientId: target.clientId, aud: server.url, key: forger.privateKey, alg: 'ES256', kid: pair.kid, now: nowSeconds(server.clock) })));
      }
      assert.ok(answers.slice(0, 10).every((a) => a.status === 401), JSON.stringify(answers.map((a) => a.status)));
      assert.equal(answers.at(-1)?.status, 429, JSON.stringify(answers.map((a) => a.status)));
      assert.equal(answers.at(-1)?.body.error, 'slow_down');
      assert.ok(server.logs.filter((l) => l.includes('"event":"client_auth.failed"') && l.includes(target.clientId)).length >= 10);
      // Even a good assertion waits while the client is locked out (this address never succeeded for it).
      assert.equal((await clientCredentials(server, await signAssertion({ clientId: target.clientId, aud: server.url, key: pair.privateKey, alg: 'ES256', kid: pair.kid, now: nowSeconds(server.clock) }))).status, 429);
    });

    test('introspection and revocation accept private_key_jwt (aud: the issuer or the endpoint itself)', async () => {
      const issued = await clientCredentials(server, await sign());
      assertIssued(issued);
      const token = String(issued.body.access_token);
      const introspected = await post(server, '/oauth/introspect', { token, client_assertion_type: ASSERTION_TYPE, client_assertion: await sign({ aud: `${server.url}/oauth/introspect` }) });
      assert.equal(introspected.status, 200, JSON.stringify(introspected.body));
      assert.equal(introspected.body.active, true);
      assert.equal(introspected.body.client_id, pkj.clientId);
      // aud of the token endpoint is accepted at the other endpoints; another endpoint's URL is not.
      assertRefused(await post(server, '/oauth/revoke', { token, client_assertion_type: ASSERTION_TYPE, client_assertion: await sign({ aud: `${server.url}/oauth/introspect` }) }));
      const revoked = await post(server, '/oauth/revoke', { token, client_assertion_type: ASSERTION_TYPE, client_assertion: await sign({ aud: `${server.url}/oauth/revoke` }) });
      assert.equal(revoked.status, 200);
      const after = await post(server, '/oauth/introspect', { token, client_assertion_type: ASSERTION_TYPE, client_assertion: await sign({ aud: `${server.url}/oauth/token` }) });
      assert.deepEqual(after.body, { active: false });
      assertRefused(await post(server, '/oauth/introspect', { token, client_assertion_type: ASSERTION_TYPE, client_assertion: await sign({ aud: 'https://evil.example' }) }));
    });

    test('the purge deletes used jtis once their assertion has expired', async () => {
      const db = server.services.store.db;
      const own = await createAssertionClient(server, { method: 'private_key_jwt', jwks: { keys: [es256.publicJwk] } });
      const signOwn = (exp: number) => sign({ clientId: own.clientId, claims: { exp } });
      assertIssued(await clientCredentials(server, await signOwn(nowSeconds(server.clock) + 60)));
      const rows = async () => (await db.selectFrom('client_assertions').select('jti_hash').where('client_id', '=', own.client.id).execute()).length;
      assert.equal(await rows(), 1);
      const live = await signOwn(nowSeconds(server.clock) + 600);
      assertIssued(await clientCredentials(server, live));
      const counts = await purgeExpired(db, { now: nowSeconds(server.clock) + 120, reuseWindow: 3600 });
      assert.ok(counts.client_assertions >= 1, JSON.stringify(counts));
      assert.equal(await rows(), 1, 'the one still within its exp stays');
      assertRefused(await clientCredentials(server, live), 'invalid_client');
    });

    describe('keys from jwks_uri', () => {
      let keysServer: LoopbackServer;
      let served: JsonWebKeySet;
      let a: KeyPair;
      let b: KeyPair;
      let c: AssertionClient;

      before(async () => {
        a = await newKeyPair('ES256');
        b = await newKeyPair('RS256');
        served = { keys: [a.publicJwk] };
        keysServer = await startJwksServer(() => served);
        c = await createAssertionClient(server, { method: 'private_key_jwt', jwksUri: keysServer.url });
      });
      after(() => keysServer.close());

      test('cached; an unknown kid triggers one refetch (at most once per 30 s), then refusal; a rotated key is found after', async () => {
        const with_ = (k: KeyPair) => signAssertion({ clientId: c.clientId, aud: server.url, key: k.privateKey, alg: k.alg, kid: k.kid, now: nowSeconds(server.clock) });
        assertIssued(await clientCredentials(server, await with_(a)));
        assertIssued(await clientCredentials(server, await with_(a)));
        assert.equal(keysServer.hits, 1, 'fetched once, then cached');
        server.clock.advance(31);
        assertRefused(await clientCredentials(server, await with_(b)));
        assert.equal(keysServer.hits, 2, 'the unknown kid made one refetch');
        const burst = await Promise.all(Array.from({ length: 10 }, async () => clientCredentials(server, await with_(b))));
        for (const answer of burst) assertRefused(answer);
        assert.equal(keysServer.hits, 2, 'and no more within 30 s, however many unknown kids');
        served = { keys: [a.publicJwk, b.publicJwk] };
        server.clock.advance(31);
        assertIssued(await clientCredentials(server, await with_(b)));
        assert.equal(keysServer.hits, 3);
        assertIssued(await clientCredentials(server, await with_(a)));
        assert.equal(keysServer.hits, 3);
      });

      /** A client whose jwks_uri is served by `handle`, and an assertion for it. */
      async function hostile(uri: string | ((s: LoopbackServer) => string), handle: Parameters<typeof startLoopbackServer>[0]) {
        const s = await startLoopbackServer(handle);
        const target = typeof uri === 'string' ? uri : uri(s);
        const client = await createAssertionClient(server, { method: 'private_key_jwt', jwksUri: target });
        const assertion = await signAssertion({ clientId: client.clientId, aud: server.url, key: a.privateKey, alg: 'ES256', kid: a.kid, now: nowSeconds(server.clock) });
        return { s, client, assertion };
      }

      const goodJwks = (res: import('node:http').ServerResponse) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [a.publicJwk] }));
      };

      const cases: Array<[string, Parameters<typeof startLoopbackServer>[0], ((s: LoopbackServer) => string)?]> = [
        ['never answers', () => { /* holds the connection open */ }],
        ['drips one byte at a time', (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{"keys":[');
          const t = setInterval(() => { if (!res.destroyed) res.write(' '); }, 100);
          res.on('close', () => clearInterval(t));
        }],
        ['sends 10 MB', (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(`{"keys":[],"pad":"${'x'.repeat(10 * 1024 * 1024)}"}`);
        }],
        ['sends 10 MB claiming a small Content-Length', (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
          for (let i = 0; i < 160 && !res.destroyed; i += 1) res.write('x'.repeat(65536));
          res.end();
        }],
        ['redirects to a good set', (req, res) => {
          if (req.url === '/good') return goodJwks(res);
          res.writeHead(302, { location: '/good' });
          res.end();
        }],
        ['answers invalid JSON', (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"keys":[');
        }],
        ['answers HTML', (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end(JSON.stringify({ keys: [a.publicJwk] }));
        }],
        ['answers JSON that is no JWK Set', (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('[1,2,3]');
        }],
        ['answers 500', (_req, res) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end('{}');
        }],
        ['points at a private address (10.0.0.7)', (_req, res) => goodJwks(res), () => 'https://10.0.0.7/jwks.json'],
        ['points at the link-local metadata address', (_req, res) => goodJwks(res), () => 'https://169.254.169.254/latest/meta-data'],
        ['is plain http to a public host', (_req, res) => goodJwks(res), () => 'http://example.com/jwks.json'],
      ];

      for (const [name, handle, uri] of cases) {
        test(`a jwks_uri that ${name}: invalid_client within the timeout, the server keeps serving`, async () => {
          const { s, client, assertion } = await hostile(uri ?? ((x) => x.url), handle);
          try {
            const started = Date.now();
            let settled = false;
            const pending = clientCredentials(server, assertion).finally(() => { settled = true; });
            // Meanwhile another client is served: for a server that stalls, before the stalled
            // request is given up (the machine may be slow, so order is asserted, not milliseconds).
            assertIssued(await clientCredentials(server, await sign()));
            if (name === 'never answers' || name === 'drips one byte at a time') assert.equal(settled, false, 'the other request was answered while the fetch was still waiting');
            assertRefused(await pending);
            const took = Date.now() - started;
            assert.ok(took < 10_000, `refused after ${took} ms (fetch timeout 3 s)`);
            // Asked again at once: refused from memory, the URI not fetched again for 30 s.
            const hits = s.hits;
            const t1 = Date.now();
            assertRefused(await clientCredentials(server, await signAssertion({ clientId: client.clientId, aud: server.url, key: a.privateKey, alg: 'ES256', kid: a.kid, now: nowSeconds(server.clock) })));
            assert.ok(Date.now() - t1 < 2900, 'no second fetch to wait for');
            assert.equal(s.hits, hits);
          } finally {
            await s.close();
          }
        });
      }
    });
  });
}

describe('[postgres] client assertions across two servers on one database', { skip: TEST_DATABASE_URL === undefined ? 'TEST_DATABASE_URL is not set' : false }, () => {
  let one: TestServer;
  let two: TestServer;
  let pair: KeyPair;
  let c: AssertionClient;

  before(async () => {
    const database = await freshDatabase('postgres');
    one = await startTestServer('postgres', { database, env: LOOPBACK });
    two = await startTestServer('postgres', { database, env: LOOPBACK });
    pair = await newKeyPair('ES256');
    c = await createAssertionClient(one, { method: 'private_key_jwt', jwks: { keys: [pair.publicJwk] } });
  });
  after(async () => {
    await one.close();
    await two.close();
    await one.db.drop();
  });

  // Both servers share the database; their issuers differ (two ports): aud names each's own.
  const signFor = (server: TestServer) => signAssertion({ clientId: c.clientId, aud: [one.url, two.url], key: pair.privateKey, alg: 'ES256', kid: pair.kid, now: nowSeconds(server.clock) });

  test('an assertion used at one server is refused at the other', async () => {
    const assertion = await signFor(one);
    assertIssued(await clientCredentials(one, assertion));
    assertRefused(await clientCredentials(two, assertion));
  });

  test('a burst of the same assertion at both servers at once: exactly one is accepted', async () => {
    const assertion = await signFor(one);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => clientCredentials(i % 2 === 0 ? one : two, assertion)));
    assert.equal(answers.filter((a) => a.status === 200).length, 1, JSON.stringify(answers.map((a) => a.status)));
  });
});
