// src/oauth/jwt.ts lookupAccessToken: a JWT access token's signature is verified once per key
// set (SigningKeys.verifiedTokens, no module-level memory), after which only its expiry, its
// key still being published and the database are consulted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { nowSeconds } from '../../src/oauth/clock.js';
import { tokenKey } from '../../src/oauth/crypto.js';
import { lookupAccessToken, signAccessToken } from '../../src/oauth/jwt.js';
import type { AccessTokenContext } from '../../src/oauth/model.js';
import { SigningKeys } from '../../src/oauth/signing-keys.js';
import { SigningKeyStore } from '../../src/store/keys.js';
import { withStore, type TestStore } from '../helpers/store.js';

const ISSUER = 'https://latchkey.test';

function signingKeys(t: TestStore): SigningKeys {
  return new SigningKeys(new SigningKeyStore(t.services.store.db), { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600 });
}

/** A signing key, and a JWT access token signed with it, valid for a minute. */
async function signedToken(t: TestStore) {
  const keys = signingKeys(t);
  await keys.ensureSigningKey();
  const now = nowSeconds(t.clock);
  const jti = randomBytes(16).toString('base64url');
  const token = await signAccessToken(keys, { issuer: ISSUER, subject: '1', clientId: 'abc', scope: 'profile', jti, issuedAt: now, expiresAt: now + 60, organizationId: null });
  return { keys, jti, token, hash: tokenKey(token), now };
}

test('a verified JWT is remembered by its key set only, and the memory is what later lookups use', async () => {
  await withStore('sqlite', async (t) => {
    const { keys, jti, token, hash, now } = await signedToken(t);
    const otherKeys = signingKeys(t);

    const lookups: string[] = [];
    // The token's row as far as lookupAccessToken reads it: issued with the default audience
    // (RFC 8707 `audience` null). A verified JWT is remembered only once its row is found and
    // its signed `aud` matches the row's (a forged `aud` on a real jti is never remembered).
    const row = { audience: null } as unknown as AccessTokenContext;
    const tokens = {
      find: async (h: string) => { lookups.push(`hash ${h}`); return row; },
      findByJti: async (j: string) => { lookups.push(`jti ${j}`); return row; },
    };
    const deps = { config: { issuer: ISSUER }, clock: t.clock, accessTokens: tokens, signingKeys: keys };

    await lookupAccessToken(deps, token);
    assert.deepEqual(lookups, [`jti ${jti}`]);
    assert.deepEqual(keys.verifiedTokens.get(hash), { jti, kid: (await keys.signingKey()).kid, exp: now + 60 });
    assert.equal(otherKeys.verifiedTokens.size, 0, 'another key set (another server) remembers nothing of it');

    // The remembered entry answers, not a second verification: an entry changed by hand is followed.
    keys.verifiedTokens.set(hash, { ...keys.verifiedTokens.get(hash)!, jti: 'remembered' });
    await lookupAccessToken(deps, token);
    assert.deepEqual(lookups.slice(1), ['jti remembered']);

    // Past its expiry the entry is forgotten and the token found by its hash (expired, not invalid).
    t.clock.advance(61);
    await lookupAccessToken(deps, token);
    assert.deepEqual(lookups.slice(2), [`hash ${hash}`]);
    assert.equal(keys.verifiedTokens.has(hash), false);
  });
});

test('a verified JWT whose row is gone, or whose signed aud is not its row\'s audience, is not remembered', async () => {
  await withStore('sqlite', async (t) => {
    const { keys, token, hash } = await signedToken(t);
    const deps = (row: AccessTokenContext | undefined) => ({
      config: { issuer: ISSUER }, clock: t.clock, signingKeys: keys,
      accessTokens: { find: async () => row, findByJti: async () => row },
    });
    assert.equal(await lookupAccessToken(deps(undefined), token), undefined);
    assert.equal(keys.verifiedTokens.has(hash), false, 'no row: not remembered');
    // The row says the token was issued for a registered resource; the JWT says the default audience.
    const elsewhere = { audience: ['https://api.example/'] } as unknown as AccessTokenContext;
    assert.equal(await lookupAccessToken(deps(elsewhere), token), undefined);
    assert.equal(keys.verifiedTokens.has(hash), false, 'another audience: refused and not remembered');
  });
});
