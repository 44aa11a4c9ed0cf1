// Rows kept in memory while the tables they were read from stand still. A change watch says
// when they may have moved: on SQLite sqlite/changes.ts (our own statements, PRAGMA
// data_version), on PostgreSQL postgres/changes.ts (LISTEN/NOTIFY fed by triggers).
import { BoundedMap } from '../bounded-map.js';
import type { Database } from './schema.js';

export type Table = keyof Database & string;

export interface ChangeWatch {
  /**
   * A number that moves whenever a row of one of `tables` may have changed; undefined while
   * that cannot be known (SQLite: inside this connection's transaction; PostgreSQL: while the
   * listener is not connected or not sure it has heard every change). A number is never
   * reused: rows kept under one are dropped when it moves or comes back from undefined.
   */
  version(tables: readonly Table[]): number | undefined;
}

/**
 * Rows read from `tables`, kept by key while none of those tables may have changed; shared by
 * every caller, so `keep` must make them immutable (freeze). At most `capacity` are kept, the
 * oldest forgotten first. Without a watch (a transaction's stores, a PostgreSQL store opened
 * without `watchChanges`) every call reads.
 */
export class KeptRows<V> {
  /** None without a watch: a transaction's stores never keep, so build no map for them. */
  private readonly rows: BoundedMap<string, V> | undefined;
  private keptAt: number | undefined;

  constructor(
    private readonly watch: ChangeWatch | undefined,
    private readonly tables: readonly Table[],
    capacity: number,
  ) {
    this.rows = watch === undefined ? undefined : new BoundedMap(capacity);
  }

  async get(key: string, read: () => Promise<V | undefined>, keep: (row: V) => V): Promise<V | undefined> {
    const rows = this.rows;
    const before = this.watch?.version(this.tables);
    if (before === undefined || rows === undefined) return read();
    if (before !== this.keptAt) {
      rows.clear();
      this.keptAt = before;
    }
    const kept = rows.get(key);
    if (kept !== undefined) return kept;
    const row = await read();
    if (row === undefined) return undefined;
    const frozen = keep(row);
    // Kept only when nothing moved while the read waited (its connection, a transaction).
    if (this.watch?.version(this.tables) === before) rows.set(key, frozen);
    return frozen;
  }

  /** How many rows are kept (tests). */
  get size(): number {
    return this.rows?.size ?? 0;
  }
}
