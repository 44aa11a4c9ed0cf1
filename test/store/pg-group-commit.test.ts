// store/postgres/group-commit.ts on a real PostgreSQL: the works that arrive together share one
// transaction and one COMMIT without sharing fate, no caller hears back before the COMMIT, a
// failed COMMIT fails them all, groups are bounded, and groups on two pools (as two processes)
// that want each other's rows do not deadlock. Single use under bursts sent at once: one server,
// and two servers on one schema.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { registerClient } from '../../src/accounts/client-registration.js';
import { createUser } from '../../src/accounts/users.js';
import { nowSeconds } from '../../src/oauth/clock.js';
import { sha256Hex, tokenKey } from '../../src/oauth/crypto.js';
import type { Client } from '../../src/oauth/model.js';
import type { GrantType } from '../../src/oauth/grant-types.js';
import { revoke } from '../../src/oauth/revoke.js';
import { CodeStore } from '../../src/store/codes.js';
import { openDatabase, type Store } from '../../src/store/db.js';
import { MAX_GROUP, pgGroupCommit } from '../../src/store/postgres/group-commit.js';
import { transactionRunner } from '../../src/store/transaction.js';
import { TEST_DATABASE_URL } from '../helpers/databases.js';
import { openTestStore, withStore, type TestStore } from '../helpers/store.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createClient, createUser as createTestUser, mintCode } from '../helpers/fixtures.js';
import { exchangeCode, refresh, tally, tokensOf, type JsonResponse } from '../helpers/token.js';

class Refused extends Error {}

async function fixture(t: TestStore): Promise<{ userId: number; clientId: number }> {
  const user = await createUser(t.services, { email: 'pg-group@example.com', name: 'Group', password: 'a long password' });
  const { client } = await registerClient(t.services, { name: 'group', redirectUris: ['https://app.example/cb'], ownerUserId: user.id });
  return { userId: user.id, clientId: client.id };
}

/** The fixture, a runner, the clock's now and one grant of `scope`. */
async function withGrant(t: TestStore, scope: string, grantType: GrantType) {
  const ids = await fixture(t);
  const now = nowSeconds(t.clock);
  const grantId = await t.services.grants.insert({ clientId: ids.clientId, userId: ids.userId, organizationId: null, scope, grantType, now });
  return { ...ids, run: transactionRunner(t.services.store), now, grantId };
}

/** An organization whose integrations are switched off: its grants are not live. */
async function switchedOffOrganization(t: TestStore): Promise<number> {
  const row = await t.services.store.db.insertInto('organizations').values({ name: 'switched off', integrations_enabled: 0, created_at: 0 }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

async function insertCode(t: TestStore, ids: { userId: number; clientId: number }, name: string): Promise<string> {
  const now = nowSeconds(t.clock);
  const grantId = await t.services.grants.insert({ clientId: ids.clientId, userId: ids.userId, organizationId: null, scope: '', grantType: 'authorization_code', now });
  const codeHash = sha256Hex(name);
  await t.services.codes.insert({
    codeHash, grantId, clientId: ids.clientId, userId: ids.userId, organizationId: null, redirectUri: 'https://app.example/cb',
    redirectUriSent: true, scope: '', codeChallenge: null, codeChallengeMethod: null, createdAt: now, expiresAt: now + 600,
  });
  return codeHash;
}

/** A runner over the bare connection (the works get its Kysely), for statements the stores do not have. */
function bareRunner(store: Store) {
  if (!store.connect) throw new Error('not a PostgreSQL store');
  return pgGroupCommit(store.connect, (db) => ({ stores: db, pending: () => [] }));
}

describe('PostgreSQL group commit', { skip: TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set' }, () => {
  test('works queued together share one transaction, in groups of at most MAX_GROUP', async () => {
    await withStore('postgres', async (t) => {
      const run = bareRunner(t.services.store);
      const txids = await Promise.all(Array.from({ length: 3 * MAX_GROUP + 5 }, () => run(async (db) => {
        const r = await sql<{ id: string }>`select txid_current()::text as id`.execute(db);
        return r.rows[0]!.id;
      })));
      const sizes = [...txids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>()).values()];
      assert.ok(sizes.length >= 4, `at least four groups for ${txids.length} works: ${JSON.stringify(sizes)}`);
      assert.ok(sizes.every((n) => n <= MAX_GROUP), JSON.stringify(sizes));
      assert.ok(sizes.some((n) => n > 1), `works share transactions: ${JSON.stringify(sizes)}`);
    });
  });

  test('in one group, a work that throws and a work whose statement fails (a unique key) each get their own error and leave nothing; the group runs again apart and the others commit what their callers were told', async () => {
    await withStore('postgres', async (t) => {
      const run = bareRunner(t.services.store);
      await sql`create table scratch (n integer primary key)`.execute(t.services.store.db);
      const keys = [1, 2, 3, 4, 2, 6];
      const runs = keys.map(() => 0);
      const outcomes = await Promise.allSettled(keys.map((n, i) => run(async (db) => {
        runs[i]! += 1;
        const r = await sql<{ n: number }>`insert into scratch (n) values (${n}) returning n`.execute(db);
        if (i === 2) throw new Refused('work 2');
        return r.rows[0]!.n;
      })));
      assert.deepEqual(runs, [2, 2, 2, 2, 2, 2], 'side by side once (all rolled back), then each apart');
      assert.deepEqual(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : o.reason instanceof Refused ? o.reason.message : (o.reason as { code?: string }).code)),
        [1, 2, 'work 2', 4, '23505', 6]);
      const rows = await sql<{ n: number }>`select n from scratch order by n`.execute(t.services.store.db);
      assert.deepEqual(rows.rows.map((r) => r.n), [1, 2, 4, 6], 'what each caller was told is what was committed');
    });
  });

  test('no caller hears back before the shared COMMIT, and nothing is visible outside before it', async () => {
    await withStore('postgres', async (t) => {
      const run = bareRunner(t.services.store);
      const outside = t.services.store.db;
      await sql`create table scratch (n integer)`.execute(outside);
      const seenOutside: number[] = [];
      const settled: number[] = [];
      await Promise.all(Array.from({ length: 10 }, (_, i) => run(async (db) => {
        await sql`insert into scratch (n) values (${i})`.execute(db);
        const r = await sql<{ n: string }>`select count(*)::text as n from scratch`.execute(outside);
        seenOutside.push(Number(r.rows[0]!.n));
        return i;
      }).then(() => settled.push(seenOutside.length))));
      assert.deepEqual(seenOutside, Array(10).fill(0), 'another connection sees none of the group before its COMMIT');
      assert.deepEqual(settled, Array(10).fill(10), 'no caller hears back before every work of the group has run and committed');
      const r = await sql<{ n: string }>`select count(*)::text as n from scratch`.execute(outside);
      assert.equal(Number(r.rows[0]!.n), 10);
    });
  });

  test('a COMMIT that fails fails every work of the group, and none of them is committed', async () => {
    await withStore('postgres', async (t) => {
      const run = bareRunner(t.services.store);
      // A deferred unique key is checked at COMMIT: two works of one group that insert the same
      // value each succeed, and the COMMIT fails.
      await sql`create table scratch (n integer, constraint scratch_n unique (n) deferrable initially deferred)`.execute(t.services.store.db);
      const outcomes = await Promise.allSettled([7, 7, 8].map((n) => run(async (db) => {
        await sql`insert into scratch (n) values (${n})`.execute(db);
        return n;
      })));
      assert.deepEqual(outcomes.map((o) => o.status), ['rejected', 'rejected', 'rejected']);
      for (const o of outcomes) assert.equal(o.status === 'rejected' ? (o.reason as { code?: string }).code : undefined, '23505');
      const r = await sql<{ n: string }>`select count(*)::text as n from scratch`.execute(t.services.store.db);
      assert.equal(Number(r.rows[0]!.n), 0);
      // The runner goes on: the next group commits.
      assert.equal(await run(async (db) => {
        await sql`insert into scratch (n) values (9)`.execute(db);
        return 9;
      }), 9);
    });
  });

  test('of two consumes of one code in one group the second matches nothing (it sees the first)', async () => {
    await withStore('postgres', async (t) => {
      const ids = await fixture(t);
      const codeHash = await insertCode(t, ids, 'one group');
      const store = t.services.store;
      if (!store.connect) throw new Error('not a PostgreSQL store');
      const run = pgGroupCommit(store.connect, (db) => ({ stores: { db, codes: new CodeStore(db) }, pending: () => [] }));
      const now = nowSeconds(t.clock);
      const results = await Promise.all(Array.from({ length: 20 }, () => run(async (tx) => {
        const consumed = await tx.codes.consume(codeHash, ids.clientId, now);
        const r = await sql<{ id: string }>`select txid_current()::text as id`.execute(tx.db);
        return { won: consumed !== undefined, txid: r.rows[0]!.id };
      })));
      assert.equal(results.filter((r) => r.won).length, 1);
      assert.equal(new Set(results.map((r) => r.txid)).size, 1, 'all twenty ran in one transaction');
    });
  });

  test('write-behind: a kept write that fails at the end (its grant is gone) fails only its own work; alone, its caller gets the error', async () => {
    await withStore('postgres', async (t) => {
      const { userId, clientId } = await fixture(t);
      const run = transactionRunner(t.services.store);
      const now = nowSeconds(t.clock);
      const grantId = await t.services.grants.insert({ clientId, userId, organizationId: null, scope: 'wb', grantType: 'client_credentials', now });
      const token = (i: number, grant: number) => ({
        tokenHash: sha256Hex(`wb ${i}`), jti: null, grantId: grant, clientId, userId, organizationId: null, scope: 'wb', createdAt: now, expiresAt: now + 60,
      });
      const runs = Array<number>(5).fill(0);
      const outcomes = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => run(async (tx) => {
        runs[i]! += 1;
        // The insert is kept: it answers at once, and its foreign key fails only at the end.
        await tx.accessTokens.insert(token(i, i === 2 ? grantId + 1_000_000 : grantId));
        return i;
      })));
      assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const failed = outcomes[2];
      assert.equal(failed?.status === 'rejected' ? (failed.reason as { code?: string }).code : undefined, '23503');
      assert.deepEqual(runs, [2, 2, 2, 2, 2], 'side by side (the end failed), then apart');
      const rows = await t.services.store.db.selectFrom('access_tokens').select('token_hash').where('scope', '=', 'wb').execute();
      assert.deepEqual(rows.map((r) => r.token_hash).sort(), [0, 1, 3, 4].map((i) => sha256Hex(`wb ${i}`)).sort());
      let alone = 0;
      await assert.rejects(run(async (tx) => {
        alone += 1;
        await tx.accessTokens.insert(token(9, grantId + 1_000_000));
      }), (err: unknown) => (err as { code?: string }).code === '23503');
      assert.equal(alone, 1, 'a work alone runs once');
    });
  });

  test('write-behind: inserts are applied before revocations, and a revocation keeps the earliest time', async () => {
    await withStore('postgres', async (t) => {
      const { userId, clientId, run, now, grantId } = await withGrant(t, 'order', 'client_credentials');
      const hash = sha256Hex('inserted and revoked in one group');
      // Revoked by a work queued before the one that inserts it: both kept, the insert applied first.
      await Promise.all([
        run(async (tx) => tx.accessTokens.revoke(hash, now + 5)),
        run(async (tx) => tx.accessTokens.insert({ tokenHash: hash, jti: null, grantId, clientId, userId, organizationId: null, scope: 'order', createdAt: now, expiresAt: now + 60 })),
        run(async (tx) => tx.accessTokens.revoke(hash, now + 3)),
      ]);
      const row = await t.services.store.db.selectFrom('access_tokens').select('revoked_at').where('token_hash', '=', hash).executeTakeFirstOrThrow();
      assert.equal(row.revoked_at, now + 3);
      await run(async (tx) => tx.accessTokens.revoke(hash, now + 1));
      const again = await t.services.store.db.selectFrom('access_tokens').select('revoked_at').where('token_hash', '=', hash).executeTakeFirstOrThrow();
      assert.equal(again.revoked_at, now + 3, 'a revoked token keeps its revocation time');
    });
  });

  test('the transaction path of revocation in one group (the server revokes in one statement, pg-revocations.test.ts; this is oauth/revoke.ts\'s own rule): 40 revocations at once (access and refresh tokens, unknown, another client\'s, one token three times) each get their own outcome', async () => {
    await withStore('postgres', async (t) => {
      const { userId, clientId } = await fixture(t);
      const other = await registerClient(t.services, { name: 'other', redirectUris: ['https://other.example/cb'], ownerUserId: userId });
      const run = transactionRunner(t.services.store);
      const now = nowSeconds(t.clock);
      const tokens: Array<{ value: string; kind: 'access' | 'refresh' | 'unknown'; client: number; grantId: number }> = [];
      for (let i = 0; i < 30; i++) {
        const owner = i % 10 === 9 ? other.client.id : clientId;
        const grantId = await t.services.grants.insert({ clientId: owner, userId, organizationId: null, scope: 'order', grantType: 'authorization_code', now });
        const value = `token-${i}`;
        const kind = i % 2 ? 'refresh' : 'access';
        if (kind === 'access') {
          await t.services.accessTokens.insert({ tokenHash: tokenKey(value), jti: null, grantId, clientId: owner, userId, organizationId: null, scope: 'order', createdAt: now, expiresAt: now + 600 });
        } else {
          await t.services.refreshTokens.insert({ tokenHash: tokenKey(value), grantId, clientId: owner, userId, organizationId: null, scope: 'order', createdAt: now, expiresAt: now + 600, accessTokenHash: null });
        }
        tokens.push({ value, kind, client: owner, grantId });
      }
      for (let i = 0; i < 7; i++) tokens.push({ value: `never-issued-${i}`, kind: 'unknown', client: clientId, grantId: 0 });
      // One of ours, sent three times in the same burst.
      const repeated = tokens[2]!;
      const sent = [...tokens, repeated, repeated];
      const outcomes = await Promise.all(sent.map((tok) => revoke({ clock: t.clock, transaction: run }, { id: clientId } as Client, { token: tok.value })));
      sent.forEach((tok, i) => {
        const got = outcomes[i]!;
        if (tok.kind === 'unknown') assert.deepEqual(got, { revoked: null, reason: 'unknown' }, tok.value);
        else if (tok.client !== clientId) assert.deepEqual(got, { revoked: null, reason: 'other_client' }, tok.value);
        else assert.deepEqual(got, { revoked: tok.kind === 'access' ? 'access_token' : 'refresh_token', grantId: tok.grantId }, tok.value);
      });
      const db = t.services.store.db;
      for (const tok of tokens) {
        if (tok.kind === 'unknown') continue;
        const table = tok.kind === 'access' ? 'access_tokens' : 'refresh_tokens';
        const row = await db.selectFrom(table).select('revoked_at').where('token_hash', '=', tokenKey(tok.value)).executeTakeFirstOrThrow();
        assert.equal(row.revoked_at === null, tok.client !== clientId, `${tok.value}: revoked only when it was ours`);
        const grant = await db.selectFrom('grants').select('revoked_at').where('id', '=', tok.grantId).executeTakeFirstOrThrow();
        assert.equal(grant.revoked_at !== null, tok.client === clientId && tok.kind === 'refresh', `${tok.value}: its grant revoked with a refresh token of ours only`);
      }
    });
  });

  test('refresh consumes gathered for the group: 28 at once (one token three times, another client\'s, one asked by another client first, expired, revoked, grant revoked, organization switched off, unknown) each get the outcome of one-after-another', async () => {
    await withStore('postgres', async (t) => {
      const { userId, clientId } = await fixture(t);
      const other = (await registerClient(t.services, { name: 'other', redirectUris: ['https://other.example/cb'], ownerUserId: userId })).client.id;
      const run = transactionRunner(t.services.store);
      const now = nowSeconds(t.clock);
      const db = t.services.store.db;
      type Kind = 'live' | 'others' | 'expired' | 'revoked' | 'grant-revoked' | 'org-off' | 'unknown';
      // Grants bound to an organization whose integrations are switched off are not live (grants.ts liveGrant).
      const orgOff = await switchedOffOrganization(t);
      const issue = async (name: string, kind: Kind): Promise<{ hash: string; grantId: number }> => {
        const owner = kind === 'others' ? other : clientId;
        const organizationId = kind === 'org-off' ? orgOff : null;
        const grantId = await t.services.grants.insert({ clientId: owner, userId, organizationId, scope: `s-${name}`, grantType: 'authorization_code', now });
        const hash = tokenKey(`refresh-${name}`);
        if (kind === 'unknown') return { hash, grantId };
        await t.services.refreshTokens.insert({ tokenHash: hash, grantId, clientId: owner, userId, organizationId, scope: `s-${name}`, createdAt: now - 10,
          expiresAt: kind === 'expired' ? now : now + 600, accessTokenHash: `at-${name}` });
        if (kind === 'revoked') await t.services.refreshTokens.revoke(hash, now);
        if (kind === 'grant-revoked') await t.services.grants.revoke(grantId, now);
        return { hash, grantId };
      };
      const kinds: Kind[] = ['live', 'others', 'expired', 'revoked', 'grant-revoked', 'org-off', 'unknown'];
      const tokens = await Promise.all(Array.from({ length: 24 }, async (_, i) => ({ name: `${i}`, kind: kinds[i % kinds.length]!, ...(await issue(`${i}`, kinds[i % kinds.length]!)) })));
      const repeated = tokens[0]!; // live, ours
      const contested = await issue('contested', 'live'); // ours, but another client asks first
      const asks: Array<{ hash: string; client: number; successor: string | null; expect: number | undefined }> = [
        { hash: contested.hash, client: other, successor: null, expect: undefined },
        { hash: repeated.hash, client: clientId, successor: 'succ-first', expect: repeated.grantId },
        { hash: contested.hash, client: clientId, successor: null, expect: contested.grantId },
        { hash: repeated.hash, client: clientId, successor: 'succ-second', expect: undefined },
        ...tokens.slice(1).map((tok) => ({ hash: tok.hash, client: clientId, successor: `succ-${tok.name}`, expect: tok.kind === 'live' ? tok.grantId : undefined })),
        { hash: repeated.hash, client: clientId, successor: null, expect: undefined },
      ];
      assert.ok(asks.length <= MAX_GROUP, 'one group');
      const got = await Promise.all(asks.map((a) => run(async (tx) => tx.refreshTokens.consume(a.hash, a.client, now, a.successor))));
      asks.forEach((a, i) => assert.equal(got[i]?.grantId, a.expect, `ask ${i}`));
      const first = got[1]!;
      assert.deepEqual(first, { grantId: repeated.grantId, userId, organizationId: null, scope: 's-0', accessTokenHash: 'at-0', resources: first.resources });
      const rows = await db.selectFrom('refresh_tokens').select(['token_hash', 'consumed_at', 'successor_hash']).execute();
      const byHash = new Map(rows.map((r) => [r.token_hash, r]));
      // Consumed: exactly the live tokens of ours, with the first asker's successor; nothing else touched.
      for (const tok of [...tokens, { ...contested, name: 'contested', kind: 'live' as Kind }]) {
        const row = byHash.get(tok.hash);
        if (tok.kind === 'unknown') { assert.equal(row, undefined); continue; }
        assert.equal(row?.consumed_at, tok.kind === 'live' ? now : null, tok.name);
        const successor = tok.name === '0' ? 'succ-first' : tok.name === 'contested' ? null : tok.kind === 'live' ? `succ-${tok.name}` : null;
        assert.equal(row?.successor_hash, successor, tok.name);
      }
    });
  });

  test('refresh consumes gathered: of two asks of one token that expires between their clocks, the one still in time consumes it', async () => {
    await withStore('postgres', async (t) => {
      const { userId, clientId, run, now, grantId } = await withGrant(t, 'edge', 'authorization_code');
      const hash = tokenKey('refresh-at-the-edge');
      await t.services.refreshTokens.insert({ tokenHash: hash, grantId, clientId, userId, organizationId: null, scope: 'edge', createdAt: now - 10, expiresAt: now, accessTokenHash: null });
      // The first asker's clock already reads the expiry second; the second's one second before.
      const got = await Promise.all([now, now - 1].map((at) => run(async (tx) => tx.refreshTokens.consume(hash, clientId, at, null))));
      assert.deepEqual(got.map((g) => g?.grantId), [undefined, grantId]);
    });
  });

  test('code consumes gathered for the group: 27 at once (one code three times, one asked by another client first, another client\'s, used, grant revoked, organization switched off, unknown) each get the outcome of one-after-another, with their context', async () => {
    await withStore('postgres', async (t) => {
      const ids = await fixture(t);
      const other = (await registerClient(t.services, { name: 'other', redirectUris: ['https://other.example/cb'], ownerUserId: ids.userId })).client.id;
      const run = transactionRunner(t.services.store);
      const now = nowSeconds(t.clock);
      type Kind = 'live' | 'others' | 'used' | 'grant-revoked' | 'org-off' | 'unknown';
      const kinds: Kind[] = ['live', 'others', 'used', 'grant-revoked', 'org-off', 'unknown'];
      const orgOff = await switchedOffOrganization(t);
      const codes = await Promise.all(Array.from({ length: 24 }, async (_, i) => {
        const kind = kinds[i % kinds.length]!;
        if (kind === 'unknown') return { name: `${i}`, kind, hash: sha256Hex(`never-${i}`), grantId: 0 };
        const hash = await insertCode(t, { userId: ids.userId, clientId: kind === 'others' ? other : ids.clientId }, `code-${i}`);
        const grantId = (await t.services.store.db.selectFrom('authorization_codes').select('grant_id').where('code_hash', '=', hash).executeTakeFirstOrThrow()).grant_id;
        if (kind === 'used') await run(async (tx) => tx.codes.consume(hash, ids.clientId, now));
        if (kind === 'grant-revoked') await t.services.grants.revoke(grantId, now);
        if (kind === 'org-off') await t.services.store.db.updateTable('grants').set({ organization_id: orgOff }).where('id', '=', grantId).execute();
        return { name: `${i}`, kind, hash, grantId };
      }));
      const repeated = codes[0]!;
      const contested = codes[kinds.length]!; // live, ours
      const asks = [
        { hash: contested.hash, client: other, expect: undefined as number | undefined },
        { hash: repeated.hash, client: ids.clientId, expect: repeated.grantId },
        { hash: repeated.hash, client: ids.clientId, expect: undefined },
        ...codes.slice(1).map((c) => ({ hash: c.hash, client: ids.clientId, expect: c.kind === 'live' ? c.grantId : undefined })),
        { hash: repeated.hash, client: ids.clientId, expect: undefined },
      ];
      assert.ok(asks.length <= MAX_GROUP, 'one group');
      const got = await Promise.all(asks.map((a) => run(async (tx) => {
        const code = await tx.codes.consume(a.hash, a.client, now);
        return code && { code, context: await tx.grants.findIdTokenContext(code.grantId) };
      })));
      asks.forEach((a, i) => {
        assert.equal(got[i]?.code.grantId, a.expect, `ask ${i}`);
        if (a.expect !== undefined) assert.equal(got[i]?.context?.user.id, ids.userId, `ask ${i}: the context of its own grant`);
      });
      const rows = await t.services.store.db.selectFrom('authorization_codes').select(['code_hash', 'consumed_at']).execute();
      const consumed = new Set(rows.filter((r) => r.consumed_at !== null).map((r) => r.code_hash));
      for (const c of codes) assert.equal(consumed.has(c.hash), c.kind === 'live' || c.kind === 'used', c.name);
    });
  });

  test('grant ids drawn ahead: 200 grants inserted at once get distinct ids, and each caller\'s id names the grant it asked for (OpenID columns too)', async () => {
    await withStore('postgres', async (t) => {
      const { userId, clientId } = await fixture(t);
      const run = transactionRunner(t.services.store);
      const now = nowSeconds(t.clock);
      const login = (i: number) => (i % 2 === 0 ? undefined : { authTime: now - i, sid: `sid-${i}`, amr: ['pwd'], claims: null });
      const insert = (i: number) => run(async (tx) => tx.grants.insert({ clientId, userId, organizationId: null, scope: `drawn${i}`, grantType: 'client_credentials', now, login: login(i) }));
      // A first grant starts the reservoir; the burst then mostly draws from it.
      await insert(-1);
      const ids = await Promise.all(Array.from({ length: 200 }, (_, i) => insert(i)));
      assert.equal(new Set(ids).size, 200);
      const rows = await t.services.store.db.selectFrom('grants').select(['id', 'scope', 'auth_time', 'sid', 'amr', 'claims']).where('id', 'in', ids).execute();
      const byId = new Map(rows.map((r) => [r.id, r]));
      ids.forEach((id, i) => {
        const row = byId.get(id);
        assert.equal(row?.scope, `drawn${i}`);
        assert.deepEqual([row?.auth_time, row?.sid, row?.amr, row?.claims], i % 2 === 0 ? [null, null, null, null] : [now - i, `sid-${i}`, '["pwd"]', null]);
      });
      // The serial default still works beside drawn ids (the authorization endpoint inserts so).
      const direct = await t.services.grants.insert({ clientId, userId, organizationId: null, scope: 'direct', grantType: 'authorization_code', now });
      assert.ok(!ids.includes(direct));
    });
  });

  test('a code\'s consume brings its grant\'s ID-token context: what findIdTokenContext answers in the work is what a lookup of its own reads', async () => {
    await withStore('postgres', async (t) => {
      const ids = await fixture(t);
      const now = nowSeconds(t.clock);
      const org = await t.services.orgs.insert({ name: 'Context Org', integrationsEnabled: true, now });
      const login = { authTime: now - 30, sid: 'sid-context', amr: ['pwd', 'otp'], claims: { id_token: { email: null } } };
      const grantId = await t.services.grants.insert({ clientId: ids.clientId, userId: ids.userId, organizationId: org.id, scope: 'openid email', grantType: 'authorization_code', now, login });
      const codeHash = sha256Hex('context code');
      await t.services.codes.insert({
        codeHash, grantId, clientId: ids.clientId, userId: ids.userId, organizationId: org.id, redirectUri: 'https://app.example/cb',
        redirectUriSent: true, scope: 'openid email', codeChallenge: null, codeChallengeMethod: null, createdAt: now, expiresAt: now + 600, nonce: 'n-1',
      });
      const run = transactionRunner(t.services.store);
      const [code, context] = await run(async (tx) => {
        const consumed = await tx.codes.consume(codeHash, ids.clientId, now);
        return [consumed, consumed && await tx.grants.findIdTokenContext(consumed.grantId)] as const;
      });
      assert.equal(code?.grantId, grantId);
      assert.equal(code?.nonce, 'n-1');
      assert.notEqual(code?.consumedAt, null);
      const alone = await t.services.grants.findIdTokenContext(grantId);
      assert.ok(alone?.login && alone.organization);
      assert.deepEqual(context, alone);
      assert.equal(await run(async (tx) => tx.codes.consume(codeHash, ids.clientId, now)), undefined, 'used up');
    });
  });

  test('two pools (as two processes) whose groups want each other\'s rows do not deadlock: each code is consumed once', async () => {
    const a = await openTestStore('postgres');
    const bStore = openDatabase(a.db.url);
    try {
      const ids = await fixture(a);
      const x = await insertCode(a, ids, 'x');
      const y = await insertCode(a, ids, 'y');
      const runA = transactionRunner(a.services.store);
      const runB = transactionRunner(bStore);
      const now = nowSeconds(a.clock);
      // Each side takes its first row, waits until the other has taken its own, then asks for
      // the other's: a lock cycle. A work may run again (oauth/ports.ts), so the barrier
      // holds only the first time.
      let arrived = 0;
      let runs = 0;
      let both!: () => void;
      const barrier = new Promise<void>((resolve) => (both = resolve));
      const work = (first: string, second: string) => async (tx: Parameters<Parameters<typeof runA>[0]>[0]) => {
        runs += 1;
        const one = await tx.codes.consume(first, ids.clientId, now);
        arrived += 1;
        if (arrived === 2) both();
        await barrier;
        const two = await tx.codes.consume(second, ids.clientId, now);
        return [one !== undefined, two !== undefined];
      };
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the two groups are still waiting on each other after 20 s')), 20_000);
      });
      const [fromA, fromB] = await Promise.race([Promise.all([runA(work(x, y)), runB(work(y, x))]), limit]);
      clearTimeout(timer);
      const wins = { x: Number(fromA[0]) + Number(fromB[1]), y: Number(fromA[1]) + Number(fromB[0]) };
      assert.deepEqual(wins, { x: 1, y: 1 }, `A ${JSON.stringify(fromA)}, B ${JSON.stringify(fromB)}`);
      assert.ok(runs >= 3, `the cycle was broken by rolling a side back and running it again (${runs} runs)`);
      assert.notEqual((await a.services.codes.find(x))?.consumedAt, null);
      assert.notEqual((await a.services.codes.find(y))?.consumedAt, null);
    } finally {
      await bStore.close();
      await a.close();
    }
  });

  test('200 refreshes of one refresh token and 200 exchanges of one code, sent at once to one server: exactly one success each', async () => {
    const server = await startTestServer('postgres');
    try {
      const user = await createTestUser(server);
      const client = await createClient(server);
      const { code } = await mintCode(server, { client, userId: user.id });
      assert.deepEqual(tally(await Promise.all(Array.from({ length: 200 }, () => exchangeCode(server, client, code)))), { ok: 1, invalidGrant: 199, other: [] });
      const fresh = await mintCode(server, { client, userId: user.id });
      const pair = tokensOf(await exchangeCode(server, client, fresh.code));
      assert.deepEqual(tally(await Promise.all(Array.from({ length: 200 }, () => refresh(server, client, pair.refreshToken)))), { ok: 1, invalidGrant: 199, other: [] });
    } finally {
      await server.close();
    }
  });

  test('two servers on one schema, 20 codes and 20 refresh tokens each sent 10 times at once, spread over both: exactly one success per code and token', async () => {
    const first = await startTestServer('postgres');
    const second: TestServer = await startTestServer('postgres', { database: first.db });
    try {
      const user = await createTestUser(first);
      const client = await createClient(first);
      const codes = await Promise.all(Array.from({ length: 20 }, async () => (await mintCode(first, { client, userId: user.id })).code));
      const pairs = [];
      for (const c of await Promise.all(Array.from({ length: 20 }, async () => (await mintCode(first, { client, userId: user.id })).code))) {
        pairs.push(tokensOf(await exchangeCode(first, client, c)));
      }
      // Interleaved, so that every group on either server holds several codes and tokens, in
      // orders that differ between the servers.
      const sends: Array<Promise<{ key: string; r: JsonResponse }>> = [];
      for (let round = 0; round < 10; round += 1) {
        for (let i = 0; i < 20; i += 1) {
          const server = (round + i) % 2 === 0 ? first : second;
          sends.push(exchangeCode(server, client, codes[i]!).then((r) => ({ key: `code ${i}`, r })));
          sends.push(refresh(server, client, pairs[i]!.refreshToken).then((r) => ({ key: `refresh ${i}`, r })));
        }
      }
      const answers = await Promise.all(sends);
      const byKey = new Map<string, JsonResponse[]>();
      for (const { key, r } of answers) byKey.set(key, [...(byKey.get(key) ?? []), r]);
      for (const [key, rs] of byKey) assert.deepEqual(tally(rs), { ok: 1, invalidGrant: 9, other: [] }, key);
    } finally {
      await second.close();
      await first.close();
    }
  });
});
