// access_tokens.jti is set only for JWT access tokens; opaque tokens (the default) leave it
// NULL. A full unique index still takes an entry for every NULL, so every opaque token insert
// paid for an index it never uses (on SQLite, about a quarter of a refresh's database time).
// The index now holds only the tokens that have a jti; `WHERE jti = ?` still uses it on both
// dialects, and uniqueness among JWT ids is unchanged.
import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function partialJtiIndex() {
  return {
    async up(db: AnyDb): Promise<void> {
      await sql`drop index access_tokens_jti`.execute(db);
      await sql`create unique index access_tokens_jti on access_tokens (jti) where jti is not null`.execute(db);
    },
  };
}
