// Token randomness and hashing: the pooled CSPRNG slices are full-length, never repeat and
// never leave their bytes in the pool; sha256Hex is SHA-256; tokens sort by when they were made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { newClientId, newId, newOrderedId, newOrderedSecret, newSecret, sha256Hex, timePrefixAt, tokenKey } from '../../src/oauth/crypto.js';

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

test('newOrderedSecret: 9 base36 digits of the millisecond, then 256 random bits; later values never sort earlier', () => {
  const before = Date.now();
  const values = Array.from({ length: 5_000 }, () => newOrderedSecret());
  const after = Date.now();
  assert.equal(new Set(values).size, values.length);
  let lastPrefix = '';
  for (const value of values) {
    assert.match(value, /^[0-9a-z]{9}[A-Za-z0-9_-]{43}$/);
    const prefix = value.slice(0, 9);
    const ms = parseInt(prefix, 36);
    assert.ok(ms >= before && ms <= after, `prefix ${prefix} is the time it was made`);
    assert.ok(prefix >= lastPrefix, 'prefixes never go back');
    lastPrefix = prefix;
  }
  // Their keys sort the same way (the point of the prefix: appends to the index's right edge).
  const keys = values.map(tokenKey);
  for (let i = 1; i < keys.length; i++) assert.ok(keys[i]!.slice(0, 9) >= keys[i - 1]!.slice(0, 9));
});

test('timePrefixAt: 9 base36 digits, zero-padded, ordered as the milliseconds are', () => {
  assert.equal(timePrefixAt(0), '000000000');
  assert.equal(timePrefixAt(Date.UTC(2026, 10, 23)), Date.UTC(2026, 10, 23).toString(36).padStart(9, '0'));
  assert.equal(timePrefixAt(36 ** 9 - 1), 'zzzzzzzzz');
  assert.ok(timePrefixAt(35) < timePrefixAt(36) && timePrefixAt(1e12) < timePrefixAt(2e12));
});

test('newOrderedId: the time prefix, then 128 random bits', () => {
  const ids = Array.from({ length: 2_000 }, () => newOrderedId());
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^[0-9a-z]{9}[A-Za-z0-9_-]{22}$/);
});

test('tokenKey: time prefix + SHA-256 of the whole value for ordered tokens; SHA-256 alone for anything else', () => {
  const token = newOrderedSecret();
  assert.equal(tokenKey(token), token.slice(0, 9) + sha256Hex(token));
  assert.equal(tokenKey(token).length, 73);
  assert.ok(!tokenKey(token).includes(token.slice(9)), 'the secret part is never in the key');
  // Tokens issued before the prefix (43 characters), JWTs and arbitrary input: SHA-256 hex.
  const legacy = newSecret();
  assert.equal(tokenKey(legacy), sha256Hex(legacy));
  for (const other of ['', 'abc', 'eyJhbGciOiJFUzI1NiJ9.e30.sig', 'X'.repeat(9) + newSecret(), token + 'x', token.slice(1), '0'.repeat(9) + ' '.repeat(43)]) {
    assert.equal(tokenKey(other), sha256Hex(other), JSON.stringify(other));
  }
  // A 64-character digest and a 73-character key can never be equal, so old and new never collide.
  assert.notEqual(tokenKey(legacy).length, tokenKey(token).length);
});
