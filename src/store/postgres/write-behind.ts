// The writes of a group-commit transaction that answer nothing (token inserts, revocations),
// kept until the group's works have run and then applied as one statement per kind, sent with
// the COMMIT (group-commit.ts). The why and the rules are on WriteBehind.
import { CompiledQuery } from 'kysely';
import type { NewAccessToken, NewGrant, NewRefreshToken } from '../../oauth/model.js';
import { storedResources } from '../resources.js';

// One statement per kind, whatever the number of rows: the rows travel as arrays (unnest), so
// the text never varies and each runs as one named prepared statement (named-statements.ts).
const INSERT_GRANTS = `insert into grants (id, client_id, user_id, organization_id, scope, grant_type, created_at, auth_time, sid, amr, claims)
select * from unnest($1::int4[], $2::int4[], $3::int4[], $4::int4[], $5::text[], $6::text[], $7::int8[], $8::int8[], $9::text[], $10::text[], $11::text[])`;
const INSERT_ACCESS_TOKENS = `insert into access_tokens (token_hash, jti, grant_id, client_id, user_id, organization_id, scope, created_at, expires_at, audience)
select * from unnest($1::text[], $2::text[], $3::int4[], $4::int4[], $5::int4[], $6::int4[], $7::text[], $8::int8[], $9::int8[], $10::text[])`;
const INSERT_REFRESH_TOKENS = `insert into refresh_tokens (token_hash, grant_id, client_id, user_id, organization_id, scope, created_at, expires_at, access_token_hash, resource)
select * from unnest($1::text[], $2::int4[], $3::int4[], $4::int4[], $5::int4[], $6::text[], $7::int8[], $8::int8[], $9::text[], $10::text[])`;
// Revocations keep the first revocation time, as the single-row statements do (`revoked_at is null`).
const REVOKE_ACCESS_TOKENS = `update access_tokens as t set revoked_at = r.at from unnest($1::text[], $2::int8[]) as r(token_hash, at)
where t.token_hash = r.token_hash and t.revoked_at is null`;
const REVOKE_REFRESH_TOKENS = `update refresh_tokens as t set revoked_at = r.at from unnest($1::text[], $2::int8[]) as r(token_hash, at)
where t.token_hash = r.token_hash and t.revoked_at is null`;
const REVOKE_GRANTS = `update grants as g set revoked_at = r.at from unnest($1::int4[], $2::int8[]) as r(id, at)
where g.id = r.id and g.revoked_at is null`;

/** The earliest revocation of each key (a key revoked twice in one group is revoked once, first time kept). */
function revocations<K extends string | number>(list: Array<[K, number]>): [K[], number[]] {
  const first = new Map<K, number>();
  for (const [key, at] of list) first.set(key, Math.min(at, first.get(key) ?? at));
  // In key order, so that two groups revoking the same rows lock them in the same order.
  const keys = [...first.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return [keys, keys.map((k) => first.get(k)!)];
}

/**
 * A work's token inserts and revocations answer nothing the work reads back: the inserted
 * tokens are unknown to any client until the group's COMMIT (no caller hears back before it),
 * and nothing a group reads — a consume of a code or refresh token, a grant's liveness, a
 * successor swap — depends on a revocation made in the same group other than as one order of
 * two concurrent requests allows (a refresh racing a revocation of its grant either ran first,
 * and its new tokens die with the grant, or second, and fails). So they are kept here, and
 * `take()` turns them into at most five statements — one per kind, every row of every work of
 * the group at once — that group-commit.ts sends together with the COMMIT: a refresh or a code
 * exchange costs the group one statement (its consume) and its share of those, instead of
 * four statements and round trips of its own (see docs/PERFORMANCE.md, pg-write-behind).
 *
 * A new grant's id is drawn from its sequence beforehand (grant-ids.ts), so that its insert
 * can wait here too: a client-credentials grant then costs its group no statement of its own.
 * Grants are inserted first, then tokens, then revocations, so a token finds its grant and a
 * revocation of a row inserted by the same group finds it. An error (a foreign key whose grant was deleted meanwhile) fails the statement,
 * hence the whole group; group-commit.ts then runs the works apart, each work's writes taken
 * and applied before its savepoint is released, so the error reaches the work it belongs to.
 */
export class WriteBehind {
  private grants: Array<{ id: number; grant: NewGrant }> = [];
  private accessTokens: NewAccessToken[] = [];
  private refreshTokens: NewRefreshToken[] = [];
  private accessRevocations: Array<[string, number]> = [];
  private refreshRevocations: Array<[string, number]> = [];
  private grantRevocations: Array<[number, number]> = [];

  /** A grant whose id was drawn beforehand (grant-ids.ts). */
  insertGrant(id: number, grant: NewGrant): void {
    this.grants.push({ id, grant });
  }

  /** Whether a grant of this id waits here (it cannot be read before the end). */
  hasGrant(id: number): boolean {
    return this.grants.some((g) => g.id === id);
  }

  insertAccessToken(token: NewAccessToken): void {
    this.accessTokens.push(token);
  }

  insertRefreshToken(token: NewRefreshToken): void {
    this.refreshTokens.push(token);
  }

  revokeAccessToken(tokenHash: string, now: number): void {
    this.accessRevocations.push([tokenHash, now]);
  }

  revokeRefreshToken(tokenHash: string, now: number): void {
    this.refreshRevocations.push([tokenHash, now]);
  }

  revokeGrant(grantId: number, now: number): void {
    this.grantRevocations.push([grantId, now]);
  }

  /** The statements that apply everything kept, in order; what was kept is forgotten. */
  take(): CompiledQuery[] {
    const out: CompiledQuery[] = [];
    const g = this.grants;
    if (g.length > 0) {
      // The same columns GrantStore.insert writes (grants.ts), the OpenID ones null without a login.
      out.push(CompiledQuery.raw(INSERT_GRANTS, [
        g.map((x) => x.id), g.map((x) => x.grant.clientId), g.map((x) => x.grant.userId), g.map((x) => x.grant.organizationId),
        g.map((x) => x.grant.scope), g.map((x) => x.grant.grantType), g.map((x) => x.grant.now), g.map((x) => x.grant.login?.authTime ?? null),
        g.map((x) => x.grant.login?.sid ?? null), g.map((x) => (x.grant.login === undefined ? null : JSON.stringify(x.grant.login.amr))),
        g.map((x) => (x.grant.login?.claims ? JSON.stringify(x.grant.login.claims) : null)),
      ]));
    }
    const at = this.accessTokens;
    if (at.length > 0) {
      out.push(CompiledQuery.raw(INSERT_ACCESS_TOKENS, [
        at.map((t) => t.tokenHash), at.map((t) => t.jti), at.map((t) => t.grantId), at.map((t) => t.clientId), at.map((t) => t.userId),
        at.map((t) => t.organizationId), at.map((t) => t.scope), at.map((t) => t.createdAt), at.map((t) => t.expiresAt),
        at.map((t) => storedResources(t.audience)),
      ]));
    }
    const rt = this.refreshTokens;
    if (rt.length > 0) {
      out.push(CompiledQuery.raw(INSERT_REFRESH_TOKENS, [
        rt.map((t) => t.tokenHash), rt.map((t) => t.grantId), rt.map((t) => t.clientId), rt.map((t) => t.userId), rt.map((t) => t.organizationId),
        rt.map((t) => t.scope), rt.map((t) => t.createdAt), rt.map((t) => t.expiresAt), rt.map((t) => t.accessTokenHash),
        rt.map((t) => storedResources(t.resources)),
      ]));
    }
    if (this.accessRevocations.length > 0) out.push(CompiledQuery.raw(REVOKE_ACCESS_TOKENS, revocations(this.accessRevocations)));
    if (this.refreshRevocations.length > 0) out.push(CompiledQuery.raw(REVOKE_REFRESH_TOKENS, revocations(this.refreshRevocations)));
    if (this.grantRevocations.length > 0) out.push(CompiledQuery.raw(REVOKE_GRANTS, revocations(this.grantRevocations)));
    this.grants = [];
    this.accessTokens = [];
    this.refreshTokens = [];
    this.accessRevocations = [];
    this.refreshRevocations = [];
    this.grantRevocations = [];
    return out;
  }
}
