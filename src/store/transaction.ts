// One database transaction, handed to the protocol core as the stores bound to it, so that
// src/oauth can make "consume the code, insert the tokens" atomic without knowing Kysely.
import type { Kysely } from 'kysely';
import type { Store } from './db.js';
import type { Database } from './schema.js';
import { GrantStore } from './grants.js';
import { TokenStore } from './tokens.js';
import { groupCommit } from './sqlite/group-commit.js';

/** The stores a grant writes through, all bound to one transaction. */
export interface TransactionStores {
  tokens: TokenStore;
  grants: GrantStore;
}

/**
 * Runs `work` atomically: its writes are committed when it resolves, and none of them remain
 * when it throws (the error is rethrown). `work` must reach the database only through the
 * stores it is given (never the root Kysely instance, never a nested runner call), and must
 * have no effect outside the database: on SQLite it may be run a second time, from the start,
 * when another work of its batch throws (only the last run is committed and answered). With
 * LATCHKEY_DEV_CHECKS=1 (the tests) a root store called inside a work throws (dev-checks.ts).
 *
 * PostgreSQL: one READ COMMITTED transaction per call, so a second `UPDATE … WHERE
 * consumed_at IS NULL` on the same row waits for the first to commit and then matches
 * nothing. SQLite: group commit (sqlite/group-commit.ts).
 */
export type RunInTransaction = <T>(work: (tx: TransactionStores) => Promise<T>) => Promise<T>;

export function transactionRunner(store: Pick<Store, 'db' | 'dialect'>): RunInTransaction {
  if (store.dialect === 'sqlite') return groupCommit(store.db, storesFor);
  return (work) => store.db.transaction().execute((trx) => work(storesFor(trx)));
}

function storesFor(trx: Kysely<Database>): TransactionStores {
  return { tokens: new TokenStore(trx), grants: new GrantStore(trx) };
}
