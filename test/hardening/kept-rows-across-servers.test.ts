// Two Latchkey processes (`latchkey serve` from dist/) on one PostgreSQL schema, each keeping the
// clients and access-token contexts it has read (store/postgres/changes.ts): a change made through
// one — or through the command line — is refused by the other the instant the changing request
// (or command) is answered. Not "soon": every check below is sent only after that answer, and
// the tokens were used at the other server first, so that it holds them in memory. B reaches
// PostgreSQL through a proxy that holds back everything the database sends it by DELAY_MS: a
// notification reaches B well after A's commit, while B answers from memory at once, so an
// ordering resting on the notification's speed alone would fail here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { MovableClock } from '../../src/oauth/clock.js';
import { createServices } from '../../src/services.js';
import { migrate, openDatabase, type Store } from '../../src/store/db.js';
import { freshDatabase, TEST_DATABASE_URL, type FreshDatabase } from '../helpers/databases.js';
import { createClient, createOrganization, createUser, mintCode, type TestClient, type TestUser } from '../helpers/fixtures.js';
import { exchangeCode, getUser, postToken, refresh, tokensOf } from '../helpers/token.js';
import { basicOf, introspectToken, issueTokens, postEndpoint, revokeToken } from '../helpers/token-admin.js';
import type { TestServer } from '../helpers/server.js';
import { runCli, startServerProcess, type ServerProcess } from './process.js';

const BURST = 50;
const DELAY_MS = 100;

describe('kept rows across two Latchkey processes on one PostgreSQL', { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, () => {
  if (!TEST_DATABASE_URL) {
    process.stdout.write('# SKIPPING the kept-rows-across-servers tests: TEST_DATABASE_URL is not set\n');
    return;
  }
  let db: FreshDatabase;
  let store: Store;
  let a: ServerProcess;
  let b: ServerProcess;
  let proxy: DelayingProxy;
  let local: TestServer;
  let client: TestClient;
  let user: TestUser;
  const on = (p: ServerProcess): TestServer => ({ ...local, url: p.url });
  const env = () => ({ DATABASE_URL: db.url, LATCHKEY_TOKEN_RATE_LIMIT: '1000000' });

  const clientCredentials = (p: ServerProcess, c: TestClient, secret = c.clientSecret ?? '') =>
    postToken(on(p), { grant_type: 'client_credentials', scope: 'profile' }, { basic: { id: c.clientId, secret } });
  const active = async (p: ServerProcess, c: TestClient, token: string) => (await introspectToken(on(p), c, token)).active;

  before(async () => {
    db = await freshDatabase('postgres');
    a = await startServerProcess(env());
    proxy = await delayingProxy(new URL(db.url), DELAY_MS);
    b = await startServerProcess({ ...env(), DATABASE_URL: proxy.url });
    // The test's own store (fixtures, and a writer of its own): it waits for the servers' acks too.
    store = openDatabase(db.url, { watchChanges: true });
    await migrate(store);
    const config = loadConfig({ env: { DATABASE_URL: db.url } });
    const services = createServices(config, store, { logger: pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() })) });
    local = { url: a.url, clock: new MovableClock(), services, config, db, logs: [], close: async () => undefined };
    client = await createClient(local, { grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] });
    user = await createUser(local);
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await proxy?.close();
    await store?.close();
    await db?.drop();
  });

  test(`${BURST} tokens used at B, revoked at A all at once: B refuses each the instant A answers its revocation`, async () => {
    const issued = await Promise.all(Array.from({ length: BURST }, () => clientCredentials(a, client)));
    const tokens = issued.map((r) => String(r.body.access_token));
    // B reads each once, and keeps it.
    assert.deepEqual(await Promise.all(tokens.map((t) => active(b, client, t))), tokens.map(() => true));
    assert.deepEqual(await Promise.all(tokens.map((t) => active(b, client, t))), tokens.map(() => true));
    const after = await Promise.all(tokens.map(async (token) => {
      const revoked = await revokeToken(on(a), client, token);
      assert.equal(revoked.status, 200);
      return active(b, client, token);
    }));
    assert.deepEqual(after, tokens.map(() => false));
  });

  test('a user\'s token used at B; revoked at A (the revocation endpoint): /api/user at B answers 401 at once', async () => {
    const { accessToken } = await issueTokens(on(a), client, user.id);
    assert.equal((await getUser(on(b), accessToken)).status, 200);
    assert.equal((await getUser(on(b), accessToken)).status, 200);
    assert.equal((await revokeToken(on(a), client, accessToken)).status, 200);
    assert.equal((await getUser(on(b), accessToken)).status, 401);
  });

  test('a refresh at A revokes the old access token B holds; a replay of the used refresh token at A revokes the grant, and B refuses the new one', async () => {
    const { code } = await mintCode(local, { client, userId: user.id });
    const first = tokensOf(await exchangeCode(on(a), client, code));
    assert.equal((await getUser(on(b), first.accessToken)).status, 200);
    const second = tokensOf(await refresh(on(a), client, first.refreshToken));
    assert.equal((await getUser(on(b), first.accessToken)).status, 401, 'the rotation ended the old access token');
    assert.equal((await getUser(on(b), second.accessToken)).status, 200);
    assert.equal(await active(b, client, second.accessToken), true);
    const replay = await refresh(on(a), client, first.refreshToken);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal((await getUser(on(b), second.accessToken)).status, 401, 'the reuse revoked the grant');
    assert.equal(await active(b, client, second.accessToken), false);
  });

  test('the command line: a client secret reset is refused by both servers once the command has exited; an organization switched off too', async () => {
    const mine = await createClient(local, { grantTypes: ['client_credentials'] });
    for (const p of [a, b]) assert.equal((await clientCredentials(p, mine)).status, 200);
    const reset = await runCli(['client', 'reset-secret', '--client-id', mine.clientId], { DATABASE_URL: db.url });
    assert.equal(reset.code, 0, reset.stderr);
    const secret = String((JSON.parse(reset.stdout) as { client_secret: string }).client_secret);
    for (const p of [a, b]) {
      const old = await clientCredentials(p, mine);
      assert.equal(old.status, 401, `old secret at ${p.url}`);
      assert.equal(old.body.error, 'invalid_client');
      assert.equal((await clientCredentials(p, mine, secret)).status, 200);
    }

    const org = await createOrganization(local, { memberIds: [user.id] });
    const { accessToken } = await issueTokens(on(a), client, user.id, { organizationId: org.id });
    for (const p of [a, b]) assert.equal(await active(p, client, accessToken), true);
    const off = await runCli(['org', 'set-integrations', '--org', String(org.id), '--enabled', 'false'], { DATABASE_URL: db.url });
    assert.equal(off.code, 0, off.stderr);
    for (const p of [a, b]) assert.equal(await active(p, client, accessToken), false, p.url);
  });

  test('a client deleted through another process\'s store: both servers refuse its secret and its tokens at once', async () => {
    const mine = await createClient(local, { grantTypes: ['client_credentials'] });
    const token = String((await clientCredentials(a, mine)).body.access_token);
    for (const p of [a, b]) assert.equal(await active(p, mine, token), true);
    await local.services.clients.delete(mine.client.id);
    for (const p of [a, b]) {
      const refused = await clientCredentials(p, mine);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error, 'invalid_client');
      const introspected = await postEndpoint(on(p), '/oauth/introspect', { token }, { basic: basicOf(mine) });
      assert.equal(introspected.status, 401);
    }
  });

  test('every listener killed (pg_terminate_backend) while revocations go on: no stale answer while they reconnect, and afterwards', async () => {
    const issued = await Promise.all(Array.from({ length: 30 }, () => clientCredentials(a, client)));
    const tokens = issued.map((r) => String(r.body.access_token));
    assert.deepEqual(await Promise.all(tokens.map((t) => active(b, client, t))), tokens.map(() => true));
    const killer = (async () => {
      for (let i = 0; i < 3; i++) {
        psql(`select pg_terminate_backend(pid) from pg_stat_activity where application_name like 'latchkey-listen:' || left(md5('${db.schema ?? ''}'), 16) || ':%'`);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const after = await Promise.all(tokens.map(async (token, i) => {
      await new Promise((r) => setTimeout(r, i * 5));
      assert.equal((await revokeToken(on(i % 2 === 0 ? a : b), client, token)).status, 200);
      return Promise.all([active(a, client, token), active(b, client, token)]);
    }));
    await killer;
    assert.deepEqual(after, tokens.map(() => [false, false]));
    // Once back, a revocation is still seen at once.
    const { accessToken } = await issueTokens(on(a), client, user.id);
    assert.equal((await getUser(on(b), accessToken)).status, 200);
    assert.equal((await getUser(on(b), accessToken)).status, 200);
    assert.equal((await revokeToken(on(a), client, accessToken)).status, 200);
    assert.equal((await getUser(on(b), accessToken)).status, 401);
  });

  test('B frozen (SIGSTOP) past the ack bound, deaf too (its database traffic held back): A answers after about a second and logs it; B, resumed with the check already waiting, refuses the token', async () => {
    const { accessToken } = await issueTokens(on(a), client, user.id);
    assert.equal((await getUser(on(b), accessToken)).status, 200);
    assert.equal((await getUser(on(b), accessToken)).status, 200);
    process.kill(b.pid, 'SIGSTOP');
    proxy.pause();
    let check: Promise<{ status: number }> | undefined;
    let waited = 0;
    try {
      const started = performance.now();
      assert.equal((await revokeToken(on(a), client, accessToken)).status, 200);
      waited = performance.now() - started;
      // The check reaches B while it is stopped; B resumes with it waiting and nothing heard.
      check = getUser(on(b), accessToken);
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      process.kill(b.pid, 'SIGCONT');
    }
    // B's answer, if it came from what B kept, would come now, before B can hear anything.
    await new Promise((r) => setTimeout(r, 300));
    proxy.resume();
    assert.equal((await check).status, 401);
    assert.ok(waited >= 1000, `A answered after ${waited} ms`);
    assert.ok(a.logs.some((line) => line.includes('"event":"store.peer_silent"')), 'A logged the silent peer');
    // B recovers: it keeps and drops again as before.
    const next = await issueTokens(on(a), client, user.id);
    await waitFor(async () => (await getUser(on(b), next.accessToken)).status === 200);
    assert.equal((await revokeToken(on(a), client, next.accessToken)).status, 200);
    assert.equal((await getUser(on(b), next.accessToken)).status, 401);
  });
});

interface DelayingProxy {
  url: string;
  /** Holds back everything the database sends through the proxy until resume(). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** A TCP proxy to the database of `target` that forwards what the database sends `delayMs` late, in order. */
async function delayingProxy(target: URL, delayMs: number): Promise<DelayingProxy> {
  const sockets = new Set<Socket>();
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => undefined;
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5432) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => { client.destroy(); upstream.destroy(); });
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    let chain = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      const due = Date.now() + delayMs;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await gate;
        if (!client.destroyed) client.write(chunk);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = new URL(target.toString());
  url.hostname = '127.0.0.1';
  url.port = String(typeof address === 'object' && address ? address.port : 0);
  return {
    url: url.toString(),
    pause() {
      gate = new Promise((resolve) => { open = resolve; });
    },
    resume() {
      open();
    },
    close: () => new Promise<void>((resolve) => {
      open();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

function psql(statement: string): void {
  const result = spawnSync('psql', [TEST_DATABASE_URL ?? '', '-v', 'ON_ERROR_STOP=1', '-qAtc', statement], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
