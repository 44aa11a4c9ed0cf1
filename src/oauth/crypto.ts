// Random values and their hashes. Tokens, codes, session ids and client secrets are 256-bit
// random values, so a fast SHA-256 is the right hash (DESIGN.md "Secrets never rest in clear");
// only its hex digest is ever stored.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new 256-bit random value, base64url (43 characters). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** A shorter random identifier (client ids, JWT ids): 128 bits, base64url. */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    // Still spend a comparison so that length is the only thing timing can tell.
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

/** Checks a presented secret against a stored SHA-256 hex digest, in constant time. */
export function secretMatchesHash(presented: string, storedHash: string): boolean {
  return constantTimeEqual(sha256Hex(presented), storedHash);
}
