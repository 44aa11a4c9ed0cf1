// One database transaction, handed to the protocol core as the stores bound to it, so that
// src/oauth can make "consume the code, insert the tokens" atomic without knowing Kysely.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { GrantStore } from './grants.js';
import { TokenStore } from './tokens.js';

/** The stores a grant writes through, all bound to one transaction. */
export interface TransactionStores {
  tokens: TokenStore;
  grants: GrantStore;
}

/**
 * Runs `work` in one transaction: committed when it resolves, rolled back when it throws
 * (the error is rethrown). PostgreSQL: READ COMMITTED, so a second `UPDATE … WHERE
 * consumed_at IS NULL` on the same row waits for the first to commit and then matches
 * nothing. SQLite: Kysely holds its one connection for the whole transaction.
 */
export type RunInTransaction = <T>(work: (tx: TransactionStores) => Promise<T>) => Promise<T>;

export function transactionRunner(db: Kysely<Database>): RunInTransaction {
  return (work) => db.transaction().execute((trx) => work({ tokens: new TokenStore(trx), grants: new GrantStore(trx) }));
}
