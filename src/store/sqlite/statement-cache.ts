// The statement cache of the SQLite connection (db.ts openSqlite wraps the native handle in it).
import type SqliteDatabase from 'better-sqlite3';
import { writesOf, type SqliteChangeWatch, type Writes } from './changes.js';

/**
 * Kysely's SQLite driver prepares every statement anew (a large share of the token endpoint's
 * CPU: see docs/PERFORMANCE.md, statement-cache); the hot paths run the same few SQL strings
 * over and over, so keep each prepared statement and reuse it. better-sqlite3 statements are
 * reusable once a call returns, and SQLite re-prepares them itself after a schema change. The
 * cache is bounded: SQL built from user input never varies in text (values are bound), but a
 * fixed cap costs nothing. Once full, later SQL is prepared on each use; nothing is evicted.
 *
 * Kysely asks for the statement right before it runs it, so this is also where each write is
 * told to the change watch (changes.ts): what a statement may change is worked out once, when
 * it is first prepared. `exec` (several statements in one string) may change anything.
 */
/**
 * What Kysely's `begin` runs instead when other processes write to the file at the same time
 * (`beginImmediate`: the workers of `serve --workers`). A deferred BEGIN takes the write lock
 * only at the first write, and when another process committed after this transaction's first
 * read, that upgrade fails at once with SQLITE_BUSY (the snapshot is stale): busy_timeout
 * cannot help. BEGIN IMMEDIATE takes the write lock first, waiting under busy_timeout, so
 * writers queue instead of failing; the token transactions write at once anyway, so nothing
 * that ran side by side is serialised. One process alone keeps the deferred BEGIN: a
 * transaction of its own left open across turns (a JWT signed inside it) must not hold off a
 * writer it cannot wait for on the same thread.
 */
const BEGIN_IMMEDIATE = 'begin immediate';

export function withStatementCache(native: SqliteDatabase.Database, changes: SqliteChangeWatch, options: { beginImmediate?: boolean } = {}): SqliteDatabase.Database {
  const begin = options.beginImmediate ? BEGIN_IMMEDIATE : 'begin';
  const cache = new Map<string, { statement: SqliteDatabase.Statement; writes: Writes }>();
  const MAX_STATEMENTS = 500;
  return new Proxy(native, {
    get(target, property, receiver) {
      if (property === 'prepare') {
        return (source: string) => {
          let entry = cache.get(source);
          if (entry === undefined) {
            const statement = target.prepare(source === 'begin' ? begin : source);
            entry = { statement, writes: writesOf(source, statement.readonly) };
            if (cache.size < MAX_STATEMENTS) cache.set(source, entry);
          }
          changes.noted(entry.writes);
          return entry.statement;
        };
      }
      if (property === 'exec') {
        return (source: string) => {
          changes.noted('all');
          return target.exec(source);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
