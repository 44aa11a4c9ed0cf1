// Crash safety: a token the server answered with is durable. A server on an SQLite file hands
// out codes and tokens and uses some up; it is killed with SIGKILL (kill -9) straight after
// the last answer and started again on the same file: every token handed out still works,
// and every code or refresh token used before the kill stays used.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { createServices } from '../../src/services.js';
import { migrate, openDatabase } from '../../src/store/db.js';
import { freshDatabase, type FreshDatabase } from '../helpers/databases.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { basicHeader, exchangeCode, getUser, refresh, tokensOf } from '../helpers/token.js';
import { authorize, signIn } from '../helpers/authorize.js';
import type { TestServer } from '../helpers/server.js';
import { startServerProcess, type ServerProcess } from './process.js';

const CODES = 40;
const EXCHANGED = 30;
const REFRESHED = 15;
const MACHINE_TOKENS = 10;

describe('kill -9 and restart on the same SQLite file', () => {
  let db: FreshDatabase;
  let client: TestClient;
  let user: TestUser;
  let server: ServerProcess | undefined;
  let local: TestServer;

  before(async () => {
    db = await freshDatabase('sqlite');
    // The user and client are made before the server starts, through the stores.
    const store = openDatabase(db.url);
    await migrate(store);
    const config = loadConfig({ env: { DATABASE_URL: db.url } });
    const services = createServices(config, store, { logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() })) });
    local = { url: '', clock: new MovableClock(), services, config, db, logs: [], close: async () => undefined };
    client = await createClient(local, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
    user = await createUser(local);
    await store.close();
  });
  after(async () => {
    await server?.stop();
    await db.drop();
  });

  test('every token handed out before the kill works after it; everything used stays used', async () => {
    const env = { DATABASE_URL: db.url, LATCHKEY_TOKEN_RATE_LIMIT: '0', LATCHKEY_LOGIN_RATE_LIMIT: '0' };
    server = await startServerProcess(env);
    const first = { ...local, url: server.url };

    // Codes through the real authorization endpoint (consent once, then remembered).
    const jar = await signIn(first, user.email, user.password);
    const codes: string[] = [];
    for (let i = 0; i < CODES; i += 1) {
      const r = await authorize(first, { clientId: client.clientId, redirectUri: client.redirectUri, state: `s${i}`, cookies: jar });
      assert.ok(r.code, `code ${i}: ${r.status} ${r.error ?? ''}`);
      codes.push(r.code);
    }
    const exchanged = codes.slice(0, EXCHANGED);
    const unexchanged = codes.slice(EXCHANGED);
    const pairs = [];
    for (const code of exchanged) pairs.push(tokensOf(await exchangeCode(first, client, code)));
    const usedRefreshTokens: string[] = [];
    const rotated = [];
    for (const pair of pairs.slice(0, REFRESHED)) {
      rotated.push(tokensOf(await refresh(first, client, pair.refreshToken)));
      usedRefreshTokens.push(pair.refreshToken);
    }
    const machineTokens: string[] = [];
    for (let i = 0; i < MACHINE_TOKENS; i += 1) {
      const res = await fetch(`${first.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader(client.clientId, client.clientSecret ?? '') },
        body: 'grant_type=client_credentials',
      });
      assert.equal(res.status, 200);
      machineTokens.push(String(((await res.json()) as Record<string, unknown>).access_token));
    }

    // No goodbye: SIGKILL right after the last answer.
    const pid = server.pid;
    await server.kill9();
    assert.equal(server.child.signalCode, 'SIGKILL');
    server = await startServerProcess(env);
    const second = { ...local, url: server.url };
    assert.notEqual(server.pid, pid);

    // Rotation ends the access token issued with the used refresh token: those must stay dead.
    const userAccessTokens = [...pairs.slice(REFRESHED), ...rotated].map((p) => p.accessToken);
    const endedAccessTokens = pairs.slice(0, REFRESHED).map((p) => p.accessToken);
    const liveRefreshTokens = [...pairs.slice(REFRESHED), ...rotated].map((p) => p.refreshToken);
    const handedOut = userAccessTokens.length + machineTokens.length + liveRefreshTokens.length + unexchanged.length;
    const used = exchanged.length + usedRefreshTokens.length + endedAccessTokens.length;
    process.stdout.write(`# kill -9 (pid ${pid}): checking ${handedOut} credentials handed out (${userAccessTokens.length} user access tokens, ${machineTokens.length} client_credentials tokens, ${liveRefreshTokens.length} live refresh tokens, ${unexchanged.length} unused codes) and ${used} used or ended ones (${exchanged.length} codes, ${usedRefreshTokens.length} refresh tokens, ${endedAccessTokens.length} access tokens ended by rotation)\n`);

    for (const token of userAccessTokens) assert.equal((await getUser(second, token)).status, 200);
    for (const token of machineTokens) {
      const res = await fetch(`${second.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader(client.clientId, client.clientSecret ?? '') },
        body: new URLSearchParams({ token }).toString(),
      });
      assert.equal(((await res.json()) as Record<string, unknown>).active, true);
    }
    for (const token of liveRefreshTokens) assert.equal((await refresh(second, client, token)).status, 200);
    for (const code of unexchanged) assert.equal((await exchangeCode(second, client, code)).status, 200);
    // Used (or ended) before the kill, still so after it.
    for (const token of endedAccessTokens) assert.equal((await getUser(second, token)).status, 401);
    for (const token of usedRefreshTokens) assert.equal((await refresh(second, client, token)).body.error, 'invalid_grant');
    for (const code of exchanged) assert.equal((await exchangeCode(second, client, code)).body.error, 'invalid_grant');
  });
});
