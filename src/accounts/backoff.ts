// Brute-force limits for the password (login page and password grant) and for client
// authentication (token, revocation and introspection endpoints).
//
// Every failure is counted per subject: the account (normalized e-mail), the client address,
// and the client_id. Past a threshold each further failure makes the subject wait, doubling
// from a base up to a cap (exponential backoff); a right password clears the account's count.
// An attacker must not be able to lock a real user out for long, so:
//   - per-account waits are short and capped (5 minutes), and forgotten an hour after the
//     last failure;
//   - an address that has signed in to an account (or authenticated as a client) before is
//     "known good" for that subject for 30 days and is not held back by the subject's lock,
//     only by its own address limit — so a user at their usual address is never locked out by
//     someone guessing from elsewhere;
//   - per-address waits hit the guesser harder (cap 15 minutes), and a success from an address
//     does not clear its count (otherwise an attacker with an account of their own could clear it).
//
// Counters live in Redis when REDIS_URL is set (every process shares them), else in process
// memory, bounded by an LRU. Framework-free: the HTTP layer passes the address in.
import { hash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { Clock } from '../oauth/clock.js';
import { OAuthError } from '../oauth/errors.js';
import { normalizeEmail } from '../store/users.js';

export interface BackoffPolicy {
  /** Failures before the first wait. */
  threshold: number;
  /** Seconds of the first wait; each further failure doubles it. */
  baseSeconds: number;
  /** The longest wait. */
  maxSeconds: number;
  /** The count is forgotten this long after the last failure. */
  forgetAfterSeconds: number;
}

/** A person's account: short waits, so a guesser elsewhere cannot lock its owner out for long. */
export const ACCOUNT_POLICY: BackoffPolicy = { threshold: 5, baseSeconds: 1, maxSeconds: 300, forgetAfterSeconds: 3600 };
/** A client address: harder, since that is where the guessing comes from. A NAT shares it, so the threshold is higher. */
export const ADDRESS_POLICY: BackoffPolicy = { threshold: 10, baseSeconds: 2, maxSeconds: 900, forgetAfterSeconds: 3600 };
/** A client_id: secrets are 256-bit random, so this damps hammering rather than guessing. */
export const CLIENT_POLICY: BackoffPolicy = { threshold: 10, baseSeconds: 1, maxSeconds: 300, forgetAfterSeconds: 3600 };
/** How long a successful address stays "known good" for an account or client. */
export const KNOWN_GOOD_SECONDS = 30 * 86_400;

/** Seconds to wait after the `failures`-th failure under `policy` (0 below the threshold). */
export function backoffSeconds(policy: BackoffPolicy, failures: number): number {
  if (failures < policy.threshold) return 0;
  const exponent = Math.min(failures - policy.threshold, 40);
  return Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** exponent);
}

export interface FailureState {
  failures: number;
  /** Epoch ms until which the subject waits (0: no wait). */
  blockedUntilMs: number;
}

/** Where the counts live: process memory or Redis. Each operation is atomic per key. */
export interface FailureCounters {
  /** Adds one failure under `key` and returns the new state. */
  fail(key: string, policy: BackoffPolicy, nowMs: number): Promise<FailureState>;
  /** The states of `keys` (undefined: nothing recorded or forgotten). */
  get(keys: readonly string[], nowMs: number): Promise<Array<FailureState | undefined>>;
  clear(keys: readonly string[]): Promise<void>;
  /** Records a "known good" marker (its state is zero failures) for `ttlSeconds`. */
  mark(key: string, ttlSeconds: number, nowMs: number): Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  failures: number;
  blockedUntilMs: number;
  expiresAtMs: number;
}

/**
 * Per-process counters, bounded: a Map kept in least-recently-used order, trimmed to
 * `maxEntries`, and entries past their expiry are dropped when met and by a periodic sweep.
 */
export class MemoryCounters implements FailureCounters {
  private readonly entries = new Map<string, Entry>();
  private lastSweepMs = 0;

  constructor(private readonly maxEntries = 100_000, private readonly sweepEveryMs = 60_000) {}

  get size(): number {
    return this.entries.size;
  }

  private live(key: string, nowMs: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private put(key: string, entry: Entry, nowMs: number): void {
    this.entries.delete(key); // re-insert: most recently used last
    this.entries.set(key, entry);
    if (nowMs - this.lastSweepMs >= this.sweepEveryMs) {
      this.lastSweepMs = nowMs;
      for (const [k, e] of this.entries) if (e.expiresAtMs <= nowMs) this.entries.delete(k);
    }
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  async fail(key: string, policy: BackoffPolicy, nowMs: number): Promise<FailureState> {
    const failures = (this.live(key, nowMs)?.failures ?? 0) + 1;
    const wait = backoffSeconds(policy, failures);
    const blockedUntilMs = wait > 0 ? nowMs + wait * 1000 : 0;
    this.put(key, { failures, blockedUntilMs, expiresAtMs: nowMs + Math.max(policy.forgetAfterSeconds, wait) * 1000 }, nowMs);
    return { failures, blockedUntilMs };
  }

  async get(keys: readonly string[], nowMs: number): Promise<Array<FailureState | undefined>> {
    return keys.map((k) => {
      const e = this.live(k, nowMs);
      return e && { failures: e.failures, blockedUntilMs: e.blockedUntilMs };
    });
  }

  async clear(keys: readonly string[]): Promise<void> {
    for (const k of keys) this.entries.delete(k);
  }

  async mark(key: string, ttlSeconds: number, nowMs: number): Promise<void> {
    this.put(key, { failures: 0, blockedUntilMs: 0, expiresAtMs: nowMs + ttlSeconds * 1000 }, nowMs);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

// One failure, atomically: read "failures:blockedUntilMs", add one, compute the wait, write
// back with the forget-after expiry. Times come from the caller (the server's clock).
const FAIL_SCRIPT = `
local v = redis.call('GET', KEYS[1])
local n = 1
if v then n = (tonumber(string.match(v, '^(%d+)')) or 0) + 1 end
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local base = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local forget = tonumber(ARGV[5])
local wait = 0
if n >= threshold then wait = math.min(cap, base * 2 ^ math.min(n - threshold, 40)) end
local untilMs = 0
if wait > 0 then untilMs = now + wait * 1000 end
redis.call('SET', KEYS[1], string.format('%d:%.0f', n, untilMs), 'PX', string.format('%.0f', math.max(forget, wait) * 1000))
return {n, string.format('%.0f', untilMs)}
`;

function parseState(value: string | null): FailureState | undefined {
  if (value === null) return undefined;
  const [n, until] = value.split(':');
  return { failures: Number(n) || 0, blockedUntilMs: Number(until) || 0 };
}

/** Counters shared by every process through Redis; keys carry `prefix`. */
export class RedisCounters implements FailureCounters {
  constructor(readonly redis: Redis, private readonly prefix: string) {}

  async fail(key: string, policy: BackoffPolicy, nowMs: number): Promise<FailureState> {
    const result = (await this.redis.eval(
      FAIL_SCRIPT, 1, this.prefix + key, nowMs, policy.threshold, policy.baseSeconds, policy.maxSeconds, policy.forgetAfterSeconds,
    )) as [number, string];
    return { failures: Number(result[0]), blockedUntilMs: Number(result[1]) };
  }

  async get(keys: readonly string[]): Promise<Array<FailureState | undefined>> {
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys.map((k) => this.prefix + k));
    return values.map(parseState);
  }

  async clear(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.redis.del(...keys.map((k) => this.prefix + k));
  }

  async mark(key: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.prefix + key, '0:0', 'EX', ttlSeconds);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** Why a request is held back, and for how long. */
export interface Lockout {
  subject: 'account' | 'address' | 'client';
  /** Whole seconds to wait (Retry-After). */
  retryAfter: number;
}

/** 429 with Retry-After as an OAuth error: `slow_down` (RFC 8628 §3.5) is the one RFC code for it. */
export function tooManyRequests(retryAfter: number, message = `Too many requests. Try again in ${Math.max(1, Math.ceil(retryAfter))} seconds.`): OAuthError {
  return new OAuthError('slow_down', message, { status: 429, retryAfter: Math.max(1, Math.ceil(retryAfter)) });
}

export function lockoutError(lockout: Lockout): OAuthError {
  return tooManyRequests(lockout.retryAfter, lockoutMessage(lockout));
}

export function lockoutMessage(lockout: Lockout): string {
  const wait = lockout.retryAfter === 1 ? '1 second' : lockout.retryAfter < 120 ? `${lockout.retryAfter} seconds` : `${Math.ceil(lockout.retryAfter / 60)} minutes`;
  const what = lockout.subject === 'client' ? 'failed client authentications' : 'failed sign-in attempts';
  return `Too many ${what}. Try again in ${wait}.`;
}

// Keys hold a digest of the e-mail, never the address itself (no personal data in Redis).
function digest(value: string): string {
  return hash('sha256', value, 'base64url').slice(0, 22);
}

const accountKey = (email: string) => `bf:acct:${digest(normalizeEmail(email))}`;
const addressKey = (address: string) => `bf:addr:${address}`;
/** Client ids of the form Latchkey issues (22 base64url characters), with room to spare. */
const PLAIN_CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
// A client id is no personal data, so an ordinary one is its own key (every token request
// builds this key twice; a digest was 3% of an introspection's CPU); one that is long or holds
// other characters (the id inside Basic is not bounded) is digested. The two never collide:
// "id:" and "h:" set them apart.
const clientKey = (clientId: string) => (PLAIN_CLIENT_ID.test(clientId) ? `bf:client:id:${clientId}` : `bf:client:h:${digest(clientId)}`);
// Before 2026-11-23 every client key was the digest. Known-good marks written then (they last
// KNOWN_GOOD_SECONDS, 30 days, in Redis) are still honoured, so that an upgrade does not take
// a client's known-good addresses away while someone is guessing its secret; failure counts
// under the old key are not carried over (they fade within the hour anyway). Remove after
// 2026-12-23.
const legacyClientKey = (clientId: string) => `bf:client:${digest(clientId)}`;
const goodKey = (subjectKey: string, address: string) => `${subjectKey}:ok:${address}`;

/**
 * The brute-force guard: `check…` before verifying a secret, `…Failed` / `…Succeeded` after.
 * A check returns the lockout in force (the caller answers 429 with Retry-After) or null.
 */
export class BruteForceGuard {
  /** Known-good (client, address) pairs seen in this process, with when the memory lapses (ms). */
  private readonly recentlyGood = new Map<string, number>();

  constructor(
    readonly counters: FailureCounters,
    private readonly clock: Clock,
    private readonly policies = { account: ACCOUNT_POLICY, address: ADDRESS_POLICY, client: CLIENT_POLICY },
    /** Called when the counters cannot be reached; the guard then lets requests through (fails open). */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  private lastErrorMs = 0;

  private async safe<T>(fallback: T, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      // Reported at most once a minute: an unreachable Redis must not flood the log.
      const now = Date.now();
      if (now - this.lastErrorMs >= 60_000) {
        this.lastErrorMs = now;
        this.onError(err);
      }
      return fallback;
    }
  }

  private lockout(subject: Lockout['subject'], state: FailureState | undefined, nowMs: number): Lockout | null {
    if (!state || state.blockedUntilMs <= nowMs) return null;
    return { subject, retryAfter: Math.max(1, Math.ceil((state.blockedUntilMs - nowMs) / 1000)) };
  }

  /** Whether a password check for `email` from `address` must wait. */
  async checkPassword(email: string, address: string): Promise<Lockout | null> {
    return this.safe(null, async () => {
      const now = this.clock.nowMs();
      const account = accountKey(email);
      const [byAddress, byAccount, known] = await this.counters.get([addressKey(address), account, goodKey(account, address)], now);
      return this.lockout('address', byAddress, now) ?? (known ? null : this.lockout('account', byAccount, now));
    });
  }

  /** Counts a wrong password; returns the lockout it starts (if any), so the answer can say so at once. */
  async passwordFailed(email: string, address: string): Promise<Lockout | null> {
    return this.safe(null, async () => {
      const now = this.clock.nowMs();
      const [byAddress, byAccount] = await Promise.all([
        this.counters.fail(addressKey(address), this.policies.address, now),
        this.counters.fail(accountKey(email), this.policies.account, now),
      ]);
      return this.lockout('address', byAddress, now) ?? this.lockout('account', byAccount, now);
    });
  }

  /** A right password: the account's count is cleared and the address becomes known good for it. */
  async passwordSucceeded(email: string, address: string): Promise<void> {
    return this.safe(undefined, async () => {
      const now = this.clock.nowMs();
      const account = accountKey(email);
      await Promise.all([this.counters.clear([account]), this.counters.mark(goodKey(account, address), KNOWN_GOOD_SECONDS, now)]);
    });
  }

  /** Whether client authentication as `clientId` from `address` must wait. */
  async checkClient(clientId: string, address: string): Promise<Lockout | null> {
    return this.safe(null, async () => {
      const now = this.clock.nowMs();
      const client = clientKey(clientId);
      const good = goodKey(client, address);
      // The token endpoint's hot path: a client seen succeeding from this address within the
      // last minute is known good, so no counter is read at all.
      if ((this.recentlyGood.get(good) ?? 0) > now) return null;
      const [byClient, known, knownBefore] = await this.counters.get([client, good, goodKey(legacyClientKey(clientId), address)], now);
      return known || knownBefore ? null : this.lockout('client', byClient, now);
    });
  }

  async clientFailed(clientId: string): Promise<Lockout | null> {
    return this.safe(null, async () => {
      const now = this.clock.nowMs();
      return this.lockout('client', await this.counters.fail(clientKey(clientId), this.policies.client, now), now);
    });
  }

  /**
   * The address becomes known good for the client. The client's count is not cleared: a
   * legitimate client succeeding all the time would otherwise reset a guesser's progress; it
   * fades an hour after the last failure.
   */
  async clientSucceeded(clientId: string, address: string): Promise<void> {
    return this.safe(undefined, async () => {
      const now = this.clock.nowMs();
      const good = goodKey(clientKey(clientId), address);
      if ((this.recentlyGood.get(good) ?? 0) > now) return;
      await this.counters.mark(good, KNOWN_GOOD_SECONDS, now);
      this.recentlyGood.delete(good);
      this.recentlyGood.set(good, now + 60_000);
      if (this.recentlyGood.size > 10_000) {
        const oldest = this.recentlyGood.keys().next();
        if (!oldest.done) this.recentlyGood.delete(oldest.value);
      }
    });
  }

  close(): Promise<void> {
    return this.counters.close();
  }
}

/**
 * A Redis connection for the shared counters: connects on first use (so admin commands that
 * never count anything never connect) and gives up on a command quickly, so an unreachable
 * Redis slows no request by more than a moment (the guard then fails open and logs).
 */
export function openRedis(url: string): Redis {
  // ioredis is loaded only when REDIS_URL is set: without it the module would cost a server
  // about 20 MB of memory for nothing.
  const { Redis: IORedis } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const redis = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 1000, enableAutoPipelining: true });
  // Connection trouble surfaces as failed commands, which the guard and the rate limiter
  // handle; without a listener ioredis would print every reconnect attempt.
  redis.on('error', () => undefined);
  return redis;
}

/** The guard for one server: Redis counters when `redisUrl` is set, else per-process memory. */
export function createBruteForceGuard(
  settings: { redisUrl: string | null; redisPrefix: string },
  clock: Clock,
  onError?: (err: unknown) => void,
): BruteForceGuard {
  const counters = settings.redisUrl ? new RedisCounters(openRedis(settings.redisUrl), settings.redisPrefix) : new MemoryCounters();
  return new BruteForceGuard(counters, clock, undefined, onError);
}
