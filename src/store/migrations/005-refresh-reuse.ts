// Issue 18 finding 7: refresh-token reuse detection outlives the purge horizon.
//
// consumed_refresh_tokens: a slim record of each used (or revoked) refresh token of a live
// grant, written by the purge when it deletes the token's full row (store/purge.ts), so that
// a replay of it still revokes the grant. The records go with their grant (ON DELETE
// CASCADE): the purge deletes a grant once it is revoked, or once its refresh tokens have
// expired, so they last exactly as long as the grant could still be used. The grant_id index
// serves the cascade. On SQLite the table is WITHOUT ROWID: the primary key's B-tree is the row.
//
// settings: small key/value rows the server writes at start, e.g. the purge horizon it uses,
// so that `latchkey purge` run elsewhere uses the same one (src/store/settings.ts).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function refreshReuse(dialect: Dialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      let slim = db.schema.createTable('consumed_refresh_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('grant_id', 'integer', (c) => c.notNull().references('grants.id').onDelete('cascade'));
      if (dialect === 'sqlite') slim = slim.modifyEnd(sql`without rowid`);
      await slim.execute();
      await db.schema.createIndex('consumed_refresh_tokens_grant').on('consumed_refresh_tokens').column('grant_id').execute();

      await db.schema.createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('updated_at', big, (c) => c.notNull())
        .execute();
    },
  };
}
