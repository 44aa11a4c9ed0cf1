// Deletes rows that no longer matter, in batches, so the tables do not grow without bound and
// no statement holds a lock for long: each DELETE removes at most `batchSize` rows chosen by
// primary key in a subselect (`DELETE … WHERE pk IN (SELECT pk … LIMIT n)`), and the loop goes
// on until a batch comes back short. Run on a timer by the server (config.purgeInterval) and
// by `latchkey purge`. Several processes may purge at once: every statement is idempotent.
//
// What goes, and when (`margin` defaults to an hour):
//   authorization codes  expired more than `margin` ago (a replay within that time still
//                        finds the used code and revokes its grant)
//   access tokens        expired
//   refresh tokens       expired; revoked more than `margin` ago; consumed longer ago than the
//                        reuse horizon; or their grant was revoked more than `margin` ago
//   grants               no code or token left, and older than `margin`
//   sessions             expired
//
// The reuse horizon keeps a used refresh token long enough to catch a replay: a legitimate
// client presents its old token again at its next refresh, about one access-token lifetime
// later, so that is the horizon (at least the retry window), plus the margin. A replay after
// that finds no row and is refused as an unknown token, but the grant is not revoked.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface PurgeOptions {
  /** Epoch seconds. */
  now: number;
  /** Seconds a dead row is kept for replay detection (default 3600). */
  margin?: number;
  /** Seconds a consumed refresh token is kept before the margin: max(retry window, access-token lifetime). */
  reuseWindow: number;
  /** Rows per DELETE (default 1000). */
  batchSize?: number;
}

export interface PurgeCounts {
  authorization_codes: number;
  access_tokens: number;
  refresh_tokens: number;
  grants: number;
  sessions: number;
}

export const DEFAULT_PURGE_MARGIN = 3600;

async function inBatches(batchSize: number, deleteBatch: () => Promise<bigint | number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = Number(await deleteBatch());
    total += n;
    if (n < batchSize) return total;
  }
}

export async function purgeExpired(db: Kysely<Database>, options: PurgeOptions): Promise<PurgeCounts> {
  const { now } = options;
  const margin = options.margin ?? DEFAULT_PURGE_MARGIN;
  const batch = options.batchSize ?? 1000;
  const deadBefore = now - margin;
  const consumedBefore = now - options.reuseWindow - margin;

  const authorization_codes = await inBatches(batch, async () => (await db.deleteFrom('authorization_codes')
    .where('code_hash', 'in', (eb) => eb.selectFrom('authorization_codes').select('code_hash').where('expires_at', '<', deadBefore).limit(batch))
    .executeTakeFirst()).numDeletedRows);

  const access_tokens = await inBatches(batch, async () => (await db.deleteFrom('access_tokens')
    .where('token_hash', 'in', (eb) => eb.selectFrom('access_tokens').select('token_hash').where('expires_at', '<', now).limit(batch))
    .executeTakeFirst()).numDeletedRows);

  const refresh_tokens = await inBatches(batch, async () => (await db.deleteFrom('refresh_tokens')
    .where('token_hash', 'in', (eb) => eb.selectFrom('refresh_tokens as r').select('r.token_hash')
      .where((w) => w.or([
        w.and([w('r.expires_at', 'is not', null), w('r.expires_at', '<', now)]),
        w('r.consumed_at', '<', consumedBefore),
        w('r.revoked_at', '<', deadBefore),
        w.exists(w.selectFrom('grants as g').select('g.id').whereRef('g.id', '=', 'r.grant_id').where('g.revoked_at', '<', deadBefore)),
      ]))
      .limit(batch))
    .executeTakeFirst()).numDeletedRows);

  const grants = await inBatches(batch, async () => (await db.deleteFrom('grants')
    .where('id', 'in', (eb) => eb.selectFrom('grants as g').select('g.id')
      .where('g.created_at', '<', deadBefore)
      .where((w) => w.not(w.exists(w.selectFrom('authorization_codes as c').select('c.grant_id').whereRef('c.grant_id', '=', 'g.id'))))
      .where((w) => w.not(w.exists(w.selectFrom('access_tokens as a').select('a.grant_id').whereRef('a.grant_id', '=', 'g.id'))))
      .where((w) => w.not(w.exists(w.selectFrom('refresh_tokens as r').select('r.grant_id').whereRef('r.grant_id', '=', 'g.id'))))
      .limit(batch))
    .executeTakeFirst()).numDeletedRows);

  const sessions = await inBatches(batch, async () => (await db.deleteFrom('sessions')
    .where('id_hash', 'in', (eb) => eb.selectFrom('sessions').select('id_hash').where('expires_at', '<', now).limit(batch))
    .executeTakeFirst()).numDeletedRows);

  return { authorization_codes, access_tokens, refresh_tokens, grants, sessions };
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
  };
}
