// One database transaction, handed to the protocol core as the stores bound to it, so that
// src/oauth can make "consume the code, insert the tokens" atomic without knowing Kysely.
import { CompiledQuery, type Kysely } from 'kysely';
import type { Store } from './db.js';
import type { Database } from './schema.js';
import { GrantStore } from './grants.js';
import { TokenStore } from './tokens.js';

/** The stores a grant writes through, all bound to one transaction. */
export interface TransactionStores {
  tokens: TokenStore;
  grants: GrantStore;
}

/**
 * Runs `work` atomically: its writes are committed when it resolves, and none of them remain
 * when it throws (the error is rethrown). `work` must reach the database only through the
 * stores it is given (never the root Kysely instance, never a nested runner call).
 *
 * PostgreSQL: one READ COMMITTED transaction per call, so a second `UPDATE … WHERE
 * consumed_at IS NULL` on the same row waits for the first to commit and then matches
 * nothing. SQLite: group commit (below).
 */
export type RunInTransaction = <T>(work: (tx: TransactionStores) => Promise<T>) => Promise<T>;

export function transactionRunner(store: Pick<Store, 'db' | 'dialect'>): RunInTransaction {
  if (store.dialect === 'sqlite') return groupCommit(store.db);
  return (work) => store.db.transaction().execute((trx) => work(storesFor(trx)));
}

function storesFor(trx: Kysely<Database>): TransactionStores {
  return { tokens: new TokenStore(trx), grants: new GrantStore(trx) };
}

interface Pending {
  work: (tx: TransactionStores) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  /** Set once the work has run inside the batch. */
  outcome?: { ok: true; value: unknown } | { ok: false; error: unknown };
}

/** More than this many waiting works go into the next batch, so no response waits on a huge one. */
const MAX_BATCH = 64;

const SAVEPOINT = CompiledQuery.raw('savepoint latchkey_work');
const RELEASE = CompiledQuery.raw('release latchkey_work');
const ROLLBACK_TO = CompiledQuery.raw('rollback to latchkey_work');

/**
 * SQLite group commit. On SQLite every commit writes each page the transaction changed to the
 * WAL (two write calls a page) and takes and drops file locks; a token grant changes about ten
 * pages and its commit costs more than all its statements together (measured: 90 of 150 µs;
 * with ten works a commit, a refresh's share of the database time falls from 170 to 100 µs
 * and a client-credentials grant's from 158 to 40 µs). So the works that arrive together —
 * every request the event loop read in one turn — run one after another in one transaction,
 * each inside its own savepoint, and one commit makes them all durable:
 *
 * - A work that throws is rolled back to its savepoint alone and its caller gets its error;
 *   the others are unaffected.
 * - No caller hears back before the commit, so nothing is ever answered that could still be
 *   lost; when the commit itself fails, every caller in the batch gets that error.
 * - The works run strictly in turn on SQLite's one connection, so each sees the ones before it
 *   exactly as if they had been committed: of two consumes of one code in a batch, the second
 *   matches nothing, as it would one transaction later.
 *
 * Durability is unchanged: every answer still follows the commit of what it reports.
 */
function groupCommit(db: Kysely<Database>): RunInTransaction {
  const queue: Pending[] = [];
  let scheduled = false;
  let flushing = false;

  function schedule(): void {
    if (scheduled || flushing || queue.length === 0) return;
    scheduled = true;
    // setImmediate runs after the event loop has handed every readable socket its data, so
    // every request of this turn has queued its work by then.
    setImmediate(() => {
      scheduled = false;
      void flush();
    });
  }

  async function flush(): Promise<void> {
    flushing = true;
    const batch = queue.splice(0, MAX_BATCH);
    let commitError: { error: unknown } | undefined;
    try {
      await db.transaction().execute(async (trx) => {
        const tx = storesFor(trx);
        if (batch.length === 1) {
          // Alone: the transaction itself is the savepoint (a throw rolls it back).
          const only = batch[0]!;
          try {
            only.outcome = { ok: true, value: await only.work(tx) };
          } catch (error) {
            only.outcome = { ok: false, error };
            throw error;
          }
          return;
        }
        for (const item of batch) {
          await trx.executeQuery(SAVEPOINT);
          try {
            item.outcome = { ok: true, value: await item.work(tx) };
            await trx.executeQuery(RELEASE);
          } catch (error) {
            item.outcome = { ok: false, error };
            await trx.executeQuery(ROLLBACK_TO);
            await trx.executeQuery(RELEASE);
          }
        }
      });
    } catch (error) {
      commitError = { error };
    } finally {
      flushing = false;
    }
    for (const item of batch) {
      const outcome = item.outcome;
      // A work's own error wins; else the commit's (BEGIN or COMMIT failed); else its value
      // (a committed transaction ran every work, so each has an outcome).
      if (outcome && !outcome.ok) item.reject(outcome.error);
      else if (commitError || !outcome) item.reject(commitError?.error);
      else item.resolve(outcome.value);
    }
    schedule();
  }

  return <T>(work: (tx: TransactionStores) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      schedule();
    });
}
