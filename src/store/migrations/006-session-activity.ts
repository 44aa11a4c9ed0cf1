// Sessions end when idle (config.sessionIdleTimeout) as well as at their absolute lifetime:
// each row records when it was last used. Existing rows count as last used when created.
// Anonymous rows (user_id NULL) are no longer written — anonymous forms carry a stateless
// CSRF token (http/session.ts) — so the ones left over are deleted.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function sessionActivity(dialect: Dialect) {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('sessions').addColumn('last_seen_at', big, (c) => c.notNull().defaultTo(0)).execute();
      await sql`update sessions set last_seen_at = created_at`.execute(db);
      await sql`delete from sessions where user_id is null`.execute(db);
    },
  };
}
