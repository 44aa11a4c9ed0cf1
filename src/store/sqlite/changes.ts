// Knowing when rows kept in memory may be out of date (SQLite only).
//
// A server on SQLite is the only writer through its connection, so it can tell which tables
// its own statements change: every statement passes through the statement cache (statement-cache.ts), which
// classifies it once (writesOf) and notes each write here as it runs. Other connections (the
// command line, another process on the same file, the other workers of `serve --workers`) are
// noticed through PRAGMA data_version, read at most once per turn of the event loop; when it
// has moved, the per-table change counters of migration 018 (bumped by row triggers, whoever
// writes) tell which of the kept tables changed, so that the other workers' token grants —
// inserts, and consumes of tables nothing is kept from — leave the kept rows alone. KeptRows (kept-rows.ts) builds on that: a map
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
 * An UPDATE changes its own table's rows (no foreign key here cascades on update, and the
 * only triggers bump migration 018's counters, a table nothing is kept from). A DELETE can cascade anywhere, and anything else (DDL, upserts through
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
/** A table's change counter (migration 018): bumped by every UPDATE and DELETE of its rows, whoever the writer. */
export interface TableVersion {
  name: string;
  version: number;
}

export interface WatchedConnection {
  readonly inTransaction: boolean;
  dataVersion(): number;
  /**
   * The counters of migration 018, or undefined when they cannot be read (a database not
   * migrated that far): another connection's commit then counts as changing every table.
   */
  tableVersions(): TableVersion[] | undefined;
}

export class SqliteChangeWatch implements ChangeWatch {
  private readonly writtenTables = new Map<string, number>();
  /** Writes that may touch any table. */
  private everywhere = 0;
  /** Other connections' commits seen (data_version moved): count against every table without a counter. */
  private otherCommits = 0;
  /** The counters last read, by table: the tables whose other-connection changes are told apart. */
  private readonly counters = new Map<string, number>();
  private lastDataVersion: number | undefined;
  private checkedThisTurn = false;

  constructor(private readonly connection: WatchedConnection) {}

  noted(writes: Writes): void {
    if (writes === 'none') return;
    if (writes === 'all') this.everywhere++;
    else this.wrote(writes.table, 1);
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
        this.otherCommitted();
      }
    }
    // Every counter only grows, so the sum moves whenever one of them does.
    let sum = this.everywhere;
    for (const table of tables) sum += (this.writtenTables.get(table) ?? 0) + (this.counters.has(table) ? 0 : this.otherCommits);
    return sum;
  }

  /**
   * Another connection committed (or this is the first look): the tables whose counters moved
   * count as written. The counters are read after data_version, so a commit that lands between
   * the two reads is seen in the counters now and moves data_version again for the next look:
   * at worst a table is counted twice, never missed. A table's share of the sum in version()
   * never goes down: when it gains a counter, its count of writes takes the other commits it
   * was charged until then, plus one.
   */
  private otherCommitted(): void {
    this.otherCommits++;
    let versions: TableVersion[] | undefined;
    try {
      versions = this.connection.tableVersions();
    } catch {
      versions = undefined;
    }
    if (versions === undefined) {
      // Nothing to tell the tables apart by: every table counts as changed.
      this.counters.clear();
      return;
    }
    const seen = new Set<string>();
    for (const { name, version } of versions) {
      seen.add(name);
      const last = this.counters.get(name);
      if (last === undefined) this.wrote(name, this.otherCommits + 1);
      else if (last !== version) this.wrote(name, 1);
      this.counters.set(name, version);
    }
    // A table whose counter row has gone counts as changed by every later commit.
    for (const name of [...this.counters.keys()]) {
      if (!seen.has(name)) {
        this.counters.delete(name);
        this.wrote(name, 1);
      }
    }
  }

  private wrote(table: string, times: number): void {
    this.writtenTables.set(table, (this.writtenTables.get(table) ?? 0) + times);
  }
}
