// The JWT signing keys (oauth/signing-keys.ts, store/keys.ts) and JWT access tokens
// (oauth/jwt.ts) without HTTP: sealing at rest, creation on first need, rotation and how
// long a retired key stays published, two processes sharing one database, and the
// verification rules of RFC 9068 §4.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { registerClient } from '../../src/accounts/client-registration.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { signAccessToken, verifyAccessToken, type AccessTokenClaims } from '../../src/oauth/jwt.js';
import {
  KEY_CACHE_SECONDS, SigningKeyError, SigningKeys, newSigningKeyRow, openPrivateJwk, sealPrivateJwk,
} from '../../src/oauth/signing-keys.js';
import { SigningKeyStore } from '../../src/store/keys.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore, type TestStore } from '../helpers/store.js';

const ISSUER = 'https://latchkey.test';

function claims(t: TestStore, overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  const now = nowSeconds(t.clock);
  return { issuer: ISSUER, subject: '1', clientId: 'abc', scope: 'profile', jti: randomBytes(16).toString('base64url'), issuedAt: now, expiresAt: now + 3600, organizationId: null, ...overrides };
}

describe('sealing private keys (AES-256-GCM)', () => {
  const jwk = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'secret-d' };
  const key = randomBytes(32);

  test('round trip; the ciphertext shows nothing of the key', () => {
    const sealed = sealPrivateJwk(jwk, 'kid-1', key);
    assert.match(sealed, /^enc:/);
    assert.ok(!sealed.includes('secret-d'));
    assert.notEqual(sealPrivateJwk(jwk, 'kid-1', key), sealed, 'a fresh IV each time');
    assert.deepEqual(openPrivateJwk(sealed, 'kid-1', key), jwk);
  });

  test('bound to its kid, its key and its bytes', () => {
    const sealed = sealPrivateJwk(jwk, 'kid-1', key);
    assert.throws(() => openPrivateJwk(sealed, 'kid-2', key), SigningKeyError);
    assert.throws(() => openPrivateJwk(sealed, 'kid-1', randomBytes(32)), /cannot be decrypted/);
    assert.throws(() => openPrivateJwk(sealed, 'kid-1', null), /LATCHKEY_ENCRYPTION_KEY is not set/);
    const [head, ct, tag] = sealed.split('.');
    const flipped = `${head}.${Buffer.from(Buffer.from(ct ?? '', 'base64url').map((b, i) => (i === 0 ? b ^ 1 : b))).toString('base64url')}.${tag}`;
    assert.throws(() => openPrivateJwk(flipped, 'kid-1', key), /cannot be decrypted/);
    assert.throws(() => openPrivateJwk('rot13:…', 'kid-1', key), /unknown format/);
  });

  test('without a key: plain, and readable with or without one', () => {
    const plain = sealPrivateJwk(jwk, 'kid-1', null);
    assert.equal(plain, `plain:${JSON.stringify(jwk)}`);
    assert.deepEqual(openPrivateJwk(plain, 'kid-1', key), jwk);
  });
});

for (const kind of databaseKinds()) {
  describe(`[${kind}] signing keys`, () => {
    test('created on first need, once; the kid is the RFC 7638 thumbprint', async () => {
      await withStore(kind, async (t) => {
        const keys = new SigningKeys(new SigningKeyStore(t.services.store.db), { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600 });
        assert.deepEqual(await keys.publishedJwks(), { keys: [] });
        const kid = await keys.ensureSigningKey();
        assert.equal(await keys.ensureSigningKey(), kid);
        assert.equal((await keys.signingKey()).kid, kid);
        const { keys: published } = await keys.publishedJwks();
        assert.equal(published.length, 1);
        assert.equal(published[0]?.kid, kid);
        assert.match(kid, /^[A-Za-z0-9_-]{43}$/);
        assert.equal((await new SigningKeyStore(t.services.store.db).listAll()).length, 1);
      });
    });

    test('rotation: the old key is retired and published for the token lifetime plus the cache time, or until the latest JWT expires', async () => {
      await withStore(kind, async (t) => {
        const store = new SigningKeyStore(t.services.store.db);
        const keys = new SigningKeys(store, { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600 });
        const first = await keys.ensureSigningKey();
        const now = nowSeconds(t.clock);
        const r1 = await keys.rotate();
        assert.deepEqual(r1.retired, [first]);
        assert.equal(r1.publishUntil, now + 3600 + KEY_CACHE_SECONDS);
        assert.equal((await keys.signingKey()).kid, r1.kid);

        // A JWT on record that outlives the configured lifetime (issued under a longer one) keeps its key published.
        const { client } = await registerClient(t.services, { name: 'c', redirectUris: ['https://c.example/cb'] });
        const grantId = await t.services.grants.insert({ clientId: client.id, userId: null, organizationId: null, scope: '', grantType: 'client_credentials', now });
        await t.services.accessTokens.insert({
          tokenHash: 'h', jti: 'j', grantId: grantId, clientId: client.id, userId: null, organizationId: null, scope: '', createdAt: now, expiresAt: now + 86_400,
        });
        const r2 = await keys.rotate();
        assert.deepEqual(r2.retired, [r1.kid]);
        assert.equal(r2.publishUntil, now + 86_400);
        assert.deepEqual((await keys.publishedJwks()).keys.map((k) => k.kid).sort(), [first, r1.kid, r2.kid].sort());

        // Past publish_until a key is neither published nor accepted.
        t.clock.advance(3600 + KEY_CACHE_SECONDS);
        await keys.refresh();
        assert.deepEqual((await keys.publishedJwks()).keys.map((k) => k.kid).sort(), [r1.kid, r2.kid].sort());
        assert.equal(await keys.verificationKey(first), undefined);
        assert.ok(await keys.verificationKey(r1.kid));
      });
    });

    test('two processes on one database: the other one follows a rotation when it re-reads, or meets the new kid', async () => {
      await withStore(kind, async (t) => {
        const a = new SigningKeys(new SigningKeyStore(t.services.store.db), { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600 });
        const b = new SigningKeys(new SigningKeyStore(t.services.store.db), { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600 });
        const kid = await a.ensureSigningKey();
        assert.equal(await b.ensureSigningKey(), kid, 'b finds the key a made');
        const rotated = await a.rotate();
        // b still signs with what it cached (signing never waits for the database)…
        assert.equal((await b.signingKey()).kid, kid);
        // …but verifies a's new tokens at once (an unknown kid triggers a re-read)…
        const token = await signAccessToken(a, claims(t));
        assert.equal((await verifyAccessToken(b, token, { issuer: ISSUER, clock: t.clock })).ok, true);
        // …and signs with the new key after its next refresh.
        await b.refresh();
        assert.equal((await b.signingKey()).kid, rotated.kid);
      });
    });

    test('with an encryption key: stored sealed; plain keys from before are sealed on request', async () => {
      await withStore(kind, async (t) => {
        const store = new SigningKeyStore(t.services.store.db);
        await store.insert(await newSigningKeyRow(null, nowSeconds(t.clock)));
        const key = randomBytes(32);
        const keys = new SigningKeys(store, { encryptionKey: key, clock: t.clock, accessTokenTtl: 3600 });
        assert.equal(await keys.hasPlainKeys(), true);
        assert.equal(await keys.sealPlainKeys(), 1);
        assert.equal(await keys.hasPlainKeys(), false);
        await keys.rotate();
        const rows = await store.listAll();
        assert.equal(rows.length, 2);
        for (const row of rows) {
          assert.match(row.privateJwk, /^enc:/);
          assert.equal(typeof openPrivateJwk(row.privateJwk, row.kid, key).d, 'string');
        }
        // Another process with the wrong key cannot sign.
        const wrong = new SigningKeys(store, { encryptionKey: randomBytes(32), clock: t.clock, accessTokenTtl: 3600 });
        await assert.rejects(wrong.ensureSigningKey(), /cannot be decrypted/);
      });
    });

    test('verification (RFC 9068 §4): signature, typ, iss, aud, exp', async () => {
      await withStore(kind, async (t) => {
        const keys = new SigningKeys(new SigningKeyStore(t.services.store.db), { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600 });
        const c = claims(t, { organizationId: 7 });
        const token = await signAccessToken(keys, c);
        const ok = await verifyAccessToken(keys, token, { issuer: ISSUER, clock: t.clock });
        assert.ok(ok.ok);
        assert.equal(ok.jti, c.jti);
        assert.equal(ok.payload.org_id, 7);
        assert.deepEqual(await verifyAccessToken(keys, token, { issuer: 'https://other.test', clock: t.clock }), { ok: false, reason: 'invalid' });
        assert.deepEqual(await verifyAccessToken(keys, 'not-a-jwt', { issuer: ISSUER, clock: t.clock }), { ok: false, reason: 'invalid' });
        assert.deepEqual(await verifyAccessToken(keys, `${token}x`, { issuer: ISSUER, clock: t.clock }), { ok: false, reason: 'invalid' });
        t.clock.advance(3600);
        assert.deepEqual(await verifyAccessToken(keys, token, { issuer: ISSUER, clock: t.clock }), { ok: false, reason: 'expired' });
      });
    });
  });
}
