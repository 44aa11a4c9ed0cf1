import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidCodeVerifier, isValidS256Challenge, s256Challenge, verifyCodeVerifier } from '../../src/oauth/pkce.js';

// RFC 7636 Appendix B: the example verifier and its S256 challenge.
const RFC_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const RFC_CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

test('S256 of the RFC 7636 Appendix B verifier is its published challenge', () => {
  assert.equal(s256Challenge(RFC_VERIFIER), RFC_CHALLENGE);
  assert.ok(isValidS256Challenge(RFC_CHALLENGE));
  assert.ok(verifyCodeVerifier(RFC_VERIFIER, RFC_CHALLENGE, 'S256'));
});

test('a different verifier does not verify', () => {
  const other = `${RFC_VERIFIER.slice(0, -1)}Y`;
  assert.equal(verifyCodeVerifier(other, RFC_CHALLENGE, 'S256'), false);
});

test('verifier syntax: 43 to 128 unreserved characters (RFC 7636 §4.1)', () => {
  assert.ok(isValidCodeVerifier('a'.repeat(43)));
  assert.ok(isValidCodeVerifier('A-._~'.repeat(25) + 'abc'));
  assert.equal(isValidCodeVerifier('a'.repeat(42)), false);
  assert.equal(isValidCodeVerifier('a'.repeat(129)), false);
  assert.equal(isValidCodeVerifier(`${'a'.repeat(42)}+`), false);
  assert.equal(isValidCodeVerifier(`${'a'.repeat(42)} `), false);
  // A malformed verifier never verifies, even against its own transform.
  const short = 'a'.repeat(10);
  assert.equal(verifyCodeVerifier(short, s256Challenge(short), 'S256'), false);
});

test('plain compares verbatim; unknown methods never verify', () => {
  const v = 'b'.repeat(50);
  assert.ok(verifyCodeVerifier(v, v, 'plain'));
  assert.ok(verifyCodeVerifier(v, v, null));
  assert.equal(verifyCodeVerifier(v, v, 'S512'), false);
  assert.equal(verifyCodeVerifier(v, s256Challenge(v), 'plain'), false);
});

test('challenge syntax', () => {
  assert.equal(isValidS256Challenge(`${RFC_CHALLENGE}=`), false);
  assert.equal(isValidS256Challenge(RFC_CHALLENGE.slice(1)), false);
  assert.equal(isValidS256Challenge(RFC_CHALLENGE.replace('-', '+')), false);
});
