// Passwords: argon2id (RFC 9106), which runs on libuv's thread pool, off the event loop.
import { availableParallelism } from 'node:os';
import argon2 from 'argon2';

// OWASP's argon2id minimum (19 MiB, t=2, p=1): strong enough, and fast enough that the
// password grant does not starve the thread pool.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/**
 * Whose hashing a computation is, so nobody takes more than a small share of the queue: the
 * account (a normalized e-mail or a user id, as the caller keys it), the client (password
 * grant), the address (sign-up, where there is no account yet).
 */
export interface HashShare {
  account?: string;
  client?: string;
  address?: string;
}

/** Running-or-queued computations each account, client and address may have in this process. */
export const SHARE_LIMITS = { account: 2, client: 4, address: 4 } as const;

/** The hashing was refused: `busy` (429: the caller's share is taken) or `full` (503: the queue is). */
export class HashingRefused extends Error {
  override name = 'HashingRefused';
  constructor(readonly reason: 'busy' | 'full', readonly retryAfter: number) {
    super(reason === 'busy' ? 'too many password checks at once for this account or client' : 'the password queue is full');
  }
}

/**
 * A bounded queue for argon2: at most `concurrency` computations at once, at most
 * `maxWaiting` waiting (beyond: HashingRefused 'full', at once), and at most SHARE_LIMITS
 * running-or-queued per share key (beyond: HashingRefused 'busy', at once). So one session
 * sending forty requests holds two places, and everyone else's sign-in waits behind a short
 * queue, not a long one.
 */
export class HashQueue {
  private running = 0;
  /** Computations started so far (a count for tests and metrics). */
  started = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly held = new Map<string, number>();

  constructor(readonly concurrency: number, readonly maxWaiting: number) {}

  /** Computations running and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(share: HashShare, work: () => Promise<T>): Promise<T> {
    const keys: string[] = [];
    for (const kind of ['account', 'client', 'address'] as const) {
      const id = share[kind];
      if (id === undefined) continue;
      const key = `${kind}:${id}`;
      if ((this.held.get(key) ?? 0) >= SHARE_LIMITS[kind]) throw new HashingRefused('busy', 1);
      keys.push(key);
    }
    const mustWait = this.running >= this.concurrency;
    if (mustWait && this.waiting.length >= this.maxWaiting) throw new HashingRefused('full', 1);
    for (const key of keys) this.held.set(key, (this.held.get(key) ?? 0) + 1);
    try {
      if (mustWait) await new Promise<void>((resolve) => this.waiting.push(resolve));
      else this.running += 1;
      this.started += 1;
      try {
        return await work();
      } finally {
        const next = this.waiting.shift();
        if (next) next(); // the slot passes straight to the next caller
        else this.running -= 1;
      }
    } finally {
      for (const key of keys) {
        const n = (this.held.get(key) ?? 1) - 1;
        if (n <= 0) this.held.delete(key);
        else this.held.set(key, n);
      }
    }
  }
}

/**
 * At most this many argon2 computations at once. Each takes a core for tens of milliseconds
 * and 19 MiB; libuv's pool would run four, and on a small machine that starves the event
 * loop — every other request (token lookups, refreshes) waits behind the hashing. Leaving one
 * core to the event loop keeps /api/user fast while password grants run, and bounds memory.
 * At most eight rounds may wait behind them, so a sign-in never queues for long.
 */
const MAX_CONCURRENT = Math.max(1, Math.min(4, availableParallelism() - 1));
export const passwordHashing = new HashQueue(MAX_CONCURRENT, 8 * MAX_CONCURRENT);

/** Hashes a new password; throws HashingRefused when the queue or the caller's share is full. */
export function hashPassword(password: string, share: HashShare = {}): Promise<string> {
  return passwordHashing.run(share, () => argon2.hash(password, OPTIONS));
}

/** Whether `password` matches; throws HashingRefused when the queue or the caller's share is full. */
export async function verifyPassword(hash: string, password: string, share: HashShare = {}): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  return passwordHashing.run(share, async () => {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  });
}

// A hash of a random password, verified against when the e-mail is unknown, so that a login
// for an unknown account takes as long as one for a known account. Computed once (a refused
// first try is tried again next time).
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(`dummy-${Math.random()}`).catch((err: unknown) => {
    dummyHash = undefined;
    throw err;
  });
  return dummyHash;
}
