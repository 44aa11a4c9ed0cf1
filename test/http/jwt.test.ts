// JWT access tokens (RFC 9068) over HTTP on each database: the header and claims, verified
// by `jose` against the published JWK Set alone; revocation honoured by /api/user and
// introspection through the jti; forged tokens refused; key rotation by the CLI (a separate
// process), picked up by every server on the database, the old key published until its
// tokens have expired and then no longer; private keys encrypted at rest. The servers also
// hold RS256 keys (for ID tokens); the access-token checks here look at the ES256 ones.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { SignJWT, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, generateKeyPair, jwtVerify, type JWTPayload } from 'jose';
import { sha256Hex } from '../../src/oauth/crypto.js';
import { KEY_CACHE_SECONDS, KEY_REFRESH_SECONDS, UNENCRYPTED_WARNING, openPrivateJwk } from '../../src/oauth/signing-keys.js';
import { databaseKinds, freshDatabase } from '../helpers/databases.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { getUser, postToken, secretPost } from '../helpers/token.js';
import { introspectToken, issueTokens, revokeToken } from '../helpers/token-admin.js';

const JWT_FILE = { access_token_format: 'jwt' };
/** One public address for servers restarted on the same database (tokens name their issuer). */
const ISSUER = 'https://latchkey.test';
const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

/** `latchkey keys …` as its own process (another "server" on the same database, as far as caching goes). */
async function latchkeyKeys(server: TestServer, command: 'rotate' | 'list', env: Record<string, string> = {}): Promise<{ json: Record<string, unknown>; stderr: string }> {
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', 'keys', command, '--database-url', server.db.url], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', LATCHKEY_ENCRYPTION_KEY: '', ...env },
  });
  return { json: JSON.parse(stdout) as Record<string, unknown>, stderr };
}

async function verifyWithPublishedKeys(server: TestServer, token: string): Promise<JWTPayload> {
  const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { jwks_uri: string; issuer: string };
  // A fresh key set each time: what a resource server that knows only the metadata would do.
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  const { payload } = await jwtVerify(token, jwks, {
    issuer: metadata.issuer, audience: `${metadata.issuer}/api`, typ: 'at+jwt', algorithms: ['ES256'],
  });
  return payload;
}

/** The published ES256 kids: the keys of JWT access tokens (the RS256 ones are published beside them). */
async function publishedKids(server: TestServer): Promise<string[]> {
  const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string; alg: string }> };
  return jwks.keys.filter((k) => k.alg === 'ES256').map((k) => k.kid).sort();
}

/** What `keys rotate` printed for one algorithm. */
function rotationOf(json: Record<string, unknown>, alg: string): Record<string, unknown> {
  const entry = (json.rotated as Array<Record<string, unknown>>).find((r) => r.alg === alg);
  assert.ok(entry, `keys rotate printed no ${alg} rotation`);
  return entry;
}

async function clientCredentialsToken(server: TestServer, client: TestClient): Promise<string> {
  const res = await postToken(server, { grant_type: 'client_credentials', ...secretPost(client) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return String(res.body.access_token);
}

/** Issues tokens until one is signed with `kid` (the server re-reads keys every few seconds). */
async function waitForSigningKid(server: TestServer, client: TestClient, kid: string): Promise<string> {
  const deadline = Date.now() + (KEY_REFRESH_SECONDS + 5) * 1000;
  for (;;) {
    const token = await clientCredentialsToken(server, client);
    if (decodeProtectedHeader(token).kid === kid) return token;
    if (Date.now() > deadline) assert.fail(`the server did not start signing with ${kid}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Re-signs `payload` with a key of our own choosing: what a forger could do. */
async function forge(header: Record<string, unknown>, payload: JWTPayload): Promise<string> {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', ...header }).sign(privateKey);
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] JWT access tokens`, () => {
    let server: TestServer;
    let user: TestUser;
    let client: TestClient;

    before(async () => {
      server = await startTestServer(kind, { file: JWT_FILE });
      user = await createUser(server, { email: 'john@doe.com', name: 'John Doe' });
      client = await createClient(server, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
    });
    after(async () => {
      await server.close();
    });

    test('RFC 9068 header and claims, verified by jose with the published JWKS alone', async () => {
      const t = await issueTokens(server, client, user.id);
      assert.match(t.refreshToken, /^[0-9a-z]{9}[A-Za-z0-9_-]{43}$/, 'refresh tokens stay opaque');
      const header = decodeProtectedHeader(t.accessToken);
      assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ']);
      assert.equal(header.alg, 'ES256');
      assert.equal(header.typ, 'at+jwt');
      assert.deepEqual(await publishedKids(server), [String(header.kid)]);

      const payload = await verifyWithPublishedKeys(server, t.accessToken);
      assert.deepEqual(Object.keys(payload).sort(), ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub']);
      assert.equal(payload.iss, server.config.issuer);
      assert.equal(payload.aud, `${server.config.issuer}/api`);
      assert.equal(payload.sub, String(user.id));
      assert.equal(payload.client_id, client.clientId);
      assert.equal(payload.scope, 'profile email');
      assert.equal(Number(payload.exp) - Number(payload.iat), 3600);
      assert.match(String(payload.jti), /^[0-9a-z]{9}[A-Za-z0-9_-]{22}$/);

      // Stored like an opaque token: by hash, with the jti alongside.
      const row = await server.services.store.db.selectFrom('access_tokens').selectAll().where('jti', '=', String(payload.jti)).executeTakeFirst();
      assert.equal(row?.token_hash, sha256Hex(t.accessToken));
      assert.equal(row?.expires_at, payload.exp);

      const me = await getUser(server, t.accessToken);
      assert.equal(me.status, 200);
      assert.deepEqual(me.body, { id: user.id, name: 'John Doe', email: 'john@doe.com', locale: 'nl' });
      const intro = await introspectToken(server, client, t.accessToken);
      assert.equal(intro.active, true);
      assert.equal(intro.jti, payload.jti);
      assert.equal(intro.exp, payload.exp);
      assert.equal(intro.sub, payload.sub);
    });

    test('client_credentials: sub is the client; an organization grant carries org_id', async () => {
      const cc = decodeJwt(await clientCredentialsToken(server, client));
      assert.equal(cc.sub, client.clientId);
      assert.equal(cc.client_id, client.clientId);
      const org = await server.services.orgs.insert({ name: 'Acme', integrationsEnabled: true, now: 0 });
      const t = await issueTokens(server, client, user.id, { organizationId: org.id, scope: 'profile' });
      const payload = await verifyWithPublishedKeys(server, t.accessToken);
      assert.equal(payload.org_id, org.id);
      assert.equal(payload.scope, 'profile');
      assert.equal((await getUser(server, t.accessToken)).body.organization !== undefined, true);
    });

    test('revocation is honoured through the jti, although the signature stays valid', async () => {
      const a = await issueTokens(server, client, user.id);
      // Used (and so verified and remembered) before it is revoked.
      assert.equal((await getUser(server, a.accessToken)).status, 200);
      assert.equal((await introspectToken(server, client, a.accessToken)).active, true);
      assert.equal((await revokeToken(server, client, a.accessToken)).status, 200);
      await verifyWithPublishedKeys(server, a.accessToken);
      const res = await getUser(server, a.accessToken);
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_token');
      assert.deepEqual(await introspectToken(server, client, a.accessToken), { active: false });

      const b = await issueTokens(server, client, user.id);
      assert.equal((await revokeToken(server, client, b.refreshToken)).status, 200);
      assert.equal((await getUser(server, b.accessToken)).status, 401);
      assert.deepEqual(await introspectToken(server, client, b.accessToken), { active: false });
    });

    test('forged or altered tokens are refused by /api/user and introspection', async () => {
      const t = await issueTokens(server, client, user.id);
      const claims = decodeJwt(t.accessToken);
      const header = decodeProtectedHeader(t.accessToken);
      const [h, , s] = t.accessToken.split('.');
      const ours = await server.services.signingKeys.signingKey();
      const signWithOurKey = (hdr: Record<string, unknown>, payload: JWTPayload) =>
        new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: ours.kid, ...hdr }).sign(ours.privateKey);
      const forged = [
        // The payload changed, the signature kept.
        `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'profile email admin' })).toString('base64url')}.${s}`,
        // Signed by someone else's key under our kid.
        await forge({ typ: 'at+jwt', kid: header.kid }, claims),
        // No signature at all.
        `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: header.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`,
        // Our key, but not an access token (RFC 9068 §4: typ must be at+jwt).
        await signWithOurKey({ typ: 'JWT' }, claims),
        // Our key, another issuer or audience.
        await signWithOurKey({ typ: 'at+jwt' }, { ...claims, iss: 'https://evil.example' }),
        await signWithOurKey({ typ: 'at+jwt' }, { ...claims, aud: 'https://evil.example/api' }),
        // An unknown kid.
        await forge({ typ: 'at+jwt', kid: 'unknown-kid' }, claims),
      ];
      for (const token of forged) {
        const res = await getUser(server, token);
        assert.equal(res.status, 401, token);
        assert.equal(res.body.error, 'invalid_token');
        assert.deepEqual(await introspectToken(server, client, token), { active: false });
      }
      assert.equal((await getUser(server, t.accessToken)).status, 200);
    });
  });

  describe(`[${kind}] JWT access tokens that expire`, () => {
    test('expired: 401 (standard), 403 (huddle); introspection inactive', async () => {
      for (const [profile, ttl, status] of [['standard', 3600, 401], ['huddle', 1200, 403]] as const) {
        const server = await startTestServer(kind, { profile, file: JWT_FILE });
        try {
          const user = await createUser(server);
          const client = await createClient(server);
          server.clock.freeze(); // expiry to the second
          const t = await issueTokens(server, client, user.id);
          server.clock.advance(ttl - 1);
          assert.equal((await getUser(server, t.accessToken)).status, 200);
          server.clock.advance(1);
          const res = await getUser(server, t.accessToken);
          assert.equal(res.status, status, profile);
          assert.equal(res.body.error, 'invalid_token');
          assert.match(String(res.body.error_description), /expired/);
          assert.deepEqual(await introspectToken(server, client, t.accessToken), { active: false });
        } finally {
          await server.close();
        }
      }
    });
  });

  describe(`[${kind}] signing-key rotation`, () => {
    let a: TestServer;
    let b: TestServer;
    let user: TestUser;
    let client: TestClient;

    before(async () => {
      a = await startTestServer(kind, { file: JWT_FILE });
      // A second server process on the same database, behind the same public address (issuer).
      b = await startTestServer(kind, { file: JWT_FILE, database: a.db, env: { LATCHKEY_ISSUER: a.url } });
      user = await createUser(a);
      client = await createClient(a, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
    });
    after(async () => {
      await b.close();
      await a.close();
    });

    test('keys rotate: both servers sign with the new key; the old one stays published until its tokens expire, then is gone', async () => {
      const before = await issueTokens(a, client, user.id);
      const oldKid = String(decodeProtectedHeader(before.accessToken).kid);
      // Both servers share the one key made at start.
      assert.deepEqual(await publishedKids(b), [oldKid]);
      assert.equal((await getUser(b, before.accessToken)).status, 200);

      // With no publish lead the new keys sign at once (the lead has tests of its own: test/http/signing-keys.test.ts).
      const { json: printed, stderr } = await latchkeyKeys(a, 'rotate', { LATCHKEY_KEY_PUBLISH_LEAD: '0' });
      const rotated = rotationOf(printed, 'ES256');
      // Run without LATCHKEY_ENCRYPTION_KEY: it says so, never silently.
      assert.match(stderr, /signing keys are stored unencrypted/);
      const newKid = String(rotated.kid);
      assert.notEqual(newKid, oldKid);
      assert.deepEqual(rotated.retired, [oldKid]);
      const oldExp = Number(decodeJwt(before.accessToken).exp);
      const publishUntil = Number(rotated.publish_until);
      assert.ok(publishUntil >= oldExp + KEY_CACHE_SECONDS, `published until ${publishUntil}, token expires ${oldExp}`);

      // Neither server was told: they pick the new key up by themselves.
      const fromA = await waitForSigningKid(a, client, newKid);
      const fromB = await waitForSigningKid(b, client, newKid);
      for (const server of [a, b]) assert.deepEqual(await publishedKids(server), [newKid, oldKid].sort());

      // Verified with the published keys alone, before and after the rotation.
      for (const token of [before.accessToken, fromA, fromB]) await verifyWithPublishedKeys(a, token);
      assert.equal((await getUser(b, before.accessToken)).status, 200);
      assert.equal((await introspectToken(b, client, fromA)).active, true);
      assert.equal((await introspectToken(a, client, fromB)).active, true);

      const { json: listed } = await latchkeyKeys(a, 'list');
      const keys = (listed.keys as Array<Record<string, unknown>>).filter((k) => k.alg === 'ES256');
      assert.deepEqual(keys.map((k) => [k.kid, k.signing, k.published]).sort(), [[newKid, true, true], [oldKid, false, true]].sort());

      // Once every token the old key signed has expired, it is no longer published, and a
      // token it signed no longer verifies.
      const later = publishUntil - Math.floor(a.clock.nowMs() / 1000) + 1;
      a.clock.advance(later);
      assert.deepEqual(await publishedKids(a), [newKid]);
      await assert.rejects(verifyWithPublishedKeys(a, before.accessToken), (err: unknown) => err instanceof joseErrors.JWKSNoMatchingKey);
      assert.equal((await getUser(a, before.accessToken)).status, 401);
    });
  });

  describe(`[${kind}] signing keys at rest`, () => {
    test('with LATCHKEY_ENCRYPTION_KEY the private key is stored encrypted; a wrong or missing key stops start-up', async () => {
      const key = randomBytes(32).toString('base64');
      const db = await freshDatabase(kind);
      const server = await startTestServer(kind, { file: JWT_FILE, database: db, env: { LATCHKEY_ISSUER: ISSUER, LATCHKEY_ENCRYPTION_KEY: key } });
      try {
        const user = await createUser(server);
        const client = await createClient(server);
        const t = await issueTokens(server, client, user.id);
        const rows = await server.services.store.db.selectFrom('signing_keys').selectAll().where('alg', '=', 'ES256').execute();
        assert.equal(rows.length, 1);
        const row = rows[0]!;
        assert.match(row.private_jwk, /^enc:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
        assert.doesNotMatch(row.private_jwk, /"d"|"kty"|P-256/);
        assert.equal('d' in (JSON.parse(row.public_jwk) as object), false);
        // It opens with the right key only, and is the key the token was signed with.
        const opened = openPrivateJwk(row.private_jwk, row.kid, Buffer.from(key, 'base64'));
        assert.equal(typeof opened.d, 'string');
        assert.equal(opened.x, (JSON.parse(row.public_jwk) as { x: string }).x);
        assert.throws(() => openPrivateJwk(row.private_jwk, row.kid, randomBytes(32)), /cannot be decrypted/);
        assert.equal(decodeProtectedHeader(t.accessToken).kid, row.kid);
        assert.equal(server.logs.some((l) => l.includes(UNENCRYPTED_WARNING)), false);

        // A rotation run with the key seals the new keys too (one per algorithm, beside the two made at start).
        await latchkeyKeys(server, 'rotate', { LATCHKEY_ENCRYPTION_KEY: key });
        const sealed = await server.services.store.db.selectFrom('signing_keys').select('private_jwk').execute();
        assert.equal(sealed.length, 4);
        assert.ok(sealed.every((r) => r.private_jwk.startsWith('enc:')));
      } finally {
        await server.close();
      }
      try {
        await assert.rejects(startTestServer(kind, { file: JWT_FILE, database: db, env: { LATCHKEY_ISSUER: ISSUER, LATCHKEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } }), /cannot be decrypted/);
        await assert.rejects(startTestServer(kind, { file: JWT_FILE, database: db, env: { LATCHKEY_ISSUER: ISSUER } }), /encrypted but LATCHKEY_ENCRYPTION_KEY is not set/);
        // An opaque-token server needs the keys as well (ID tokens): it does not start without the key either.
        await assert.rejects(startTestServer(kind, { database: db, env: { LATCHKEY_ISSUER: ISSUER } }), /encrypted but LATCHKEY_ENCRYPTION_KEY is not set/);
        const again = await startTestServer(kind, { file: JWT_FILE, database: db, env: { LATCHKEY_ISSUER: ISSUER, LATCHKEY_ENCRYPTION_KEY: key } });
        await again.close();
      } finally {
        await db.drop();
      }
    });

    test('without LATCHKEY_ENCRYPTION_KEY: one warning at start; setting it later seals the stored key', async () => {
      const db = await freshDatabase(kind);
      const server = await startTestServer(kind, { file: JWT_FILE, database: db, env: { LATCHKEY_ISSUER: ISSUER } });
      let token: string;
      let client: TestClient;
      try {
        assert.equal(server.logs.filter((l) => l.includes(UNENCRYPTED_WARNING)).length, 1);
        const row = await server.services.store.db.selectFrom('signing_keys').selectAll().where('alg', '=', 'ES256').executeTakeFirstOrThrow();
        assert.match(row.private_jwk, /^plain:\{/);
        const user = await createUser(server);
        client = await createClient(server);
        token = (await issueTokens(server, client, user.id)).accessToken;
      } finally {
        await server.close();
      }
      try {
        // Back to opaque tokens, keys still stored in plain: still one warning, and the key stays published.
        const opaque = await startTestServer(kind, { database: db, env: { LATCHKEY_ISSUER: ISSUER } });
        try {
          assert.equal(opaque.logs.filter((l) => l.includes(UNENCRYPTED_WARNING)).length, 1);
          assert.equal((await publishedKids(opaque)).length, 1);
        } finally {
          await opaque.close();
        }
        const key = randomBytes(32).toString('base64');
        const sealedServer = await startTestServer(kind, { file: JWT_FILE, database: db, env: { LATCHKEY_ISSUER: ISSUER, LATCHKEY_ENCRYPTION_KEY: key } });
        try {
          const row = await sealedServer.services.store.db.selectFrom('signing_keys').selectAll().where('alg', '=', 'ES256').executeTakeFirstOrThrow();
          assert.match(row.private_jwk, /^enc:/);
          assert.equal(sealedServer.logs.some((l) => l.includes(UNENCRYPTED_WARNING)), false);
          // The same key, so tokens from before still work.
          assert.equal((await getUser(sealedServer, token)).status, 200);
          assert.equal(decodeProtectedHeader(await issueTokens(sealedServer, client, (await createUser(sealedServer)).id).then((x) => x.accessToken)).kid, row.kid);
        } finally {
          await sealedServer.close();
        }
      } finally {
        await db.drop();
      }
    });
  });
}
