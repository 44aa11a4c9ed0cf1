// Rows kept in memory while the tables they were read from stand still (SQLite only; the change
// watch of changes.ts says when they may have moved).
import { BoundedMap } from '../../bounded-map.js';
import type { ChangeWatch, Table } from './changes.js';

/**
 * Rows read from `tables`, kept by key while none of those tables may have changed; shared by
 * every caller, so `keep` must make them immutable (freeze). At most `capacity` are kept, the
 * oldest forgotten first. Without a watch (PostgreSQL, a transaction's stores) every call reads.
 */
export class KeptRows<V> {
  /** None without a watch: a transaction's stores and PostgreSQL's never keep, so build no map for them. */
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
