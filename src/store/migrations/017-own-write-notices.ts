// Issue 21: a Latchkey pool connection learns of its own changes to kept tables from a NOTICE
// sent to it alone, not from a NOTIFY.
//
// Migration 009's trigger also notified `latchkey_wrote_<pid>`, and every pool connection
// LISTENed on its own such channel. But PostgreSQL wakes every listening backend of the
// database at each commit that notifies (async.c SignalBackends signals all listeners behind
// the queue's head, whatever their channels): with ten pool connections a server, each
// revocation group woke ten idle backends, each of which read the queue and found nothing of
// its own, and the committing backend sent each a signal (docs/PERFORMANCE.md,
// pg-own-write-notices). A NOTICE goes to the writing session only, with the statement's
// answer, and wakes nobody.
//
// So a session that asks for it (`SET latchkey.own_writes = on`, which own-writes.ts sends
// first on every pool connection, with client_min_messages = notice so that no role or
// database default can hide it) gets `latchkey_wrote <table>` as a NOTICE; own-writes.ts
// counts the change as made once the connection is idle again (its transaction over).
// Any other session — a server from before this migration, the command line of one, psql —
// still notifies its own channel as before, so older servers in a rolling upgrade keep hearing
// their own writes. The schema's change channel is notified by every writer, as before.
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function ownWriteNotices(dialect: Dialect) {
  return {
    async up(db: AnyDb): Promise<void> {
      if (dialect !== 'postgres') return;
      await sql.raw(`create or replace function latchkey_notify_change() returns trigger language plpgsql as $$
begin
  perform pg_notify('latchkey_changes_' || left(md5(tg_table_schema), 16), tg_table_name);
  if current_setting('latchkey.own_writes', true) = 'on' then
    raise notice using message = 'latchkey_wrote ' || tg_table_name;
  else
    perform pg_notify('latchkey_wrote_' || pg_backend_pid(), tg_table_name);
  end if;
  return null;
end
$$`).execute(db);
    },
  };
}
