// The second-factor rules without HTTP (accounts/factors.ts): the TOTP secret sealed under the
// encryption key and bound to its account, the RFC 6238 step a code belongs to, recovery codes
// as typed, and the RFC 8176 `amr` of each kind of login.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import {
  combineAmr, matchingStep, newTotpSecret, normalizeRecoveryCode, normalizeTotpCode, openTotpSecret, sealTotpSecret,
} from '../../src/accounts/factors.js';

test('a TOTP secret is sealed (AES-256-GCM), opens only with its key and only for its account', () => {
  const key = randomBytes(32);
  const secret = newTotpSecret();
  assert.match(secret, /^[A-Z2-7]{32}$/);
  const sealed = sealTotpSecret(secret, 7, key);
  assert.match(sealed, /^enc:/);
  assert.ok(!sealed.includes(secret));
  assert.equal(openTotpSecret(sealed, 7, key), secret);
  // Copied onto another account's row, or opened with another key: refused.
  assert.throws(() => openTotpSecret(sealed, 8, key));
  assert.throws(() => openTotpSecret(sealed, 7, randomBytes(32)));
  assert.throws(() => openTotpSecret(sealed, 7, null));
  // Tampered ciphertext: refused (GCM's tag).
  const parts = sealed.split('.');
  const flipped = `${parts[0]}.${(parts[1] ?? '').replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}.${parts[2]}`;
  assert.throws(() => openTotpSecret(flipped, 7, key));
});

test('a code matches its own 30-second step and one either side, no further (RFC 6238 test vector key)', () => {
  // RFC 6238 appendix B, SHA-1: the key "12345678901234567890"; at T = 59 s the code is 94287082 (8 digits).
  const secret = new Secret({ buffer: new TextEncoder().encode('12345678901234567890').buffer }).base32;
  const eight = new TOTP({ secret: Secret.fromBase32(secret), digits: 8, period: 30 });
  assert.equal(eight.generate({ timestamp: 59_000 }), '94287082');
  const six = (ms: number) => new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30 }).generate({ timestamp: ms });
  const now = 1_111_111_109_000; // step 37037036
  assert.equal(six(1_111_111_109_000), '081804'); // the vector's last six digits
  assert.equal(matchingStep(secret, six(now), now), 37_037_036);
  assert.equal(matchingStep(secret, six(now - 30_000), now), 37_037_035);
  assert.equal(matchingStep(secret, six(now + 30_000), now), 37_037_037);
  assert.equal(matchingStep(secret, six(now - 60_000), now), null);
  assert.equal(matchingStep(secret, six(now + 60_000), now), null);
});

test('codes as people type them', () => {
  assert.equal(normalizeTotpCode(' 123 456 '), '123456');
  assert.equal(normalizeTotpCode('123-456'), '123456');
  for (const bad of ['', '12345', '1234567', 'abcdef', '١٢٣٤٥٦', '12345\u0000']) assert.equal(normalizeTotpCode(bad), null);
  assert.equal(normalizeRecoveryCode('ABCD-EFGH-JKMN-PQRS'), 'abcdefghjkmnpqrs');
  assert.equal(normalizeRecoveryCode(' abcd efgh jkmn pqrs '), 'abcdefghjkmnpqrs');
  for (const bad of ['', 'abcd-efgh-jkmn', 'abcd-efgh-jkmn-pqrsx', 'iiii-llll-oooo-uuuu', 'abcd\u0000efgh-jkmn-pqrs']) assert.equal(normalizeRecoveryCode(bad), null);
});

test('amr: RFC 8176 methods of each kind of login', () => {
  assert.deepEqual(combineAmr(['pwd'], null), ['pwd']);
  assert.deepEqual(combineAmr(['pwd'], 'otp'), ['pwd', 'otp', 'mfa']);
  assert.deepEqual(combineAmr(['pwd'], 'recovery'), ['pwd', 'otp', 'mfa']);
  assert.deepEqual(combineAmr(['pwd'], 'hwk'), ['pwd', 'hwk', 'mfa']);
  assert.deepEqual(combineAmr(['swk'], null, true), ['swk', 'mfa']);
  assert.deepEqual(combineAmr(['hwk'], null, false), ['hwk']);
});
