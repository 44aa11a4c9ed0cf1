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
//     does not clear its count (otherwise an attacker with an account of their own could clear it);
//   - a known-good (account, address) pair is held back by neither the account's nor the
//     address's lock (a NAT must not lock a whole office out), only by a count of its own.
//
// A password attempt is ONE atomic step before verification (reservePassword): the locks are
// checked, the attempt is counted as a failure in advance, and it joins the attempts in flight
// for its account and address, which are bounded. After verification the ticket is settled:
// a right password refunds its pre-counted failure, clears the account's count and marks the
// address known good; a wrong one keeps the count. Guesses sent at once are therefore counted
// before any is verified, and at most the threshold of them are ever verified.
//
// Counters live in Redis when REDIS_URL is set (every process shares them), else in process
// memory (with `serve --workers N`, the primary's: cluster/shared-counters.ts), bounded (a
// BoundedMap, least recently written forgotten first). Framework-free: the HTTP layer passes
// the address in.
import { hash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { BoundedMap } from '../bounded-map.js';
import { addressKey } from './address-key.js';
import type { Clock } from '../oauth/clock.js';
import type { Lockout } from '../oauth/lockout.js';
import { normalizeEmail } from '../oauth/model.js';

export type { Lockout } from '../oauth/lockout.js';

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
/** Password changes an account may attempt before it waits (a minute, doubling). */
export const PASSWORD_CHANGE_POLICY: BackoffPolicy = { threshold: 10, baseSeconds: 60, maxSeconds: 3600, forgetAfterSeconds: 3600 };
/** Password attempts verified at once, at most, per account and per address (beyond: 429). */
export const ACCOUNT_FLIGHT_LIMIT = 2;
export const ADDRESS_FLIGHT_LIMIT = 3;
/** An attempt stops counting as in flight after this long, even if its process died mid-way. */
export const FLIGHT_LEASE_MS = 30_000;

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
  /** Records a "known good" marker (its state is zero failures) for `ttlSeconds`. */
  mark(key: string, ttlSeconds: number, nowMs: number): Promise<void>;
  /**
   * "May I try" and "count this try" in one atomic step: refused (nothing counted) while the
   * subject waits, else one failure is counted and the state after it returned.
   */
  attempt(key: string, policy: BackoffPolicy, nowMs: number): Promise<{ allowed: boolean; state: FailureState }>;
  /** A password attempt's reservation, atomically (see PasswordKeys, ReservationSpec). */
  reserve(keys: PasswordKeys, spec: ReservationSpec, nowMs: number): Promise<ReservationResult>;
  /** Settles a granted reservation: releases its flights and refunds what `outcome` says. */
  settle(keys: PasswordKeys, spec: SettleSpec, nowMs: number): Promise<void>;
  close(): Promise<void>;
}

/** The keys one password attempt touches. */
export interface PasswordKeys {
  /** The address's failure count. */
  address: string;
  /** The account's failure count. */
  account: string;
  /** The known-good marker of (account, address); it counts that pair's own failures. */
  pair: string;
  /** Attempts in flight for the account, and for the address. */
  accountFlights: string;
  addressFlights: string;
}

export interface ReservationSpec {
  ticket: string;
  /** How long an attempt counts as in flight at most (a process that dies leaks nothing longer). */
  leaseMs: number;
  accountFlightLimit: number;
  addressFlightLimit: number;
  policies: { address: BackoffPolicy; account: BackoffPolicy; pair: BackoffPolicy };
}

export type ReservationRefusal = 'address' | 'account' | 'pair' | 'account_in_flight' | 'address_in_flight';

/** A state after this attempt was counted, with the wait in force before it (for a refund). */
export interface CountedState extends FailureState {
  previousBlockedUntilMs: number;
}

export type ReservationResult =
  | { granted: false; refusal: ReservationRefusal; retryAfterMs: number }
  /** The states after this attempt was counted (`pair` only when the pair is known good). */
  | { granted: true; knownGood: boolean; address: CountedState; account: CountedState; pair: CountedState | null };

export interface SettleSpec {
  ticket: string;
  /** succeeded: refund the address, clear the account, mark the pair; failed: keep the counts; cancelled (not verified): refund all. */
  outcome: 'succeeded' | 'failed' | 'cancelled';
  knownGood: boolean;
  knownGoodSeconds: number;
  policies: { address: BackoffPolicy; account: BackoffPolicy; pair: BackoffPolicy };
  /** What the reservation counted (a refund undoes exactly that when nothing was counted since). */
  counted: { address: CountedState; account: CountedState; pair: CountedState | null };
}

/** The state after one more failure under `policy`. */
function counted(failures: number, policy: BackoffPolicy, nowMs: number): FailureState {
  const wait = backoffSeconds(policy, failures);
  return { failures, blockedUntilMs: wait > 0 ? nowMs + wait * 1000 : 0 };
}

/**
 * The state after a pre-counted failure is refunded: one fewer; no wait below the threshold;
 * the wait from before the count when nothing was counted since, else the wait in force.
 */
function refunded(state: FailureState, policy: BackoffPolicy, counted: CountedState): FailureState {
  const failures = Math.max(0, state.failures - 1);
  const untouched = state.failures === counted.failures && state.blockedUntilMs === counted.blockedUntilMs;
  return { failures, blockedUntilMs: failures < policy.threshold ? 0 : untouched ? counted.previousBlockedUntilMs : state.blockedUntilMs };
}

interface Entry {
  failures: number;
  blockedUntilMs: number;
  expiresAtMs: number;
}

/**
 * Per-process counters, bounded: a BoundedMap in the order entries were last written, trimmed
 * to `maxEntries`, and entries past their expiry are dropped when met and by a periodic sweep.
 */
export class MemoryCounters implements FailureCounters {
  private readonly entries: BoundedMap<string, Entry>;
  /** Attempts in flight: key → ticket → when its lease ends (ms). Emptied as tickets settle. */
  private readonly flights = new Map<string, Map<string, number>>();

  /** How many keys have attempts in flight (the flights map is not bounded by maxEntries). */
  get flightKeyCount(): number {
    return this.flights.size;
  }
  private lastSweepMs = 0;

  constructor(maxEntries = 100_000, private readonly sweepEveryMs = 60_000) {
    this.entries = new BoundedMap(maxEntries);
  }

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
    // The sweep first, so that expired entries go before a live one is trimmed (the entry
    // being written is live, so it would survive the sweep either way).
    if (nowMs - this.lastSweepMs >= this.sweepEveryMs) {
      this.lastSweepMs = nowMs;
      for (const [k, e] of this.entries) if (e.expiresAtMs <= nowMs) this.entries.delete(k);
    }
    this.entries.set(key, entry); // the newest; the oldest goes beyond maxEntries
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

  async mark(key: string, ttlSeconds: number, nowMs: number): Promise<void> {
    this.put(key, { failures: 0, blockedUntilMs: 0, expiresAtMs: nowMs + ttlSeconds * 1000 }, nowMs);
  }

  // No await before the last write in attempt/reserve/settle: each runs as one step of the
  // event loop, so it is atomic in this process.
  async attempt(key: string, policy: BackoffPolicy, nowMs: number): Promise<{ allowed: boolean; state: FailureState }> {
    const entry = this.live(key, nowMs);
    if (entry && entry.blockedUntilMs > nowMs) return { allowed: false, state: { failures: entry.failures, blockedUntilMs: entry.blockedUntilMs } };
    return { allowed: true, state: this.count(key, entry, policy, nowMs) };
  }

  private count(key: string, entry: Entry | undefined, policy: BackoffPolicy, nowMs: number, keepExpiry = false): CountedState {
    const state = counted((entry?.failures ?? 0) + 1, policy, nowMs);
    const wait = Math.max(0, state.blockedUntilMs - nowMs);
    const expiresAtMs = keepExpiry && entry ? Math.max(entry.expiresAtMs, nowMs + wait) : nowMs + Math.max(policy.forgetAfterSeconds * 1000, wait);
    this.put(key, { ...state, expiresAtMs }, nowMs);
    return { ...state, previousBlockedUntilMs: entry?.blockedUntilMs ?? 0 };
  }

  private refund(key: string, policy: BackoffPolicy, counted: CountedState, nowMs: number): void {
    const entry = this.live(key, nowMs);
    if (entry) this.put(key, { ...refunded(entry, policy, counted), expiresAtMs: entry.expiresAtMs }, nowMs);
  }

  /**
   * Live flights of `key` (expired leases dropped). A key with none left is forgotten, and a
   * new one is stored only when a flight is added (takeOff), so refused attempts leave nothing.
   */
  private flying(key: string, nowMs: number): Map<string, number> {
    const flights = this.flights.get(key);
    if (!flights) return new Map();
    for (const [ticket, until] of flights) if (until <= nowMs) flights.delete(ticket);
    if (flights.size === 0) this.flights.delete(key);
    return flights;
  }

  private takeOff(key: string, flights: Map<string, number>, ticket: string, untilMs: number): void {
    flights.set(ticket, untilMs);
    this.flights.set(key, flights);
  }

  async reserve(keys: PasswordKeys, spec: ReservationSpec, nowMs: number): Promise<ReservationResult> {
    const pair = this.live(keys.pair, nowMs);
    const address = this.live(keys.address, nowMs);
    const account = this.live(keys.account, nowMs);
    const waiting = (refusal: ReservationRefusal, until: number): ReservationResult => ({ granted: false, refusal, retryAfterMs: until - nowMs });
    if (pair) {
      if (pair.blockedUntilMs > nowMs) return waiting('pair', pair.blockedUntilMs);
    } else {
      if (address && address.blockedUntilMs > nowMs) return waiting('address', address.blockedUntilMs);
      if (account && account.blockedUntilMs > nowMs) return waiting('account', account.blockedUntilMs);
    }
    const accountFlights = this.flying(keys.accountFlights, nowMs);
    if (accountFlights.size >= spec.accountFlightLimit) return { granted: false, refusal: 'account_in_flight', retryAfterMs: 1000 };
    const addressFlights = pair ? undefined : this.flying(keys.addressFlights, nowMs);
    if (addressFlights && addressFlights.size >= spec.addressFlightLimit) return { granted: false, refusal: 'address_in_flight', retryAfterMs: 1000 };

    this.takeOff(keys.accountFlights, accountFlights, spec.ticket, nowMs + spec.leaseMs);
    if (addressFlights) this.takeOff(keys.addressFlights, addressFlights, spec.ticket, nowMs + spec.leaseMs);
    return {
      granted: true,
      knownGood: pair !== undefined,
      address: this.count(keys.address, address, spec.policies.address, nowMs),
      account: this.count(keys.account, account, spec.policies.account, nowMs),
      pair: pair ? this.count(keys.pair, pair, spec.policies.pair, nowMs, true) : null,
    };
  }

  async settle(keys: PasswordKeys, spec: SettleSpec, nowMs: number): Promise<void> {
    for (const key of [keys.accountFlights, keys.addressFlights]) {
      const flights = this.flights.get(key);
      flights?.delete(spec.ticket);
      if (flights?.size === 0) this.flights.delete(key);
    }
    if (spec.outcome === 'failed') return;
    this.refund(keys.address, spec.policies.address, spec.counted.address, nowMs);
    if (spec.outcome === 'succeeded') {
      this.entries.delete(keys.account);
      await this.mark(keys.pair, spec.knownGoodSeconds, nowMs);
    } else {
      this.refund(keys.account, spec.policies.account, spec.counted.account, nowMs);
      if (spec.counted.pair) this.refund(keys.pair, spec.policies.pair, spec.counted.pair, nowMs);
    }
  }

  async close(): Promise<void> {
    this.entries.clear();
    this.flights.clear();
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

// The common part of the scripts below: reading a state, counting one failure under the
// policy at ARGV[i..i+3] (threshold, base, cap, forget), refunding one.
const LUA_COMMON = `
local now = tonumber(ARGV[1])
local function state(key)
  local v = redis.call('GET', key)
  if not v then return false, 0, 0 end
  local n, u = string.match(v, '^(%d+):(%d+)$')
  return true, tonumber(n) or 0, tonumber(u) or 0
end
local function put(key, n, u, px)
  local value = string.format('%d:%.0f', n, u)
  if px > 0 then redis.call('SET', key, value, 'PX', string.format('%.0f', px)) else redis.call('SET', key, value) end
end
local function count(key, n, i, keepTtl)
  n = n + 1
  local threshold, base, cap, forget = tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local wait = 0
  if n >= threshold then wait = math.min(cap, base * 2 ^ math.min(n - threshold, 40)) end
  local u = 0
  if wait > 0 then u = now + wait * 1000 end
  local px = math.max(forget, wait) * 1000
  if keepTtl then px = math.max(redis.call('PTTL', key), wait * 1000) end
  put(key, n, u, px)
  return n, u
end
local function refund(key, i, j)
  local found, n, u = state(key)
  if not found then return end
  local untouched = n == tonumber(ARGV[j]) and u == tonumber(ARGV[j + 1])
  n = math.max(0, n - 1)
  if n < tonumber(ARGV[i]) then u = 0 elseif untouched then u = tonumber(ARGV[j + 2]) end
  put(key, n, u, redis.call('PTTL', key))
end
`;

// "May I try" and "count this try" for one key. ARGV: now, policy (4).
const ATTEMPT_SCRIPT = `${LUA_COMMON}
local _, n, u = state(KEYS[1])
if u > now then return {0, n, string.format('%.0f', u)} end
n, u = count(KEYS[1], n, 2, false)
return {1, n, string.format('%.0f', u)}
`;

// A password attempt's reservation. KEYS: address, account, pair, account flights, address
// flights. ARGV: now, ticket, lease ms, account flight limit, address flight limit, then the
// address, account and pair policies (4 each, from ARGV[6]). Flights are sorted sets of
// tickets scored by when their lease ends: a process that dies mid-verification leaks its
// slot for one lease at most.
const RESERVE_SCRIPT = `${LUA_COMMON}
local good, pn, pu = state(KEYS[3])
local _a, an, au = state(KEYS[1])
local _c, cn, cu = state(KEYS[2])
if good then
  if pu > now then return {0, 'pair', string.format('%.0f', pu - now)} end
else
  if au > now then return {0, 'address', string.format('%.0f', au - now)} end
  if cu > now then return {0, 'account', string.format('%.0f', cu - now)} end
end
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[4]) then return {0, 'account_in_flight', '1000'} end
if not good then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
  if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[5]) then return {0, 'address_in_flight', '1000'} end
end
redis.call('ZADD', KEYS[4], now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[4], lease)
if not good then
  redis.call('ZADD', KEYS[5], now + lease, ARGV[2])
  redis.call('PEXPIRE', KEYS[5], lease)
end
local f = function(x) return string.format('%.0f', x) end
local a0, c0, p0 = au, cu, pu
an, au = count(KEYS[1], an, 6, false)
cn, cu = count(KEYS[2], cn, 10, false)
if good then pn, pu = count(KEYS[3], pn, 14, true) end
local g = 0
if good then g = 1 end
return {1, g, an, f(au), f(a0), cn, f(cu), f(c0), pn, f(pu), f(p0)}
`;

// Settling a granted reservation. KEYS as above. ARGV: now, ticket, outcome (s/f/c), known
// good (1/0), known-good seconds, then the policies (4 each, from ARGV[6]), then what the
// reservation counted (failures, until, previous until; 3 each from ARGV[18]).
const SETTLE_SCRIPT = `${LUA_COMMON}
redis.call('ZREM', KEYS[4], ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[2])
local outcome = ARGV[3]
if outcome == 'f' then return 1 end
refund(KEYS[1], 6, 18)
if outcome == 's' then
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[3], '0:0', 'EX', ARGV[5])
else
  refund(KEYS[2], 10, 21)
  if ARGV[4] == '1' then refund(KEYS[3], 14, 24) end
end
return 1
`;

function policyArgs(...policies: BackoffPolicy[]): number[] {
  return policies.flatMap((p) => [p.threshold, p.baseSeconds, p.maxSeconds, p.forgetAfterSeconds]);
}

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

  async mark(key: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.prefix + key, '0:0', 'EX', ttlSeconds);
  }

  async attempt(key: string, policy: BackoffPolicy, nowMs: number): Promise<{ allowed: boolean; state: FailureState }> {
    const result = (await this.redis.eval(ATTEMPT_SCRIPT, 1, this.prefix + key, nowMs, ...policyArgs(policy))) as [number, number, string];
    return { allowed: Number(result[0]) === 1, state: { failures: Number(result[1]), blockedUntilMs: Number(result[2]) } };
  }

  private keyList(keys: PasswordKeys): string[] {
    return [keys.address, keys.account, keys.pair, keys.accountFlights, keys.addressFlights].map((k) => this.prefix + k);
  }

  async reserve(keys: PasswordKeys, spec: ReservationSpec, nowMs: number): Promise<ReservationResult> {
    const { address, account, pair } = spec.policies;
    const result = (await this.redis.eval(
      RESERVE_SCRIPT, 5, ...this.keyList(keys), nowMs, spec.ticket, spec.leaseMs, spec.accountFlightLimit, spec.addressFlightLimit, ...policyArgs(address, account, pair),
    )) as Array<number | string>;
    if (Number(result[0]) !== 1) return { granted: false, refusal: String(result[1]) as ReservationRefusal, retryAfterMs: Number(result[2]) };
    const knownGood = Number(result[1]) === 1;
    const at = (i: number): CountedState => ({ failures: Number(result[i]), blockedUntilMs: Number(result[i + 1]), previousBlockedUntilMs: Number(result[i + 2]) });
    return { granted: true, knownGood, address: at(2), account: at(5), pair: knownGood ? at(8) : null };
  }

  async settle(keys: PasswordKeys, spec: SettleSpec, nowMs: number): Promise<void> {
    const { address, account, pair } = spec.policies;
    await this.redis.eval(
      SETTLE_SCRIPT, 5, ...this.keyList(keys), nowMs, spec.ticket, spec.outcome[0] ?? 'f', spec.knownGood ? 1 : 0, spec.knownGoodSeconds, ...policyArgs(address, account, pair),
      ...[spec.counted.address, spec.counted.account, spec.counted.pair ?? { failures: 0, blockedUntilMs: 0, previousBlockedUntilMs: 0 }]
        .flatMap((c) => [c.failures, c.blockedUntilMs, c.previousBlockedUntilMs]),
    );
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

// Keys hold a digest of the e-mail, never the address itself (no personal data in Redis).
function digest(value: string): string {
  return hash('sha256', value, 'base64url').slice(0, 22);
}

const accountKey = (email: string) => `bf:acct:${digest(normalizeEmail(email))}`;
const addressCounterKey = (address: string) => `bf:addr:${address}`;
/** Client ids of the form Latchkey issues (22 base64url characters), with room to spare. */
const PLAIN_CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
// A client id is no personal data, so an ordinary one is its own key (every token request
// builds this key twice; a digest was a visible share of an introspection's CPU: see
// docs/PERFORMANCE.md, plain-client-keys); one that is long or holds other characters (the
// id inside Basic is not bounded) is digested. The two never collide: "id:" and "h:" set them
// apart.
const clientKey = (clientId: string) => (PLAIN_CLIENT_ID.test(clientId) ? `bf:client:id:${clientId}` : `bf:client:h:${digest(clientId)}`);
// Before 2026-11-23 every client key was the digest. Known-good marks written then (they last
// KNOWN_GOOD_SECONDS, 30 days, in Redis) are still honoured, so that an upgrade does not take
// a client's known-good addresses away while someone is guessing its secret; failure counts
// under the old key are not carried over (they fade within the hour anyway). Remove after
// 2026-12-23.
const legacyClientKey = (clientId: string) => `bf:client:${digest(clientId)}`;
const goodKey = (subjectKey: string, address: string) => `${subjectKey}:ok:${address}`;

function passwordKeys(email: string, address: string): PasswordKeys {
  const account = accountKey(email);
  return { address: addressCounterKey(address), account, pair: goodKey(account, address), accountFlights: `${account}:fly`, addressFlights: `bf:fly:addr:${address}` };
}

/**
 * A granted password attempt, already counted as a failure. Settle it exactly once after
 * verification (later calls do nothing): succeeded(), failed(), or cancelled() when the
 * password was not verified at all (the hashing was refused).
 */
export interface PasswordTicket {
  /** The lockout this attempt's failure starts (already in force for others), or null. */
  readonly lockoutIfWrong: Lockout | null;
  succeeded(): Promise<void>;
  failed(): Promise<void>;
  cancelled(): Promise<void>;
}

export type PasswordReservation = { granted: true; ticket: PasswordTicket } | { granted: false; lockout: Lockout };

/** The ticket when the counters cannot be reached: nothing to settle (the guard fails open). */
const OPEN_TICKET: PasswordTicket = { lockoutIfWrong: null, succeeded: async () => undefined, failed: async () => undefined, cancelled: async () => undefined };

/**
 * The brute-force guard. Passwords: reservePassword() before verifying, then settle the ticket.
 * Client secrets: checkClient() before, clientFailed() / clientSucceeded() after (a secret is
 * 256-bit random, so guesses racing the count gain nothing). A lockout is answered with 429
 * and Retry-After.
 */
export class BruteForceGuard {
  /** Known-good (client, address) pairs seen in this process, with when the memory lapses (ms). */
  private readonly recentlyGood = new BoundedMap<string, number>(10_000);

  constructor(
    readonly counters: FailureCounters,
    private readonly clock: Clock,
    private readonly policies: { account: BackoffPolicy; address: BackoffPolicy; client: BackoffPolicy; passwordChange?: BackoffPolicy } = { account: ACCOUNT_POLICY, address: ADDRESS_POLICY, client: CLIENT_POLICY },
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

  private get passwordPolicies() {
    return { address: this.policies.address, account: this.policies.account, pair: this.policies.account };
  }

  /**
   * "May I try this password" and "count it" in one atomic step, before verification: the
   * lockout in force (the caller answers 429 with Retry-After), or a ticket to settle after
   * verification. A known-good (account, address) pair passes the account's and the address's
   * locks and the address's bound on attempts in flight; its own failures are counted on it.
   */
  async reservePassword(email: string, rawAddress: string): Promise<PasswordReservation> {
    const address = addressKey(rawAddress);
    return this.reserve(passwordKeys(email, address));
  }

  /**
   * A second-factor attempt (an authenticator code, a recovery code, a passkey) of `userId`
   * from `rawAddress`, reserved exactly like a password attempt: counted before it is checked,
   * bounded in flight, refunded when right. The account's factor count is its own (a right
   * password must not clear it), the address's count is the one passwords use.
   */
  async reserveFactor(userId: number, rawAddress: string): Promise<PasswordReservation> {
    const address = addressKey(rawAddress);
    const account = `bf:factor:${userId}`;
    return this.reserve({ address: addressCounterKey(address), account, pair: goodKey(account, address), accountFlights: `${account}:fly`, addressFlights: `bf:fly:addr:${address}` });
  }

  private async reserve(keys: PasswordKeys): Promise<PasswordReservation> {
    const policies = this.passwordPolicies;
    const ticket = randomUUID();
    const result = await this.safe<ReservationResult | null>(null, () => this.counters.reserve(keys, {
      ticket, leaseMs: FLIGHT_LEASE_MS, accountFlightLimit: ACCOUNT_FLIGHT_LIMIT, addressFlightLimit: ADDRESS_FLIGHT_LIMIT, policies,
    }, this.clock.nowMs()));
    if (result === null) return { granted: true, ticket: OPEN_TICKET };
    if (!result.granted) {
      const subject = result.refusal === 'address' ? 'address' : result.refusal === 'account' || result.refusal === 'pair' ? 'account' : 'in_flight';
      return { granted: false, lockout: { subject, retryAfter: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) } };
    }
    const now = this.clock.nowMs();
    const lockoutIfWrong = result.knownGood
      ? this.lockout('account', result.pair ?? undefined, now)
      : this.lockout('address', result.address, now) ?? this.lockout('account', result.account, now);
    let settled = false;
    const settle = (outcome: SettleSpec['outcome']) => async () => {
      if (settled) return;
      settled = true;
      const counted = { address: result.address, account: result.account, pair: result.pair };
      await this.safe(undefined, () => this.counters.settle(keys, { ticket, outcome, knownGood: result.knownGood, knownGoodSeconds: KNOWN_GOOD_SECONDS, policies, counted }, this.clock.nowMs()));
    };
    return { granted: true, ticket: { lockoutIfWrong, succeeded: settle('succeeded'), failed: settle('failed'), cancelled: settle('cancelled') } };
  }

  /** Counts a password change of `userId` (right or wrong) atomically; the lockout in force, or null. */
  async passwordChangeAttempt(userId: number): Promise<Lockout | null> {
    return this.safe(null, async () => {
      const now = this.clock.nowMs();
      const { allowed, state } = await this.counters.attempt(`bf:chg:${userId}`, this.policies.passwordChange ?? PASSWORD_CHANGE_POLICY, now);
      return allowed ? null : this.lockout('password_change', state, now);
    });
  }

  /** Whether client authentication as `clientId` from `address` must wait. */
  async checkClient(clientId: string, rawAddress: string): Promise<Lockout | null> {
    const address = addressKey(rawAddress);
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
  async clientSucceeded(clientId: string, rawAddress: string): Promise<void> {
    const address = addressKey(rawAddress);
    return this.safe(undefined, async () => {
      const now = this.clock.nowMs();
      const good = goodKey(clientKey(clientId), address);
      if ((this.recentlyGood.get(good) ?? 0) > now) return;
      await this.counters.mark(good, KNOWN_GOOD_SECONDS, now);
      this.recentlyGood.set(good, now + 60_000);
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
  // memory for nothing (see docs/PERFORMANCE.md, lazy-ioredis).
  const { Redis: IORedis } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const redis = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 1000, enableAutoPipelining: true });
  // Connection trouble surfaces as failed commands, which the guard and the rate limiter
  // handle; without a listener ioredis would print every reconnect attempt.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * The guard for one server: Redis counters when `redisUrl` is set, else `shared` when given
 * (a worker of `serve --workers`: the primary's counters, cluster/shared-counters.ts), else
 * per-process memory.
 */
export function createBruteForceGuard(
  settings: { redisUrl: string | null; redisPrefix: string },
  clock: Clock,
  onError?: (err: unknown) => void,
  shared?: FailureCounters,
): BruteForceGuard {
  const counters = settings.redisUrl ? new RedisCounters(openRedis(settings.redisUrl), settings.redisPrefix) : shared ?? new MemoryCounters();
  return new BruteForceGuard(counters, clock, undefined, onError);
}
