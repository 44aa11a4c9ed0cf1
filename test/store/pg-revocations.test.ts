// store/postgres/revocations.ts on a real PostgreSQL: revocations in one statement for every
// one that arrives together. The same burst of asks — ours, another client's, unknown,
// already revoked, one hash in both tables, one token asked twice with moved clocks, control
// characters — goes through the statement and through the transaction path (oauth/revoke.ts's
// own rule) on PostgreSQL and on SQLite, and every outcome and every row must agree. Then:
// batching, a row held by another process, a deadlock with another process, and a batch whose
// statement fails leaving nothing behind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { registerClient } from '../../src/accounts/client-registration.js';
import { createUser } from '../../src/accounts/users.js';
import type { Clock } from '../../src/oauth/clock.js';
import { tokenKey } from '../../src/oauth/crypto.js';
import type { Client } from '../../src/oauth/model.js';
import type { RevocationOutcome } from '../../src/oauth/ports.js';
import { revoke, type RevocationDeps } from '../../src/oauth/revoke.js';
import { openDatabase } from '../../src/store/db.js';
import { MAX_BATCH, PgRevocations } from '../../src/store/postgres/revocations.js';
import { asRole, createTestRole, dropTestRole, TEST_DATABASE_URL } from '../helpers/databases.js';
import { withStore, type TestStore } from '../helpers/store.js';

/** A role whose default lock_timeout is short, as an operator may set one. */
const HASTY_ROLE = 'latchkey_test_hasty';

interface World {
  mine: Client;
  other: Client;
  now: number;
  /** Every grant by label, and every token hash by label. */
  grants: Map<string, number>;
  hashes: Map<string, string>;
}

type Kind = 'access' | 'refresh';

/**
 * The same tokens on any store: label → a token of `kind`, `owner`'s, in a grant of its own
 * (labels sharing `hash` share a token value, so one hash in both tables).
 */
async function build(t: TestStore): Promise<World> {
  t.clock.freeze();
  const now = Math.floor(t.clock.nowMs() / 1000);
  const user = await createUser(t.services, { email: 'revoker@example.com', name: 'Revoker', password: 'a long password' });
  const mine = (await registerClient(t.services, { name: 'mine', redirectUris: ['https://mine.example/cb'], ownerUserId: user.id })).client;
  const other = (await registerClient(t.services, { name: 'other', redirectUris: ['https://other.example/cb'], ownerUserId: user.id })).client;
  const world: World = { mine, other, now, grants: new Map(), hashes: new Map() };
  const issue = async (label: string, kind: Kind, owner: Client, opts: { value?: string; expiresAt?: number } = {}) => {
    const grantId = await t.services.grants.insert({ clientId: owner.id, userId: user.id, organizationId: null, scope: 'profile', grantType: 'authorization_code', now });
    const hash = tokenKey(opts.value ?? label);
    const expiresAt = opts.expiresAt ?? now + 600;
    if (kind === 'access') {
      await t.services.accessTokens.insert({ tokenHash: hash, jti: null, grantId, clientId: owner.id, userId: user.id, organizationId: null, scope: 'profile', createdAt: now, expiresAt });
    } else {
      await t.services.refreshTokens.insert({ tokenHash: hash, grantId, clientId: owner.id, userId: user.id, organizationId: null, scope: 'profile', createdAt: now, expiresAt, accessTokenHash: null });
    }
    world.grants.set(label, grantId);
    world.hashes.set(label, hash);
    return { grantId, hash };
  };
  await issue('a-mine', 'access', mine);
  await issue('r-mine', 'refresh', mine);
  await issue('a-other', 'access', other);
  await issue('r-other', 'refresh', other);
  const revokedAccess = await issue('a-revoked', 'access', mine);
  await t.services.accessTokens.revoke(revokedAccess.hash, now - 100);
  const revokedGrant = await issue('r-grant-revoked', 'refresh', mine);
  await t.services.grants.revoke(revokedGrant.grantId, now - 50);
  await issue('r-twice', 'refresh', mine);
  await issue('r-expired', 'refresh', mine, { expiresAt: now - 1 });
  await issue('a-contested', 'access', mine);
  // One hash in both tables (no real token is both; the hint decides, as oauth/revoke.ts says).
  await issue('both-mine/a', 'access', mine, { value: 'both-mine' });
  await issue('both-mine/r', 'refresh', mine, { value: 'both-mine' });
  await issue('both-split/a', 'access', other, { value: 'both-split' });
  await issue('both-split/r', 'refresh', mine, { value: 'both-split' });
  return world;
}

interface Ask {
  value: string;
  by: 'mine' | 'other';
  hint?: string;
  /** Seconds the asker's clock is ahead of the others'. */
  ahead?: number;
}

const ASKS: readonly Ask[] = [
  { value: 'a-mine', by: 'mine' },
  { value: 'r-mine', by: 'mine', hint: 'refresh_token' },
  { value: 'a-other', by: 'mine' },
  { value: 'r-other', by: 'mine', hint: 'refresh_token' },
  { value: 'a-revoked', by: 'mine' },
  { value: 'r-grant-revoked', by: 'mine' },
  // Asked twice at once: revoked once, both askers told it was.
  { value: 'r-twice', by: 'mine' },
  { value: 'r-twice', by: 'mine', hint: 'refresh_token' },
  { value: 'r-expired', by: 'mine', hint: 'refresh_token' },
  { value: 'a-contested', by: 'other' },
  // A clock moved ahead: the time it says is the one kept.
  { value: 'a-contested', by: 'mine', ahead: 5 },
  // The same token again, by a clock further ahead: the first (and earliest) time is kept.
  { value: 'a-contested', by: 'mine', ahead: 9 },
  { value: 'both-mine', by: 'mine', hint: 'access_token' },
  { value: 'both-split', by: 'mine', hint: 'refresh_token' },
  // The hint names the access token first, and it is another client's: refused, nothing revoked.
  { value: 'both-split', by: 'mine' },
  // A hint that is neither kind is ignored (RFC 7009 §2.1).
  { value: 'r-mine', by: 'mine', hint: 'id_token' },
  { value: 'never-issued', by: 'mine' },
  { value: 'x\u0000\r\n\u202e\u{1F511}', by: 'mine' },
  { value: '%00%0d%0a', by: 'mine', hint: 'refresh_token' },
  { value: tokenKey('a-mine'), by: 'mine' },
];

/** Every ask at once, through the store's one statement (`oneStatement`) or the transaction path. */
async function burst(t: TestStore, world: World, oneStatement: boolean): Promise<string[]> {
  const base = world.now * 1000;
  const outcomes = await Promise.all(ASKS.map((ask) => {
    const clock: Clock = { nowMs: () => base + (ask.ahead ?? 0) * 1000 };
    const deps: RevocationDeps = { clock, transaction: t.services.transaction, revocations: oneStatement ? t.services.revocations : undefined };
    return revoke(deps, ask.by === 'mine' ? world.mine : world.other, { token: ask.value, ...(ask.hint ? { token_type_hint: ask.hint } : {}) });
  }));
  return outcomes.map((o) => describeOutcome(world, o));
}

function describeOutcome(world: World, o: RevocationOutcome): string {
  if (o.revoked === null) return o.reason;
  const label = [...world.grants].find(([, id]) => id === o.grantId)?.[0];
  return `${o.revoked} of ${label}`;
}

/** Every token's and grant's revocation time, by label, relative to the world's now (null: not revoked). */
async function state(t: TestStore, world: World): Promise<Record<string, unknown>> {
  const db = t.services.store.db;
  const out: Record<string, unknown> = {};
  const rel = (at: number | null) => (at === null ? null : at - world.now);
  for (const [label, hash] of world.hashes) {
    const table = label.startsWith('a-') || label.endsWith('/a') ? 'access_tokens' : 'refresh_tokens';
    const token = await db.selectFrom(table).select('revoked_at').where('token_hash', '=', hash).executeTakeFirstOrThrow();
    const grant = await db.selectFrom('grants').select('revoked_at').where('id', '=', world.grants.get(label)!).executeTakeFirstOrThrow();
    out[label] = { token: rel(token.revoked_at), grant: rel(grant.revoked_at) };
  }
  return out;
}

const EXPECTED_OUTCOMES = [
  'access_token of a-mine',
  'refresh_token of r-mine',
  'other_client',
  'other_client',
  'access_token of a-revoked',
  'refresh_token of r-grant-revoked',
  'refresh_token of r-twice',
  'refresh_token of r-twice',
  'refresh_token of r-expired',
  'other_client',
  'access_token of a-contested',
  'access_token of a-contested',
  'access_token of both-mine/a',
  'refresh_token of both-split/r',
  'other_client',
  'refresh_token of r-mine',
  'unknown',
  'unknown',
  'unknown',
  'unknown',
];

const EXPECTED_STATE = {
  'a-mine': { token: 0, grant: null },
  'r-mine': { token: 0, grant: 0 },
  'a-other': { token: null, grant: null },
  'r-other': { token: null, grant: null },
  'a-revoked': { token: -100, grant: null },
  'r-grant-revoked': { token: 0, grant: -50 },
  'r-twice': { token: 0, grant: 0 },
  'r-expired': { token: 0, grant: 0 },
  'a-contested': { token: 5, grant: null },
  'both-mine/a': { token: 0, grant: null },
  'both-mine/r': { token: null, grant: null },
  'both-split/a': { token: null, grant: null },
  'both-split/r': { token: 0, grant: 0 },
};

const skip = TEST_DATABASE_URL ? false : 'TEST_DATABASE_URL is not set';

describe('revocations in one statement (PostgreSQL)', { skip }, () => {
  test('one burst, three ways — the statement on PostgreSQL, the transaction path on PostgreSQL and on SQLite: the same outcome for every ask and the same row for every token and grant', async () => {
    const results: Array<{ how: string; outcomes: string[]; rows: Record<string, unknown> }> = [];
    for (const [kind, oneStatement] of [['postgres', true], ['postgres', false], ['sqlite', false]] as const) {
      await withStore(kind, async (t) => {
        if (oneStatement) assert.ok(t.services.revocations, 'a PostgreSQL store revokes in one statement');
        else if (kind === 'sqlite') assert.equal(t.services.revocations, undefined, 'SQLite goes through the transaction');
        const world = await build(t);
        const outcomes = await burst(t, world, oneStatement);
        results.push({ how: `${kind}${oneStatement ? ', one statement' : ', transaction'}`, outcomes, rows: await state(t, world) });
      });
    }
    for (const r of results) {
      assert.deepEqual(r.outcomes, EXPECTED_OUTCOMES, r.how);
      assert.deepEqual(r.rows, EXPECTED_STATE, r.how);
    }
  });

  test(`${3 * MAX_BATCH + 7} revocations at once go as a few statements, each ask answered with its own outcome`, async () => {
    await withStore('postgres', async (t) => {
      const world = await build(t);
      const store = t.services.store;
      let statements = 0;
      const revocations = new PgRevocations(() => {
        statements += 1;
        return store.connect!();
      });
      const values: string[] = [];
      for (let i = 0; i < 3 * MAX_BATCH + 7; i++) {
        const value = `burst-${i}`;
        values.push(value);
        if (i % 3 === 2) continue; // never issued
        await t.services.accessTokens.insert({ tokenHash: tokenKey(value), jti: null, grantId: world.grants.get('a-mine')!, clientId: i % 3 === 0 ? world.mine.id : world.other.id, userId: null, organizationId: null, scope: 'profile', createdAt: world.now, expiresAt: world.now + 600 });
      }
      const outcomes = await Promise.all(values.map((v) => revocations.revokeOwned(tokenKey(v), world.mine.id, 'access_token', world.now)));
      outcomes.forEach((o, i) => {
        const expected: RevocationOutcome = i % 3 === 0 ? { revoked: 'access_token', grantId: world.grants.get('a-mine')! } : { revoked: null, reason: i % 3 === 1 ? 'other_client' : 'unknown' };
        assert.deepEqual(o, expected, values[i]);
      });
      assert.ok(statements >= 4 && statements <= 5, `${values.length} asks in batches of at most ${MAX_BATCH}: ${statements} statements`);
      const revoked = await store.db.selectFrom('access_tokens').select(sql<number>`count(*)`.as('n')).where('token_hash', 'in', values.map((v) => tokenKey(v))).where('revoked_at', 'is not', null).executeTakeFirstOrThrow();
      assert.equal(Number(revoked.n), Math.ceil(values.length / 3));
    });
  });

  test('a refresh token another process holds (its consume not yet committed) is waited for, not failed: the revocation is answered only after that process let go, and both writes are kept', async () => {
    await withStore('postgres', async (t) => {
      const world = await build(t);
      const other = openDatabase(t.db.url);
      try {
        let holding!: () => void;
        const held = new Promise<void>((resolve) => { holding = resolve; });
        let answeredAt = 0;
        let letGoAt = 0;
        const hold = other.db.transaction().execute(async (trx) => {
          await trx.updateTable('refresh_tokens').set({ consumed_at: world.now }).where('token_hash', '=', world.hashes.get('r-mine')!).execute();
          holding();
          await new Promise((resolve) => setTimeout(resolve, 600));
          letGoAt = performance.now(); // its COMMIT is sent next
        });
        await held;
        const outcome = await t.services.revocations!.revokeOwned(world.hashes.get('r-mine')!, world.mine.id, 'refresh_token', world.now).then((o) => {
          answeredAt = performance.now();
          return o;
        });
        await hold;
        assert.deepEqual(outcome, { revoked: 'refresh_token', grantId: world.grants.get('r-mine')! });
        assert.ok(letGoAt > 0 && answeredAt >= letGoAt, 'answered after the other process sent its COMMIT');
        const row = await t.services.store.db.selectFrom('refresh_tokens').select(['revoked_at', 'consumed_at']).where('token_hash', '=', world.hashes.get('r-mine')!).executeTakeFirstOrThrow();
        assert.deepEqual(row, { revoked_at: world.now, consumed_at: world.now }, "both processes' writes are kept");
      } finally {
        await other.close();
      }
    });
  });

  test('a deadlock with another process (it holds an access token this batch revokes, then wants the refresh token this batch holds): both finish, the deadlock is real, the revocations are all made', async () => {
    await withStore('postgres', async (t) => {
      const world = await build(t);
      const other = openDatabase(t.db.url);
      try {
        const db = t.services.store.db;
        let statements = 0;
        const revocations = new PgRevocations(() => {
          statements += 1;
          return t.services.store.connect!();
        });
        const access = world.hashes.get('a-mine')!;
        const refresh = world.hashes.get('r-mine')!;
        let holding!: () => void;
        const held = new Promise<void>((resolve) => { holding = resolve; });
        const theirs = other.db.transaction().execute(async (trx) => {
          await trx.updateTable('access_tokens').set({ revoked_at: world.now + 1 }).where('token_hash', '=', access).where('revoked_at', 'is', null).execute();
          holding();
          // By now the batch has revoked the refresh token (PostgreSQL runs a statement's
          // data-modifying CTEs last first), holds it, and waits for the access token.
          await new Promise((resolve) => setTimeout(resolve, 300));
          await trx.updateTable('refresh_tokens').set({ consumed_at: world.now }).where('token_hash', '=', refresh).execute();
        }).then(() => 'committed', (err: { code?: string }) => err.code);
        await held;
        const started = performance.now();
        const outcomes = await Promise.all([
          revocations.revokeOwned(access, world.mine.id, 'access_token', world.now),
          revocations.revokeOwned(refresh, world.mine.id, 'refresh_token', world.now),
        ]);
        const how = await theirs;
        assert.ok(performance.now() - started < 10_000, 'no hang');
        // The deadlock is real: either the other process was its victim, or the batch was, and
        // ran again (apart: one statement an ask).
        if (how === 'committed') assert.equal(statements, 3, 'the batch was the victim and ran again apart');
        else assert.deepEqual({ how, statements }, { how: '40P01', statements: 1 });
        assert.deepEqual(outcomes, [
          { revoked: 'access_token', grantId: world.grants.get('a-mine')! },
          { revoked: 'refresh_token', grantId: world.grants.get('r-mine')! },
        ]);
        const a = await db.selectFrom('access_tokens').select('revoked_at').where('token_hash', '=', access).executeTakeFirstOrThrow();
        const r = await db.selectFrom('refresh_tokens').select(['revoked_at', 'consumed_at']).where('token_hash', '=', refresh).executeTakeFirstOrThrow();
        const g = await db.selectFrom('grants').select('revoked_at').where('id', '=', world.grants.get('r-mine')!).executeTakeFirstOrThrow();
        // Whoever lost ran again (the batch) or was rolled back (theirs): each write is there once or not at all.
        if (how === 'committed') assert.deepEqual({ a: a.revoked_at, consumed: r.consumed_at }, { a: world.now + 1, consumed: world.now });
        else assert.deepEqual({ a: a.revoked_at, consumed: r.consumed_at }, { a: world.now, consumed: null });
        assert.deepEqual({ r: r.revoked_at, g: g.revoked_at }, { r: world.now, g: world.now });
      } finally {
        await other.close();
      }
    });
  });

  test('a batch whose statement fails (a trigger refuses one grant) runs again apart: only that ask fails, and nothing of it is left; the others of the batch are revoked', async () => {
    await withStore('postgres', async (t) => {
      const world = await build(t);
      const db = t.services.store.db;
      const stuck = world.grants.get('r-mine')!;
      await sql.raw(`create function refuse_revocation() returns trigger language plpgsql as $$
begin
  if new.id = ${stuck} then raise exception 'grant % cannot be revoked', new.id; end if;
  return new;
end $$`).execute(db);
      await sql.raw('create trigger refuse_revocation before update on grants for each row execute function refuse_revocation()').execute(db);
      const settled = await Promise.allSettled([
        t.services.revocations!.revokeOwned(world.hashes.get('a-mine')!, world.mine.id, 'access_token', world.now),
        t.services.revocations!.revokeOwned(world.hashes.get('r-mine')!, world.mine.id, 'refresh_token', world.now),
        t.services.revocations!.revokeOwned(world.hashes.get('r-twice')!, world.mine.id, 'refresh_token', world.now),
      ]);
      assert.deepEqual(settled[0], { status: 'fulfilled', value: { revoked: 'access_token', grantId: world.grants.get('a-mine')! } });
      assert.equal(settled[1]!.status, 'rejected');
      assert.match(String((settled[1] as PromiseRejectedResult).reason), new RegExp(`grant ${stuck} cannot be revoked`));
      assert.deepEqual(settled[2], { status: 'fulfilled', value: { revoked: 'refresh_token', grantId: world.grants.get('r-twice')! } });
      const token = await db.selectFrom('refresh_tokens').select('revoked_at').where('token_hash', '=', world.hashes.get('r-mine')!).executeTakeFirstOrThrow();
      const grant = await db.selectFrom('grants').select('revoked_at').where('id', '=', stuck).executeTakeFirstOrThrow();
      assert.deepEqual({ token: token.revoked_at, grant: grant.revoked_at }, { token: null, grant: null }, 'nothing of the failed ask is left');
    });
  });

  test('under an operator\'s lock_timeout, a token another process holds fails alone, after its retries; the other client\'s revocations sent with it are answered at once', async () => {
    await createTestRole(HASTY_ROLE, { lock_timeout: '150ms' });
    await withStore('postgres', async (t) => {
      const world = await build(t);
      const hasty = openDatabase(asRole(t.db.url, HASTY_ROLE));
      const other = openDatabase(t.db.url);
      try {
        const revocations = new PgRevocations(() => hasty.connect!());
        const heldHash = world.hashes.get('a-mine')!;
        let holding!: () => void;
        const held = new Promise<void>((resolve) => { holding = resolve; });
        let release!: () => void;
        const released = new Promise<void>((resolve) => { release = resolve; });
        const hold = other.db.transaction().execute(async (trx) => {
          await trx.selectFrom('access_tokens').select('token_hash').where('token_hash', '=', heldHash).forUpdate().execute();
          holding();
          await released;
        });
        await held;
        const started = performance.now();
        const answered: number[] = [];
        const asks = [
          revocations.revokeOwned(heldHash, world.mine.id, 'access_token', world.now),
          revocations.revokeOwned(world.hashes.get('a-other')!, world.other.id, 'access_token', world.now),
          revocations.revokeOwned(world.hashes.get('r-other')!, world.other.id, 'refresh_token', world.now),
        ].map((p) => p.finally(() => answered.push(performance.now() - started)));
        const [mine, ...theirs] = await Promise.allSettled(asks);
        release();
        await hold;
        assert.deepEqual(theirs, [
          { status: 'fulfilled', value: { revoked: 'access_token', grantId: world.grants.get('a-other')! } },
          { status: 'fulfilled', value: { revoked: 'refresh_token', grantId: world.grants.get('r-other')! } },
        ]);
        assert.equal(mine!.status, 'rejected');
        assert.equal(((mine as PromiseRejectedResult).reason as { code?: string }).code, '55P03', 'the lock_timeout, after the retries');
        const sorted = [...answered].sort((a, b) => a - b);
        assert.ok(sorted[1]! < sorted[2]!, 'the two others were answered before the held one gave up');
        const row = await t.services.store.db.selectFrom('access_tokens').select('revoked_at').where('token_hash', '=', heldHash).executeTakeFirstOrThrow();
        assert.equal(row.revoked_at, null, 'the held token is not revoked');
      } finally {
        await hasty.close();
        await other.close();
      }
    });
    await dropTestRole(HASTY_ROLE);
  });
});
