// PostgreSQL: the owner lookups of a group's revocations (oauth/revoke.ts), one statement for
// the whole group.
import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { TokenOwner } from '../../oauth/ports.js';

/** Both kinds of a token hash's owner: a revocation sent without a hint looks for both. */
export interface Owners {
  access: TokenOwner | undefined;
  refresh: TokenOwner | undefined;
}

// Both tables, every hash of the group, one statement (its text never varies, so it runs as a
// named prepared statement). `any` over a unique index is one index probe a hash.
const OWNERS = `select 'a' as kind, token_hash, client_id, grant_id from access_tokens where token_hash = any($1::text[])
union all
select 'r' as kind, token_hash, client_id, grant_id from refresh_tokens where token_hash = any($1::text[])`;

interface OwnerRow {
  kind: 'a' | 'r';
  token_hash: string;
  client_id: number;
  grant_id: number;
}

/**
 * A revocation looks its token up as an access token and as a refresh token, each a statement
 * of its own on the group's connection: two statements a revocation, every one serialised,
 * sent, planned, answered and parsed apart. Here the lookups asked for while a group's works
 * start (they all begin in one synchronous pass, group-commit.ts runTogether) are gathered and
 * sent once the current microtask drain reaches them, as one statement for every hash of every
 * work and both tables, which still leaves with the group's BEGIN (the socket is uncorked only
 * on the next tick, pool.ts batchWrites). See docs/PERFORMANCE.md, pg-owner-lookups.
 *
 * Nothing changes for a work: the statement is a plain read inside the same transaction that
 * its own statement would have been, and READ COMMITTED gives it a snapshot at least as new.
 * A hash asked for twice in a group is looked up once; both askers get the same owners. A
 * failed statement fails every asker of it, and the group then runs apart (one work a
 * savepoint), where each lookup is again a statement of its own.
 */
export class OwnerLookups {
  private waiting = new Map<string, { resolve: (owners: Owners) => void; reject: (error: unknown) => void; promise: Promise<Owners> }>();
  private scheduled = false;

  constructor(private readonly db: Kysely<Database>) {}

  get(tokenHash: string): Promise<Owners> {
    const known = this.waiting.get(tokenHash);
    if (known) return known.promise;
    let resolve!: (owners: Owners) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<Owners>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.waiting.set(tokenHash, { resolve, reject, promise });
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.flush());
    }
    return promise;
  }

  private flush(): void {
    const batch = this.waiting;
    this.waiting = new Map();
    this.scheduled = false;
    const hashes = [...batch.keys()];
    this.db.executeQuery<OwnerRow>(CompiledQuery.raw(OWNERS, [hashes])).then(
      (result) => {
        const found = new Map<string, Owners>();
        for (const row of result.rows) {
          let owners = found.get(row.token_hash);
          if (!owners) found.set(row.token_hash, owners = { access: undefined, refresh: undefined });
          const owner: TokenOwner = { clientId: row.client_id, grantId: row.grant_id };
          if (row.kind === 'a') owners.access = owner;
          else owners.refresh = owner;
        }
        for (const [hash, waiter] of batch) waiter.resolve(found.get(hash) ?? { access: undefined, refresh: undefined });
      },
      (error: unknown) => {
        for (const waiter of batch.values()) waiter.reject(error);
      },
    );
  }
}
