// Random values and their hashes. Tokens, codes, session ids and client secrets are 256-bit
// random values, so a fast SHA-256 is the right hash (DESIGN.md "Secrets never rest in clear");
// only its hex digest is ever stored (for tokens and codes, behind their non-secret time prefix).
import { hash, randomFillSync, timingSafeEqual } from 'node:crypto';

// Random bytes are drawn from the CSPRNG 4 KB at a time and handed out in slices, each slice
// zeroed once encoded: one randomFillSync call per 128 tokens instead of one per token (a
// refresh makes two; see docs/PERFORMANCE.md, csprng-pool). The bytes are the same CSPRNG
// output either way.
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
 * Tokens and codes begin with the time they were made, so that the keys they are stored under
 * sort in the order they were made. A random key lands on a random page of its index: on
 * SQLite every new token then reads a page and dirties one of its own for the commit to write
 * (see docs/PERFORMANCE.md, time-ordered-keys), and the index's working set is the whole
 * index. Time-ordered keys go to the index's right-hand edge, one hot page shared by every
 * token of a commit; PostgreSQL's B-trees gain the same way. The prefix is 9 base36 digits of
 * the wall-clock millisecond (zero-padded; 9 digits last until the year 5188), never earlier
 * than the last one handed out; it is not secret and carries no meaning.
 */
const TIME_PREFIX_LENGTH = 9;
let lastPrefixMs = 0;
let lastPrefix = '';

/** The time prefix of a token made at epoch millisecond `ms`. */
export function timePrefixAt(ms: number): string {
  return Math.floor(ms).toString(36).padStart(TIME_PREFIX_LENGTH, '0');
}

function timePrefix(): string {
  const ms = Math.max(Date.now(), lastPrefixMs);
  if (ms !== lastPrefixMs) {
    lastPrefixMs = ms;
    lastPrefix = timePrefixAt(ms);
  }
  return lastPrefix;
}

/** A token or code: the time prefix, then 256 random bits (52 characters, base64url alphabet). */
export function newOrderedSecret(): string {
  return timePrefix() + newSecret();
}

/** A JWT id: the time prefix, then 128 random bits (31 characters). */
export function newOrderedId(): string {
  return timePrefix() + newId();
}

const ORDERED_SECRET = /^[0-9a-z]{9}[A-Za-z0-9_-]{43}$/;
const ORDERED_SECRET_LENGTH = TIME_PREFIX_LENGTH + 43;

/**
 * The key a token or code is stored and found under: for newOrderedSecret's values, its time
 * prefix and the SHA-256 hex of the whole value (73 characters); for anything else (tokens
 * issued before the prefix, JWTs, whatever a client sends), the SHA-256 hex alone (64). Only a
 * digest of the secret part is ever stored, and a key cannot be turned back into its token.
 */
export function tokenKey(value: string): string {
  if (value.length === ORDERED_SECRET_LENGTH && ORDERED_SECRET.test(value)) {
    return value.slice(0, TIME_PREFIX_LENGTH) + sha256Hex(value);
  }
  return sha256Hex(value);
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

/**
 * SHA-256 of the UTF-8 text, hex (crypto.hash: one call, no Hash object; see
 * docs/PERFORMANCE.md, sha256-one-call).
 */
export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
}

/** SHA-256 of a UTF-8 string as base64url (43 characters): public ids derived one-way from secrets. */
export function sha256Base64url(value: string): string {
  return hash('sha256', value, 'base64url');
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
