// Brute-force limits (accounts/backoff.ts, http/plugins/rate-limit.ts): the policy, its two
// counter stores (process memory, bounded; Redis, shared), and the answers at the login page,
// the password grant, client authentication and the coarse per-address rate limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequestRaw } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import {
  ACCOUNT_POLICY, ADDRESS_POLICY, BruteForceGuard, KNOWN_GOOD_SECONDS, MemoryCounters, RedisCounters, backoffSeconds, openRedis, type FailureCounters,
} from '../../src/accounts/backoff.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { basicHeader, createClient, createUser, hiddenFields, httpRequest, CookieJar, LOGIN_PATH, postToken, type TestClient, type TestUser } from '../helpers/oauth.js';
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

/** The guard's behaviour, on any counter store. */
async function guardBehaviour(counters: FailureCounters, other?: FailureCounters): Promise<void> {
  const clock = new MovableClock();
  // The first wait is one second: the clock moves only when told, or a slow machine outlives it.
  clock.freeze();
  const guard = new BruteForceGuard(counters, clock);
  const email = `victim-${randomBytes(4).toString('hex')}@example.com`;
  const attacker = `10.0.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
  const home = '192.0.2.7';

  // The owner signs in from home once: home becomes known good for the account.
  await guard.passwordSucceeded(email, home);
  for (let i = 1; i <= 4; i += 1) assert.equal(await guard.passwordFailed(email, attacker), null, `failure ${i} starts no wait`);
  assert.deepEqual(await guard.passwordFailed(` ${email.toUpperCase()} `, attacker), { subject: 'account', retryAfter: 1 }, 'the e-mail is normalized');
  assert.deepEqual(await guard.checkPassword(email, '198.51.100.1'), { subject: 'account', retryAfter: 1 }, 'an unknown address waits');
  assert.equal(await guard.checkPassword(email, home), null, 'the owner at a known-good address is not locked out');
  clock.advance(1.5);
  assert.equal(await guard.checkPassword(email, attacker), null, 'the wait is over');
  assert.deepEqual(await guard.passwordFailed(email, attacker), { subject: 'account', retryAfter: 2 }, 'the next failure doubles it');
  // A second process sharing the store sees the same count.
  if (other) {
    const guard2 = new BruteForceGuard(other, clock);
    assert.deepEqual(await guard2.checkPassword(email, attacker), { subject: 'account', retryAfter: 2 });
  }
  // A right password clears the account's count.
  await guard.passwordSucceeded(email, home);
  assert.equal(await guard.checkPassword(email, attacker), null);

  // Per address: ten failures over many accounts lock the address out, whatever the account.
  const sprayer = `10.9.${randomBytes(1)[0]}.${randomBytes(1)[0]}`;
  let last = null;
  for (let i = 0; i < 10; i += 1) last = await guard.passwordFailed(`spray${i}-${randomBytes(3).toString('hex')}@example.com`, sprayer);
  assert.deepEqual(last, { subject: 'address', retryAfter: 2 });
  assert.equal((await guard.checkPassword(`someone-new@example.com`, sprayer))?.subject, 'address');

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

  test('keys expire in Redis: the forget-after time is the key TTL', async () => {
    await a.fail('ttl-check', ACCOUNT_POLICY, Date.now());
    const ttl = await a.redis.pttl(`${prefix}ttl-check`);
    assert.ok(ttl > 0 && ttl <= ACCOUNT_POLICY.forgetAfterSeconds * 1000, `pttl ${ttl}`);
  });

  test('an unreachable Redis fails open: nothing is refused, nothing throws', async () => {
    const dead = new RedisCounters(openRedis('redis://127.0.0.1:1'), prefix);
    const errors: unknown[] = [];
    const guard = new BruteForceGuard(dead, new MovableClock(), undefined, (err) => errors.push(err));
    assert.equal(await guard.passwordFailed('x@example.com', '10.0.0.1'), null);
    assert.equal(await guard.checkPassword('x@example.com', '10.0.0.1'), null);
    assert.equal(errors.length, 1, 'reported once, not per call');
    await dead.close();
  });
});

/** A POST from a chosen loopback source address (127.0.0.x), so tests can be two callers. */
function postFrom(url: string, path: string, body: string, headers: Record<string, string>, localAddress: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequestRaw(new URL(path, url), { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

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
