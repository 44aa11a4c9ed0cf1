// Grant ids drawn from the grants table's sequence ahead of need, a block at a time, so that a
// grant insert in a group-commit transaction can be kept to the end like the token inserts
// (write-behind.ts) while its caller gets the id at once.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Ids drawn at once. */
export const GRANT_ID_BLOCK = 64;

/**
 * A reservoir of grant ids, refilled from `nextval` on the pool (outside any group's
 * transaction: sequences are not transactional, and an id drawn and never used is a gap, as a
 * rolled-back insert leaves). Ids therefore need not follow creation order (nothing relies on
 * it: the purge sweeps ids in windows and tests each grant's age). `take()` answers at once, or
 * undefined while the reservoir is empty, and then the caller inserts as before (RETURNING id);
 * a refill starts whenever fewer than half a block remain.
 */
export class GrantIds {
  private ids: number[] = [];
  private refilling = false;

  constructor(private readonly db: Kysely<Database>, private readonly block = GRANT_ID_BLOCK) {}

  take(): number | undefined {
    const id = this.ids.pop();
    if (this.ids.length < this.block / 2) this.refill();
    return id;
  }

  private refill(): void {
    if (this.refilling) return;
    this.refilling = true;
    sql<{ id: number }>`select nextval(pg_get_serial_sequence('grants', 'id'))::int4 as id from generate_series(1, ${this.block})`.execute(this.db)
      // Taken from the end: the smallest first.
      .then((r) => this.ids.unshift(...r.rows.map((row) => row.id).reverse()))
      // A failed refill (the database away) leaves inserts to draw their own ids.
      .catch(() => undefined)
      .finally(() => {
        this.refilling = false;
      });
  }
}
