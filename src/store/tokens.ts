// Authorization codes, access tokens and refresh tokens, stored by SHA-256 hash only.
// Single use is one statement (DESIGN.md): consuming a code or refresh token is an
// `UPDATE … WHERE consumed_at IS NULL RETURNING …`, so two servers on one database can never
// both win.
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { AccessTokensTable, AuthorizationCodesTable, Database, RefreshTokensTable } from './schema.js';
import { precompiled } from './sqlite/precompiled.js';
import type { ChangeWatch } from './sqlite/changes.js';
import { KeptRows } from './sqlite/kept-rows.js';

export type CodeRow = Selectable<AuthorizationCodesTable>;
export type AccessTokenRow = Selectable<AccessTokensTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;

/** An access token with everything a protected resource needs to decide, from one query. */
export interface AccessTokenContext {
  tokenHash: string;
  jti: string | null;
  grantId: number;
  clientId: number;
  clientPublicId: string;
  userId: number | null;
  organizationId: number | null;
  scope: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  grantRevokedAt: number | null;
  /** null when the token is bound to no organization. */
  organizationName: string | null;
  organizationIntegrationsEnabled: boolean | null;
  user: { id: number; name: string; email: string; locale: string } | null;
}

/** Access tokens kept by each of findAccessToken and findAccessTokenByJti at most. */
const ACCESS_TOKENS_KEPT = 5000;
/** The tables an AccessTokenContext is read from. */
const ACCESS_CONTEXT_TABLES = ['access_tokens', 'grants', 'clients', 'organizations', 'users'] as const;

export class TokenStore {
  /**
   * A client sends the same access token many times (every API call, and a resource server
   * introspects it for each), and the five-table lookup was the largest single cost of
   * /api/user and introspection (see docs/PERFORMANCE.md, kept-access-contexts). On SQLite
   * the contexts found are kept, frozen, until one of those tables may have changed (an
   * UPDATE of one of them or any DELETE through this connection — a revocation, a rotation,
   * an organization switched off, a profile edit — or another connection's commit, seen at
   * most one turn of the event loop late: changes.ts). Expiry is decided by the caller from
   * `expiresAt` on every use. Inside a transaction, for a transaction's stores, and on
   * PostgreSQL every lookup reads the rows.
   */
  private readonly keptByHash: KeptRows<AccessTokenContext>;
  private readonly keptByJti: KeptRows<AccessTokenContext>;

  constructor(private readonly db: Kysely<Database>, changes?: ChangeWatch) {
    this.keptByHash = new KeptRows(changes, ACCESS_CONTEXT_TABLES, ACCESS_TOKENS_KEPT);
    this.keptByJti = new KeptRows(changes, ACCESS_CONTEXT_TABLES, ACCESS_TOKENS_KEPT);
  }

  // ---- authorization codes -------------------------------------------------------------

  async insertCode(row: Omit<CodeRow, 'consumed_at'>, db: Kysely<Database> = this.db): Promise<void> {
    await db.insertInto('authorization_codes').values({ ...row, consumed_at: null }).execute();
  }

  /**
   * Marks the code used and returns it, in one statement; undefined when it is unknown,
   * already used, belongs to another client, or its grant is revoked or bound to an
   * organization whose integrations are off. Expiry is the caller's to check.
   */
  async consumeCode(codeHash: string, clientId: number, now: number, db: Kysely<Database> = this.db): Promise<CodeRow | undefined> {
    return (await consumeCodeQuery(db, now, codeHash, clientId))[0];
  }

  async findCode(codeHash: string, db: Kysely<Database> = this.db): Promise<CodeRow | undefined> {
    return db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
  }

  // ---- access tokens -------------------------------------------------------------------

  async insertAccessToken(row: Omit<AccessTokenRow, 'revoked_at'>, db: Kysely<Database> = this.db): Promise<void> {
    await insertAccessTokenQuery(db, row.token_hash, row.jti, row.grant_id, row.client_id, row.user_id, row.organization_id, row.scope, row.created_at, row.expires_at);
  }

  /** The token and its grant, client, organization and user, in one query. */
  async findAccessToken(tokenHash: string): Promise<AccessTokenContext | undefined> {
    return this.keptByHash.get(tokenHash, async () => {
      const r = (await accessContextByHash(this.db, tokenHash))[0];
      return r && toContext(r);
    }, freezeContext);
  }

  async findAccessTokenByJti(jti: string): Promise<AccessTokenContext | undefined> {
    return this.keptByJti.get(jti, async () => {
      const r = (await accessContextByJti(this.db, jti))[0];
      return r && toContext(r);
    }, freezeContext);
  }

  async revokeAccessToken(tokenHash: string, now: number, db: Kysely<Database> = this.db): Promise<void> {
    await revokeAccessTokenQuery(db, now, tokenHash);
  }

  // ---- refresh tokens ------------------------------------------------------------------

  async insertRefreshToken(row: Omit<RefreshTokenRow, 'consumed_at' | 'revoked_at' | 'successor_hash'>, db: Kysely<Database> = this.db): Promise<void> {
    await insertRefreshTokenQuery(db, row.token_hash, row.grant_id, row.client_id, row.user_id, row.organization_id, row.scope, row.created_at, row.expires_at, row.access_token_hash);
  }

  /**
   * Marks a live refresh token used and returns it, in one statement; undefined when it is
   * unknown, used, revoked, expired, another client's, or its grant is revoked or bound to
   * an organization whose integrations are off. `successorHash` (rotation, when
   * refresh_retry_window is on) is recorded in the same statement.
   */
  async consumeRefreshToken(tokenHash: string, clientId: number, now: number, db: Kysely<Database> = this.db, successorHash: string | null = null): Promise<ConsumedRefreshToken | undefined> {
    // COALESCE keeps an already recorded successor when none is given, so one statement serves both.
    return (await consumeRefreshTokenQuery(db, now, successorHash, tokenHash, clientId))[0];
  }

  async findRefreshToken(tokenHash: string, db: Kysely<Database> = this.db): Promise<RefreshTokenRow | undefined> {
    return (await refreshTokenByHash(db, tokenHash))[0];
  }

  /**
   * A used refresh token whose full row the purge has deleted (consumed_refresh_tokens), with
   * its grant's client and user; undefined when there is no such record. Read only when a
   * refresh matched no live token and no full row: never on a successful refresh.
   */
  async findConsumedRefreshToken(tokenHash: string, db: Kysely<Database> = this.db): Promise<ConsumedRefreshTokenRecord | undefined> {
    return (await consumedRefreshTokenByHash(db, tokenHash))[0];
  }

  /**
   * Compare-and-swap of a used token's successor (refresh_retry_window): true when
   * `tokenHash`'s successor was still `expected` and is now `next`, and its grant is live.
   * Of concurrent retries exactly one wins.
   */
  async replaceSuccessor(tokenHash: string, expected: string, next: string, db: Kysely<Database> = this.db): Promise<boolean> {
    const result = await db.updateTable('refresh_tokens').set({ successor_hash: next })
      .where('token_hash', '=', tokenHash).where('successor_hash', '=', expected)
      .where(({ exists, selectFrom }) => exists(liveGrant(selectFrom, 'refresh_tokens.grant_id')))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Revokes a refresh token only while it is unused and unrevoked, in one statement, and
   * returns it; undefined when it was used (or revoked) first.
   */
  async revokeUnusedRefreshToken(tokenHash: string, now: number, db: Kysely<Database> = this.db): Promise<RefreshTokenRow | undefined> {
    return db.updateTable('refresh_tokens').set({ revoked_at: now })
      .where('token_hash', '=', tokenHash).where('consumed_at', 'is', null).where('revoked_at', 'is', null)
      .returningAll().executeTakeFirst();
  }

  async revokeRefreshToken(tokenHash: string, now: number, db: Kysely<Database> = this.db): Promise<void> {
    await revokeRefreshTokenQuery(db, now, tokenHash);
  }

  /** A refresh token with its grant's state, organization switch and user's e-mail, in one query (introspection). */
  async findRefreshTokenContext(tokenHash: string): Promise<RefreshTokenContext | undefined> {
    const r = (await refreshContextByHash(this.db, tokenHash))[0];
    if (!r) return undefined;
    const { grant_revoked_at: grantRevokedAt, integrations_enabled: integrations, user_email: userEmail, ...row } = r;
    return {
      row,
      grantRevokedAt,
      organizationIntegrationsEnabled: integrations === null ? null : integrations === 1,
      userEmail,
    };
  }
}

/**
 * What a rotation needs of the token it used up. Only these are returned: every column of
 * RETURNING becomes a JavaScript value, and all twelve cost a refresh measurably more SQLite
 * time than these five (see docs/PERFORMANCE.md, slim-consume-returning).
 */
export type ConsumedRefreshToken = Pick<RefreshTokenRow, 'grant_id' | 'user_id' | 'organization_id' | 'scope' | 'access_token_hash'>;

/** A slim record of a used refresh token (consumed_refresh_tokens) and its grant's owners. */
export interface ConsumedRefreshTokenRecord {
  grant_id: number;
  client_id: number;
  user_id: number | null;
}

export interface RefreshTokenContext {
  row: RefreshTokenRow;
  grantRevokedAt: number | null;
  /** null when the token is bound to no organization. */
  organizationIntegrationsEnabled: boolean | null;
  /** null when no user is behind the token (or the user is gone). */
  userEmail: string | null;
}

/**
 * The grant a code or refresh token descends from is unrevoked and, when bound to an
 * organization, that organization has integrations on (SPEC.md: Hover's plans).
 */
function liveGrant(selectFrom: ExpressionBuilder<Database, 'authorization_codes' | 'refresh_tokens'>['selectFrom'], grantIdColumn: 'authorization_codes.grant_id' | 'refresh_tokens.grant_id') {
  return selectFrom('grants as g').leftJoin('organizations as o', 'o.id', 'g.organization_id').select('g.id')
    .whereRef('g.id', '=', grantIdColumn).where('g.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('g.organization_id', 'is', null), eb('o.integrations_enabled', '=', 1)]));
}

/** A kept context is shared by every caller: frozen, so that none can change it for the others. */
function freezeContext(context: AccessTokenContext): AccessTokenContext {
  if (context.user) Object.freeze(context.user);
  return Object.freeze(context);
}

function toContext(r: {
  token_hash: string; jti: string | null; grant_id: number; client_id: number; client_public_id: string; user_id: number | null;
  organization_id: number | null; scope: string; created_at: number; expires_at: number; revoked_at: number | null;
  grant_revoked_at: number | null; organization_name: string | null; integrations_enabled: number | null;
  u_id: number | null; u_name: string | null; u_email: string | null; u_locale: string | null;
}): AccessTokenContext {
  return {
    tokenHash: r.token_hash,
    jti: r.jti,
    grantId: r.grant_id,
    clientId: r.client_id,
    clientPublicId: r.client_public_id,
    userId: r.user_id,
    organizationId: r.organization_id,
    scope: r.scope,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    grantRevokedAt: r.grant_revoked_at,
    organizationName: r.organization_name,
    organizationIntegrationsEnabled: r.integrations_enabled === null ? null : r.integrations_enabled === 1,
    user: r.u_id === null ? null : { id: r.u_id, name: r.u_name ?? '', email: r.u_email ?? '', locale: r.u_locale ?? '' },
  };
}

// ---- the hot statements, built once (precompiled.ts) ------------------------------------

const consumeCodeQuery = precompiled((db, now: number, codeHash: string, clientId: number) =>
  db.updateTable('authorization_codes').set({ consumed_at: now })
    .where('code_hash', '=', codeHash).where('client_id', '=', clientId).where('consumed_at', 'is', null)
    .where(({ exists, selectFrom }) => exists(liveGrant(selectFrom, 'authorization_codes.grant_id')))
    .returningAll());

const insertAccessTokenQuery = precompiled((db, tokenHash: string, jti: string | null, grantId: number, clientId: number, userId: number | null,
  organizationId: number | null, scope: string, createdAt: number, expiresAt: number) =>
  db.insertInto('access_tokens').values({
    token_hash: tokenHash, jti, grant_id: grantId, client_id: clientId, user_id: userId, organization_id: organizationId,
    scope, created_at: createdAt, expires_at: expiresAt, revoked_at: null,
  }));

function accessContextQuery(db: Kysely<Database>) {
  return db.selectFrom('access_tokens as a')
    .innerJoin('grants as g', 'g.id', 'a.grant_id')
    .innerJoin('clients as c', 'c.id', 'a.client_id')
    .leftJoin('organizations as o', 'o.id', 'a.organization_id')
    .leftJoin('users as u', 'u.id', 'a.user_id')
    .select([
      'a.token_hash', 'a.jti', 'a.grant_id', 'a.client_id', 'c.client_id as client_public_id', 'a.user_id', 'a.organization_id',
      'a.scope', 'a.created_at', 'a.expires_at', 'a.revoked_at', 'g.revoked_at as grant_revoked_at',
      'o.name as organization_name', 'o.integrations_enabled', 'u.id as u_id', 'u.name as u_name', 'u.email as u_email', 'u.locale as u_locale',
    ]);
}

const accessContextByHash = precompiled((db, tokenHash: string) => accessContextQuery(db).where('a.token_hash', '=', tokenHash));
const accessContextByJti = precompiled((db, jti: string) => accessContextQuery(db).where('a.jti', '=', jti));

const revokeAccessTokenQuery = precompiled((db, now: number, tokenHash: string) =>
  db.updateTable('access_tokens').set({ revoked_at: now }).where('token_hash', '=', tokenHash).where('revoked_at', 'is', null));

const insertRefreshTokenQuery = precompiled((db, tokenHash: string, grantId: number, clientId: number, userId: number | null, organizationId: number | null,
  scope: string, createdAt: number, expiresAt: number | null, accessTokenHash: string | null) =>
  db.insertInto('refresh_tokens').values({
    token_hash: tokenHash, grant_id: grantId, client_id: clientId, user_id: userId, organization_id: organizationId, scope,
    created_at: createdAt, expires_at: expiresAt, consumed_at: null, revoked_at: null, successor_hash: null, access_token_hash: accessTokenHash,
  }));

const consumeRefreshTokenQuery = precompiled((db, now: number, successorHash: string | null, tokenHash: string, clientId: number) =>
  db.updateTable('refresh_tokens')
    .set((eb) => ({ consumed_at: now, successor_hash: eb.fn.coalesce(eb.val(successorHash), eb.ref('successor_hash')) }))
    .where('token_hash', '=', tokenHash).where('client_id', '=', clientId)
    .where('consumed_at', 'is', null).where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .where(({ exists, selectFrom }) => exists(liveGrant(selectFrom, 'refresh_tokens.grant_id')))
    .returning(['grant_id', 'user_id', 'organization_id', 'scope', 'access_token_hash']));

// Revocation and introspection of refresh tokens, and the refused-refresh diagnosis.
const refreshTokenByHash = precompiled((db, tokenHash: string) =>
  db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash));

const consumedRefreshTokenByHash = precompiled((db, tokenHash: string) =>
  db.selectFrom('consumed_refresh_tokens as c').innerJoin('grants as g', 'g.id', 'c.grant_id')
    .select(['c.grant_id', 'g.client_id', 'g.user_id']).where('c.token_hash', '=', tokenHash));

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
