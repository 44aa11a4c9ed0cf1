// PKCE, RFC 7636. The authorization endpoint stores code_challenge (S256 only: SPEC.md refuses
// `plain`, as RFC 9700 §2.1.1 recommends); the token endpoint checks code_verifier against it.
import { createHash } from 'node:crypto';
import { constantTimeEqual } from './crypto.js';

/** RFC 7636 §4.1: code-verifier = 43*128unreserved; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)) without padding: always
 * 43 characters of the base64url alphabet.
 */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export const SUPPORTED_CHALLENGE_METHODS = ['S256'] as const;

export function isValidCodeVerifier(verifier: string): boolean {
  return VERIFIER.test(verifier);
}

/** For the authorization endpoint: a well-formed S256 challenge. */
export function isValidS256Challenge(challenge: string): boolean {
  return S256_CHALLENGE.test(challenge);
}

/** RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/**
 * RFC 7636 §4.6: true when the verifier is well-formed and transforms to the stored
 * challenge. `plain` is checked too should such a row ever exist (the authorization endpoint
 * refuses to store one); any other method never verifies. Compared in constant time.
 */
export function verifyCodeVerifier(verifier: string, challenge: string, method: string | null): boolean {
  if (!isValidCodeVerifier(verifier)) return false;
  // RFC 7636 §4.3: a missing method means plain.
  const m = method ?? 'plain';
  if (m === 'S256') return constantTimeEqual(s256Challenge(verifier), challenge);
  if (m === 'plain') return constantTimeEqual(verifier, challenge);
  return false;
}
