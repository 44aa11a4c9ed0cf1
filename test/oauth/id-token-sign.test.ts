// src/oauth/id-token.ts signJws: ID tokens are put together by hand and signed with node:crypto
// (RS256 on the thread pool, ES256 at once) instead of jose's SignJWT. What a relying party
// sees must not change: the same signing input as SignJWT's, a signature jose verifies against
// the published JWK Set (ES256 as R ‖ S, not DER), claims that come back exactly — awkward
// characters included — and the right key after a rotation, also under a burst.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { signJws, verifyIdTokenHint } from '../../src/oauth/id-token.js';
import { SigningKeys, SIGNING_ALGS, type SigningAlg } from '../../src/oauth/signing-keys.js';
import { SigningKeyStore } from '../../src/store/keys.js';
import { databaseKinds } from '../helpers/databases.js';
import { withStore, type TestStore } from '../helpers/store.js';

const ISSUER = 'https://latchkey.test';

function claims(nonce: string): Record<string, unknown> {
  return {
    sub: 'usr_0123456789abcdef', aud: 'client-0123', iss: ISSUER, iat: 1_800_000_000, exp: 1_800_003_600,
    // Control characters, a lone surrogate, HTML, non-ASCII and an astral character survive exactly.
    name: 'Jöhn \u0000\u001f\u007f \ud800 </script><b>"\' \u2028 😀', locale: 'nl', email: 'j@example.com', email_verified: true,
    amr: ['pwd'], nonce,
  };
}

async function keysOf(t: TestStore): Promise<SigningKeys> {
  const keys = new SigningKeys(new SigningKeyStore(t.services.store.db), { encryptionKey: null, clock: t.clock, accessTokenTtl: 3600 });
  await keys.ensureSigningKeys();
  return keys;
}

async function verify(keys: SigningKeys, token: string, alg: SigningAlg) {
  const jwks = createLocalJWKSet((await keys.publishedJwks()) as JSONWebKeySet);
  return jwtVerify(token, jwks, { algorithms: [alg], issuer: ISSUER, audience: 'client-0123', currentDate: new Date(1_800_000_100_000) });
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] ID token signing (node:crypto)`, () => {
    for (const alg of SIGNING_ALGS) {
      test(`${alg}: SignJWT's signing input, a signature jose verifies against the JWK Set, the claims back exactly`, async () => {
        await withStore(kind, async (t) => {
          const keys = await keysOf(t);
          const key = await keys.signingKey(alg);
          const token = await signJws(claims('n-1'), key);
          const parts = token.split('.');
          assert.equal(parts.length, 3);
          const jose = await new SignJWT(claims('n-1')).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
          assert.equal(`${parts[0]}.${parts[1]}`, jose.split('.').slice(0, 2).join('.'), 'the same header and payload bytes as SignJWT');
          assert.deepEqual(decodeProtectedHeader(token), { alg, kid: key.kid, typ: 'JWT' });
          // RS256: the modulus length; ES256: R ‖ S, 32 bytes each (JWS), not a DER sequence.
          assert.equal(Buffer.from(parts[2] ?? '', 'base64url').length, alg === 'RS256' ? 256 : 64);
          const { payload, protectedHeader } = await verify(keys, token, alg);
          assert.equal(protectedHeader.kid, key.kid);
          assert.deepEqual(payload, claims('n-1'));
          // A changed payload does not verify with the signature.
          const forged = `${parts[0]}.${Buffer.from(JSON.stringify({ ...claims('n-1'), sub: 'someone-else' })).toString('base64url')}.${parts[2]}`;
          await assert.rejects(verify(keys, forged, alg));
        });
      });
    }

    test('a burst of both algorithms at once: every token verifies and carries its own claims; after a rotation the new key signs', async () => {
      await withStore(kind, async (t) => {
        const keys = await keysOf(t);
        const burst = async () => Promise.all(Array.from({ length: 48 }, async (_, i) => {
          const alg = SIGNING_ALGS[i % 2]!;
          const key = await keys.signingKey(alg);
          const token = await signJws(claims(`n-${i}`), key);
          const { payload, protectedHeader } = await verify(keys, token, alg);
          assert.equal(payload.nonce, `n-${i}`);
          return { alg, kid: protectedHeader.kid };
        }));
        const before = await burst();
        const rotated = await keys.rotateAll(SIGNING_ALGS, 0);
        const after = await burst();
        for (const r of rotated) {
          assert.ok(before.filter((b) => b.alg === r.alg).every((b) => r.retired.includes(b.kid ?? '')), `${r.alg}: the old key signed before`);
          assert.ok(after.filter((a) => a.alg === r.alg).every((a) => a.kid === r.kid), `${r.alg}: the new key signs after the rotation`);
        }
      });
    });

    test('verifyIdTokenHint: our ID token is a hint; the same claims under typ at+jwt (a JWT access token), or any other typ, are not', async () => {
      await withStore(kind, async (t) => {
        const keys = await keysOf(t);
        const deps = { keys, issuer: ISSUER };
        for (const alg of SIGNING_ALGS) {
          const key = await keys.signingKey(alg);
          assert.deepEqual(await verifyIdTokenHint(deps, await signJws(claims('n'), key)), { sub: 'usr_0123456789abcdef', aud: 'client-0123', sid: null });
          for (const typ of ['at+jwt', 'JWT+x', 'dpop+jwt']) {
            const token = await new SignJWT(claims('n')).setProtectedHeader({ alg, kid: key.kid, typ }).sign(key.privateKey);
            assert.equal(await verifyIdTokenHint(deps, token), null, typ);
          }
          const untyped = await new SignJWT(claims('n')).setProtectedHeader({ alg, kid: key.kid }).sign(key.privateKey);
          assert.equal((await verifyIdTokenHint(deps, untyped))?.sub, 'usr_0123456789abcdef');
        }
      });
    });
  });
}
