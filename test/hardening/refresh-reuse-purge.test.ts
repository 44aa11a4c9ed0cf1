// Issue 18 finding 7: refresh-token reuse detection must outlive the purge horizon. A used
// refresh token's full row goes after max(retry window, access-token lifetime) + margin; a
// slim record (consumed_refresh_tokens) keeps it recognisable for as long as its grant lives,
// so a replay of the stolen original still revokes the thief's chain. And `latchkey purge`
// uses the horizon the server stored, not its own environment's. On SQLite and PostgreSQL,
// with a moved clock, the purge run in the server and on the command line.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { tokenKey } from '../../src/oauth/crypto.js';
import { purgeNow } from '../../src/http/plugins/purge-timer.js';
import { purgeExpired } from '../../src/store/purge.js';
import { databaseKinds, freshDatabase } from '../helpers/databases.js';
import { createClient, createUser, mintCode, type TestClient } from '../helpers/fixtures.js';
import { exchangeCode, getUser, refresh, tokensOf } from '../helpers/token.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { runCli } from './process.js';

const HOUR = 3600;
const DAY = 86_400;

interface Chain {
  server: TestServer;
  client: TestClient;
  grantId: number;
  r0: string;
  r1: string;
}

/** A grant through the code flow, its first refresh token R0 rotated once to R1. */
async function rotatedOnce(server: TestServer, client?: TestClient): Promise<Chain> {
  const c = client ?? (await createClient(server));
  const user = await createUser(server);
  const { code, grantId } = await mintCode(server, { client: c, userId: user.id });
  const r0 = tokensOf(await exchangeCode(server, c, code)).refreshToken;
  const r1 = tokensOf(await refresh(server, c, r0)).refreshToken;
  return { server, client: c, grantId, r0, r1 };
}

async function fullRowCount(server: TestServer, token: string): Promise<number> {
  return (await server.services.store.db.selectFrom('refresh_tokens').select('token_hash').where('token_hash', '=', tokenKey(token)).execute()).length;
}

async function reuseRecords(server: TestServer, grantId: number): Promise<number> {
  const r = await sql<{ n: number | string }>`select count(*) as n from consumed_refresh_tokens where grant_id = ${grantId}`.execute(server.services.store.db);
  return Number(r.rows[0]?.n ?? 0);
}

function reuseAudits(server: TestServer, grantId: number): number {
  return server.logs.map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.audit === true && l.event === 'refresh.reuse_detected' && l.grant_id === grantId && l.address === '127.0.0.1').length;
}

/**
 * The thief's chain is alive after the purge (R1 → R2 with a fresh access token); then the
 * stolen original R0 is replayed: refused, the grant revoked, R2 and its access token dead.
 */
async function replayRevokesChain(chain: Chain): Promise<void> {
  const { server, client, grantId, r0, r1 } = chain;
  assert.equal(await fullRowCount(server, r0), 0, 'precondition: the purge deleted R0\'s full row');
  const thief = tokensOf(await refresh(server, client, r1));
  assert.equal((await getUser(server, thief.accessToken)).status, 200, 'the thief\'s chain works after the purge');
  const auditsBefore = reuseAudits(server, grantId);

  const replay = await refresh(server, client, r0);
  assert.equal(replay.body.error, 'invalid_grant', JSON.stringify(replay.body));
  assert.equal(await server.services.grants.isRevoked(grantId), true, 'a replay of the purged R0 revokes the grant');
  assert.equal((await refresh(server, client, thief.refreshToken)).body.error, 'invalid_grant', 'the thief\'s refresh token stops working');
  assert.equal((await getUser(server, thief.accessToken)).status, 401, 'and its access token');
  assert.equal(reuseAudits(server, grantId), auditsBefore + 1, 'refresh.reuse_detected is audited');
}

for (const kind of databaseKinds()) {
  describe(`[${kind}] refresh-token reuse after a purge`, () => {
    const servers: TestServer[] = [];
    const start = async (options: TestServerOptions = {}) => {
      const s = await startTestServer(kind, { ...options, env: { LATCHKEY_PURGE_INTERVAL: '0', ...options.env } });
      servers.push(s);
      return s;
    };
    after(async () => {
      for (const s of servers) await s.close();
    });

    test('standard profile: a replay of R0 3 hours later, after the server\'s purge, still revokes the grant', async () => {
      const server = await start();
      const chain = await rotatedOnce(server);
      server.clock.advance(3 * HOUR);
      await purgeNow(server.services);
      await replayRevokesChain(chain);
    });

    test('hover profile (refresh tokens never expire): a replay of R0 400 days later, after the purge, still revokes the grant', async () => {
      const server = await start({ profile: 'hover' });
      const chain = await rotatedOnce(server);
      server.clock.advance(400 * DAY);
      await purgeNow(server.services);
      await replayRevokesChain(chain);
    });

    test('`latchkey purge` in another environment (standard profile, margin 0) than the server (hover): a replay of R0 still revokes', async () => {
      const server = await start({ profile: 'hover' });
      // The CLI reads the real clock: the grant is made 400 days in the past, then the
      // server's clock comes back to now.
      server.clock.advance(-400 * DAY);
      const chain = await rotatedOnce(server);
      server.clock.advance(400 * DAY);
      const result = await runCli(['purge', '--database-url', server.db.url], { LATCHKEY_PROFILE: 'standard', LATCHKEY_PURGE_MARGIN: '0' });
      assert.equal(result.code, 0, result.stderr);
      const out = JSON.parse(result.stdout) as { refresh_tokens: number };
      assert.ok(out.refresh_tokens >= 1, result.stdout);
      await replayRevokesChain(chain);
    });

    test('`latchkey purge` uses the horizon the server stored, and says so; without one, its own', async () => {
      // Hover: access tokens live 7200 s, so the server keeps a used refresh token 7200 + 3600 s.
      const server = await start({ profile: 'hover' });
      server.clock.advance(-2 * HOUR);
      const chain = await rotatedOnce(server);
      server.clock.advance(2 * HOUR);
      // Its own settings would keep it 3600 + 0 s, and delete R0's row (used 2 hours ago).
      const result = await runCli(['purge', '--database-url', server.db.url], { LATCHKEY_PROFILE: 'standard', LATCHKEY_PURGE_MARGIN: '0' });
      assert.equal(result.code, 0, result.stderr);
      const out = JSON.parse(result.stdout) as { horizon?: { source: string; margin: number; reuse_window: number } };
      assert.deepEqual(out.horizon, { source: 'server', margin: 3600, reuse_window: 7200 }, result.stdout);
      assert.equal(await fullRowCount(server, chain.r0), 1, 'R0\'s full row is kept for the server\'s horizon');
      // Inside the horizon a replay is caught from the full row, as before.
      assert.equal((await refresh(server, chain.client, chain.r0)).body.error, 'invalid_grant');
      assert.equal(await server.services.grants.isRevoked(chain.grantId), true);

      // A database no server has run on: the CLI's own settings, and it says so.
      const bare = await freshDatabase(kind);
      try {
        const own = await runCli(['purge', '--database-url', bare.url], { LATCHKEY_PROFILE: 'huddle', LATCHKEY_PURGE_MARGIN: '5' });
        assert.equal(own.code, 0, own.stderr);
        assert.deepEqual((JSON.parse(own.stdout) as { horizon?: unknown }).horizon, { source: 'config', margin: 5, reuse_window: 1200 }, own.stdout);
      } finally {
        await bare.drop();
      }
    });

    test('a used token that expired before the reuse horizon (short refresh lifetime): recorded as it goes, replay still revokes', async () => {
      // Refresh tokens live 1800 s, less than the 7200 s horizon: R0's row goes through the
      // expiry batches, not the sweep.
      const server = await start({ overrides: { refreshTokenTtl: 1800 } });
      const client = await createClient(server);
      const { code, grantId } = await mintCode(server, { client, userId: (await createUser(server)).id });
      const r0 = tokensOf(await exchangeCode(server, client, code)).refreshToken;
      server.clock.advance(1000);
      const r1 = tokensOf(await refresh(server, client, r0)).refreshToken;
      server.clock.advance(900);
      const result = await purgeNow(server.services);
      assert.ok(result.reuse_records >= 1, JSON.stringify(result));
      await replayRevokesChain({ server, client, grantId, r0, r1 });
    });

    test('two purges at once, in small batches: every used token is recorded before its row goes', async () => {
      const server = await start({ overrides: { refreshTokenTtl: 1800 } });
      const client = await createClient(server);
      const chains: Chain[] = [];
      for (let i = 0; i < 4; i += 1) {
        const { code, grantId } = await mintCode(server, { client, userId: (await createUser(server)).id });
        const r0 = tokensOf(await exchangeCode(server, client, code)).refreshToken;
        chains.push({ server, client, grantId, r0, r1: '' });
      }
      server.clock.advance(1000);
      for (const c of chains) c.r1 = tokensOf(await refresh(server, client, c.r0)).refreshToken;
      // Half the grants: R1 used too.
      for (const c of chains.slice(0, 2)) tokensOf(await refresh(server, client, c.r1));
      // R0s have expired (the expiry batches take them); the used R1s are past a 60 s horizon
      // (the sweep takes them); the live tokens are neither.
      server.clock.advance(900);
      const now = Math.floor(server.clock.nowMs() / 1000);
      const db = server.services.store.db;
      const runs = await Promise.all([1, 2].map(() => purgeExpired(db, { now, margin: 0, reuseWindow: 60, batchSize: 1, windowSize: 1 })));
      assert.equal(runs.reduce((n, r) => n + r.reuse_records, 0), 6, JSON.stringify(runs));
      for (const c of chains) {
        assert.equal(await fullRowCount(server, c.r0), 0);
        assert.equal(await reuseRecords(server, c.grantId), chains.indexOf(c) < 2 ? 2 : 1);
      }
      for (const c of chains) {
        assert.equal((await refresh(server, client, c.r0)).body.error, 'invalid_grant');
        assert.equal(await server.services.grants.isRevoked(c.grantId), true);
      }
    });

    test('a burst of concurrent replays of R0 after the purge: all refused, the grant ends revoked', async () => {
      const server = await start();
      const chain = await rotatedOnce(server);
      server.clock.advance(3 * HOUR);
      await purgeNow(server.services);
      const thief = tokensOf(await refresh(server, chain.client, chain.r1));
      const burst = await Promise.all(Array.from({ length: 12 }, () => refresh(server, chain.client, chain.r0)));
      for (const res of burst) {
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error, 'invalid_grant');
      }
      assert.equal(await server.services.grants.isRevoked(chain.grantId), true);
      assert.equal((await refresh(server, chain.client, thief.refreshToken)).body.error, 'invalid_grant');
      assert.equal((await getUser(server, thief.accessToken)).status, 401);
      assert.ok(reuseAudits(server, chain.grantId) >= 1);
    });

    test('a random unknown refresh token after the purge changes nothing', async () => {
      const server = await start();
      const chain = await rotatedOnce(server);
      server.clock.advance(3 * HOUR);
      await purgeNow(server.services);
      const records = await reuseRecords(server, chain.grantId);
      const res = await refresh(server, chain.client, randomBytes(32).toString('base64url'));
      assert.equal(res.body.error, 'invalid_grant');
      assert.equal(await server.services.grants.isRevoked(chain.grantId), false);
      assert.equal(reuseAudits(server, chain.grantId), 0);
      assert.equal(await reuseRecords(server, chain.grantId), records);
      // R1 still works.
      tokensOf(await refresh(server, chain.client, chain.r1));
    });

    test('another client presenting the purged R0 is refused without revoking (as for a full row)', async () => {
      const server = await start();
      const chain = await rotatedOnce(server);
      const other = await createClient(server);
      server.clock.advance(3 * HOUR);
      await purgeNow(server.services);
      assert.equal((await refresh(server, other, chain.r0)).body.error, 'invalid_grant');
      assert.equal(await server.services.grants.isRevoked(chain.grantId), false);
    });

    test('the records go once the grant\'s refresh tokens can no longer be used, or with the revoked grant', async () => {
      const server = await start();
      const client = await createClient(server);
      // Grant A: rotated twice, then left alone until its live token has expired (30 days).
      const a = await rotatedOnce(server, client);
      tokensOf(await refresh(server, client, a.r1));
      // Grant B: rotated once, then revoked.
      const b = await rotatedOnce(server, client);
      server.clock.advance(3 * HOUR);
      await purgeNow(server.services);
      assert.equal(await reuseRecords(server, a.grantId), 2, 'R0 and R1 of grant A are recorded');
      assert.equal(await reuseRecords(server, b.grantId), 1);

      await server.services.grants.revoke(b.grantId, Math.floor(server.clock.nowMs() / 1000));
      server.clock.advance(HOUR + 1);
      await purgeNow(server.services);
      assert.equal(await reuseRecords(server, b.grantId), 0, 'the revoked grant\'s records are gone');
      assert.equal(await reuseRecords(server, a.grantId), 2, 'the live grant\'s stay');

      server.clock.advance(31 * DAY);
      await purgeNow(server.services);
      assert.equal(await reuseRecords(server, a.grantId), 0, 'the expired grant\'s records are gone');
      const db = server.services.store.db;
      assert.equal((await db.selectFrom('grants').select('id').where('id', 'in', [a.grantId, b.grantId]).execute()).length, 0);
    });

    test('hover: the records stay while the grant lives, and go with it', async () => {
      const server = await start({ profile: 'hover' });
      const chain = await rotatedOnce(server);
      server.clock.advance(400 * DAY);
      await purgeNow(server.services);
      assert.equal(await reuseRecords(server, chain.grantId), 1);
      // The replay revokes the grant; a margin later the grant and its records are gone.
      assert.equal((await refresh(server, chain.client, chain.r0)).body.error, 'invalid_grant');
      server.clock.advance(HOUR + 1);
      await purgeNow(server.services);
      assert.equal(await reuseRecords(server, chain.grantId), 0);
    });
  });
}
