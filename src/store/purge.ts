// Deletes rows that no longer matter, so the tables do not grow without bound, without ever
// holding the database (or, on SQLite, the event loop: its driver is synchronous) for long.
// Run on a timer by the server (config.purgeInterval) and by `latchkey purge`. Several
// processes may purge at once: every statement is idempotent.
//
// What goes, and when (`margin` defaults to an hour):
//   authorization codes  expired more than `margin` ago (a replay within that time still
//                        finds the used code and revokes its grant)
//   access tokens        expired
//   refresh tokens       expired; revoked more than `margin` ago; consumed longer ago than the
//                        reuse horizon; or their grant was revoked more than `margin` ago
//                        (a used or revoked one of a live grant leaves a slim record behind)
//   grants               no code or token left, and older than `margin`
//   reuse records        with their grant (consumed_refresh_tokens, ON DELETE CASCADE)
//   sessions             expired
//   client assertions    expired (client_assertions: a jti is kept until its assertion's exp,
//                        and an expired assertion is refused whatever the table holds)
//
// Rows found by expiry (codes, access tokens, sessions, expired refresh tokens) are deleted
// through their expires_at index, at most `batchSize` at a time (`DELETE … WHERE pk IN (SELECT
// pk … LIMIT n)`, until a batch comes back short): the work is the rows deleted. The other
// conditions are not indexed (an index on consumed_at would cost every refresh a write), so
// they are checked by a sweep over the grant ids in windows of `windowSize`: per window, one
// INSERT of the reuse records of its dead refresh tokens, one DELETE of those tokens (both
// through the refresh_tokens grant_id index) and one of its grants that are empty. Each statement touches a bounded slice, and the event loop
// turns after every batch and every window, so a large database no longer holds the event
// loop for the length of a whole-table statement (see docs/PERFORMANCE.md, batched-purge).
//
// The reuse horizon keeps a used refresh token's full row for a retry (refresh_retry_window)
// and for a replay soon after its use: about one access-token lifetime (at least the retry
// window), plus the margin. When the row goes, a used or revoked token of a live grant is
// first recorded in consumed_refresh_tokens (token hash and grant id only), so a replay of a
// stolen original revokes the grant however late it comes. The records go with their grant
// (ON DELETE CASCADE): the grant is deleted here once it is revoked or its refresh tokens
// have expired (each rotation gives the new token a full lifetime, so the grant lives exactly
// as long as its chain could still be used; under the Hover profile, until it is revoked).
// The record is written by the purge, not by the refresh, so a rotation costs no extra write.
// Each DELETE that may take a used token spares the rows that need a record and have none
// yet (another purge at once may have chosen a different batch): they go at the next batch.
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Database } from './schema.js';

/** The tables whose rows end at expires_at, with the primary key a batch is chosen by. */
const EXPIRING_KEY = {
  authorization_codes: 'code_hash',
  access_tokens: 'token_hash',
  refresh_tokens: 'token_hash',
  sessions: 'id_hash',
} as const satisfies Partial<Record<keyof Database, string>>;

export interface PurgeOptions {
  /** Epoch seconds. */
  now: number;
  /** Seconds a dead row is kept for replay detection (default 3600). */
  margin?: number;
  /** Seconds a consumed refresh token is kept before the margin: max(retry window, access-token lifetime). */
  reuseWindow: number;
  /** Rows per DELETE of expired rows (default 1000). */
  batchSize?: number;
  /** Grant ids per window of the sweep (default 2000). */
  windowSize?: number;
}

export interface PurgeCounts {
  authorization_codes: number;
  access_tokens: number;
  refresh_tokens: number;
  grants: number;
  sessions: number;
  client_assertions: number;
}

/** What one purge did: the rows deleted, and the used refresh tokens recorded as they went. */
export interface PurgeResult extends PurgeCounts {
  /** Used or revoked refresh tokens of live grants recorded in consumed_refresh_tokens (their rows are counted in refresh_tokens). */
  reuse_records: number;
}

export const DEFAULT_PURGE_MARGIN = 3600;

/** Lets the event loop run whatever is waiting (requests, timers) before the next statement. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs `deleteBatch` until a batch comes back short, letting the event loop turn after each. */
async function inBatches(batchSize: number, deleteBatch: () => Promise<bigint | number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = Number(await deleteBatch());
    total += n;
    await yieldToEventLoop();
    if (n < batchSize) return total;
  }
}

type RefreshTokenFilter = (eb: ExpressionBuilder<Database, 'refresh_tokens'>) => Expression<SqlBool>;

/** A used or revoked refresh token of a live grant: its replay must still revoke the grant once its row is gone. */
const needsRecord: RefreshTokenFilter = (eb) => eb.and([
  eb.or([eb('refresh_tokens.consumed_at', 'is not', null), eb('refresh_tokens.revoked_at', 'is not', null)]),
  eb.exists(eb.selectFrom('grants as g').select('g.id').whereRef('g.id', '=', 'refresh_tokens.grant_id').where('g.revoked_at', 'is', null)),
]);

/** Records the refresh tokens that `which` picks and that need a record; returns how many were new. */
async function recordUsed(db: Kysely<Database>, which: RefreshTokenFilter): Promise<number> {
  const result = await db.insertInto('consumed_refresh_tokens').columns(['token_hash', 'grant_id'])
    .expression((eb) => eb.selectFrom('refresh_tokens').select(['refresh_tokens.token_hash', 'refresh_tokens.grant_id'])
      .where(which).where(needsRecord))
    .onConflict((oc) => oc.column('token_hash').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n);
}

/** Deletes the refresh tokens `which` picks, except those that need a record and have none. */
async function deleteRecorded(db: Kysely<Database>, which: RefreshTokenFilter): Promise<number> {
  const result = await db.deleteFrom('refresh_tokens').where(which)
    .where((eb) => eb.or([
      eb.not(needsRecord(eb)),
      eb.exists(eb.selectFrom('consumed_refresh_tokens as c').select('c.token_hash').whereRef('c.token_hash', '=', 'refresh_tokens.token_hash')),
    ]))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function purgeExpired(db: Kysely<Database>, options: PurgeOptions): Promise<PurgeResult> {
  const { now } = options;
  const margin = options.margin ?? DEFAULT_PURGE_MARGIN;
  const batch = Math.max(1, Math.floor(options.batchSize ?? 1000));
  const windowSize = Math.max(1, Math.floor(options.windowSize ?? 2000));
  const deadBefore = now - margin;
  const consumedBefore = now - options.reuseWindow - margin;

  /** The rows of `table` that expired before `before`, through its expires_at index, a batch at a time. */
  const deleteExpired = (table: keyof typeof EXPIRING_KEY, before: number) => inBatches(batch, async () => {
    const key = sql.ref(EXPIRING_KEY[table]);
    const result = await sql`delete from ${sql.table(table)} where ${key} in (select ${key} from ${sql.table(table)} where expires_at < ${before} limit ${batch})`.execute(db);
    return result.numAffectedRows ?? 0n;
  });

  const authorization_codes = await deleteExpired('authorization_codes', deadBefore);
  const access_tokens = await deleteExpired('access_tokens', now);
  // Expired refresh tokens, a batch at a time through the expires_at index as above, each
  // used one of a live grant recorded first.
  let reuse_records = 0;
  let refresh_tokens = await inBatches(batch, async () => {
    const expiredBatch: RefreshTokenFilter = (eb) => eb('refresh_tokens.token_hash', 'in',
      eb.selectFrom('refresh_tokens as e').select('e.token_hash').where('e.expires_at', '<', now).limit(batch));
    reuse_records += await recordUsed(db, expiredBatch);
    await yieldToEventLoop();
    return deleteRecorded(db, expiredBatch);
  });
  const sessions = await deleteExpired('sessions', now);
  // Its primary key is two columns: the batch is chosen by row value.
  const client_assertions = await inBatches(batch, async () => {
    const result = await sql`delete from client_assertions where (client_id, jti_hash) in (select client_id, jti_hash from client_assertions where expires_at < ${now} limit ${batch})`.execute(db);
    return result.numAffectedRows ?? 0n;
  });

  // The sweep ends at the last grant that existed when it began (newer ones are too young to
  // be empty and old), so steady inserts cannot keep it going.
  const end = Number((await db.selectFrom('grants').select((eb) => eb.fn.max('id').as('end')).executeTakeFirst())?.end ?? 0);
  let grants = 0;
  for (let lo = 0; lo < end; lo += windowSize) {
    // The window (lo, hi] of grant ids.
    const hi = lo + windowSize;

    const dead: RefreshTokenFilter = (w) => w.and([
      w('refresh_tokens.grant_id', '>', lo), w('refresh_tokens.grant_id', '<=', hi),
      w.or([
        w('refresh_tokens.consumed_at', '<', consumedBefore),
        w('refresh_tokens.revoked_at', '<', deadBefore),
        w.exists(w.selectFrom('grants as g').select('g.id').whereRef('g.id', '=', 'refresh_tokens.grant_id').where('g.revoked_at', '<', deadBefore)),
      ]),
    ]);
    reuse_records += await recordUsed(db, dead);
    await yieldToEventLoop();
    refresh_tokens += await deleteRecorded(db, dead);

    grants += Number((await db.deleteFrom('grants')
      .where('id', '>', lo).where('id', '<=', hi)
      .where('created_at', '<', deadBefore)
      .where((w) => w.not(w.exists(w.selectFrom('authorization_codes as c').select('c.grant_id').whereRef('c.grant_id', '=', 'grants.id'))))
      .where((w) => w.not(w.exists(w.selectFrom('access_tokens as a').select('a.grant_id').whereRef('a.grant_id', '=', 'grants.id'))))
      .where((w) => w.not(w.exists(w.selectFrom('refresh_tokens as r').select('r.grant_id').whereRef('r.grant_id', '=', 'grants.id'))))
      .executeTakeFirst()).numDeletedRows);

    await yieldToEventLoop();
  }

  return { authorization_codes, access_tokens, refresh_tokens, grants, sessions, client_assertions, reuse_records };
}

/** Row counts of the tables purge keeps in check (tests and the soak script sample them). */
export async function countRows(db: Kysely<Database>): Promise<PurgeCounts> {
  const count = async (table: keyof PurgeCounts) =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return {
    authorization_codes: await count('authorization_codes'),
    access_tokens: await count('access_tokens'),
    refresh_tokens: await count('refresh_tokens'),
    grants: await count('grants'),
    sessions: await count('sessions'),
    client_assertions: await count('client_assertions'),
  };
}

/** What one cleanup of dynamic registrations deleted. */
export interface RegistrationPurgeCounts {
  /** Dynamically registered clients that never had a grant, older than the unused-registration window. */
  registered_clients: number;
  /** Initial access tokens expired more than `margin` ago, or used up. */
  registration_tokens: number;
}

/**
 * Registrations that never got a token expire (issue 23): a dynamically registered client older
 * than `unusedTtl` seconds that has no grant and never had one is deleted. "Never had one" is
 * registered_client_uses (migration 014): first every such client that has a grant now is
 * recorded there (before the grant sweep of purgeExpired can delete its last grant, so run this
 * first), then the clients with neither go, a batch at a time, with their codes (none) and
 * assertions (ON DELETE CASCADE). Initial access tokens that expired more than `margin` ago or
 * are used up go too (a used-up token is refused either way).
 */
export async function purgeUnusedRegistrations(db: Kysely<Database>, options: { now: number; unusedTtl: number; margin?: number; batchSize?: number }): Promise<RegistrationPurgeCounts> {
  const { now } = options;
  const margin = options.margin ?? DEFAULT_PURGE_MARGIN;
  const batch = Math.max(1, Math.floor(options.batchSize ?? 1000));
  await db.insertInto('registered_client_uses').columns(['client_id', 'seen_at'])
    .expression((eb) => eb.selectFrom('clients as c').select((s) => ['c.id', s.val(now).as('seen_at')])
      .where('c.registration', 'is not', null)
      .where((w) => w.exists(w.selectFrom('grants as g').select('g.id').whereRef('g.client_id', '=', 'c.id')))
      .where((w) => w.not(w.exists(w.selectFrom('registered_client_uses as u').select('u.client_id').whereRef('u.client_id', '=', 'c.id')))))
    .onConflict((oc) => oc.column('client_id').doNothing())
    .execute();
  const registered_clients = await inBatches(batch, async () => {
    const result = await db.deleteFrom('clients').where('id', 'in', (eb) => eb.selectFrom('clients as c').select('c.id')
      .where('c.registration', 'is not', null)
      .where('c.created_at', '<', now - options.unusedTtl)
      .where((w) => w.not(w.exists(w.selectFrom('grants as g').select('g.id').whereRef('g.client_id', '=', 'c.id'))))
      .where((w) => w.not(w.exists(w.selectFrom('registered_client_uses as u').select('u.client_id').whereRef('u.client_id', '=', 'c.id'))))
      .limit(batch))
      .executeTakeFirst();
    return result.numDeletedRows;
  });
  const tokens = await db.deleteFrom('registration_tokens')
    .where((eb) => eb.or([eb('expires_at', '<', now - margin), eb.and([eb('max_uses', 'is not', null), eb('uses', '>=', eb.ref('max_uses'))])]))
    .executeTakeFirst();
  return { registered_clients, registration_tokens: Number(tokens.numDeletedRows) };
}
