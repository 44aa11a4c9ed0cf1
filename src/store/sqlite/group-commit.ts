// SQLite group commit: the works handed to the transaction runner in one turn of the event
// loop share one transaction and one commit (groupCommit below says why and how). Generic over
// the stores a work is given: store/transaction.ts chooses this runner on SQLite and names them.
import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Runs a work with the stores `S` bound to one transaction (RunInTransaction, oauth/ports.ts). */
export type Runner<S> = <T>(work: (tx: S) => Promise<T>) => Promise<T>;

interface Pending<S> {
  work: (tx: S) => Promise<unknown>;
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

/** Thrown out of runTogether's transaction when a work fails (its outcome holds the error). */
class WorkFailed {}

/**
 * SQLite group commit. On SQLite every commit writes each page the transaction changed to the
 * WAL (two write calls a page) and takes and drops file locks; a token grant changes about ten
 * pages and its commit costs more than all its statements together (see docs/PERFORMANCE.md,
 * group-commit). So the works that arrive together —
 * every request the event loop read in one turn — run one after another in one transaction,
 * and one commit makes them all durable:
 *
 * - A work that throws gets its error and leaves nothing behind; the others are unaffected.
 *   The batch first runs without savepoints (runTogether); when a work throws, that
 *   transaction is rolled back and the batch runs again with each work in its own savepoint
 *   (runApart), where the failing one is rolled back alone.
 * - No caller hears back before the commit, so nothing is ever answered that could still be
 *   lost; when the commit itself fails, every caller in the batch gets that error.
 * - The works run strictly in turn on SQLite's one connection, so each sees the ones before it
 *   exactly as if they had been committed: of two consumes of one code in a batch, the second
 *   matches nothing, as it would one transaction later.
 *
 * Durability is unchanged: every answer still follows the commit of what it reports.
 */
export function groupCommit<S>(db: Kysely<Database>, storesFor: (trx: Kysely<Database>) => S): Runner<S> {
  const queue: Array<Pending<S>> = [];
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

  /**
   * The usual case: every work of the batch succeeds, so they run back to back with no
   * savepoints (a savepoint makes SQLite copy each page a work changes into a statement
   * journal: see docs/PERFORMANCE.md, group-commit-without-savepoints). When a work throws, the
   * whole transaction is rolled back; a work alone has then met its outcome (the rollback was
   * its own), and a batch returns false so that runApart runs it again, each work in its own
   * savepoint: a failing work costs its batch one extra run, never more.
   */
  async function runTogether(batch: Array<Pending<S>>): Promise<boolean> {
    try {
      await db.transaction().execute(async (trx) => {
        const tx = storesFor(trx);
        for (const item of batch) {
          try {
            item.outcome = { ok: true, value: await item.work(tx) };
          } catch (error) {
            item.outcome = { ok: false, error };
            throw new WorkFailed();
          }
        }
      });
      return true;
    } catch (error) {
      if (!(error instanceof WorkFailed)) throw error;
      if (batch.length === 1) return true;
      for (const item of batch) item.outcome = undefined;
      return false;
    }
  }

  /** Each work in its own savepoint; one that throws is rolled back alone. */
  async function runApart(batch: Array<Pending<S>>): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const tx = storesFor(trx);
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
  }

  async function flush(): Promise<void> {
    flushing = true;
    const batch = queue.splice(0, MAX_BATCH);
    let commitError: { error: unknown } | undefined;
    try {
      if (!(await runTogether(batch))) await runApart(batch);
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

  return <T>(work: (tx: S) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      schedule();
    });
}
