// PostgreSQL: the refresh-token consumes of a group's refreshes (oauth/grants/refresh-token.ts),
// one statement for the whole group.
import { CompiledQuery, type Kysely } from 'kysely';
import type { Database, RefreshTokensTable } from '../schema.js';
import type { Selectable } from 'kysely';
import { toConsumedRefreshToken } from '../refresh-tokens.js';
import type { ConsumedRefreshToken } from '../../oauth/model.js';

// The same conditions as RefreshTokenStore.consume (refresh-tokens.ts) and liveGrant
// (grants.ts), for every asker at once; the text never varies, so it runs as a named prepared
// statement. `n` is each asker's place in the arrays. Of the askers of one token, only the
// first of each client is tried (DISTINCT ON), and only the token's own client can match it:
// so at most one asker consumes a token, the first of its client, as when the consumes ran
// one after another in the group's transaction; the later ones find nothing, exactly as they
// would have found it used.
const CONSUME = `with asked as (
  select distinct on (token_hash, client_id) token_hash, client_id, successor_hash, at, n
  from unnest($1::text[], $2::int4[], $3::text[], $4::int8[]) with ordinality as a(token_hash, client_id, successor_hash, at, n)
  order by token_hash, client_id, n
)
update refresh_tokens as t set consumed_at = a.at, successor_hash = coalesce(a.successor_hash, t.successor_hash)
from asked as a
where t.token_hash = a.token_hash and t.client_id = a.client_id and t.consumed_at is null and t.revoked_at is null
  and (t.expires_at is null or t.expires_at > a.at)
  and exists (select g.id from grants as g left join organizations as o on o.id = g.organization_id
              where g.id = t.grant_id and g.revoked_at is null and (g.organization_id is null or o.integrations_enabled = 1))
returning a.n::int4 as n, t.grant_id, t.user_id, t.organization_id, t.scope, t.access_token_hash, t.resource`;

type ConsumedRow = { n: number } & Pick<Selectable<RefreshTokensTable>, 'grant_id' | 'user_id' | 'organization_id' | 'scope' | 'access_token_hash' | 'resource'>;

interface Ask {
  tokenHash: string;
  clientId: number;
  now: number;
  successorHash: string | null;
}

/**
 * A refresh consumes its token first, each consume a statement of its own on the group's
 * connection: ten refreshes, ten statements serialised, sent, planned, run and parsed apart.
 * Here the consumes asked for while a group's works start (they all begin in one synchronous
 * pass, group-commit.ts runTogether) are gathered and sent once the current microtask drain
 * reaches them, as one statement, which still leaves with the group's BEGIN (see
 * docs/PERFORMANCE.md, pg-refresh-consumes). As OwnerLookups (owner-lookups.ts) does for the
 * revocations' lookups.
 *
 * Single use holds as before: the UPDATE takes each token's row lock, a consume of the same
 * token by another group or process waits for this group's commit and then matches nothing
 * (READ COMMITTED re-checks `consumed_at is null` on the row it waited for). A failed
 * statement fails every asker of it; the group then runs apart (one work a savepoint), where
 * each consume is again a statement of its own.
 */
export class RefreshConsumes {
  /** The consumes asked for since the last statement was sent, and that statement's answer, by place. */
  private batch: { asks: Ask[]; done: Promise<Map<number, ConsumedRow>> } | undefined;

  constructor(private readonly db: Kysely<Database>) {}

  consume(tokenHash: string, clientId: number, now: number, successorHash: string | null): Promise<ConsumedRefreshToken | undefined> {
    if (this.batch === undefined) {
      const asks: Ask[] = [];
      // Sent a microtask later, once every work of the pass has asked.
      const done = Promise.resolve().then(() => {
        this.batch = undefined;
        return this.send(asks);
      });
      this.batch = { asks, done };
    }
    const n = this.batch.asks.push({ tokenHash, clientId, now, successorHash }); // 1-based, as WITH ORDINALITY
    return this.batch.done.then((consumed) => {
      const row = consumed.get(n);
      return row && toConsumedRefreshToken(row);
    });
  }

  private async send(asks: Ask[]): Promise<Map<number, ConsumedRow>> {
    const { rows } = await this.db.executeQuery<ConsumedRow>(CompiledQuery.raw(CONSUME, [
      asks.map((a) => a.tokenHash), asks.map((a) => a.clientId), asks.map((a) => a.successorHash), asks.map((a) => a.now),
    ]));
    return new Map(rows.map((row) => [row.n, row]));
  }
}
