// Brute-force limits (accounts/backoff.ts, http/plugins/rate-limit.ts): the policy, its two
// counter stores (process memory, bounded; Redis, shared), and the answers at the login page,
// the password grant, client authentication and the coarse per-address rate limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { postFrom } from '../helpers/raw-http.js';
import { createHash, randomBytes } from 'node:crypto';
import {
  ACCOUNT_POLICY, ADDRESS_POLICY, BruteForceGuard, KNOWN_GOOD_SECONDS, MemoryCounters, RedisCounters, backoffSeconds, openRedis, type FailureCounters, type Lockout,
  ACCOUNT_FLIGHT_LIMIT, ADDRESS_FLIGHT_LIMIT, FLIGHT_LEASE_MS, PASSWORD_CHANGE_POLICY,
} from '../../src/accounts/backoff.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { basicHeader, postToken } from '../helpers/token.js';
import { httpRequest, CookieJar } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { LOGIN_PATH } from '../helpers/authorize.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;

test('backoff: nothing below the threshold, then doubling from the base up to the cap', () => {
  const waits = Array.from({ length: 16 }, (_, i) => backoffSeconds(ACCOUNT_POLICY, i + 1));
  assert.deepEqual(waits, [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
  // The address policy hits harder: a longer cap.
  assert.equal(backoffSeconds(ADDRESS_POLICY, 1000), 900);
  assert.equal(backoffSeconds(ADDRESS_POLICY, 9), 0);
  assert.equal(backoffSeconds(ADDRESS_POLICY, 10), 2);
});

test('memory counters stay bounded (LRU) and forget after the policy says', async () => {
  const counters = new MemoryCounters(100, 1000);
  const now = 1_000_000;
  for (let i = 0; i < 1000; i += 1) await counters.fail(`k${i}`, ACCOUNT_POLICY, now);
  assert.equal(counters.size, 100);
  // The most recent keys survive, the oldest went.
  const [oldest, newest] = await counters.get(['k0', 'k999'], now);
  assert.equal(oldest, undefined);
  assert.equal(newest?.failures, 1);
  // An hour after the last failure the count is forgotten (and swept).
  const later = now + ACCOUNT_POLICY.forgetAfterSeconds * 1000 + 1;
  assert.deepEqual(await counters.get(['k999'], later), [undefined]);
  await counters.fail('fresh', ACCOUNT_POLICY, later);
  assert.equal(counters.size, 1);
});

/** One password attempt through the guard: the lockout that refused it, or its outcome settled. */
async function tryPassword(guard: BruteForceGuard, email: string, address: string, right: boolean): Promise<Lockout | null> {
  const reservation = await guard.reservePassword(email, address);
  if (!reservation.granted) return reservation.lockout;
  if (right) {
    await reservation.ticket.succeeded();
    return null;
  }
  await reservation.ticket.failed();
  return reservation.ticket.lockoutIfWrong;
}

/** The guard's behaviour, on any counter store. */
async function guardBehaviour(counters: FailureCounters, other?: FailureCounters): Promise<void> {
  const clock = new MovableClock();
  // The first wait is one second: the clock moves only when told, or a slow machine outlives it.
  clock.freeze();
  const guard = new BruteForceGuard(counters, clock);
  const email = `victim-${randomBytes(4).toString('hex')}@example.com`;
  const attacker = `10.0.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
  const home = `192.0.2.${randomBytes(1)[0]}`;
  /** Whether a reservation would be granted now (it is cancelled at once: nothing counted). */
  const check = async (who: string, from: string): Promise<Lockout | null> => {
    const r = await guard.reservePassword(who, from);
    if (!r.granted) return r.lockout;
    await r.ticket.cancelled();
    return null;
  };

  // The owner signs in from home once: home becomes known good for the account.
  assert.equal(await tryPassword(guard, email, home, true), null);
  for (let i = 1; i <= 4; i += 1) assert.equal(await tryPassword(guard, email, attacker, false), null, `failure ${i} starts no wait`);
  assert.deepEqual(await tryPassword(guard, ` ${email.toUpperCase()} `, attacker, false), { subject: 'account', retryAfter: 1 }, 'the e-mail is normalized');
  assert.deepEqual(await check(email, '198.51.100.1'), { subject: 'account', retryAfter: 1 }, 'an unknown address waits');
  assert.equal(await check(email, home), null, 'the owner at a known-good address is not locked out');
  clock.advance(1.5);
  assert.equal(await check(email, attacker), null, 'the wait is over');
  assert.deepEqual(await tryPassword(guard, email, attacker, false), { subject: 'account', retryAfter: 2 }, 'the next failure doubles it');
  // A second process sharing the store sees the same count.
  if (other) {
    const guard2 = new BruteForceGuard(other, clock);
    const r = await guard2.reservePassword(email, attacker);
    assert.deepEqual(r.granted ? null : r.lockout, { subject: 'account', retryAfter: 2 });
  }
  // A right password clears the account's count.
  assert.equal(await tryPassword(guard, email, home, true), null);
  assert.equal(await check(email, attacker), null);

  // Per address: ten failures over many accounts lock the address out, whatever the account.
  const sprayer = `10.9.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
  let last = null;
  for (let i = 0; i < 10; i += 1) last = await tryPassword(guard, `spray${i}-${randomBytes(3).toString('hex')}@example.com`, sprayer, false);
  assert.deepEqual(last, { subject: 'address', retryAfter: 2 });
  assert.equal((await check(`someone-new@example.com`, sprayer))?.subject, 'address');

  // The address lock does not hold back an account at an address known good for it (a NAT
  // must not lock an office out): the sprayer's address locked, the victim who signed in from
  // home, and home now locked by someone spraying from the same NAT.
  for (let i = 0; i < 10; i += 1) await tryPassword(guard, `office${i}-${randomBytes(3).toString('hex')}@example.com`, home, false);
  assert.equal((await check(`stranger-${randomBytes(3).toString('hex')}@example.com`, home))?.subject, 'address', 'home is locked for strangers');
  assert.equal(await check(email, home), null, 'the owner at home is let through');
  // The pair counts its own failures: someone at home guessing the owner's password still waits.
  for (let i = 1; i <= 4; i += 1) assert.equal(await tryPassword(guard, email, home, false), null, `pair failure ${i}`);
  assert.deepEqual(await tryPassword(guard, email, home, false), { subject: 'account', retryAfter: 1 }, 'the pair locks at the account threshold');
  assert.deepEqual(await check(email, home), { subject: 'account', retryAfter: 1 });
  clock.advance(1.5);
  assert.equal(await tryPassword(guard, email, home, true), null, 'after the wait the owner signs in; the pair is reset');
  assert.equal(await check(email, home), null);

  // Password changes: ten an hour per account, counted atomically; the eleventh waits a minute.
  const changer = 100_000 + (randomBytes(2).readUInt16BE(0));
  for (let i = 1; i <= PASSWORD_CHANGE_POLICY.threshold; i += 1) assert.equal(await guard.passwordChangeAttempt(changer), null, `change ${i}`);
  assert.deepEqual(await guard.passwordChangeAttempt(changer), { subject: 'password_change', retryAfter: PASSWORD_CHANGE_POLICY.baseSeconds });
  assert.equal(await guard.passwordChangeAttempt(changer + 1), null, 'another account is not limited');

  // Client authentication: per client_id, bypassed from a known-good address. Ids like ours
  // are keys as they are, others (long, or with other characters) are digested: both count.
  const plainId = `c-${randomBytes(4).toString('hex')}`;
  for (const clientId of [plainId, `${plainId}:${'x'.repeat(100)}`]) {
    await guard.clientSucceeded(clientId, home);
    for (let i = 1; i <= 9; i += 1) assert.equal(await guard.clientFailed(clientId), null);
    assert.deepEqual(await guard.clientFailed(clientId), { subject: 'client', retryAfter: 1 });
    assert.equal((await guard.checkClient(clientId, attacker))?.subject, 'client');
    assert.equal(await guard.checkClient(clientId, home), null);
  }
  assert.equal(await guard.checkClient(`${plainId}x`, attacker), null, 'another client_id is not locked');

  // A known-good mark written before client keys took their present form (the digest of the
  // id) still lets its address through.
  const legacyId = `c-${randomBytes(4).toString('hex')}`;
  const legacyDigest = createHash('sha256').update(legacyId).digest('base64url').slice(0, 22);
  await counters.mark(`bf:client:${legacyDigest}:ok:${home}`, KNOWN_GOOD_SECONDS, clock.nowMs());
  for (let i = 1; i <= 10; i += 1) await guard.clientFailed(legacyId);
  assert.equal((await guard.checkClient(legacyId, attacker))?.subject, 'client');
  assert.equal(await guard.checkClient(legacyId, home), null);
}

/**
 * The reservation is ONE atomic step ("may I try" and "count this try"), with a bound on the
 * attempts in flight: reservations sent at once, through one guard or two sharing the store.
 */
async function reservationBehaviour(counters: FailureCounters, other?: FailureCounters): Promise<void> {
  const clock = new MovableClock();
  clock.freeze();
  const guard = new BruteForceGuard(counters, clock);
  const second = other ? new BruteForceGuard(other, clock) : guard;
  const fresh = () => `r-${randomBytes(5).toString('hex')}@example.com`;
  const addr = () => `10.20.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;

  // Twenty at once for one account, from one address, half through each guard: two granted.
  const email = fresh();
  const from = addr();
  const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? guard : second).reservePassword(email, from)));
  const granted = burst.flatMap((r) => (r.granted ? [r.ticket] : []));
  assert.equal(granted.length, ACCOUNT_FLIGHT_LIMIT, 'at most the in-flight bound is granted at once');
  for (const r of burst) if (!r.granted) assert.deepEqual(r.lockout, { subject: 'in_flight', retryAfter: 1 });
  // Settling (a wrong password) frees the places; the two failures stay counted.
  for (const t of granted) await t.failed();
  await granted[0]?.failed(); // settling twice does nothing
  // Three more at a time, one at a time: the fifth counted attempt starts the lock, before its verification.
  const third = await guard.reservePassword(email, from);
  const fourth = await second.reservePassword(email, from);
  assert.ok(third.granted && fourth.granted);
  assert.equal(third.ticket.lockoutIfWrong, null);
  await third.ticket.failed();
  const fifth = await guard.reservePassword(email, from);
  assert.ok(fifth.granted);
  assert.deepEqual(fifth.ticket.lockoutIfWrong, { subject: 'account', retryAfter: 1 });
  // While the fourth and fifth are still being verified, the lock is already in force.
  const sixth = await second.reservePassword(email, addr());
  assert.deepEqual(sixth.granted ? null : sixth.lockout, { subject: 'account', retryAfter: 1 });
  // The fifth was the right password: its failure is refunded and the account cleared.
  await fifth.ticket.succeeded();
  await fourth.ticket.failed();
  const after = await guard.reservePassword(email, addr());
  assert.ok(after.granted, 'a right password cleared the account');
  await after.ticket.cancelled();

  // Four failures counted, then twenty at once: exactly one is granted (the fifth count locks).
  const victim = fresh();
  const home = addr();
  for (let i = 0; i < 4; i += 1) {
    const r = await guard.reservePassword(victim, home);
    assert.ok(r.granted);
    await r.ticket.failed();
  }
  const race = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? guard : second).reservePassword(victim, addr())));
  assert.equal(race.filter((r) => r.granted).length, 1, 'one attempt reaches verification once the lock is due');
  for (const r of race) if (r.granted) await r.ticket.failed();

  // A cancelled attempt (not verified: the hashing was refused) costs nothing.
  const cancelMe = fresh();
  for (let i = 0; i < 10; i += 1) {
    const r = await guard.reservePassword(cancelMe, addr());
    assert.ok(r.granted, `cancelled attempt ${i} counted nothing`);
    await r.ticket.cancelled();
  }

  // Per address: three in flight at once, whatever the accounts; a pair known good is not held back.
  const nat = addr();
  const regular = fresh();
  const signIn = await guard.reservePassword(regular, nat);
  assert.ok(signIn.granted);
  await signIn.ticket.succeeded();
  const held = await Promise.all(Array.from({ length: 6 }, () => guard.reservePassword(fresh(), nat)));
  assert.equal(held.filter((r) => r.granted).length, ADDRESS_FLIGHT_LIMIT);
  const regularNow = await second.reservePassword(regular, nat);
  assert.ok(regularNow.granted, 'known good at the address: not held back by the address bound');

  // A process that dies mid-verification leaks its places for one lease at most.
  const orphan = fresh();
  const o = await Promise.all([guard.reservePassword(orphan, addr()), guard.reservePassword(orphan, addr())]);
  assert.ok(o.every((r) => r.granted));
  assert.equal((await second.reservePassword(orphan, addr())).granted, false);
  clock.advance(FLIGHT_LEASE_MS / 1000 + 1);
  const later = await second.reservePassword(orphan, addr());
  assert.ok(later.granted, 'the leases ran out');
  for (const r of [...held, regularNow, later]) if (r.granted) await r.ticket.cancelled();
}

test('the password reservation, on process memory', async () => {
  await reservationBehaviour(new MemoryCounters());
});

test('the guard, on process memory', async () => {
  await guardBehaviour(new MemoryCounters());
});

describe('the guard, on Redis (shared by every process)', () => {
  if (!REDIS_URL) {
    test('skipped', { skip: 'TEST_REDIS_URL is not set' }, () => undefined);
    process.stdout.write('# SKIPPING the Redis counter tests: TEST_REDIS_URL is not set\n');
    return;
  }
  const prefix = `latchkey-test-${randomBytes(6).toString('hex')}:`;
  const a = new RedisCounters(openRedis(REDIS_URL), prefix);
  const b = new RedisCounters(openRedis(REDIS_URL), prefix);
  after(async () => {
    const keys = await a.redis.keys(`${prefix}*`);
    if (keys.length > 0) await a.redis.del(...keys);
    await a.close();
    await b.close();
  });

  test('same behaviour as in memory, and two processes share the counts', async () => {
    await guardBehaviour(a, b);
  });

  test('the password reservation: atomic across two processes (two guards on one Redis), leases expire', async () => {
    await reservationBehaviour(a, b);
    // The in-flight sets carry a TTL of one lease: nothing stays in Redis if every process dies.
    const guard = new BruteForceGuard(a, new MovableClock());
    const r = await guard.reservePassword('ttl@example.com', '10.99.0.1');
    assert.ok(r.granted);
    const flights = await a.redis.keys(`${prefix}bf:fly:addr:10.99.0.1`);
    assert.equal(flights.length, 1);
    const ttl = await a.redis.pttl(flights[0] ?? '');
    assert.ok(ttl > 0 && ttl <= FLIGHT_LEASE_MS, `pttl ${ttl}`);
    await r.ticket.failed();
  });

  test('keys expire in Redis: the forget-after time is the key TTL', async () => {
    await a.fail('ttl-check', ACCOUNT_POLICY, Date.now());
    const ttl = await a.redis.pttl(`${prefix}ttl-check`);
    assert.ok(ttl > 0 && ttl <= ACCOUNT_POLICY.forgetAfterSeconds * 1000, `pttl ${ttl}`);
  });

  test('an unreachable Redis fails open: nothing is refused, nothing throws', async () => {
    const dead = new RedisCounters(openRedis('redis://127.0.0.1:1'), prefix);
    const errors: unknown[] = [];
    const guard = new BruteForceGuard(dead, new MovableClock(), undefined, (err) => errors.push(err));
    assert.equal(await tryPassword(guard, 'x@example.com', '10.0.0.1', false), null);
    assert.equal(await tryPassword(guard, 'x@example.com', '10.0.0.1', true), null);
    assert.equal(errors.length, 1, 'reported once, not per call');
    await dead.close();
  });
});


describe('brute-force limits over HTTP', () => {
  let server: TestServer;
  let user: TestUser;
  let confidential: TestClient;
  let passwordClient: TestClient;

  before(async () => {
    server = await startTestServer('sqlite');
    // Lockouts of one second are checked: the clock moves only when told.
    server.clock.freeze();
    user = await createUser(server);
    confidential = await createClient(server);
    passwordClient = await createClient(server, { grantTypes: ['password', 'refresh_token'] });
  });
  after(async () => {
    await server.close();
  });

  async function login(jar: CookieJar, email: string, password: string) {
    const page = await httpRequest(server, 'GET', LOGIN_PATH, { jar });
    return httpRequest(server, 'POST', LOGIN_PATH, { jar, form: { ...hiddenFields(page.body, LOGIN_PATH), email, password } });
  }

  test('login page: the fifth wrong password answers 429 with Retry-After and says so; a wait and a right password reset it', async () => {
    const jar = new CookieJar();
    for (let i = 1; i <= 4; i += 1) assert.equal((await login(jar, user.email, 'wrong password')).status, 401);
    const locked = await login(jar, user.email, 'wrong password');
    assert.equal(locked.status, 429);
    assert.equal(locked.headers.get('retry-after'), '1');
    assert.match(locked.body, /Too many failed sign-in attempts\. Try again in 1 second\./);
    assert.match(locked.body, /<form[^>]*action="\/login"/, 'the login page itself, ready for the next try');
    // While it lasts, even the right password waits (this address never signed in).
    assert.equal((await login(jar, user.email, user.password)).status, 429);
    server.clock.advance(2);
    assert.equal((await login(jar, user.email, user.password)).status, 303);
    // Reset: four more failures start no wait.
    for (let i = 1; i <= 4; i += 1) assert.equal((await login(new CookieJar(), user.email, 'wrong again')).status, 401);
    assert.ok(server.logs.some((l) => l.includes('"event":"login.locked"')));
    assert.ok(server.logs.some((l) => l.includes('"event":"login.failed"') && l.includes('"address":"127.0.0.1"')));
    assert.ok(!server.logs.some((l) => l.includes('wrong password')), 'no password in the log');
  });

  test('password grant: the same counts as the login page; 429 slow_down with Retry-After in JSON', async () => {
    const other = await createUser(server);
    // An hour on, 127.0.0.1's failures in the login test above are forgotten.
    server.clock.advance(ADDRESS_POLICY.forgetAfterSeconds + 1);
    const from = '127.0.0.5';
    const post = async (password: string) => {
      const form = new URLSearchParams({ grant_type: 'password', username: other.email, password, client_id: passwordClient.clientId, client_secret: passwordClient.clientSecret ?? '' });
      const res = await postFrom(server.url, '/oauth/token', form.toString(), { 'content-type': 'application/x-www-form-urlencoded' }, from);
      return { status: res.status, retryAfter: res.headers['retry-after'], body: JSON.parse(res.body) as Record<string, unknown> };
    };
    for (let i = 1; i <= 3; i += 1) {
      const res = await post('nope nope');
      assert.equal(res.status, 400);
      assert.equal(res.body.error, 'invalid_grant');
    }
    // A fourth failure on the login page counts against the same account.
    const jar = new CookieJar();
    assert.equal((await login(jar, other.email, 'nope nope')).status, 401);
    const locked = await post('nope nope');
    assert.equal(locked.status, 429);
    assert.equal(locked.body.error, 'slow_down');
    assert.equal(locked.retryAfter, '1');
    assert.equal((await post(other.password)).status, 429);
    server.clock.advance(2);
    assert.equal((await post(other.password)).status, 200);
  });

  test('client authentication: a confidential client_id backs off after 10 failures, except from an address where it authenticated before', async () => {
    const form = (secret: string) => new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: confidential.clientId, client_secret: secret }).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    // The real client works from 127.0.0.2 first (invalid_grant: its secret was right).
    const good = await postFrom(server.url, '/oauth/token', form(confidential.clientSecret ?? ''), headers, '127.0.0.2');
    assert.equal(good.status, 400);
    assert.equal(JSON.parse(good.body).error, 'invalid_grant');
    for (let i = 1; i <= 10; i += 1) {
      const res = await postFrom(server.url, '/oauth/token', form(`guess-${i}`), headers, '127.0.0.3');
      assert.equal(res.status, 401, `guess ${i}`);
    }
    const locked = await postFrom(server.url, '/oauth/token', form('guess-11'), headers, '127.0.0.3');
    assert.equal(locked.status, 429);
    assert.equal(JSON.parse(locked.body).error, 'slow_down');
    assert.ok(Number(locked.headers['retry-after']) >= 1);
    // Basic, revocation and introspection are held back too, from an unknown address.
    const basic = await postFrom(server.url, '/oauth/introspect', 'token=abc', { ...headers, authorization: basicHeader(confidential.clientId, confidential.clientSecret ?? '') }, '127.0.0.4');
    assert.equal(basic.status, 429);
    // The real client, from its known address, is not locked out.
    const still = await postFrom(server.url, '/oauth/revoke', `token=abc&client_id=${confidential.clientId}&client_secret=${confidential.clientSecret ?? ''}`, headers, '127.0.0.2');
    assert.equal(still.status, 200);
  });

  test('an unknown or public client_id is never locked (nothing to guess; nobody locks an app out)', async () => {
    const pub = await createClient(server, { isPublic: true });
    for (let i = 0; i < 15; i += 1) {
      const res = await postToken(server, { grant_type: 'refresh_token', refresh_token: 'x', client_id: pub.clientId, client_secret: 'not-a-secret' });
      assert.equal(res.status, 401);
    }
    const res = await postToken(server, { grant_type: 'refresh_token', refresh_token: 'x', client_id: pub.clientId });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_grant');
  });
});

describe('coarse per-address rate limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite', { env: { LATCHKEY_TOKEN_RATE_LIMIT: '5', LATCHKEY_LOGIN_RATE_LIMIT: '3' } });
  });
  after(async () => {
    await server.close();
  });

  test('the token endpoints: past the limit, 429 slow_down with Retry-After, per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) statuses.push((await postToken(server, { grant_type: 'client_credentials' }, { path: i % 2 === 0 ? '/oauth/token' : '/token' })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    const limited = await postToken(server, { grant_type: 'client_credentials' }, { path: '/refresh' });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error, 'slow_down');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    // Another address has its own budget; other endpoints are not limited.
    const other = await postFrom(server.url, '/oauth/token', 'grant_type=client_credentials', { 'content-type': 'application/x-www-form-urlencoded' }, '127.0.0.9');
    assert.equal(other.status, 401);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });

  test('/login: past the limit, a 429 page with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await httpRequest(server, 'GET', LOGIN_PATH)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const page = await httpRequest(server, 'GET', LOGIN_PATH);
    assert.equal(page.status, 429);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.ok(Number(page.headers.get('retry-after')) >= 1);
    assert.match(page.body, /Too many requests/);
  });

  test('POST /signup (it hashes a password for anyone): the same limit, counted apart from /login', async () => {
    // The pages' budget (GET /login and GET /signup) is spent by the test above; posting the
    // sign-up form still has its own.
    assert.equal((await httpRequest(server, 'GET', '/signup')).status, 429);
    const statuses: number[] = [];
    // Without a CSRF token each post is refused (403) — after the limiter has counted it.
    for (let i = 0; i < 4; i += 1) statuses.push((await httpRequest(server, 'POST', '/signup', { form: { name: 'x' } })).status);
    assert.deepEqual(statuses, [403, 403, 403, 429]);
    const limited = await httpRequest(server, 'POST', '/signup', { form: { name: 'x' } });
    assert.equal(limited.status, 429);
    assert.match(limited.body, /Too many requests/);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
  });
});

test('the guard counts an IPv6 client by its /64: rotating through the addresses of one network does not escape the address lock', async () => {
  const clock = new MovableClock();
  clock.freeze();
  // The guard keys every address by accounts/address-key.ts addressKey.
  const guard = new BruteForceGuard(new MemoryCounters(), clock);
  const prefix = `2001:db8:${randomBytes(2).toString('hex')}:1`;
  // Ten wrong passwords, each from another address of the same /64 and for another account
  // (so no account lock is reached): the address policy's threshold is ten.
  for (let i = 1; i <= ADDRESS_POLICY.threshold; i += 1) {
    await tryPassword(guard, `someone-${i}@example.com`, `${prefix}::${i.toString(16)}`, false);
  }
  const fresh = await guard.reservePassword('another@example.com', `${prefix}:abcd:ef01:2345:6789`);
  assert.equal(fresh.granted, false, 'another address of the same /64 is held back');
  if (!fresh.granted) assert.equal(fresh.lockout.subject, 'address');
  // The IPv4-mapped spelling of an address counts as the address itself.
  for (let i = 1; i <= ADDRESS_POLICY.threshold; i += 1) await tryPassword(guard, `v4-${i}@example.com`, '192.0.2.77', false);
  const mapped = await guard.reservePassword('another@example.com', '::ffff:192.0.2.77');
  assert.equal(mapped.granted, false, 'the IPv4-mapped address shares the IPv4 lock');
  // A different /64 is not held back.
  const elsewhere = await guard.reservePassword('another@example.com', '2001:db8:ffff:2::1');
  assert.equal(elsewhere.granted, true);
  if (elsewhere.granted) await elsewhere.ticket.failed();
});

test('attempts refused for too many in flight leave nothing behind (the in-flight map cannot be grown by a guesser)', async () => {
  const clock = new MovableClock();
  clock.freeze();
  const counters = new MemoryCounters();
  const guard = new BruteForceGuard(counters, clock);
  const from = '198.51.100.23';
  // The address's bound on attempts in flight is taken by attempts that are never settled.
  const held = await Promise.all(Array.from({ length: ADDRESS_FLIGHT_LIMIT }, (_, i) => guard.reservePassword(`held-${i}@example.com`, from)));
  assert.ok(held.every((r) => r.granted));
  const before = counters.flightKeyCount;
  // A burst of attempts on new accounts from the same address, all at once: each is refused.
  const burst = await Promise.all(Array.from({ length: 200 }, (_, i) => guard.reservePassword(`new-${i}@example.com`, from)));
  assert.ok(burst.every((r) => !r.granted && r.lockout.subject === 'in_flight'));
  assert.equal(counters.flightKeyCount, before, 'no flight entry was created for a refused attempt');
  for (const r of held) if (r.granted) await r.ticket.failed();
  assert.equal(counters.flightKeyCount, 0, 'settled flights leave no key behind');
});
