// PostgreSQL: revocations (oauth/revoke.ts) in one statement for every one that arrives
// together — the lookup, the owner check and the revocation — instead of a group-committed
// transaction of two round trips. The why is on PgRevocations.
import { CompiledQuery } from 'kysely';
import type { OwnedRevocations, RevocationOutcome } from '../../oauth/ports.js';
import { GENERIC_PLANS, isLockFailure } from './group-commit.js';
import type { PgConnection } from './pool.js';

/**
 * oauth/revoke.ts's rule over a batch of asks (`n` is an ask's place, from 1). `found` is every
 * row of either kind with an asked hash, `chosen` the one an ask takes (the kind it names
 * first, else the other), `mine` those of the asking client. The three updates revoke what
 * `mine` holds — an access token; a refresh token and its grant — each row once, with the
 * earliest time asked, and keep a time already there. Each update's keys are ordered, so that
 * two such statements (two servers) lock the rows of a table in the same order; PostgreSQL
 * runs the data-modifying CTEs last first (refresh tokens, grants, access tokens), not in the
 * group commit's order (write-behind.ts), and a deadlock with a group is broken by PostgreSQL
 * and run again (PgRevocations).
 *
 * The data-modifying CTEs all run, whatever the main query reads, against the statement's one
 * snapshot; none of them reads what another writes. The text never varies, so the statement
 * is a named prepared one (named-statements.ts).
 */
const REVOKE_OWNED = `with asked as (
  select * from unnest($1::text[], $2::int4[], $3::bool[], $4::int8[]) with ordinality as a(token_hash, asker, access_first, at, n)
), found as (
  select a.n, 'a' as kind, t.client_id, t.grant_id, a.token_hash, a.asker, a.at, a.access_first as preferred
    from asked a join access_tokens t on t.token_hash = a.token_hash
  union all
  select a.n, 'r' as kind, t.client_id, t.grant_id, a.token_hash, a.asker, a.at, not a.access_first as preferred
    from asked a join refresh_tokens t on t.token_hash = a.token_hash
), chosen as (
  select distinct on (n) * from found order by n, preferred desc
), mine as (
  select * from chosen where client_id = asker
), access_revoked as (
  update access_tokens as t set revoked_at = m.at
    from (select token_hash, min(at) as at from mine where kind = 'a' group by token_hash order by token_hash) as m
    where t.token_hash = m.token_hash and t.revoked_at is null
), grants_revoked as (
  update grants as g set revoked_at = m.at
    from (select grant_id, min(at) as at from mine where kind = 'r' group by grant_id order by grant_id) as m
    where g.id = m.grant_id and g.revoked_at is null
), refresh_revoked as (
  update refresh_tokens as t set revoked_at = m.at
    from (select token_hash, min(at) as at from mine where kind = 'r' group by token_hash order by token_hash) as m
    where t.token_hash = m.token_hash and t.revoked_at is null
)
select n, kind, client_id, grant_id from chosen`;

/**
 * As the group commit's groups, a plan kept for the array parameters (group-commit.ts,
 * GENERIC_PLANS). No lock_timeout: a row another transaction holds (a refresh consuming the
 * token on another server) is waited for, as a work run apart waits, and a deadlock (that
 * refresh then revoking an access token this batch holds) is broken by PostgreSQL's detector,
 * after which the batch runs again.
 */
const BEGIN = `begin; ${GENERIC_PLANS}`;

/** More asks than this wait for the next statement. */
export const MAX_BATCH = 64;
/**
 * Batches in flight at once. One, as the group commit's groups (MAX_GROUPS): revocations that
 * arrive while a batch is out wait for it and go together; two measured a lower rate at more
 * CPU a revocation (docs/PERFORMANCE.md, pg-revoke-owned).
 */
export const MAX_IN_FLIGHT = 1;
/** An ask rolled back this many times for locks fails with the lock's error. */
const MAX_LOCK_RETRIES = 5;

interface Ask {
  tokenHash: string;
  clientId: number;
  accessFirst: boolean;
  now: number;
  resolve: (outcome: RevocationOutcome) => void;
  reject: (reason: unknown) => void;
  lockRetries: number;
}

interface ChosenRow {
  n: string | number;
  kind: 'a' | 'r';
  client_id: number;
  grant_id: number;
}

/** The batch's statement failed, and the COMMIT that followed it was answered ROLLBACK. */
class StatementFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('the revocations\' statement failed');
  }
}

/**
 * Through the group commit a revocation was BEGIN with its owner lookups, then its revocations
 * with the COMMIT: two round trips and, between them, a turn of the event loop for every work
 * of the group. Here the revocations that arrive in one turn of the event loop go as one
 * statement that looks up, checks and revokes, with its BEGIN and COMMIT in the same write: one
 * round trip and one commit for all of them (docs/PERFORMANCE.md, pg-revoke-owned). One batch
 * is in flight at a time; what arrives meanwhile goes in the next.
 *
 * The rule is oauth/revoke.ts's (OwnedRevocations says it); test/store/pg-revocations.test.ts
 * runs the same asks through both and compares. Nobody is answered before the COMMIT, nor
 * before every server has dropped the rows it kept of what was revoked (own-writes.ts holds the
 * COMMIT's answer for that). A batch that fails commits nothing and runs again apart, each ask
 * a statement of its own (as the group commit runs a failed group's works), so that an error
 * reaches only its own ask; an ask that fails alone on a lock (a deadlock's victim, an
 * operator's lock_timeout) runs again alone, at most MAX_LOCK_RETRIES times.
 *
 * Its three updates run whatever the batch holds, so each batch's commit tells the change watch
 * (and, through the shared channel, every server) that access tokens and grants changed, even
 * when it revoked nothing: kept rows are dropped that did not need to be, which is always safe
 * (kept-rows.ts), and costs no more than revoking a token of one's own does.
 */
export class PgRevocations implements OwnedRevocations {
  private readonly queue: Ask[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(private readonly connect: () => Promise<PgConnection>) {}

  revokeOwned(tokenHash: string, clientId: number, first: 'access_token' | 'refresh_token', now: number): Promise<RevocationOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ tokenHash, clientId, accessFirst: first === 'access_token', now, resolve, reject, lockRetries: 0 });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT || this.queue.length === 0) return;
    this.scheduled = true;
    // As the group commit: setImmediate runs once every readable socket of this turn has been
    // handed its data, so every revocation of the turn has asked.
    setImmediate(() => {
      this.scheduled = false;
      if (this.inFlight >= MAX_IN_FLIGHT || this.queue.length === 0) return;
      this.inFlight += 1;
      // An ask rolled back for a lock runs alone, first, as the group commit's do.
      const take = this.queue[0]!.lockRetries > 0 ? 1 : MAX_BATCH;
      void this.flush(this.queue.splice(0, take)).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
      this.schedule();
    });
  }

  private async flush(batch: Ask[]): Promise<void> {
    const failure = await this.attempt(batch);
    if (failure === undefined) return;
    // The connection or the COMMIT failed: every ask gets that error, as every work of a group
    // whose BEGIN or COMMIT failed does (and a database that is down is not asked 64 times).
    if (!failure.statement) {
      for (const ask of batch) ask.reject(failure.error);
      return;
    }
    // The statement failed. As the group commit runs a failed group's works apart: each ask
    // alone, so that the error (a row another transaction holds past an operator's lock_timeout,
    // a statement_timeout, a trigger that refuses one grant) reaches only the ask it belongs to.
    if (batch.length > 1) {
      for (const ask of batch) await this.flush([ask]);
      return;
    }
    const ask = batch[0]!;
    if (isLockFailure(failure.error) && ask.lockRetries < MAX_LOCK_RETRIES) {
      // Alone, at the head of the queue, once this batch has let go of its connection.
      ask.lockRetries += 1;
      this.queue.unshift(ask);
      return;
    }
    ask.reject(failure.error);
  }

  /** Runs the batch and answers its asks; on failure, answers none and says why (nothing of it was committed). */
  private async attempt(batch: readonly Ask[]): Promise<{ error: unknown; statement: boolean } | undefined> {
    let conn: PgConnection | undefined;
    let rows: ChosenRow[];
    try {
      conn = await this.connect();
      rows = await this.run(conn, batch);
      conn.release();
    } catch (error) {
      // A statement's error is answered with the COMMIT's ROLLBACK, after which the connection
      // is idle again (run() waits for it). After anything else its state is unknown: closed.
      if (error instanceof StatementFailed) {
        conn?.release();
        return { error: error.cause, statement: true };
      }
      conn?.release(error instanceof Error ? error : new Error(String(error)));
      return { error, statement: false };
    }
    const chosen = new Map<number, ChosenRow>();
    for (const row of rows) chosen.set(Number(row.n), row);
    batch.forEach((ask, i) => {
      const row = chosen.get(i + 1);
      if (row === undefined) ask.resolve({ revoked: null, reason: 'unknown' });
      else if (row.client_id !== ask.clientId) ask.resolve({ revoked: null, reason: 'other_client' });
      else ask.resolve({ revoked: row.kind === 'a' ? 'access_token' : 'refresh_token', grantId: row.grant_id });
    });
    return undefined;
  }

  /** BEGIN, the statement and COMMIT, written together; the statement's rows once committed. */
  private async run(conn: PgConnection, batch: readonly Ask[]): Promise<ChosenRow[]> {
    const begun = conn.command(BEGIN);
    const query = conn.query(CompiledQuery.raw(REVOKE_OWNED, [
      batch.map((a) => a.tokenHash), batch.map((a) => a.clientId), batch.map((a) => a.accessFirst), batch.map((a) => a.now),
    ]));
    const committed = conn.command('commit');
    // Each is awaited below; a failure of one must not go unhandled meanwhile.
    for (const p of [begun, query, committed]) p.catch(() => undefined);
    await begun;
    const result = await query.then((r) => r, async (error: unknown) => {
      // The COMMIT is answered ROLLBACK: only then is the connection idle again, and reusable.
      if ((await committed) === 'ROLLBACK') throw new StatementFailed(error);
      throw error;
    });
    if ((await committed) !== 'COMMIT') throw new Error('the revocations were rolled back at COMMIT');
    return (result as { rows: ChosenRow[] }).rows;
  }
}
