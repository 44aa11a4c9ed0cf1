// Random values and their hashes. Tokens, codes, session ids and client secrets are 256-bit
// random values, so a fast SHA-256 is the right hash (DESIGN.md "Secrets never rest in clear");
// only its hex digest is ever stored.
import { hash, randomFillSync, timingSafeEqual } from 'node:crypto';

// Random bytes are drawn from the CSPRNG 4 KB at a time and handed out in slices, each slice
// zeroed once encoded: one randomFillSync call per 128 tokens instead of one per token
// (2.7 → 0.2 µs a token; a refresh makes two). The bytes are the same CSPRNG output either way.
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

function randomBase64url(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const start = poolOffset;
  poolOffset += bytes;
  const text = pool.toString('base64url', start, poolOffset);
  pool.fill(0, start, poolOffset);
  return text;
}

/** A new 256-bit random value, base64url (43 characters). */
export function newSecret(): string {
  return randomBase64url(32);
}

/** A shorter random identifier (client ids, JWT ids): 128 bits, base64url. */
export function newId(): string {
  return randomBase64url(16);
}

/**
 * A client id: newId() drawn again while it begins with a dash, which command lines read as a
 * flag (`--client-id -x…`, `curl -u -x…:secret`). Still uniform over the remaining ids (127.98 bits).
 */
export function newClientId(): string {
  for (;;) {
    const id = newId();
    if (!id.startsWith('-')) return id;
  }
}

/** SHA-256 of the UTF-8 text, hex (crypto.hash: one call, no Hash object; 1.0 → 0.4 µs). */
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
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
