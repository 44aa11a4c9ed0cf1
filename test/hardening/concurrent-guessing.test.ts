// Issue 18, finding 1: password guesses sent at once must not all be verified. The lockout
// check and the count are one atomic step before argon2 runs (accounts/backoff.ts
// reservePassword), and the attempts in flight per account and address are bounded, so a
// burst is counted before any of it is verified: at most the account threshold of guesses is
// ever verified, and the right password sent once the lock is due waits like the rest.
// Real HTTP, real concurrency (Promise.all), with the counters in process memory and in Redis.
// Also finding 10: a known-good (account, address) pair passes the address lock; the password
// grant is refused to public clients (RFC 9700 §2.4).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { postFrom, type PostAnswer } from '../helpers/raw-http.js';
import { randomBytes } from 'node:crypto';
import { ACCOUNT_POLICY, ADDRESS_POLICY, openRedis } from '../../src/accounts/backoff.js';
import { registerClient } from '../../src/accounts/client-registration.js';
import { newClientId } from '../../src/oauth/crypto.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { createClient, createUser, type TestClient } from '../helpers/fixtures.js';
import { csrfTokenOf } from '../helpers/pages.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const REDIS_URL = process.env.TEST_REDIS_URL;
if (!REDIS_URL) process.stdout.write('# SKIPPING the concurrent-guessing tests on Redis counters: TEST_REDIS_URL is not set\n');

type Answer = PostAnswer;


/** How many passwords of `userId` were verified and found wrong: the audit trail's login.failed lines. */
function verifiedWrong(server: TestServer, userId: number): number {
  return server.logs.filter((line) => {
    const entry = JSON.parse(line) as { event?: string; user_id?: number };
    return entry.event === 'login.failed' && entry.user_id === userId;
  }).length;
}

const stores: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'memory counters', env: {} },
  ...(REDIS_URL ? [{ name: 'Redis counters', env: { REDIS_URL, LATCHKEY_REDIS_PREFIX: `latchkey-test-${randomBytes(6).toString('hex')}:` } }] : []),
];

for (const store of stores) {
  describe(`concurrent guessing (${store.name})`, () => {
    let server: TestServer;
    let client: TestClient;

    before(async () => {
      // The coarse per-address limit on /login is off: the bursts below are what is tested.
      server = await startTestServer('sqlite', { env: { LATCHKEY_LOGIN_RATE_LIMIT: '0', ...store.env } });
      // Lockouts of a second are checked: the clock moves only when told.
      server.clock.freeze();
      client = await createClient(server, { grantTypes: ['password'] });
    });
    after(async () => {
      await server.close();
      const prefix = store.env.LATCHKEY_REDIS_PREFIX;
      if (REDIS_URL && prefix) {
        const redis = openRedis(REDIS_URL);
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.quit();
      }
    });

    function grant(from: string, username: string, password: string): Promise<Answer> {
      const form = new URLSearchParams({ grant_type: 'password', username, password, client_id: client.clientId, client_secret: client.clientSecret ?? '' });
      return postFrom(server.url, '/oauth/token', form.toString(), { 'content-type': 'application/x-www-form-urlencoded' }, from);
    }

    /** A login form ready to post many times: the session cookie and its CSRF token. */
    async function loginForm(): Promise<(from: string, email: string, password: string) => Promise<Answer>> {
      const page = await fetch(`${server.url}/login`);
      const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const csrf = csrfTokenOf(await page.text());
      return (from, email, password) => postFrom(server.url, '/login', new URLSearchParams({ csrf_token: csrf, email, password }).toString(), { 'content-type': 'application/x-www-form-urlencoded', cookie }, from);
    }

    test('password grant: 39 wrong and the right password at once (4 failures counted before): the right one is refused, one guess at most is verified', async () => {
      const user = await createUser(server);
      const from = '127.0.0.21';
      for (let i = 1; i < ACCOUNT_POLICY.threshold; i += 1) assert.equal((await grant(from, user.email, `wrong ${i}`)).status, 400);
      // The right password leaves while the 39 wrong ones are in flight (once the server has
      // answered one of them, so it cannot overtake them all).
      const wrong = Array.from({ length: 39 }, (_, i) => grant(from, user.email, `burst ${i}`));
      const answers = await Promise.all([...wrong, Promise.race(wrong).then(() => grant(from, user.email, user.password))]);
      const right = answers[39];
      assert.ok(right);
      assert.equal(right.status, 429, `the right password got ${right.status} ${right.body}`);
      assert.equal((JSON.parse(right.body) as { error: string }).error, 'slow_down');
      assert.ok(Number(right.headers['retry-after']) >= 1);
      for (const a of answers) assert.ok(a.status === 400 || a.status === 429, `status ${a.status}`);
      assert.ok(answers.filter((a) => a.status === 400).length <= 1);
      assert.ok(verifiedWrong(server, user.id) <= ACCOUNT_POLICY.threshold, `${verifiedWrong(server, user.id)} wrong passwords verified`);
    });

    test('password grant: bursts of 40 wrong passwords at once: at most the threshold is ever verified, then even the right one waits', async () => {
      const user = await createUser(server);
      const from = '127.0.0.22';
      let verified = 0;
      let rounds = 0;
      for (; rounds < 8; rounds += 1) {
        const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => grant(from, user.email, `guess ${rounds}-${i}`)));
        for (const a of answers) assert.ok(a.status === 400 || a.status === 429, `status ${a.status} ${a.body}`);
        verified += answers.filter((a) => a.status === 400).length;
        if (answers.every((a) => a.status === 429 && /failed sign-in attempts/.test(a.body))) break;
      }
      assert.ok(rounds < 8, 'the account locked');
      // The audit trail counts every verification (the one that starts the lock answers 429 at once).
      assert.ok(verifiedWrong(server, user.id) <= ACCOUNT_POLICY.threshold, `${verifiedWrong(server, user.id)} guesses verified`);
      assert.ok(verified <= verifiedWrong(server, user.id));
      assert.equal((await grant(from, user.email, user.password)).status, 429);
      // The lock is short: after it the owner signs in.
      server.clock.advance(ACCOUNT_POLICY.baseSeconds * 2 + 1);
      assert.equal((await grant(from, user.email, user.password)).status, 200);
    });

    test('login page: 24 wrong and the right password at once (4 failures counted before): not signed in', async () => {
      const user = await createUser(server);
      const from = '127.0.0.23';
      const post = await loginForm();
      for (let i = 1; i < ACCOUNT_POLICY.threshold; i += 1) assert.equal((await post(from, user.email, `wrong ${i}`)).status, 401);
      const wrong = Array.from({ length: 24 }, (_, i) => post(from, user.email, `burst ${i}`));
      const answers = await Promise.all([...wrong, Promise.race(wrong).then(() => post(from, user.email, user.password))]);
      const right = answers[24];
      assert.ok(right);
      assert.equal(right.status, 429, `the right password got ${right.status}`);
      assert.match(right.body, /Too many (failed )?sign-in attempts/);
      assert.ok(Number(right.headers['retry-after']) >= 1);
      assert.ok(answers.every((a) => a.status === 401 || a.status === 429));
      assert.ok(verifiedWrong(server, user.id) <= ACCOUNT_POLICY.threshold, `${verifiedWrong(server, user.id)} wrong passwords verified`);
    });

    test('login page: bursts of 25 at once: at most the threshold is ever verified', async () => {
      const user = await createUser(server);
      const from = '127.0.0.24';
      const post = await loginForm();
      let rounds = 0;
      for (; rounds < 8; rounds += 1) {
        const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => post(from, user.email, `guess ${rounds}-${i}`)));
        assert.ok(answers.every((a) => a.status === 401 || a.status === 429));
        if (answers.every((a) => a.status === 429 && /failed sign-in attempts/.test(a.body))) break;
      }
      assert.ok(rounds < 8, 'the account locked');
      assert.ok(verifiedWrong(server, user.id) <= ACCOUNT_POLICY.threshold, `${verifiedWrong(server, user.id)} wrong passwords verified`);
      assert.equal((await post(from, user.email, user.password)).status, 429);
    });

    test('an address locked by guessing still lets an account through where it signed in before (a NAT); others wait', async () => {
      const regular = await createUser(server);
      const stranger = await createUser(server);
      const office = '127.0.0.30';
      assert.equal((await grant(office, regular.email, regular.password)).status, 200, 'the regular signs in from the office');
      // Someone at the office sprays guesses over many accounts: the address locks.
      let last: Answer | undefined;
      for (let i = 0; i < ADDRESS_POLICY.threshold; i += 1) last = await grant(office, `nobody-${i}-${randomBytes(3).toString('hex')}@example.com`, 'guess');
      assert.equal(last?.status, 429);
      assert.equal((await grant(office, stranger.email, stranger.password)).status, 429, 'an account never seen at the office waits');
      const regularAgain = await grant(office, regular.email, regular.password);
      assert.equal(regularAgain.status, 200, `the regular got ${regularAgain.status} ${regularAgain.body}`);
    });
  });
}

describe('the password grant and public clients (RFC 9700 §2.4)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => {
    await server.close();
  });

  test('a public client allowed the password grant (registered before the rule) gets unauthorized_client; registering one is refused', async () => {
    const user = await createUser(server);
    // As a client registered earlier would be: straight into the store.
    const pub = await server.services.clients.insert({
      clientId: newClientId(), secretHash: null, name: 'Old SPA', redirectUris: ['https://spa.example/cb'], ownerUserId: null, isPublic: true,
      grantTypes: ['password', 'refresh_token'], scopes: ['profile'], refreshWithoutSecret: false, trusted: true, now: nowSeconds(server.clock),
    });
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: user.email, password: user.password, client_id: pub.clientId }).toString(),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'unauthorized_client');
    assert.ok(!server.logs.some((l) => l.includes('"event":"login.failed"') || l.includes('"event":"login.succeeded"')), 'no password was checked');
    await assert.rejects(
      registerClient(server.services, { name: 'New SPA', redirectUris: ['https://spa.example/cb'], isPublic: true, grantTypes: ['password'] }),
      /public client cannot use the password grant/,
    );
  });
});
