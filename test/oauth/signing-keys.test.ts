// The JWT signing keys (oauth/signing-keys.ts, store/keys.ts) and JWT access tokens
// (oauth/jwt.ts) without HTTP: sealing at rest, creation on first need, rotation and how
// long a retired key stays published, two processes sharing one database, and the
// verification rules of RFC 9068 §4. Both algorithms (RS256, ES256); publish before sign:
// a rotated key is published at once and signs only after the publish lead.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { registerClient } from '../../src/accounts/client-registration.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { signAccessToken, verifyAccessToken, type AccessTokenClaims } from '../../src/oauth/jwt.js';
import {
  KEY_CACHE_SECONDS, SigningKeyError, SigningKeys, newSigningKeyRow, openPrivateJwk, sealPrivateJwk, signingSchedule, type SigningAlg,
} from '../../src/oauth/signing-keys.js';
import { SignJWT, calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
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

/** A JWT signed by `keys`' current key of `alg` (what the ID-token code will do). */
async function probe(keys: SigningKeys, alg: SigningAlg, now: number): Promise<string> {
  const { kid, privateKey } = await keys.signingKey(alg);
  return new SignJWT({ n: now }).setProtectedHeader({ alg, kid }).setIssuer(ISSUER).setIssuedAt(now).setExpirationTime(now + 3600).sign(privateKey);
}

const kidOf = (token: string): string => String(decodeProtectedHeader(token).kid);

/** Verifies with a JWK Set alone, as a relying party does (jose createLocalJWKSet); the clock is the token's own. */
async function verifiesWith(jwks: { keys: unknown[] }, token: string, now: number): Promise<void> {
  await jwtVerify(token, createLocalJWKSet(jwks as JSONWebKeySet), { issuer: ISSUER, currentDate: new Date(now * 1000), algorithms: ['RS256', 'ES256'] });
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] signing keys of both algorithms`, () => {
    test('RS256 (RSA 2048) and ES256 (P-256), each published with alg, use sig and its RFC 7638 thumbprint as kid, sealed at rest', async () => {
      await withStore(kind, async (t) => {
        const store = new SigningKeyStore(t.services.store.db);
        const key = randomBytes(32);
        const keys = new SigningKeys(store, { encryptionKey: key, clock: t.clock, accessTokenTtl: 3600 });
        const kids = await keys.ensureSigningKeys();
        assert.deepEqual(await keys.ensureSigningKeys(), kids, 'made once');
        const { keys: published } = await keys.publishedJwks();
        assert.equal(published.length, 2);
        for (const jwk of published) {
          assert.equal(jwk.use, 'sig');
          assert.equal(jwk.kid, kids[jwk.alg as SigningAlg]);
          assert.equal(jwk.kid, await calculateJwkThumbprint(jwk, 'sha256'));
          assert.equal('d' in jwk, false);
        }
        const rsa = published.find((k) => k.alg === 'RS256')!;
        assert.equal(rsa.kty, 'RSA');
        assert.equal(Buffer.from(String(rsa.n), 'base64url').length * 8, 2048);
        const ec = published.find((k) => k.alg === 'ES256')!;
        assert.deepEqual([ec.kty, ec.crv], ['EC', 'P-256']);
        for (const row of await store.listAll()) {
          assert.match(row.privateJwk, /^enc:/);
          assert.equal(openPrivateJwk(row.privateJwk, row.kid, key).kty, row.alg === 'RS256' ? 'RSA' : 'EC');
        }
        // Each signs with its own key, imported once: the same CryptoKey for every signature.
        const now = nowSeconds(t.clock);
        for (const alg of ['RS256', 'ES256'] as const) {
          const first = await keys.signingKey(alg);
          assert.equal(first.kid, kids[alg]);
          assert.equal((await keys.signingKey(alg)).privateKey, first.privateKey);
          await verifiesWith(await keys.publishedJwks(), await probe(keys, alg, now), now);
        }
        // An access-token check accepts its own algorithm's keys only.
        assert.ok(await keys.verificationKey(kids.RS256, 'RS256'));
        assert.equal(await keys.verificationKey(kids.RS256, 'ES256'), undefined);
      });
    });

    test('publish before sign: a rotated key is published at once and signs after the lead, in every process at the same second; every token verifies against the JWK Set alone', async () => {
      await withStore(kind, async (t) => {
        t.clock.freeze();
        const lead = 600;
        const options = { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600, publishLead: lead };
        const a = new SigningKeys(new SigningKeyStore(t.services.store.db), options);
        const b = new SigningKeys(new SigningKeyStore(t.services.store.db), options);
        const old = await a.ensureSigningKeys();
        assert.deepEqual(await b.ensureSigningKeys(), old);
        const start = nowSeconds(t.clock);
        const jwksBefore = await a.publishedJwks();
        const tokens: Array<[string, number]> = [];
        const sign = async (k: SigningKeys, alg: SigningAlg) => {
          const now = nowSeconds(t.clock);
          const token = await probe(k, alg, now);
          tokens.push([token, now]);
          return kidOf(token);
        };
        for (const alg of ['RS256', 'ES256'] as const) await verifiesWith(jwksBefore, tokens[tokens.push([await probe(a, alg, start), start]) - 1]![0], start);

        const rs = await a.rotate('RS256');
        const es = await a.rotate('ES256');
        for (const r of [rs, es]) {
          assert.equal(r.signsFrom, start + lead);
          assert.deepEqual(r.retired, [old[r.alg]]);
          assert.equal(r.publishUntil, start + lead + 3600 + KEY_CACHE_SECONDS);
        }
        await b.refresh();
        // Published at once by both…
        for (const k of [a, b]) assert.deepEqual((await k.publishedJwks()).keys.map((j) => j.kid).sort(), [old.RS256, old.ES256, rs.kid, es.kid].sort());
        const jwksAtRotation = await b.publishedJwks();
        // …the old keys sign until the lead has passed…
        t.clock.advance(lead - 1);
        for (const k of [a, b]) {
          assert.equal(await sign(k, 'RS256'), old.RS256);
          assert.equal(await sign(k, 'ES256'), old.ES256);
        }
        // …then the new ones, in both processes, with no re-read needed.
        t.clock.advance(1);
        for (const k of [a, b]) {
          assert.equal(await sign(k, 'RS256'), rs.kid);
          assert.equal(await sign(k, 'ES256'), es.kid);
        }
        // A relying party that fetched the JWK Set at the rotation verifies every token, old or new;
        // so does one that fetches it now.
        const jwksAfter = await a.publishedJwks();
        assert.equal(jwksAfter.keys.length, 4);
        for (const [token, at] of tokens) {
          await verifiesWith(jwksAtRotation, token, at);
          await verifiesWith(jwksAfter, token, at);
        }
        // The old keys drop out once every token they signed has expired.
        t.clock.advance(3600 + KEY_CACHE_SECONDS);
        await a.refresh();
        assert.deepEqual((await a.publishedJwks()).keys.map((j) => j.kid).sort(), [rs.kid, es.kid].sort());
      });
    });

    test('rotating one algorithm leaves the other alone; a rotation with no lead takes over at once, also from a key still waiting for its turn', async () => {
      await withStore(kind, async (t) => {
        t.clock.freeze();
        const store = new SigningKeyStore(t.services.store.db);
        const keys = new SigningKeys(store, { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600, publishLead: 600 });
        const old = await keys.ensureSigningKeys();
        t.clock.advance(1);
        const now = nowSeconds(t.clock);
        const waiting = await keys.rotate('RS256');
        assert.equal((await keys.signingKey('RS256')).kid, old.RS256);
        assert.equal((await keys.signingKey('ES256')).kid, old.ES256);
        // A compromised key: `keys rotate --lead 0`.
        const now2 = now + 10;
        t.clock.advance(10);
        const urgent = await keys.rotate('RS256', 0);
        assert.deepEqual(urgent.retired.sort(), [old.RS256, waiting.kid].sort());
        assert.equal(urgent.signsFrom, now2);
        assert.equal((await keys.signingKey('RS256')).kid, urgent.kid);
        assert.equal((await keys.signingKey('ES256')).kid, old.ES256);
        // The old key keeps the longer of its two publication times.
        const rows = await store.listAll();
        const byKid = new Map(rows.map((r) => [r.kid, r]));
        assert.equal(byKid.get(old.RS256)?.retiredAt, now2);
        assert.equal(byKid.get(old.RS256)?.publishUntil, now + 600 + 3600 + KEY_CACHE_SECONDS);
        assert.equal(byKid.get(old.ES256)?.retiredAt, null);
        // What `keys list` shows.
        const states = signingSchedule(rows, now2);
        assert.deepEqual(states.get(urgent.kid), { signing: true, signsFrom: now2, published: true });
        assert.deepEqual(states.get(old.RS256), { signing: false, signsFrom: now - 1, published: true });
        assert.deepEqual(states.get(waiting.kid), { signing: false, signsFrom: null, published: true }, 'retired before its turn: it never signs');
        assert.deepEqual(states.get(old.ES256), { signing: true, signsFrom: now - 1, published: true });
      });
    });

    test('signingSchedule: a key waiting for the lead is published, not signing, and says from when it signs', () => {
      const row = (kid: string, createdAt: number, retiredAt: number | null, publishUntil: number | null) => ({
        kid, alg: 'ES256', publicJwk: '{}', privateJwk: 'plain:{}', createdAt, retiredAt, publishUntil,
      });
      const rows = [row('new', 100, null, null), row('old', 10, 700, 5000), row('gone', 1, 10, 50)];
      const before = signingSchedule(rows, 200);
      assert.deepEqual(before.get('new'), { signing: false, signsFrom: 700, published: true });
      assert.deepEqual(before.get('old'), { signing: true, signsFrom: 10, published: true });
      assert.deepEqual(before.get('gone'), { signing: false, signsFrom: 1, published: false });
      assert.equal(signingSchedule(rows, 700).get('new')?.signing, true);
      assert.equal(signingSchedule(rows, 700).get('old')?.signing, false);
    });
  });
}
