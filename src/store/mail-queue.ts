// The mail queue (migration 010): messages inserted by requests, claimed and sent by the
// sender loop of every server (accounts/mail/sender.ts). A claim is one UPDATE … RETURNING
// that takes due, unleased rows and leases them to one sender: on PostgreSQL the candidate rows
// are chosen once and locked with SKIP LOCKED (two senders take different rows) and the lease
// is checked again on the row as committed, so a row is never held by two senders at once; on
// SQLite the statement runs alone. Every later step names the lease owner, so a sender whose lease ran out
// (and whose row another sender took) changes nothing.
import type { Kysely, Selectable } from 'kysely';
import type { Database, MailQueueTable } from './schema.js';
import type { Dialect } from './dialect.js';

export type MailRow = Selectable<MailQueueTable>;

export interface NewMailRow {
  kind: string;
  recipient: string;
  subject: string;
  content: string;
  userId: number | null;
  expiresAt: number | null;
  now: number;
}

export class MailQueueStore {
  constructor(private readonly db: Kysely<Database>, private readonly dialect: Dialect) {}

  /** Inserts a pending message, due at once; `db`: a transaction to insert it in. */
  async insert(row: NewMailRow, db: Kysely<Database> = this.db): Promise<number> {
    const inserted = await db.insertInto('mail_queue').values({
      kind: row.kind,
      recipient: row.recipient,
      subject: row.subject,
      content: row.content,
      user_id: row.userId,
      status: 'pending',
      next_attempt_at: row.now,
      expires_at: row.expiresAt,
      created_at: row.now,
    }).returning('id').executeTakeFirstOrThrow();
    return inserted.id;
  }

  /** Whether any message is due and unleased: a read, so that an idle poll takes no write lock (SQLite). */
  async hasDue(now: number): Promise<boolean> {
    const row = await this.db.selectFrom('mail_queue').select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((w) => w.or([w('lease_until', 'is', null), w('lease_until', '<=', now)]))
      .limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** Leases up to `limit` due messages to `owner` until `leaseUntil`, counting an attempt on each. */
  async claim(owner: string, now: number, leaseUntil: number, limit: number): Promise<MailRow[]> {
    if (this.dialect === 'postgres') {
      // The candidates in a MATERIALIZED CTE, chosen once: a `WHERE id IN (SELECT … LIMIT n FOR
      // UPDATE SKIP LOCKED)` may be run again for each row the UPDATE looks at, each run
      // skipping what the last one locked, and so lease far more than `limit` rows.
      return this.db.with((cte) => cte('due').materialized(), (db) => db.selectFrom('mail_queue').select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((w) => w.or([w('lease_until', 'is', null), w('lease_until', '<=', now)]))
        .orderBy('next_attempt_at').orderBy('id')
        .limit(limit)
        .forUpdate().skipLocked())
        .updateTable('mail_queue')
        .set((eb) => ({ lease_owner: owner, lease_until: leaseUntil, attempts: eb('mail_queue.attempts', '+', 1) }))
        .from('due')
        .whereRef('mail_queue.id', '=', 'due.id')
        // Again on the row itself: a row another sender leased after this statement's snapshot
        // is re-read here as committed, and no longer matches.
        .where('mail_queue.status', '=', 'pending')
        .where((w) => w.or([w('mail_queue.lease_until', 'is', null), w('mail_queue.lease_until', '<=', now)]))
        .returningAll('mail_queue')
        .execute();
    }
    // SQLite: one writer at a time, and the uncorrelated subquery is run once.
    return this.db.updateTable('mail_queue')
      .set((eb) => ({ lease_owner: owner, lease_until: leaseUntil, attempts: eb('attempts', '+', 1) }))
      .where('id', 'in', (eb) => eb.selectFrom('mail_queue').select('id')
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((w) => w.or([w('lease_until', 'is', null), w('lease_until', '<=', now)]))
        .orderBy('next_attempt_at').orderBy('id')
        .limit(limit))
      .returningAll()
      .execute();
  }

  /** Sent: the bodies (and the links in them) are dropped. False when the lease was lost. */
  async markSent(id: number, owner: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('mail_queue')
      .set({ status: 'sent', content: '', finished_at: now, lease_owner: null, lease_until: null, last_error: null })
      .where('id', '=', id).where('lease_owner', '=', owner).where('status', '=', 'pending')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Not sent this time: due again at `nextAt`, the lease given back. */
  async retryLater(id: number, owner: string, nextAt: number, error: string): Promise<boolean> {
    const result = await this.db.updateTable('mail_queue')
      .set({ next_attempt_at: nextAt, lease_owner: null, lease_until: null, last_error: error })
      .where('id', '=', id).where('lease_owner', '=', owner).where('status', '=', 'pending')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Given up (too many attempts, expired, refused for good): the bodies are dropped. */
  async markFailed(id: number, owner: string, now: number, error: string): Promise<boolean> {
    const result = await this.db.updateTable('mail_queue')
      .set({ status: 'failed', content: '', finished_at: now, lease_owner: null, lease_until: null, last_error: error })
      .where('id', '=', id).where('lease_owner', '=', owner).where('status', '=', 'pending')
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Deletes messages finished (sent or failed) before `before`; returns how many. */
  async deleteFinished(before: number): Promise<number> {
    const result = await this.db.deleteFrom('mail_queue').where('status', '!=', 'pending').where('finished_at', '<', before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async find(id: number): Promise<MailRow | undefined> {
    return this.db.selectFrom('mail_queue').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Messages not yet sent nor given up. */
  async countPending(): Promise<number> {
    const row = await this.db.selectFrom('mail_queue').select((eb) => eb.fn.countAll<number | string>().as('n')).where('status', '=', 'pending').executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
