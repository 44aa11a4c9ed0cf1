// PostgreSQL group commit: the works handed to the transaction runner in one turn of the event
// loop share one transaction on one connection and one commit, as on SQLite
// (sqlite/group-commit.ts); pgGroupCommit below says how they differ.
import type { CompiledQuery, Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { Runner } from '../sqlite/group-commit.js';
import type { PgConnection } from './pool.js';

interface Pending<S> {
  work: (tx: S) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  /** Times the work was rolled back for a lock it waited on (it then runs in a later group). */
  lockRetries: number;
  /** Set once the work has run inside the group. */
  outcome?: { ok: true; value: unknown } | { ok: false; error: unknown };
}

/** What a group's (or, run apart, a work's) transaction gives its works. */
export interface GroupTransaction<S> {
  stores: S;
  /**
   * The statements the works left to the end (write-behind.ts), taken: run before the COMMIT
   * (side by side) or before the savepoint's RELEASE (apart).
   */
  pending(): CompiledQuery[];
}

/**
 * More than this many waiting works go into the next group: no response waits on a huge one,
 * and a group run apart (one savepoint a work) stays within the 64 subtransactions PostgreSQL
 * keeps per backend without spilling to pg_subtrans.
 */
export const MAX_GROUP = 32;
/**
 * Groups in flight at once. One: the works that arrive while a group is out wait for it and
 * then go together, so groups are about twice as large as with two in flight, and a request
 * costs fewer statements, round trips and socket wake-ups; on the same machine it measured the
 * same or a higher rate, a lower p50 and less CPU a request (see docs/PERFORMANCE.md,
 * pg-one-group-in-flight). Two groups of one process can then never wait on each other's locks.
 */
export const MAX_GROUPS = 1;
/** lock_timeout while a group's works run side by side (see pgGroupCommit, on lock waits). */
export const LOCK_TIMEOUT_MS = 100;
/**
 * A group's statements are key lookups and array (`any`, `unnest`) writes. PostgreSQL's plan
 * cache estimates an array parameter at ten elements, so a generic plan of those always looks
 * dearer than a custom one for the two or three a group holds, and every execution of a named
 * statement was planned again (a fifth of the group backend's CPU under revocations). Their
 * generic plans are the same index scans (docs/PERFORMANCE.md, pg-generic-plans), so a group
 * keeps them. SET LOCAL: the rest of the pool's statements are left to the planner.
 */
export const GENERIC_PLANS = 'set local plan_cache_mode = force_generic_plan';
/** A work rolled back this many times for locks fails with the lock's error. */
const MAX_LOCK_RETRIES = 5;

const ROLLED_BACK = 'the transaction was rolled back at COMMIT (a statement inside it had failed)';

/** Lock waits that end a statement, not the work: lock_timeout, a deadlock, a serialization failure. */
export function isLockFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '55P03' || code === '40P01' || code === '40001';
}

/**
 * PostgreSQL group commit. Without it every token request was a transaction of its own:
 * BEGIN, its statements and COMMIT each a round trip, and a commit (a WAL flush) each. Here
 * the works queued in one turn of the event loop (up to MAX_GROUP) run on one connection in
 * one READ COMMITTED transaction, and one COMMIT makes them all durable; up to MAX_GROUPS
 * groups are in flight at once, each on a connection of its own. BEGIN leaves with the works'
 * first statements, and the writes they left to the end (write-behind.ts) with the COMMIT, so
 * a group of refreshes is two round trips: BEGIN and the consumes, then the writes and COMMIT
 * (see docs/PERFORMANCE.md, pg-group-commit). The contract is SQLite's (oauth/ports.ts
 * RunInTransaction):
 *
 * - No caller hears back before the group's COMMIT has succeeded; when BEGIN or COMMIT fails,
 *   every caller of the group gets that error.
 * - A work that throws gets its error and leaves nothing behind; the others are unaffected.
 *   The group first runs with every work side by side and no savepoints (runTogether: their
 *   statements share the pipelined connection's round trips); when one throws, that
 *   transaction is rolled back and the group runs again, one work after another, each in a
 *   SAVEPOINT of its own (runApart), where the failing one is rolled back alone. So a work may
 *   be run twice.
 * - Single use holds: all of a group's statements run in one transaction on one backend, in
 *   the order they were sent, so of two consumes of one code in a group the second sees the
 *   first's row and matches nothing; a consume on another connection (another group, another
 *   process) waits on the row lock until this group commits, then matches nothing.
 * - Lock waits cannot deadlock for long. Side by side, the group runs under a short
 *   lock_timeout (LOCK_TIMEOUT_MS): a wait that long (say, two groups in two processes, each
 *   holding a row the other wants) rolls it back, which lets the other group go on, and the
 *   group runs again apart, with no lock_timeout. There a work whose statement is chosen by
 *   PostgreSQL's deadlock detector (or fails on another lock error) is rolled back to its
 *   savepoint and put back at the head of the queue, to run apart again in a later group once
 *   this one has committed and let go of its locks (at most MAX_LOCK_RETRIES times; a single
 *   work's lock_timeout side by side does the same).
 */
export function pgGroupCommit<S>(
  connect: () => Promise<PgConnection>,
  open: (db: Kysely<Database>) => GroupTransaction<S>,
): Runner<S> {
  const beginTogether = `begin; set local lock_timeout = ${LOCK_TIMEOUT_MS}; ${GENERIC_PLANS}`;
  const beginApart = `begin; ${GENERIC_PLANS}`;
  const queue: Array<Pending<S>> = [];
  let scheduled = false;
  let inFlight = 0;

  function schedule(): void {
    if (scheduled || inFlight >= MAX_GROUPS || queue.length === 0) return;
    scheduled = true;
    // As on SQLite: setImmediate runs once the event loop has handed every readable socket its
    // data, so every request of this turn has queued its work.
    setImmediate(() => {
      scheduled = false;
      if (inFlight >= MAX_GROUPS || queue.length === 0) return;
      inFlight += 1;
      void flush(queue.splice(0, MAX_GROUP)).finally(() => {
        inFlight -= 1;
        schedule();
      });
      schedule();
    });
  }

  /** Every work side by side in one transaction; false when one failed (all is then rolled back). */
  async function runTogether(conn: PgConnection, group: Array<Pending<S>>): Promise<boolean> {
    // BEGIN is sent with the works' first statements, not before them: on a healthy connection
    // it cannot fail, and on a broken one what follows fails too.
    const begun = conn.command(beginTogether);
    begun.catch(() => undefined); // awaited below, once the works have run
    const tx = open(conn.db);
    let failed: { error: unknown } | undefined;
    await Promise.all(group.map(async (item) => {
      try {
        item.outcome = { ok: true, value: await item.work(tx.stores) };
      } catch (error) {
        item.outcome = { ok: false, error };
        failed ??= { error };
      }
    }));
    if (!failed) {
      // The works' kept writes and the COMMIT leave in one write, and come back in one read
      // (with the BEGIN, when no work sent a statement of its own).
      const writes = tx.pending().map((q) => conn.query(q));
      const committed = conn.command('commit');
      committed.catch(() => undefined); // awaited below
      await begun;
      for (const result of await Promise.allSettled(writes)) if (result.status === 'rejected') failed ??= { error: result.reason };
      const tag = await committed;
      if (!failed) {
        if (tag !== 'COMMIT') throw new Error(ROLLED_BACK);
        return true;
      }
      // A kept write failed, so the COMMIT was a ROLLBACK: the works run again apart, where the
      // error reaches the work it belongs to (alone, it is that work's).
      if (group.length === 1) group[0]!.outcome = { ok: false, error: failed.error };
    } else {
      await begun;
      await conn.command('rollback');
    }
    if (group.length === 1) {
      const only = group[0]!;
      if (only.outcome && !only.outcome.ok && isLockFailure(only.outcome.error)) retryLater(only);
      return true;
    }
    for (const item of group) item.outcome = undefined;
    return false;
  }

  /** One work after another, each in its own savepoint: one that throws is rolled back alone. */
  async function runApart(conn: PgConnection, group: Array<Pending<S>>): Promise<void> {
    await conn.command(beginApart);
    const tx = open(conn.db);
    for (const item of group) {
      await conn.command('savepoint latchkey_work');
      try {
        const value = await item.work(tx.stores);
        for (const q of tx.pending()) await conn.query(q);
        item.outcome = { ok: true, value };
        await conn.command('release latchkey_work');
      } catch (error) {
        tx.pending(); // a failed work's kept writes are dropped with it
        item.outcome = { ok: false, error };
        await conn.command('rollback to latchkey_work');
        await conn.command('release latchkey_work');
        if (isLockFailure(error)) retryLater(item);
      }
    }
    await commit(conn);
  }

  /**
   * COMMIT of a transaction that met an error is answered ROLLBACK, not an error: were a work
   * to swallow a statement's error, its callers would hear of a success never committed.
   */
  async function commit(conn: PgConnection): Promise<void> {
    if ((await conn.command('commit')) !== 'COMMIT') throw new Error(ROLLED_BACK);
  }

  /** Marks a work rolled back for a lock to run again in a later group (its outcome cleared). */
  function retryLater(item: Pending<S>): void {
    if (item.lockRetries >= MAX_LOCK_RETRIES) return;
    item.lockRetries += 1;
    item.outcome = undefined;
  }

  async function flush(group: Array<Pending<S>>): Promise<void> {
    let failure: { error: unknown } | undefined;
    let conn: PgConnection | undefined;
    try {
      conn = await connect();
      // Works that waited too long on a lock run apart, first, with no lock_timeout.
      if (group.some((item) => item.lockRetries > 0) || !(await runTogether(conn, group))) await runApart(conn, group);
      conn.release();
    } catch (error) {
      failure = { error };
      // The transaction's state is unknown (a failed COMMIT, a broken connection): close the
      // connection rather than hand it to the next user in the middle of a transaction.
      conn?.release(error instanceof Error ? error : new Error(String(error)));
    }
    const again: Array<Pending<S>> = [];
    for (const item of group) {
      const outcome = item.outcome;
      // A work's own error wins; else the transaction's (BEGIN or COMMIT failed); else its
      // value. A work without an outcome in a committed group was rolled back for a lock.
      if (outcome && !outcome.ok) item.reject(outcome.error);
      else if (failure) item.reject(failure.error);
      else if (!outcome) again.push(item);
      else item.resolve(outcome.value);
    }
    if (again.length > 0) queue.unshift(...again);
  }

  return <T>(work: (tx: S) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve as (value: unknown) => void, reject, lockRetries: 0 });
      schedule();
    });
}
