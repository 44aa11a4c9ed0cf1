// PKCE values for tests (RFC 7636).
import { randomBytes } from 'node:crypto';
import { s256Challenge } from '../../src/oauth/pkce.js';

/** A PKCE verifier: 43 characters of base64url (RFC 7636 §4.1). */
export function newVerifier(): string {
  return randomBytes(32).toString('base64url');
}

/** A PKCE verifier and its S256 challenge (RFC 7636 §4.1, §4.2). */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = newVerifier();
  return { verifier, challenge: s256Challenge(verifier) };
}
