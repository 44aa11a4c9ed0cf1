// Issue 21: PostgreSQL tells every server when a table whose rows they keep has changed.
//
// ClientStore and AccessTokenStore keep the rows they read (store/kept-rows.ts) until one of
// the tables they were read from may have changed. On PostgreSQL the signal comes from the
// database itself, so that every writer gives it — another server, the command line, the
// purge, an operator's psql: a statement-level trigger AFTER UPDATE, DELETE or TRUNCATE on each
// of those tables sends, when the transaction commits (NOTIFY is transactional; a rollback
// sends nothing), the table's name
//   - on `latchkey_changes_<tag>`, <tag> the first 16 hex digits of md5(schema): every
//     server's listener on that schema hears it (store/postgres/changes.ts). Channels are
//     shared by the whole database; the tag keeps schemas apart within a 63-byte channel name.
//   - on `latchkey_wrote_<pid of the writing backend>`: a Latchkey pool connection listens on
//     its own, so that its server learns, before the writing statement's answer arrives
//     (PostgreSQL sends a session's notifications just before its ReadyForQuery), that its
//     write changed kept rows, and waits for the other servers to drop theirs before answering.
// A plain INSERT fires nothing: a new row changes no row read before, and a "not found" is
// never kept (the same rule as SQLite's writesOf). A statement trigger fires once however
// many rows change (none included), and NOTIFY folds identical ones within a transaction.
// The function only notifies: it writes no row (test/store/migration-contract.test.ts).
// SQLite needs none of this (one connection notes its own writes: store/sqlite/changes.ts).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

/** The tables rows are kept from when this migration landed (clients.ts, access-tokens.ts). */
const WATCHED_TABLES = ['access_tokens', 'grants', 'clients', 'organizations', 'users'];

export function changeNotifications(dialect: Dialect) {
  return {
    async up(db: AnyDb): Promise<void> {
      if (dialect !== 'postgres') return;
      await sql.raw(`create function latchkey_notify_change() returns trigger language plpgsql as $$
begin
  perform pg_notify('latchkey_changes_' || left(md5(tg_table_schema), 16), tg_table_name);
  perform pg_notify('latchkey_wrote_' || pg_backend_pid(), tg_table_name);
  return null;
end
$$`).execute(db);
      for (const table of WATCHED_TABLES) {
        await sql.raw(`create trigger latchkey_changes after update or delete or truncate on ${table}
          for each statement execute function latchkey_notify_change()`).execute(db);
      }
    },
  };
}
