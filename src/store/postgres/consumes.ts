// PostgreSQL: the consumes of a group's codes and refresh tokens (oauth/grants/), one statement
// a kind for the whole group.
import { CompiledQuery, type Kysely, type Selectable } from 'kysely';
import type { AuthorizationCodesTable, Database, RefreshTokensTable } from '../schema.js';
import { toCode } from '../codes.js';
import { toIdTokenContext, type IdTokenContextRow } from '../grants.js';
import { toConsumedRefreshToken } from '../refresh-tokens.js';
import type { AuthorizationCode, ConsumedRefreshToken, IdTokenContext } from '../../oauth/model.js';
import { Gathered } from './gathered.js';

// A code exchange and a refresh consume their code or token first, each a statement of its
// own on the group's connection: ten of them, ten statements serialised, sent, planned, run
// and parsed apart. Here the consumes asked for while a group's works start are gathered
// (gathered.ts) into one statement a kind, which still leaves with the group's BEGIN (see
// docs/PERFORMANCE.md, pg-gathered-consumes).
//
// The conditions are those of the single-row statements (codes.ts consumeCode,
// refresh-tokens.ts consume, grants.ts liveGrant), for every asker at once; the texts never
// vary, so each runs as a named prepared statement. `n` is each asker's place in the arrays.
// Of the askers of one code or token only one of each client is tried (DISTINCT ON): the one
// with the earliest `now` (a refresh token still unexpired for any of them is unexpired for
// it), then the first to ask. Only its own client can match a row: so at most one asker
// consumes it, as when the consumes ran one after another in the group's transaction in some
// order; the others find nothing, exactly as they would have found it used.
//
// Single use holds as before: the UPDATE takes each row's lock, and a consume of the same row
// by another group or process waits for this group's commit and then matches nothing (READ
// COMMITTED re-checks `consumed_at is null` on the row it waited for). A failed statement
// fails every asker of it; the group then runs apart (one work a savepoint), where each
// consume is a statement of its own.

/**
 * grants.ts liveGrant, over the row being consumed (`t`), written out because these statements
 * are raw SQL over arrays. A condition added there must be added here: the burst tests in
 * test/store/pg-group-commit.test.ts hold every one of them (revoked grant, organization
 * switched off) against both gathered statements.
 */
const LIVE_GRANT = `exists (select g.id from grants as g left join organizations as o on o.id = g.organization_id
  where g.id = t.grant_id and g.revoked_at is null and (g.organization_id is null or o.integrations_enabled = 1))`;

/** The askers, the first of each client per key. */
function asked(key: string, columns: string, types: string): string {
  return `with asked as (
  select distinct on (${key}, client_id) ${columns}, n
  from unnest(${types}) with ordinality as a(${columns}, n)
  order by ${key}, client_id, at, n
)`;
}

// A code's consume brings its grant's ID-token context (grants.ts ID_TOKEN_CONTEXT_COLUMNS),
// so that an OpenID exchange needs no statement of its own to read it (pg-code-with-context).
const CONSUME_CODES = `${asked('code_hash', 'code_hash, client_id, at', '$1::text[], $2::int4[], $3::int8[]')},
c as (
  update authorization_codes as t set consumed_at = a.at from asked as a
  where t.code_hash = a.code_hash and t.client_id = a.client_id and t.consumed_at is null and ${LIVE_GRANT}
  returning t.*, a.n::int4 as n
)
select c.*, g.auth_time, g.sid, g.amr, g.claims, g.organization_id as g_organization_id, o.name as organization_name,
  u.id as u_id, u.email, u.name, u.locale, u.subject, u.email_verified, u.updated_at
from c inner join grants as g on g.id = c.grant_id left join users as u on u.id = g.user_id
  left join organizations as o on o.id = g.organization_id`;

const CONSUME_REFRESH_TOKENS = `${asked('token_hash', 'token_hash, client_id, successor_hash, at', '$1::text[], $2::int4[], $3::text[], $4::int8[]')}
update refresh_tokens as t set consumed_at = a.at, successor_hash = coalesce(a.successor_hash, t.successor_hash)
from asked as a
where t.token_hash = a.token_hash and t.client_id = a.client_id and t.consumed_at is null and t.revoked_at is null
  and (t.expires_at is null or t.expires_at > a.at) and ${LIVE_GRANT}
returning a.n::int4 as n, t.grant_id, t.user_id, t.organization_id, t.scope, t.access_token_hash, t.resource`;

type Placed<R> = R & { n: number };
type CodeRow = Placed<Selectable<AuthorizationCodesTable> & IdTokenContextRow>;
type RefreshRow = Placed<Pick<Selectable<RefreshTokensTable>, 'grant_id' | 'user_id' | 'organization_id' | 'scope' | 'access_token_hash' | 'resource'>>;

/** Runs `text` with `params` and answers each place (WITH ORDINALITY counts from 1) with its row, if any. */
async function byPlace<R>(db: Kysely<Database>, text: string, params: unknown[]): Promise<(place: number) => Placed<R> | undefined> {
  const { rows } = await db.executeQuery<Placed<R>>(CompiledQuery.raw(text, params));
  const found = new Map(rows.map((row) => [row.n, row]));
  return (place) => found.get(place + 1);
}

export class CodeConsumes {
  private readonly gathered: Gathered<{ codeHash: string; clientId: number; now: number }, CodeRow | undefined>;

  constructor(db: Kysely<Database>) {
    this.gathered = new Gathered((asks) => byPlace<CodeRow>(db, CONSUME_CODES,
      [asks.map((a) => a.codeHash), asks.map((a) => a.clientId), asks.map((a) => a.now)]));
  }

  async consume(codeHash: string, clientId: number, now: number): Promise<{ code: AuthorizationCode; context: IdTokenContext | undefined } | undefined> {
    const row = await this.gathered.ask({ codeHash, clientId, now });
    return row && { code: toCode(row), context: toIdTokenContext(row) };
  }
}

export class RefreshConsumes {
  private readonly gathered: Gathered<{ tokenHash: string; clientId: number; now: number; successorHash: string | null }, RefreshRow | undefined>;

  constructor(db: Kysely<Database>) {
    this.gathered = new Gathered((asks) => byPlace<RefreshRow>(db, CONSUME_REFRESH_TOKENS,
      [asks.map((a) => a.tokenHash), asks.map((a) => a.clientId), asks.map((a) => a.successorHash), asks.map((a) => a.now)]));
  }

  async consume(tokenHash: string, clientId: number, now: number, successorHash: string | null): Promise<ConsumedRefreshToken | undefined> {
    const row = await this.gathered.ask({ tokenHash, clientId, now, successorHash });
    return row && toConsumedRefreshToken(row);
  }
}
