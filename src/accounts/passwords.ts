// Passwords: argon2id (RFC 9106), which runs on libuv's thread pool, off the event loop.
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

// OWASP's argon2id minimum (19 MiB, t=2, p=1): strong enough, and fast enough that the
// password grant does not starve the thread pool.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * At most this many argon2 computations at once. Each takes a core for tens of milliseconds
 * and 19 MiB; libuv's pool would run four, and on a small machine that starves the event
 * loop — every other request (token lookups, refreshes) waits behind the hashing. Leaving one
 * core to the event loop keeps /api/user fast while password grants run, and bounds memory.
 */
const MAX_CONCURRENT = Math.max(1, Math.min(4, availableParallelism() - 1));
let running = 0;
const waiting: Array<() => void> = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  else running += 1;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next(); // the slot passes straight to the next caller
    else running -= 1;
  }
}

export function hashPassword(password: string): Promise<string> {
  return limited(() => argon2.hash(password, OPTIONS));
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  try {
    return await limited(() => argon2.verify(hash, password));
  } catch {
    return false;
  }
}

// A hash of a random password, verified against when the e-mail is unknown, so that a login
// for an unknown account takes as long as one for a known account.
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(`dummy-${Math.random()}`);
  return dummyHash;
}
