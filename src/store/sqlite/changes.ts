// Knowing when rows kept in memory may be out of date (SQLite only).
//
// A server on SQLite is the only writer through its connection, so it can tell which tables
// its own statements change: every statement passes through the statement cache (statement-cache.ts), which
// classifies it once (writesOf) and notes each write here as it runs. Other connections (the
// command line, another process on the same file) are noticed through PRAGMA data_version,
// read at most once per turn of the event loop. KeptRows (kept-rows.ts) builds on that: a map
// of rows that empties itself whenever one of the tables they were read from may have changed.
//
// (PostgreSQL has its own watch: postgres/changes.ts.)
import type { ChangeWatch, Table } from '../kept-rows.js';

/** What one statement can change: nothing, one table's existing rows, or anything. */
export type Writes = 'none' | 'all' | { table: string };

/**
 * Classifies a statement by its SQL. Only what is known to be harmless to rows already read
 * escapes a bump: read-only statements (SQLite says so, transaction control included) and
 * plain INSERTs (a new row never changes one read before; nothing kept is a "not found").
 * An UPDATE changes its own table's rows (no foreign key here cascades on update, and there
 * are no triggers). A DELETE can cascade anywhere, and anything else (DDL, upserts through
 * other forms, CTEs) is taken as changing everything. test/store/migration-contract.test.ts
 * fails when a migration breaks these assumptions (a trigger, an ON UPDATE action, a table
 * declared ON CONFLICT REPLACE).
 */
export function writesOf(sql: string, readonly: boolean): Writes {
  if (readonly) return 'none';
  // The target is one unqualified name, quoted or not; SQLite's names are case-insensitive,
  // and the watchers name tables in lower case. A schema-qualified target ("main"."users")
  // matches neither pattern and counts as changing everything.
  const insert = /^\s*insert\s+into\s+(?:"([A-Za-z_]\w*)"|([A-Za-z_]\w*))\s*\(/i.exec(sql);
  if (insert) return /\bon\s+conflict\b/i.test(sql) ? { table: (insert[1] ?? insert[2]!).toLowerCase() } : 'none';
  const update = /^\s*update\s+(?:"([A-Za-z_]\w*)"|([A-Za-z_]\w*))\s+set\b/i.exec(sql);
  if (update) return { table: (update[1] ?? update[2]!).toLowerCase() };
  return 'all';
}

/** The SQLite connection's watch; statement-cache.ts calls `noted` for every statement it runs. */
export class SqliteChangeWatch implements ChangeWatch {
  private readonly writtenTables = new Map<string, number>();
  /** Writes that may touch any table, and other connections' commits. */
  private everywhere = 0;
  private lastDataVersion: number | undefined;
  private checkedThisTurn = false;

  constructor(private readonly connection: { readonly inTransaction: boolean; dataVersion(): number }) {}

  noted(writes: Writes): void {
    if (writes === 'none') return;
    if (writes === 'all') this.everywhere++;
    else this.writtenTables.set(writes.table, (this.writtenTables.get(writes.table) ?? 0) + 1);
  }

  version(tables: readonly Table[]): number | undefined {
    if (this.connection.inTransaction) return undefined;
    if (!this.checkedThisTurn) {
      let dataVersion: number;
      try {
        dataVersion = this.connection.dataVersion();
      } catch {
        // Unreadable now (the file busy or locked): unknown, so the caller reads the rows, and
        // the next lookup tries again.
        return undefined;
      }
      this.checkedThisTurn = true;
      setImmediate(() => {
        this.checkedThisTurn = false;
      });
      if (dataVersion !== this.lastDataVersion) {
        this.lastDataVersion = dataVersion;
        this.everywhere++;
      }
    }
    // Every counter only grows, so the sum moves whenever one of them does.
    let sum = this.everywhere;
    for (const table of tables) sum += this.writtenTables.get(table) ?? 0;
    return sum;
  }
}
