// One database transaction, handed to the protocol core as the stores bound to it, so that
// src/oauth can make "consume the code, insert the tokens" atomic without knowing Kysely.
import type { Kysely } from 'kysely';
import type { Store } from './db.js';
import type { Database } from './schema.js';
import { AccessTokenStore } from './access-tokens.js';
import { CodeStore } from './codes.js';
import { GrantStore } from './grants.js';
import { RefreshTokenStore } from './refresh-tokens.js';
import { groupCommit } from './sqlite/group-commit.js';
import { pgGroupCommit, type GroupTransaction } from './postgres/group-commit.js';
import { CodeConsumes, RefreshConsumes } from './postgres/consumes.js';
import { WriteBehind } from './postgres/write-behind.js';
import { GrantIds } from './postgres/grant-ids.js';
import type { IdTokenContext } from '../oauth/model.js';
import type { InTransaction, RunInTransaction, TransactionStores } from '../oauth/ports.js';

export type { RunInTransaction, TransactionStores } from '../oauth/ports.js';

/*
 * The runner behind RunInTransaction (oauth/ports.ts states a work's contract: only the stores
 * it is given, no effect outside the database, it may be run more than once). With
 * LATCHKEY_DEV_CHECKS=1 (the tests) a root store called inside a work throws (dev-checks.ts).
 *
 * Group commit on both: the works that arrive together share one transaction and one commit
 * (sqlite/group-commit.ts, postgres/group-commit.ts). On PostgreSQL each group is one READ
 * COMMITTED transaction, so an `UPDATE … WHERE consumed_at IS NULL` of a row another group
 * (or process) has consumed waits for that commit and then matches nothing.
 */

export function transactionRunner(store: Pick<Store, 'db' | 'dialect' | 'connect'>): RunInTransaction {
  if (store.dialect === 'sqlite') return groupCommit(store.db, storesFor);
  if (store.connect) {
    const grantIds = new GrantIds(store.db);
    return pgGroupCommit(store.connect, (trx) => pgTransaction(trx, grantIds));
  }
  return (work) => store.db.transaction().execute((trx) => work(storesFor(trx)));
}

/**
 * `store`, bound to a transaction, as the transaction's store type (oauth/ports.ts): the brand
 * is type-level only, so that a root store cannot stand in for it nor it for a root store.
 */
function bound<T>(store: T): InTransaction<T> {
  return store as InTransaction<T>;
}

function storesFor(trx: Kysely<Database>): TransactionStores {
  return { codes: bound(new CodeStore(trx)), accessTokens: bound(new AccessTokenStore(trx)), refreshTokens: bound(new RefreshTokenStore(trx)), grants: bound(new GrantStore(trx)) };
}

/**
 * PostgreSQL: the same stores, but the writes whose caller needs no answer from the database —
 * token inserts, revocations, and grant inserts whose id was drawn beforehand — are kept and
 * applied at the end of the group (postgres/write-behind.ts says why that is safe); consumes
 * and reads run as they are called, a code's consume bringing its grant's ID-token context
 * along; the group's consumes of each kind each go as one statement (postgres/consumes.ts).
 * Revocations do not come here on PostgreSQL (postgres/revocations.ts).
 */
function pgTransaction(trx: Kysely<Database>, grantIds: GrantIds): GroupTransaction<TransactionStores> {
  const writes = new WriteBehind();
  // ID-token contexts read with the codes consumed in this transaction (postgres/consumes.ts).
  const contexts = new Map<number, IdTokenContext | undefined>();
  const refreshTokens = new RefreshTokenStore(trx);
  const grants = new GrantStore(trx);
  const accessTokens = new AccessTokenStore(trx);
  // The group's consumes, one statement a kind (postgres/consumes.ts).
  const codeConsumes = new CodeConsumes(trx);
  const refreshConsumes = new RefreshConsumes(trx);
  return {
    stores: {
      codes: bound({
        consume: async (codeHash, clientId, now) => {
          const consumed = await codeConsumes.consume(codeHash, clientId, now);
          if (!consumed) return undefined;
          contexts.set(consumed.code.grantId, consumed.context);
          return consumed.code;
        },
      }),
      accessTokens: bound({
        insert: async (token) => writes.insertAccessToken(token),
        // Revocations on PostgreSQL go through postgres/revocations.ts, not a transaction; these
        // serve a work that looks an owner up all the same.
        owner: (tokenHash) => accessTokens.owner(tokenHash),
        revoke: async (tokenHash, now) => writes.revokeAccessToken(tokenHash, now),
      }),
      refreshTokens: bound({
        consume: (tokenHash, clientId, now, successorHash = null) => refreshConsumes.consume(tokenHash, clientId, now, successorHash),
        replaceSuccessor: (tokenHash, expected, next) => refreshTokens.replaceSuccessor(tokenHash, expected, next),
        revokeUnused: (tokenHash, now) => refreshTokens.revokeUnused(tokenHash, now),
        owner: (tokenHash) => refreshTokens.owner(tokenHash),
        insert: async (token) => writes.insertRefreshToken(token),
        revoke: async (tokenHash, now) => writes.revokeRefreshToken(tokenHash, now),
      }),
      grants: bound({
        insert: async (grant) => {
          const id = grantIds.take();
          if (id === undefined) return grants.insert(grant);
          writes.insertGrant(id, grant);
          return id;
        },
        findIdTokenContext: async (grantId) => {
          if (contexts.has(grantId)) return contexts.get(grantId);
          if (writes.hasGrant(grantId)) throw new Error('a grant inserted in this transaction is read only once it is committed (postgres/write-behind.ts)');
          return grants.findIdTokenContext(grantId);
        },
        revoke: async (grantId, now) => writes.revokeGrant(grantId, now),
      }),
    },
    pending: () => writes.take(),
  };
}
