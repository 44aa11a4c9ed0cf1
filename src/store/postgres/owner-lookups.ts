// PostgreSQL: the owner lookups of a group's revocations (oauth/revoke.ts), one statement for
// the whole group.
import { CompiledQuery, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { TokenOwner } from '../../oauth/ports.js';
import { Gathered } from './gathered.js';

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
 * start are gathered (gathered.ts) into one statement for every hash of every work and both
 * tables, which still leaves with the group's BEGIN. See docs/PERFORMANCE.md, pg-owner-lookups.
 *
 * Nothing changes for a work: the statement is a plain read inside the same transaction that
 * its own statement would have been, and READ COMMITTED gives it a snapshot at least as new.
 * A hash asked for twice in a group is looked up once; both askers get the same owners. A
 * failed statement fails every asker of it, and the group then runs apart (one work a
 * savepoint), where each lookup is again a statement of its own.
 */
export class OwnerLookups {
  private readonly gathered = new Gathered<string, Owners>((hashes) => this.lookUp(hashes));

  constructor(private readonly db: Kysely<Database>) {}

  get(tokenHash: string): Promise<Owners> {
    return this.gathered.ask(tokenHash);
  }

  private async lookUp(asked: readonly string[]): Promise<(place: number) => Owners> {
    const { rows } = await this.db.executeQuery<OwnerRow>(CompiledQuery.raw(OWNERS, [[...new Set(asked)]]));
    const found = new Map<string, Owners>();
    for (const row of rows) {
      const owners = found.get(row.token_hash) ?? { access: undefined, refresh: undefined };
      owners[row.kind === 'a' ? 'access' : 'refresh'] = { clientId: row.client_id, grantId: row.grant_id };
      found.set(row.token_hash, owners);
    }
    return (place) => found.get(asked[place]!) ?? NONE;
  }
}

const NONE: Owners = Object.freeze({ access: undefined, refresh: undefined });
