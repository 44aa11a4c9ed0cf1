// How a pool connection learns of its own changes to kept tables (src/store/postgres/own-writes.ts,
// migration 017): a NOTICE to the writing session alone, counted once the transaction is over.
// Attacked with a role whose defaults would hide the NOTICE or switch it off, a lookup on a
// second connection between the write and its COMMIT (it must not keep the old row under the
// new version), pipelined statements, rollbacks and failed transactions, and a session that is
// not a Latchkey pool connection (psql, a server from before migration 017).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { nowSeconds, MovableClock } from '../../src/oauth/clock.js';
import { newSecret, sha256Hex } from '../../src/oauth/crypto.js';
import { loadConfig } from '../../src/config/load.js';
import { createServices, type Services } from '../../src/services.js';
import { migrate, openDatabase, type Store } from '../../src/store/db.js';
import type { PgChangeWatch } from '../../src/store/postgres/changes.js';
import { OwnWrites } from '../../src/store/postgres/own-writes.js';
import { asRole, createTestRole, dropTestRole, freshDatabase, TEST_DATABASE_URL, type FreshDatabase } from '../helpers/databases.js';
import { createClient, createUser, type TestClient, type TestUser } from '../helpers/fixtures.js';

process.env.LATCHKEY_DEV_CHECKS ??= '1';

const QUIET_ROLE = 'latchkey_test_quiet';

/** `url` connecting as the role whose defaults hide notices and switch own-write notices off. */
function asQuietRole(url: string): string {
  return asRole(url, QUIET_ROLE);
}

/** Everything OwnWrites tells its hooks, in order, with a mark when a settle ends. */
function recorder() {
  const events: string[] = [];
  return {
    events,
    hooks: {
      changed: (table: string) => { events.push(`changed ${table}`); },
      settle: async () => {
        events.push('settle');
        await new Promise((r) => setTimeout(r, 5));
        events.push('settled');
      },
    },
  };
}

describe('own writes on PostgreSQL: NOTICE to the writer, counted at the commit', { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, () => {
  let db: FreshDatabase;
  let store: Store;
  let services: Services;
  let client: TestClient;
  let user: TestUser;
  const clock = new MovableClock();

  before(async () => {
    await createTestRole(QUIET_ROLE, { client_min_messages: 'error', 'latchkey.own_writes': 'off' });
    db = await freshDatabase('postgres');
    store = openDatabase(asQuietRole(db.url), { watchChanges: true });
    await migrate(store);
    services = createServices(loadConfig({ env: { DATABASE_URL: db.url } }), store, { clock });
    const host = { services, clock, config: loadConfig({ env: { DATABASE_URL: db.url } }) };
    client = await createClient(host);
    user = await createUser(host);
    // Kept rows are trusted only once the listener hears its tables (changes.ts).
    const watch = store.changes as PgChangeWatch;
    const deadline = Date.now() + 5000;
    while (watch.version(['access_tokens', 'clients', 'grants']) === undefined) {
      if (Date.now() > deadline) throw new Error('the change watch never went live');
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  after(async () => {
    await store?.close();
    await db?.drop();
    // The role owned only what the schema held: gone with it, so the role can go too.
    await dropTestRole(QUIET_ROLE);
  });

  async function token(): Promise<string> {
    const now = nowSeconds(clock);
    const grantId = await services.grants.insert({ clientId: client.client.id, userId: user.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
    const tokenHash = sha256Hex(newSecret());
    await services.accessTokens.insert({ tokenHash, jti: null, grantId, clientId: client.client.id, userId: user.id, organizationId: null, scope: 'profile', createdAt: now, expiresAt: now + 3600 });
    return tokenHash;
  }

  /** `body` on a raw connection as the pool makes one (the quiet role, pipelined), its own writes watched. */
  async function onWatched(body: (w: { events: string[]; run: (sql: string) => Promise<pg.QueryResult> }) => Promise<void>): Promise<void> {
    const { events, hooks } = recorder();
    const own = new OwnWrites(hooks);
    const c = new pg.Client({ connectionString: asQuietRole(db.url), pipeline: true } as pg.ClientConfig);
    await c.connect();
    try {
      own.attach(c);
      await body({ events, run: (sql) => own.run(c, () => c.query(sql)) });
    } finally {
      await c.end();
    }
  }

  test('the role\'s defaults (client_min_messages = error, latchkey.own_writes = off) do not hide a revocation from the server that made it', async () => {
    const hash = await token();
    // Kept: the same object again (on a loaded machine the listener's lease may lapse a moment; it comes back).
    const deadline = Date.now() + 5000;
    while ((await services.accessTokens.find(hash)) !== (await services.accessTokens.find(hash))) {
      if (Date.now() > deadline) assert.fail('the context was never kept');
      await new Promise((r) => setTimeout(r, 10));
    }
    await services.transaction((tx) => tx.accessTokens.revoke(hash, 42));
    // Without the NOTICE this process would still answer from what it kept until its listener
    // heard the shared channel; with it, the version moved before the revocation returned.
    assert.equal((await services.accessTokens.find(hash))?.revokedAt, 42);
  });

  test('a lookup on another connection between the write and its COMMIT does not keep the old row under the new version', async () => {
    const hash = await token();
    await services.accessTokens.find(hash);
    await store.db.transaction().execute(async (trx) => {
      await trx.updateTable('access_tokens').set({ revoked_at: 7 }).where('token_hash', '=', hash).execute();
      // Another pool connection: it sees the committed row, not yet revoked, and may keep it.
      assert.equal((await services.accessTokens.find(hash))?.revokedAt, null);
    });
    assert.equal((await services.accessTokens.find(hash))?.revokedAt, 7, 'the change counts from the COMMIT on');
  });

  test('inside a transaction the change is handed on at the COMMIT, and the COMMIT\'s answer waits for the settle', async () => {
    const hash = await token();
    await onWatched(async ({ events, run }) => {
      await run('begin');
      await run(`update access_tokens set revoked_at = 1 where token_hash = '${hash}'`);
      await run(`update access_tokens set revoked_at = 2 where token_hash = '${hash}'`);
      await run('select 1');
      assert.equal(events.length, 0, 'nothing before the commit');
      await run('commit');
      events.push('answered');
      assert.deepEqual(events, ['changed access_tokens', 'settle', 'settled', 'answered']);
    });
  });

  test('pipelined: BEGIN, the write and COMMIT sent at once; every answer that follows the commit waits for the settle', async () => {
    const hash = await token();
    await onWatched(async ({ events, run }) => {
      const answers = ['begin', `update grants set revoked_at = 3 where id = (select grant_id from access_tokens where token_hash = '${hash}')`, 'commit']
        .map((sql, i) => run(sql).then(() => { events.push(`answer ${i}`); }));
      await Promise.all(answers);
      const settled = events.indexOf('settled');
      assert.equal(events.filter((e) => e === 'changed grants').length, 1);
      assert.ok(settled >= 0 && settled < events.indexOf('answer 2'), events.join(', '));
    });
  });

  test('an autocommit write is handed on with its own answer; an insert, and a write of a table nothing is kept from, hand on nothing', async () => {
    const hash = await token();
    await onWatched(async ({ events, run }) => {
      await run(`insert into grants (client_id, scope, grant_type, created_at) values (${client.client.id}, 'x', 'client_credentials', 0)`);
      await run(`update refresh_tokens set revoked_at = 1 where false`);
      assert.deepEqual(events, []);
      await run(`update access_tokens set revoked_at = 4 where token_hash = '${hash}'`);
      assert.deepEqual(events, ['changed access_tokens', 'settle', 'settled']);
    });
  });

  test('a rolled-back transaction and a failed one hand the change on too (dropping kept rows is always safe), once, at their end', async () => {
    const hash = await token();
    await onWatched(async ({ events, run }) => {
      await run('begin');
      await run(`update access_tokens set revoked_at = 5 where token_hash = '${hash}'`);
      await run('rollback');
      assert.deepEqual(events, ['changed access_tokens', 'settle', 'settled']);
      events.length = 0;
      await run('begin');
      await run(`update clients set name = name where id = ${client.client.id}`);
      await assert.rejects(run('select 1/0'), /division by zero/);
      assert.deepEqual(events, [], 'a failed transaction is still open');
      await run('rollback');
      assert.deepEqual(events, ['changed clients', 'settle', 'settled']);
    });
  });

  test('a session that is not a pool connection (psql, a server from before migration 017) gets no NOTICE, and still hears its own channel', async () => {
    const hash = await token();
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const notices: string[] = [];
      const heard: string[] = [];
      c.on('notice', (n) => notices.push(n.message ?? ''));
      c.on('notification', (n) => heard.push(`${n.channel.replace(/\d+$/, 'PID')} ${n.payload ?? ''}`));
      await c.query(`do $$ begin execute format('listen %I', 'latchkey_wrote_' || pg_backend_pid()); end $$`);
      await c.query(`update access_tokens set revoked_at = 6 where token_hash = '${hash}'`);
      await c.query('select 1');
      assert.deepEqual(notices, []);
      assert.deepEqual(heard, ['latchkey_wrote_PID access_tokens']);
    } finally {
      await c.end();
    }
  });

  test('a NOTICE that merely looks alike (another message, a prefix in the middle) changes nothing', async () => {
    await onWatched(async ({ events, run }) => {
      await run(`do $$ begin raise notice 'not latchkey_wrote clients'; raise notice 'latchkey_wrote'; raise warning 'latchkey_wrotten x'; end $$`);
      assert.deepEqual(events, []);
      // One that does look alike moves a version: the safe way (rows dropped, never kept longer).
      await run(`do $$ begin raise notice 'latchkey_wrote clients'; end $$`);
      assert.deepEqual(events, ['changed clients', 'settle', 'settled']);
    });
  });
});
