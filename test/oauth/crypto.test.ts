// Token randomness and hashing: the pooled CSPRNG slices are full-length, never repeat and
// never leave their bytes in the pool; sha256Hex is SHA-256.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { newClientId, newId, newSecret, sha256Hex } from '../../src/oauth/crypto.js';

test('newSecret: 256-bit base64url values, all distinct across many pool refills, bits balanced', () => {
  const seen = new Set<string>();
  let ones = 0;
  for (let i = 0; i < 20_000; i++) {
    const s = newSecret();
    assert.match(s, /^[A-Za-z0-9_-]{43}$/);
    seen.add(s);
    for (const byte of Buffer.from(s, 'base64url')) ones += byte.toString(2).replaceAll('0', '').length;
  }
  assert.equal(seen.size, 20_000);
  // 20,000 × 256 bits: a fair source gives half ones, within a few standard deviations (±0.1%).
  const fraction = ones / (20_000 * 256);
  assert.ok(Math.abs(fraction - 0.5) < 0.001, `fraction of one bits ${fraction}`);
});

test('newId: 128-bit base64url values, distinct, interleaved with newSecret', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5_000; i++) {
    const id = newId();
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    seen.add(id);
    seen.add(newSecret());
  }
  assert.equal(seen.size, 10_000);
});

test('newClientId: never begins with a dash (a command line would read it as a flag), otherwise as newId', () => {
  const seen = new Set<string>();
  const first = new Set<string>();
  // 20,000 draws: a 1-in-64 leading dash would appear about 300 times.
  for (let i = 0; i < 20_000; i++) {
    const id = newClientId();
    assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    seen.add(id);
    first.add(id[0]!);
  }
  assert.equal(seen.size, 20_000);
  assert.equal(first.size, 63, 'every other first character occurs');
});

test('sha256Hex is SHA-256 of the UTF-8 text, hex', () => {
  for (const value of ['', 'abc', 'tëst ✓', 'x'.repeat(5000)]) {
    assert.equal(sha256Hex(value), createHash('sha256').update(value, 'utf8').digest('hex'));
  }
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});
