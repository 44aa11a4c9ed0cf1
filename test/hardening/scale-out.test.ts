// Two Latchkey processes (`latchkey serve` from dist/) on one PostgreSQL schema behave as one
// server: 200 concurrent refreshes of one refresh token and 200 concurrent exchanges of one
// code, split across both, give exactly one success each and leave the grant revoked; a user
// signs in on one and consents on the other; with Redis, the brute-force backoff and the
// per-address rate limit hold across both.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequestRaw } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { createServices } from '../../src/services.js';
import { migrate, openDatabase, type Store } from '../../src/store/db.js';
import { freshDatabase, TEST_DATABASE_URL, type FreshDatabase } from '../helpers/databases.js';
import { createClient, createUser, mintCode, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { exchangeCode, getUser, postToken, refresh, secretPost, tokensOf } from '../helpers/token.js';
import { CookieJar, httpRequest } from '../helpers/browser.js';
import { hiddenFields } from '../helpers/html.js';
import { authorize, LOGIN_PATH, signIn } from '../helpers/authorize.js';
import type { TestServer } from '../helpers/server.js';
import { startServerProcess, type ServerProcess } from './process.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;
const N = 200;
const LOGIN_LIMIT = 20;

describe('two Latchkey processes on one PostgreSQL', { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, () => {
  if (!TEST_DATABASE_URL) {
    process.stdout.write('# SKIPPING the two-process scale-out tests: TEST_DATABASE_URL is not set\n');
    return;
  }
  let db: FreshDatabase;
  let store: Store;
  let a: ServerProcess;
  let b: ServerProcess;
  /** The database, seen through the test's own stores (users, clients and codes are made here). */
  let local: TestServer;
  let client: TestClient;
  let user: TestUser;
  const prefix = `latchkey-test-${randomBytes(6).toString('hex')}:`;

  before(async () => {
    db = await freshDatabase('postgres');
    const env: Record<string, string> = {
      DATABASE_URL: db.url,
      LATCHKEY_TOKEN_RATE_LIMIT: '1000000',
      LATCHKEY_LOGIN_RATE_LIMIT: String(LOGIN_LIMIT),
      LATCHKEY_REDIS_PREFIX: prefix,
      ...(REDIS_URL ? { REDIS_URL } : {}),
    };
    // The first migrates; the second starts on the migrated schema.
    a = await startServerProcess(env);
    b = await startServerProcess(env);
    store = openDatabase(db.url);
    await migrate(store);
    const config = loadConfig({ env: { DATABASE_URL: db.url } });
    const services = createServices(config, store, { logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() })) });
    local = { url: a.url, clock: new MovableClock(), services, config, db, logs: [], close: async () => undefined };
    client = await createClient(local);
    user = await createUser(local);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await store?.close();
    if (REDIS_URL) {
      const { openRedis } = await import('../../src/accounts/backoff.js');
      const redis = openRedis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    await db?.drop();
  });

  const on = (p: ServerProcess) => ({ ...local, url: p.url });

  test(`${N} concurrent refreshes of one refresh token across both: exactly one success, then the grant is revoked`, async () => {
    const { code, grantId } = await mintCode(local, { client, userId: user.id });
    const first = tokensOf(await exchangeCode(on(a), client, code));
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => refresh(on(i % 2 === 0 ? a : b), client, first.refreshToken)));
    const ok = answers.filter((r) => r.status === 200);
    const statuses = answers.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
    process.stdout.write(`# ${N} concurrent refreshes across 2 processes: ${JSON.stringify(statuses)}\n`);
    assert.equal(ok.length, 1, JSON.stringify(statuses));
    for (const r of answers) if (r.status !== 200) assert.equal(r.body.error, 'invalid_grant');
    // Every other request was a replay of a used token: the whole grant is revoked.
    assert.equal(await local.services.grants.isRevoked(grantId), true);
    const winner = tokensOf(ok[0] ?? answers[0]!);
    assert.equal((await getUser(on(a), winner.accessToken)).status, 401);
    assert.equal((await getUser(on(b), first.accessToken)).status, 401);
    assert.equal((await refresh(on(b), client, winner.refreshToken)).status, 400);
  });

  test(`${N} concurrent exchanges of one code across both: exactly one success, then every token from it is revoked`, async () => {
    const { code, grantId } = await mintCode(local, { client, userId: user.id });
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => exchangeCode(on(i % 2 === 0 ? a : b), client, code)));
    const ok = answers.filter((r) => r.status === 200);
    const statuses = answers.reduce<Record<number, number>>((acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }), {});
    process.stdout.write(`# ${N} concurrent code exchanges across 2 processes: ${JSON.stringify(statuses)}\n`);
    assert.equal(ok.length, 1, JSON.stringify(statuses));
    for (const r of answers) if (r.status !== 200) assert.equal(r.body.error, 'invalid_grant');
    assert.equal(await local.services.grants.isRevoked(grantId), true);
    const winner = tokensOf(ok[0] ?? answers[0]!);
    assert.equal((await getUser(on(b), winner.accessToken)).status, 401);
    assert.equal((await refresh(on(a), client, winner.refreshToken)).status, 400);
  });

  test('sign in on one process, consent on the other; the tokens work on both', async () => {
    const jar = await signIn(on(a), user.email, user.password);
    const result = await authorize(on(b), { clientId: client.clientId, redirectUri: client.redirectUri, scope: 'profile email', state: 'across', cookies: jar });
    assert.equal(result.loginShown, false, 'B knows the session A started');
    assert.equal(result.consentShown, true);
    assert.equal(result.state, 'across');
    assert.ok(result.code);
    const tokens = tokensOf(await exchangeCode(on(a), client, result.code));
    const me = await getUser(on(b), tokens.accessToken);
    assert.equal(me.status, 200);
    assert.equal(me.body.email, user.email);
    // Consent is remembered across processes: A asks no more.
    const again = await authorize(on(a), { clientId: client.clientId, redirectUri: client.redirectUri, scope: 'profile email', state: 's2', cookies: jar });
    assert.equal(again.consentShown, false);
    assert.ok(again.code);
    assert.equal((await postToken(on(b), { grant_type: 'authorization_code', code: again.code, redirect_uri: client.redirectUri, ...secretPost(client) })).status, 200);
  });

  describe('limits shared through Redis', { skip: REDIS_URL ? false : 'TEST_REDIS_URL is not set' }, () => {
    if (!REDIS_URL) {
      process.stdout.write('# SKIPPING the shared-limit tests: TEST_REDIS_URL is not set\n');
      return;
    }

    test('failed logins split across both processes back off on both', async () => {
      const victim = await createUser(local);
      const attempt = async (p: ServerProcess, password: string) => {
        const jar = new CookieJar();
        const page = await httpRequest(on(p), 'GET', LOGIN_PATH, { jar });
        return httpRequest(on(p), 'POST', LOGIN_PATH, { jar, form: { ...hiddenFields(page.body, LOGIN_PATH), email: victim.email, password } });
      };
      const statuses = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await attempt(i % 2 === 0 ? a : b, 'wrong password')).status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 429], 'the fifth failure, on A, counts the four before it on both');
      const onB = await attempt(b, victim.password);
      assert.equal(onB.status, 429, 'B holds the same lockout');
      assert.ok(Number(onB.headers.get('retry-after')) >= 1);
    });

    test(`the per-address /login rate limit (${LOGIN_LIMIT} a minute) holds across both processes`, async () => {
      // From an address of its own (127.0.0.8), so earlier tests spent none of its budget.
      const get = (p: ServerProcess) => new Promise<number>((resolve, reject) => {
        const req = httpRequestRaw(new URL(LOGIN_PATH, p.url), { localAddress: '127.0.0.8' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
      const statuses: number[] = [];
      for (let i = 0; i < LOGIN_LIMIT; i += 1) statuses.push(await get(i % 2 === 0 ? a : b));
      assert.ok(statuses.every((s) => s === 200), statuses.join(','));
      // Each process alone has seen only half the limit; together they have seen all of it.
      assert.equal(await get(a), 429);
      assert.equal(await get(b), 429);
    });
  });
});
