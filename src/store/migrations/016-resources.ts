// Resource indicators (RFC 8707) and protected resources (RFC 9728), issue 23.
// - resources: the APIs an operator registers (`latchkey resource create`): `identifier` is
//   the resource indicator, an absolute URI without fragment (RFC 8707 §2), unique and
//   compared as an exact string; `name`; `scopes` space-separated, the scopes a token for
//   this resource may carry. The built-in resource ISSUER/api (`/api/user`, UserInfo) is not
//   a row: it follows the issuer and the server's scopes (oauth/resources.ts).
// - authorization_codes.resource: the resources the authorization request indicated,
//   space-separated (a valid resource indicator holds no white space); NULL when none.
// - refresh_tokens.resource: the resources of the grant the refresh token carries on; a
//   refresh may ask for a subset (RFC 8707 §2.2), never more. Copied from token to token like
//   `scope`, so a refresh reads it back from its own consume (no join, no extra statement).
// - access_tokens.audience: the token's audience, space-separated; NULL = no resource was
//   indicated, today's behaviour (the implicit audience ISSUER/api).
// Every new column is NULL for existing rows: nothing to backfill. On PostgreSQL `resources`
// gets migration 009's change trigger, so the servers' kept resources (store/resources.ts)
// are dropped when the command line changes one.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function resources(dialect: Dialect) {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.createTable('resources')
        .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('identifier', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();
      await db.schema.alterTable('authorization_codes').addColumn('resource', 'text').execute();
      await db.schema.alterTable('refresh_tokens').addColumn('resource', 'text').execute();
      await db.schema.alterTable('access_tokens').addColumn('audience', 'text').execute();
      if (dialect === 'postgres') {
        await sql.raw(`create trigger latchkey_changes after update or delete or truncate on resources
          for each statement execute function latchkey_notify_change()`).execute(db);
      }
    },
  };
}
