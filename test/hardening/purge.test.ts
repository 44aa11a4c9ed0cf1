// The cleanup (store/purge.ts): under steady refresh traffic the token tables stop growing
// once purged (rows before/after, with a moved clock), live tokens survive it, replay
// detection still works inside the reuse horizon, it deletes in batches and sweeps the grants
// in windows, letting the event loop turn between them. Also
// `latchkey purge` on the command line. On SQLite and PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nowSeconds } from '../../src/oauth/clock.js';
import { newSecret, sha256Hex, tokenKey } from '../../src/oauth/crypto.js';
import { countRows, purgeExpired } from '../../src/store/purge.js';
import { purgeNow } from '../../src/http/plugins/purge-timer.js';
import { databaseKinds } from '../helpers/databases.js';
import { createClient, createUser, mintCode, type TestClient } from '../helpers/fixtures.js';
import { exchangeCode, getUser, refresh, tokensOf } from '../helpers/token.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from './process.js';

const GRANTS = 3;
const ROUNDS = 40;
const STEP = 300; // seconds between refreshes: access tokens live 3600 s

for (const kind of databaseKinds()) {
  describe(`[${kind}] purge`, () => {
    let server: TestServer;
    let client: TestClient;
    let userId: number;

    before(async () => {
      server = await startTestServer(kind, { env: { LATCHKEY_PURGE_INTERVAL: '0' } });
      client = await createClient(server);
      userId = (await createUser(server)).id;
    });
    after(async () => {
      await server.close();
    });

    test('steady refresh traffic: the token tables stop growing once purged, live tokens keep working', async () => {
      const chains: string[] = [];
      for (let g = 0; g < GRANTS; g += 1) {
        const { code } = await mintCode(server, { client, userId });
        chains.push(tokensOf(await exchangeCode(server, client, code)).refreshToken);
      }
      let lastAccess: string[] = [];
      const phase = async () => {
        for (let round = 0; round < ROUNDS; round += 1) {
          server.clock.advance(STEP);
          lastAccess = [];
          for (let g = 0; g < GRANTS; g += 1) {
            const pair = tokensOf(await refresh(server, client, chains[g] ?? ''));
            chains[g] = pair.refreshToken;
            lastAccess.push(pair.accessToken);
          }
        }
        const before = await countRows(server.services.store.db);
        const deleted = await purgeNow(server.services);
        const afterPurge = await countRows(server.services.store.db);
        return { before, deleted, after: afterPurge };
      };

      const first = await phase();
      const second = await phase();
      const third = await phase();
      process.stdout.write(`# [${kind}] rows after ${ROUNDS * GRANTS} refreshes each phase: before purge ${JSON.stringify(third.before)}, after ${JSON.stringify(third.after)}\n`);
      // Before each purge the tables hold every rotation; after it only what still matters:
      // the same number each time, however long the traffic goes on.
      // (Within one row a chain: the real clock ticks on under the moved one, so an expiry
      // can fall either side of a purge.)
      assert.ok(first.before.refresh_tokens > first.after.refresh_tokens);
      for (const table of ['refresh_tokens', 'access_tokens'] as const) {
        for (const later of [second, third]) {
          assert.ok(Math.abs(later.after[table] - first.after[table]) <= GRANTS, `${table}: ${first.after[table]} then ${later.after[table]}`);
        }
      }
      assert.equal(third.after.grants, GRANTS);
      assert.ok(Math.abs(third.deleted.refresh_tokens - ROUNDS * GRANTS) <= GRANTS, `deleted ${third.deleted.refresh_tokens}`);
      // Access tokens: only unexpired ones remain (3600 s / 300 s = 12 a chain, plus the one just issued).
      assert.ok(third.after.access_tokens <= GRANTS * (3600 / STEP + 1), `${third.after.access_tokens} access tokens`);
      // Consumed refresh tokens are kept for the reuse horizon (access-token lifetime + margin = 7200 s).
      assert.ok(third.after.refresh_tokens <= GRANTS * (7200 / STEP + 2), `${third.after.refresh_tokens} refresh tokens`);

      for (const t of lastAccess) assert.equal((await getUser(server, t)).status, 200);
      for (let g = 0; g < GRANTS; g += 1) {
        const pair = tokensOf(await refresh(server, client, chains[g] ?? ''));
        chains[g] = pair.refreshToken;
      }
    });

    test('a replay inside the reuse horizon is still caught after a purge', async () => {
      const { code, grantId } = await mintCode(server, { client, userId });
      const r0 = tokensOf(await exchangeCode(server, client, code)).refreshToken;
      const r1 = tokensOf(await refresh(server, client, r0));
      server.clock.advance(1800);
      await purgeNow(server.services);
      const replay = await refresh(server, client, r0);
      assert.equal(replay.body.error, 'invalid_grant');
      assert.equal(await server.services.grants.isRevoked(grantId), true);
      assert.equal((await getUser(server, r1.accessToken)).status, 401);
      // Once the grant has been revoked for longer than the margin, all of it goes.
      server.clock.advance(3601);
      await purgeNow(server.services);
      const db = server.services.store.db;
      assert.equal((await db.selectFrom('refresh_tokens').select('token_hash').where('grant_id', '=', grantId).execute()).length, 0);
      assert.equal((await db.selectFrom('grants').select('id').where('id', '=', grantId).execute()).length, 0);
    });

    test('codes, sessions and empty grants go; it deletes in batches', async () => {
      const db = server.services.store.db;
      const now = nowSeconds(server.clock);
      for (let i = 0; i < 25; i += 1) await mintCode(server, { client, userId, ttl: 60 });
      for (let i = 0; i < 23; i += 1) {
        await server.services.sessions.insert({ idHash: sha256Hex(newSecret()), userId: null, csrfToken: 'x', authTime: null, expiresAt: now + 10, now });
      }
      const live = await mintCode(server, { client, userId, ttl: 86_400 * 2 });
      server.clock.advance(3600 + 120);
      // Windows of 2 grants: the sweep that finds empty grants takes many steps.
      const counts = await purgeExpired(db, { now: nowSeconds(server.clock), reuseWindow: 3600, batchSize: 7, windowSize: 2 });
      assert.ok(counts.authorization_codes >= 25, JSON.stringify(counts));
      assert.ok(counts.sessions >= 23, JSON.stringify(counts));
      assert.ok(counts.grants >= 25, 'the grants of codes never exchanged, now empty');
      assert.ok(await server.services.codes.find(tokenKey(live.code)), 'an unexpired code stays');
      assert.equal(await server.services.grants.isRevoked(live.grantId), false, 'and its grant');
      const again = await purgeExpired(db, { now: nowSeconds(server.clock), reuseWindow: 3600, batchSize: 7, windowSize: 2 });
      assert.deepEqual(again, { authorization_codes: 0, access_tokens: 0, refresh_tokens: 0, grants: 0, sessions: 0, client_assertions: 0, reuse_records: 0 });
    });

    test('the purge lets the event loop turn after every batch and every window of the sweep', async () => {
      for (let i = 0; i < 12; i += 1) await mintCode(server, { client, userId, ttl: 86_400 * 2 });
      const now = nowSeconds(server.clock);
      for (let i = 0; i < 6; i += 1) {
        await server.services.sessions.insert({ idHash: sha256Hex(newSecret()), userId: null, csrfToken: 'x', authTime: null, expiresAt: now - 10, now: now - 20 });
      }
      const lastGrant = Number((await server.services.store.db.selectFrom('grants').select((eb) => eb.fn.max('id').as('id')).executeTakeFirstOrThrow()).id);
      // A callback that asks to run on every turn of the event loop: it runs only when the
      // purge lets the loop turn (on SQLite the driver is synchronous, so nothing else would).
      let turns = 0;
      let running = true;
      const spin = () => {
        if (!running) return;
        turns += 1;
        setImmediate(spin);
      };
      setImmediate(spin);
      const windows = Math.ceil(lastGrant / 3);
      // Batches of 2: the 6 expired sessions take 4 (2, 2, 2, 0); codes, access tokens and
      // expired refresh tokens (none here) 1 each.
      const batches = 4 + 3;
      const counts = await purgeExpired(server.services.store.db, { now, reuseWindow: 3600, windowSize: 3, batchSize: 2 });
      running = false;
      assert.ok(counts.sessions >= 6, JSON.stringify(counts));
      assert.ok(turns >= windows + batches, `the loop turned ${turns} times during a purge of grant ids up to ${lastGrant} in ${windows} windows and ${batches} batches`);
    });

    test('`latchkey purge` prints the counts as JSON', async () => {
      const now = nowSeconds(server.clock);
      // Rows that expired by the real clock (the CLI has no moved clock).
      await server.services.sessions.insert({ idHash: sha256Hex(newSecret()), userId: null, csrfToken: 'x', authTime: null, expiresAt: now - 100_000, now: now - 200_000 });
      const result = await runCli(['purge', '--database-url', server.db.url]);
      assert.equal(result.code, 0, result.stderr);
      const counts = JSON.parse(result.stdout) as Record<string, number>;
      assert.deepEqual(Object.keys(counts).sort(), ['access_tokens', 'authorization_codes', 'client_assertions', 'grants', 'horizon', 'refresh_tokens', 'reuse_records', 'sessions']);
      assert.ok((counts.sessions ?? 0) >= 1);
    });
  });
}
