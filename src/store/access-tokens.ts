// Access tokens, stored by SHA-256 hash only (a JWT access token under the hash of its text,
// with its `jti` beside it), looked up with their grant, client, organization and user.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { precompiled } from './sqlite/precompiled.js';
import { KeptRows, type ChangeWatch } from './kept-rows.js';
import { parseStoredClaims } from './grants.js';
import { resourcesOf, storedResources } from './resources.js';
import type { AccessTokenContext, NewAccessToken } from '../oauth/model.js';
import type { AccessTokenPort, TokenOwner, TransactionAccessTokenMethods } from '../oauth/ports.js';

/** Access tokens kept by each of find and findByJti at most. */
const ACCESS_TOKENS_KEPT = 5000;
/** The tables an AccessTokenContext is read from. */
export const ACCESS_CONTEXT_TABLES = ['access_tokens', 'grants', 'clients', 'organizations', 'users'] as const;

export class AccessTokenStore implements AccessTokenPort, TransactionAccessTokenMethods {
  /**
   * A client sends the same access token many times (every API call, and a resource server
   * introspects it for each), and the five-table lookup was the largest single cost of
   * /api/user and introspection (see docs/PERFORMANCE.md, kept-access-contexts). On SQLite
   * the contexts found are kept, frozen, until one of those tables may have changed (an
   * UPDATE of one of them or any DELETE through this connection — a revocation, a rotation,
   * an organization switched off, a profile edit — or another connection's commit, seen at
   * most one turn of the event loop late: sqlite/changes.ts). Expiry is decided by the caller from
   * `expiresAt` on every use. Inside a transaction, for a transaction's stores, and on
   * PostgreSQL every lookup reads the rows.
   */
  private readonly keptByHash: KeptRows<AccessTokenContext>;
  private readonly keptByJti: KeptRows<AccessTokenContext>;

  constructor(private readonly db: Kysely<Database>, changes?: ChangeWatch) {
    this.keptByHash = new KeptRows(changes, ACCESS_CONTEXT_TABLES, ACCESS_TOKENS_KEPT);
    this.keptByJti = new KeptRows(changes, ACCESS_CONTEXT_TABLES, ACCESS_TOKENS_KEPT);
  }

  async insert(token: NewAccessToken): Promise<void> {
    await insertAccessTokenQuery(this.db, token.tokenHash, token.jti, token.grantId, token.clientId, token.userId, token.organizationId,
      token.scope, token.createdAt, token.expiresAt, storedResources(token.audience));
  }

  /** The token and its grant, client, organization and user, in one query. */
  async find(tokenHash: string): Promise<AccessTokenContext | undefined> {
    return this.keptByHash.get(tokenHash, async () => {
      const r = (await accessContextByHash(this.db, tokenHash))[0];
      return r && toContext(r);
    }, freezeContext);
  }

  async findByJti(jti: string): Promise<AccessTokenContext | undefined> {
    return this.keptByJti.get(jti, async () => {
      const r = (await accessContextByJti(this.db, jti))[0];
      return r && toContext(r);
    }, freezeContext);
  }

  async revoke(tokenHash: string, now: number): Promise<void> {
    await revokeAccessTokenQuery(this.db, now, tokenHash);
  }

  async owner(tokenHash: string): Promise<TokenOwner | undefined> {
    const [row] = await accessTokenOwnerQuery(this.db, tokenHash);
    return row && { clientId: row.client_id, grantId: row.grant_id };
  }
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
  u_id: number | null; u_name: string | null; u_email: string | null; u_locale: string | null; u_subject: string | null;
  u_email_verified: number | null; u_updated_at: number | null; grant_claims: string | null; audience: string | null;
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
    user: r.u_id === null ? null : { id: r.u_id, name: r.u_name ?? '', email: r.u_email ?? '', locale: r.u_locale ?? '', subject: r.u_subject ?? '',
      emailVerified: r.u_email_verified === 1, updatedAt: r.u_updated_at ?? 0 },
    claimsRequest: parseStoredClaims(r.grant_claims),
    audience: resourcesOf(r.audience),
  };
}

// ---- the hot statements, built once (precompiled.ts) ------------------------------------

const insertAccessTokenQuery = precompiled((db, tokenHash: string, jti: string | null, grantId: number, clientId: number, userId: number | null,
  organizationId: number | null, scope: string, createdAt: number, expiresAt: number, audience: string | null) =>
  db.insertInto('access_tokens').values({
    token_hash: tokenHash, jti, grant_id: grantId, client_id: clientId, user_id: userId, organization_id: organizationId,
    scope, created_at: createdAt, expires_at: expiresAt, revoked_at: null, audience,
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
      'u.subject as u_subject', 'u.email_verified as u_email_verified', 'u.updated_at as u_updated_at',
      'g.claims as grant_claims', 'a.audience',
    ]);
}

const accessContextByHash = precompiled((db, tokenHash: string) => accessContextQuery(db).where('a.token_hash', '=', tokenHash));
const accessContextByJti = precompiled((db, jti: string) => accessContextQuery(db).where('a.jti', '=', jti));

const accessTokenOwnerQuery = precompiled((db, tokenHash: string) =>
  db.selectFrom('access_tokens').select(['client_id', 'grant_id']).where('token_hash', '=', tokenHash));

const revokeAccessTokenQuery = precompiled((db, now: number, tokenHash: string) =>
  db.updateTable('access_tokens').set({ revoked_at: now }).where('token_hash', '=', tokenHash).where('revoked_at', 'is', null));
