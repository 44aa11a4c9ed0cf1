// Refresh tokens, stored by SHA-256 hash only. Single use is one statement (DESIGN.md):
// consuming one is an `UPDATE … WHERE consumed_at IS NULL RETURNING …`, so two servers on one
// database can never both win.
import type { Kysely, Selectable } from 'kysely';
import type { Database, RefreshTokensTable } from './schema.js';
import { precompiled } from './sqlite/precompiled.js';
import { liveGrant } from './grants.js';
import { resourcesOf, storedResources } from './resources.js';
import type { ConsumedRefreshToken, ConsumedRefreshTokenRecord, NewRefreshToken, RefreshToken, RefreshTokenContext } from '../oauth/model.js';
import type { RefreshTokenPort, TokenOwner, TransactionRefreshTokenMethods } from '../oauth/ports.js';

export class RefreshTokenStore implements RefreshTokenPort, TransactionRefreshTokenMethods {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(token: NewRefreshToken): Promise<void> {
    await insertRefreshTokenQuery(this.db, token.tokenHash, token.grantId, token.clientId, token.userId, token.organizationId, token.scope,
      token.createdAt, token.expiresAt, token.accessTokenHash, storedResources(token.resources));
  }

  /**
   * Marks a live refresh token used and returns it, in one statement; undefined when it is
   * unknown, used, revoked, expired, another client's, or its grant is revoked or bound to
   * an organization whose integrations are off. `successorHash` (rotation, when
   * refresh_retry_window is on) is recorded in the same statement.
   */
  async consume(tokenHash: string, clientId: number, now: number, successorHash: string | null = null): Promise<ConsumedRefreshToken | undefined> {
    // COALESCE keeps an already recorded successor when none is given, so one statement serves both.
    const [r] = await consumeRefreshTokenQuery(this.db, now, successorHash, tokenHash, clientId);
    return r && toConsumedRefreshToken(r);
  }

  async find(tokenHash: string): Promise<RefreshToken | undefined> {
    const [row] = await refreshTokenByHash(this.db, tokenHash);
    return row && toRefreshToken(row);
  }

  /**
   * A used refresh token whose full row the purge has deleted (consumed_refresh_tokens), with
   * its grant's client and user; undefined when there is no such record. Read only when a
   * refresh matched no live token and no full row: never on a successful refresh.
   */
  async findConsumed(tokenHash: string): Promise<ConsumedRefreshTokenRecord | undefined> {
    const [r] = await consumedRefreshTokenByHash(this.db, tokenHash);
    return r && { grantId: r.grant_id, clientId: r.client_id, userId: r.user_id };
  }

  /**
   * Compare-and-swap of a used token's successor (refresh_retry_window): true when
   * `tokenHash`'s successor was still `expected` and is now `next`, and its grant is live.
   * Of concurrent retries exactly one wins.
   */
  async replaceSuccessor(tokenHash: string, expected: string, next: string): Promise<boolean> {
    const result = await this.db.updateTable('refresh_tokens').set({ successor_hash: next })
      .where('token_hash', '=', tokenHash).where('successor_hash', '=', expected)
      .where(({ exists, selectFrom }) => exists(liveGrant(selectFrom, 'refresh_tokens.grant_id')))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Revokes a refresh token only while it is unused and unrevoked, in one statement, and
   * returns it; undefined when it was used (or revoked) first.
   */
  async revokeUnused(tokenHash: string, now: number): Promise<RefreshToken | undefined> {
    const row = await this.db.updateTable('refresh_tokens').set({ revoked_at: now })
      .where('token_hash', '=', tokenHash).where('consumed_at', 'is', null).where('revoked_at', 'is', null)
      .returningAll().executeTakeFirst();
    return row && toRefreshToken(row);
  }

  async revoke(tokenHash: string, now: number): Promise<void> {
    await revokeRefreshTokenQuery(this.db, now, tokenHash);
  }

  async owner(tokenHash: string): Promise<TokenOwner | undefined> {
    const [row] = await refreshTokenOwnerQuery(this.db, tokenHash);
    return row && { clientId: row.client_id, grantId: row.grant_id };
  }

  /** A refresh token with its grant's state, organization switch and user's e-mail, in one query (introspection). */
  async findContext(tokenHash: string): Promise<RefreshTokenContext | undefined> {
    const r = (await refreshContextByHash(this.db, tokenHash))[0];
    if (!r) return undefined;
    const { grant_revoked_at: grantRevokedAt, integrations_enabled: integrations, user_email: userEmail, ...row } = r;
    return {
      token: toRefreshToken(row),
      grantRevokedAt,
      organizationIntegrationsEnabled: integrations === null ? null : integrations === 1,
      userEmail,
    };
  }
}

/** The columns a consume returns (CONSUMED_COLUMNS), as the model has them. */
export function toConsumedRefreshToken(r: Pick<Selectable<RefreshTokensTable>, 'grant_id' | 'user_id' | 'organization_id' | 'scope' | 'access_token_hash' | 'resource'>): ConsumedRefreshToken {
  return { grantId: r.grant_id, userId: r.user_id, organizationId: r.organization_id, scope: r.scope, accessTokenHash: r.access_token_hash,
    resources: resourcesOf(r.resource) };
}

function toRefreshToken(row: Selectable<RefreshTokensTable>): RefreshToken {
  return {
    tokenHash: row.token_hash,
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    organizationId: row.organization_id,
    scope: row.scope,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
    revokedAt: row.revoked_at,
    successorHash: row.successor_hash,
    accessTokenHash: row.access_token_hash,
    resources: resourcesOf(row.resource),
  };
}

// ---- the hot statements, built once (precompiled.ts) ------------------------------------

const insertRefreshTokenQuery = precompiled((db, tokenHash: string, grantId: number, clientId: number, userId: number | null, organizationId: number | null,
  scope: string, createdAt: number, expiresAt: number | null, accessTokenHash: string | null, resource: string | null) =>
  db.insertInto('refresh_tokens').values({
    token_hash: tokenHash, grant_id: grantId, client_id: clientId, user_id: userId, organization_id: organizationId, scope,
    created_at: createdAt, expires_at: expiresAt, consumed_at: null, revoked_at: null, successor_hash: null, access_token_hash: accessTokenHash,
    resource,
  }));

/**
 * What a rotation needs of the token it used up. Only these are returned: every column of
 * RETURNING becomes a JavaScript value, and all twelve cost a refresh measurably more SQLite
 * time than these five (see docs/PERFORMANCE.md, slim-consume-returning); the sixth,
 * `resource`, is NULL unless the grant indicated resources (RFC 8707), and a refresh needs it
 * to refuse a wider audience.
 */
const consumeRefreshTokenQuery = precompiled((db, now: number, successorHash: string | null, tokenHash: string, clientId: number) =>
  db.updateTable('refresh_tokens')
    .set((eb) => ({ consumed_at: now, successor_hash: eb.fn.coalesce(eb.val(successorHash), eb.ref('successor_hash')) }))
    .where('token_hash', '=', tokenHash).where('client_id', '=', clientId)
    .where('consumed_at', 'is', null).where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .where(({ exists, selectFrom }) => exists(liveGrant(selectFrom, 'refresh_tokens.grant_id')))
    .returning(['grant_id', 'user_id', 'organization_id', 'scope', 'access_token_hash', 'resource']));

// Revocation and introspection of refresh tokens, and the refused-refresh diagnosis.
const refreshTokenByHash = precompiled((db, tokenHash: string) =>
  db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash));

const consumedRefreshTokenByHash = precompiled((db, tokenHash: string) =>
  db.selectFrom('consumed_refresh_tokens as c').innerJoin('grants as g', 'g.id', 'c.grant_id')
    .select(['c.grant_id', 'g.client_id', 'g.user_id']).where('c.token_hash', '=', tokenHash));

const refreshTokenOwnerQuery = precompiled((db, tokenHash: string) =>
  db.selectFrom('refresh_tokens').select(['client_id', 'grant_id']).where('token_hash', '=', tokenHash));

const revokeRefreshTokenQuery = precompiled((db, now: number, tokenHash: string) =>
  db.updateTable('refresh_tokens').set({ revoked_at: now }).where('token_hash', '=', tokenHash).where('revoked_at', 'is', null));

const refreshContextByHash = precompiled((db, tokenHash: string) =>
  db.selectFrom('refresh_tokens as r')
    .innerJoin('grants as g', 'g.id', 'r.grant_id')
    .leftJoin('organizations as o', 'o.id', 'r.organization_id')
    .leftJoin('users as u', 'u.id', 'r.user_id')
    .selectAll('r')
    .select(['g.revoked_at as grant_revoked_at', 'o.integrations_enabled', 'u.email as user_email'])
    .where('r.token_hash', '=', tokenHash));
