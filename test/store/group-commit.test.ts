// store/sqlite/group-commit.ts on its own: generic over the stores a work is given. The works of
// one batch share one transaction, so one set of stores; store/transaction.ts names the real ones
// (test/store/transaction.test.ts tests the runner the services use).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { sql, type Kysely } from 'kysely';
import { openDatabase } from '../../src/store/db.js';
import type { Database } from '../../src/store/schema.js';
import { groupCommit } from '../../src/store/sqlite/group-commit.js';

test('groupCommit<S>: storesFor makes one set of stores per transaction, and every work of a batch gets it', async () => {
  const store = openDatabase('sqlite::memory:');
  try {
    const made: Array<{ batch: number; trx: Kysely<Database> }> = [];
    const run = groupCommit(store.db, (trx) => {
      const stores = { batch: made.length + 1, trx };
      made.push(stores);
      return stores;
    });
    await sql`create table scratch (n integer)`.execute(store.db);
    const together = await Promise.all([1, 2, 3].map((n) => run(async (tx) => {
      await sql`insert into scratch (n) values (${n})`.execute(tx.trx);
      return tx.batch;
    })));
    assert.deepEqual(together, [1, 1, 1], 'three works queued in one turn: one batch, one set of stores');
    await nextTurn();
    assert.equal(await run(async (tx) => tx.batch), 2, 'a later work: a new batch');
    assert.equal(made.length, 2);
    const rows = await sql<{ n: number }>`select n from scratch order by n`.execute(store.db);
    assert.deepEqual(rows.rows.map((r) => r.n), [1, 2, 3]);
  } finally {
    await store.close();
  }
});
