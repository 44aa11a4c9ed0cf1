// SQLite only: which table another connection changed, not just that it changed something.
//
// A server on SQLite keeps client rows and access-token contexts (kept-rows.ts) and drops
// them when a table they were read from may have changed. Its own writes it classifies itself
// (sqlite/changes.ts); another connection's commit (the command line, and above all the other
// workers of `serve --workers N`) it saw only through PRAGMA data_version, which says that
// something changed but not what, so every kept row was dropped. With two workers writing
// all the time — a token grant commits every few milliseconds — nothing stayed kept, and each
// grant read its client again (docs/PERFORMANCE.md, table-versions).
//
// So each table rows are kept from counts its changes here: a row trigger AFTER UPDATE and
// AFTER DELETE bumps the table's row in latchkey_table_versions, in the writer's own
// transaction, whoever the writer is. A plain INSERT bumps nothing, by the same rule as
// writesOf: a new row changes no row read before, and a "not found" is never kept. The
// watch reads the counters when data_version moves and drops only what was read from a table
// whose counter moved (sqlite/changes.ts). A table without a counter row is taken as changed
// by every other connection's commit, as before. PostgreSQL has its NOTIFY triggers instead
// (migration 009); test/store/migration-contract.test.ts holds both to their rules.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

/** The tables rows are kept from (clients.ts CLIENT_TABLES, access-tokens.ts ACCESS_CONTEXT_TABLES, resources.ts RESOURCE_TABLES). */
export const VERSIONED_TABLES = ['access_tokens', 'grants', 'clients', 'organizations', 'users', 'resources'] as const;

export function tableVersions(dialect: Dialect) {
  return {
    async up(db: AnyDb): Promise<void> {
      if (dialect !== 'sqlite') return;
      await db.schema.createTable('latchkey_table_versions')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      for (const table of VERSIONED_TABLES) {
        await db.insertInto('latchkey_table_versions').values({ name: table, version: 0 }).execute();
        for (const event of ['update', 'delete'] as const) {
          await sql.raw(`create trigger latchkey_version_${table}_${event} after ${event} on ${table} for each row
            begin update latchkey_table_versions set version = version + 1 where name = '${table}'; end`).execute(db);
        }
      }
    },
  };
}
