// OpenID Connect's `sub` (SPEC.md "OpenID Connect": a string, stable for the user and never
// reused): users.subject, a random UUIDv4 made once when the user is created (UserStore.insert)
// and never changed. It is neither the row id nor anything derived from it or from the e-mail
// (an address changes); the unique index refuses a second user with the same value, and 122
// random bits make a deleted user's value practically impossible to draw again. A pairwise
// subject type would derive its per-sector values from this one (README, "Subject identifiers").
//
// Existing users each get a fresh value here, drawn in JavaScript so that both dialects make
// them the same way as the store does. SQLite can add a NOT NULL column to a table that has
// rows only with a constant default, so there the column carries `default ''`, which every row
// loses below and which the store never writes; PostgreSQL adds it without a default and sets
// NOT NULL once every row has its value.
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

/** Users given their subject per UPDATE (the statement binds two values per user and one more for the IN list). */
const BACKFILL_BATCH = 500;

export function userSubjects(dialect: Dialect) {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('users')
        .addColumn('subject', 'text', (c) => (dialect === 'sqlite' ? c.notNull().defaultTo('') : c))
        .execute();
      const ids = (await sql<{ id: number }>`select id from users order by id`.execute(db)).rows.map((r) => r.id);
      for (let i = 0; i < ids.length; i += BACKFILL_BATCH) {
        const batch = ids.slice(i, i + BACKFILL_BATCH);
        const cases = sql.join(batch.map((id) => sql`when ${id} then ${randomUUID()}`), sql` `);
        await sql`update users set subject = case id ${cases} end where id in (${sql.join(batch)})`.execute(db);
      }
      if (dialect === 'postgres') await db.schema.alterTable('users').alterColumn('subject', (c) => c.setNotNull()).execute();
      await db.schema.createIndex('users_subject').on('users').column('subject').unique().execute();
    },
  };
}
