// Grants (one authorization each) and remembered consent.
import type { ExpressionBuilder, Kysely } from 'kysely';
import type { Database } from './schema.js';
import { precompiled, precompiledInsertId } from './sqlite/precompiled.js';
import type { ClaimsRequest, ConnectedApp, Consent, IdTokenContext, NewGrant, OidcLogin } from '../oauth/model.js';
import type { ConsentPort, GrantPort, TransactionGrantMethods } from '../oauth/ports.js';

// 0 stands for "no organization" in the consents key (NULL cannot be part of a primary key).
const NO_ORG = 0;

export class GrantStore implements GrantPort, ConsentPort, TransactionGrantMethods {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(input: NewGrant): Promise<number> {
    const login = input.login;
    return insertGrantQuery(this.db, input.clientId, input.userId, input.organizationId, input.scope, input.grantType, input.now,
      login?.authTime ?? null, login?.sid ?? null, login === undefined ? null : JSON.stringify(login.amr),
      login?.claims ? JSON.stringify(login.claims) : null);
  }

  async findIdTokenContext(grantId: number): Promise<IdTokenContext | undefined> {
    const [r] = await idTokenContextQuery(this.db, grantId);
    return r && toIdTokenContext(r);
  }

  /** Revokes one grant: every code and token that descends from it stops working. */
  async revoke(grantId: number, now: number): Promise<void> {
    await revokeGrantQuery(this.db, now, grantId);
  }

  async isRevoked(grantId: number): Promise<boolean> {
    const [row] = await grantRevokedAtQuery(this.db, grantId);
    return !row || row.revoked_at !== null;
  }

  /** Revokes every grant of a user to a client within one organization (or none). Returns how many. */
  async revokeForUserClient(userId: number, clientId: number, organizationId: number | null, now: number): Promise<number> {
    let q = this.db.updateTable('grants').set({ revoked_at: now })
      .where('user_id', '=', userId).where('client_id', '=', clientId).where('revoked_at', 'is', null);
    q = organizationId === null ? q.where('organization_id', 'is', null) : q.where('organization_id', '=', organizationId);
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /**
   * Revokes every grant of a user: all clients, all organizations and none (a password
   * change). Every code and token descending from them fails from the next request on: each
   * use reads its grant (on SQLite the kept contexts are dropped by this UPDATE of grants).
   * Returns how many grants were live.
   */
  async revokeAllForUser(userId: number, now: number): Promise<number> {
    const result = await this.db.updateTable('grants').set({ revoked_at: now })
      .where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Forgets every consent the user gave, so that each app must ask again. Returns how many. */
  async deleteConsentsForUser(userId: number): Promise<number> {
    const result = await this.db.deleteFrom('consents').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async findConsent(userId: number, clientId: number, organizationId: number | null): Promise<Consent | undefined> {
    const row = await this.db.selectFrom('consents').select(['scope', 'created_at', 'updated_at'])
      .where('user_id', '=', userId).where('client_id', '=', clientId).where('organization_id', '=', organizationId ?? NO_ORG)
      .executeTakeFirst();
    return row && { scope: row.scope, createdAt: row.created_at, updatedAt: row.updated_at };
  }

  /** Whether the user has consented to the client at all (for any organization): they have seen its consent page. */
  async hasConsent(userId: number, clientId: number): Promise<boolean> {
    const row = await this.db.selectFrom('consents').select('user_id')
      .where('user_id', '=', userId).where('client_id', '=', clientId).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async upsertConsent(userId: number, clientId: number, organizationId: number | null, scope: string, now: number): Promise<void> {
    await this.db.insertInto('consents')
      .values({ user_id: userId, client_id: clientId, organization_id: organizationId ?? NO_ORG, scope, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['user_id', 'client_id', 'organization_id']).doUpdateSet({ scope, updated_at: now }))
      .execute();
  }

  async deleteConsent(userId: number, clientId: number, organizationId: number | null): Promise<void> {
    await this.db.deleteFrom('consents').where('user_id', '=', userId).where('client_id', '=', clientId)
      .where('organization_id', '=', organizationId ?? NO_ORG).execute();
  }

  /** Every client the user has consented to, per organization, newest first. */
  /**
   * The apps holding a live (unrevoked) grant of the user without a remembered consent (the
   * password grant, say), one per client and organization, the newest grant's scope and time.
   */
  async listGrantOnlyApps(userId: number): Promise<ConnectedApp[]> {
    const rows = await this.db.selectFrom('grants as g')
      .innerJoin('clients as c', 'c.id', 'g.client_id')
      .leftJoin('organizations as o', 'o.id', 'g.organization_id')
      .select(['c.id as client_id', 'c.client_id as client_public_id', 'c.name as client_name', 'g.organization_id', 'o.name as organization_name', 'g.scope', 'g.created_at'])
      .where('g.user_id', '=', userId).where('g.revoked_at', 'is', null)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('consents as k').select('k.user_id')
        .whereRef('k.user_id', '=', 'g.user_id').whereRef('k.client_id', '=', 'g.client_id')
        .where((inner) => inner('k.organization_id', '=', inner.fn.coalesce('g.organization_id', inner.val(NO_ORG)))))))
      .orderBy('g.created_at', 'desc').orderBy('g.id', 'desc')
      .limit(500)
      .execute();
    const seen = new Set<string>();
    const apps: ConnectedApp[] = [];
    for (const r of rows) {
      const key = `${r.client_id}/${r.organization_id ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      apps.push({
        clientId: r.client_id, clientPublicId: r.client_public_id, clientName: r.client_name, organizationId: r.organization_id,
        organizationName: r.organization_name ?? null, scope: r.scope, grantedAt: r.created_at,
      });
    }
    return apps;
  }

  async listConnectedApps(userId: number): Promise<ConnectedApp[]> {
    const rows = await this.db.selectFrom('consents as k')
      .innerJoin('clients as c', 'c.id', 'k.client_id')
      .leftJoin('organizations as o', 'o.id', 'k.organization_id')
      .select(['c.id as client_id', 'c.client_id as client_public_id', 'c.name as client_name', 'k.organization_id', 'o.name as organization_name', 'k.scope', 'k.updated_at'])
      .where('k.user_id', '=', userId)
      .orderBy('k.updated_at', 'desc')
      .execute();
    return rows.map((r) => ({
      clientId: r.client_id,
      clientPublicId: r.client_public_id,
      clientName: r.client_name,
      organizationId: r.organization_id === NO_ORG ? null : r.organization_id,
      organizationName: r.organization_name ?? null,
      scope: r.scope,
      grantedAt: r.updated_at,
    }));
  }
}

/**
 * The grant a code or refresh token descends from is unrevoked and, when bound to an
 * organization, that organization has integrations on (SPEC.md: Hover's plans): the condition
 * every consume of a code or refresh token carries (codes.ts, refresh-tokens.ts).
 */
export function liveGrant(selectFrom: ExpressionBuilder<Database, 'authorization_codes' | 'refresh_tokens'>['selectFrom'], grantIdColumn: 'authorization_codes.grant_id' | 'refresh_tokens.grant_id') {
  return selectFrom('grants as g').leftJoin('organizations as o', 'o.id', 'g.organization_id').select('g.id')
    .whereRef('g.id', '=', grantIdColumn).where('g.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('g.organization_id', 'is', null), eb('o.integrations_enabled', '=', 1)]));
}

// Every token request inserts a grant (or reads one): built once (precompiled.ts).
const insertGrantQuery = precompiledInsertId((db, clientId: number, userId: number | null, organizationId: number | null, scope: string, grantType: string, now: number,
  authTime: number | null, sid: string | null, amr: string | null, claims: string | null) =>
  db.insertInto('grants').values({
    client_id: clientId, user_id: userId, organization_id: organizationId, scope, grant_type: grantType, created_at: now, revoked_at: null,
    auth_time: authTime, sid, amr, claims,
  }).returning('id'));

/** The columns of an IdTokenContext, from `grants as g`, `users as u` and `organizations as o`. */
export const ID_TOKEN_CONTEXT_COLUMNS = [
  'g.auth_time', 'g.sid', 'g.amr', 'g.claims', 'g.organization_id as g_organization_id', 'o.name as organization_name',
  'u.id as u_id', 'u.email', 'u.name', 'u.locale', 'u.subject', 'u.email_verified', 'u.updated_at',
] as const;

/** A row of ID_TOKEN_CONTEXT_COLUMNS (the user's columns null when the grant has none). */
export interface IdTokenContextRow {
  auth_time: number | null; sid: string | null; amr: string | null; claims: string | null; g_organization_id: number | null;
  organization_name: string | null; u_id: number | null; email: string | null; name: string | null; locale: string | null;
  subject: string | null; email_verified: number | null; updated_at: number | null;
}

/** The ID token's view of a grant; undefined when it has no user. */
export function toIdTokenContext(r: IdTokenContextRow): IdTokenContext | undefined {
  if (r.u_id === null) return undefined;
  const login: OidcLogin | null = r.auth_time === null || r.sid === null ? null : {
    authTime: r.auth_time, sid: r.sid, amr: r.amr === null ? [] : (JSON.parse(r.amr) as string[]), claims: parseStoredClaims(r.claims),
  };
  return {
    user: {
      id: r.u_id, email: r.email ?? '', name: r.name ?? '', locale: r.locale ?? '', subject: r.subject ?? '', emailVerified: r.email_verified === 1,
      updatedAt: r.updated_at ?? 0,
    },
    login,
    organization: r.g_organization_id === null || r.organization_name === null ? null : { id: r.g_organization_id, name: r.organization_name },
  };
}

// Every OpenID Connect code exchange and refresh reads the grant's user and login (id-token.ts).
const idTokenContextQuery = precompiled((db, grantId: number) =>
  db.selectFrom('grants as g').innerJoin('users as u', 'u.id', 'g.user_id').leftJoin('organizations as o', 'o.id', 'g.organization_id')
    .select(ID_TOKEN_CONTEXT_COLUMNS)
    .where('g.id', '=', grantId));

/**
 * A stored `claims` request (written by GrantStore.insert from a request parse-claims.ts
 * checked), or null when none or unreadable.
 */
export function parseStoredClaims(value: string | null): ClaimsRequest | null {
  if (value === null) return null;
  try {
    const parsed = JSON.parse(value) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as ClaimsRequest : null;
  } catch {
    return null;
  }
}

// Revocation (RFC 7009) and a refused refresh revoke grants and read their state.
const revokeGrantQuery = precompiled((db, now: number, grantId: number) =>
  db.updateTable('grants').set({ revoked_at: now }).where('id', '=', grantId).where('revoked_at', 'is', null));

const grantRevokedAtQuery = precompiled((db, grantId: number) =>
  db.selectFrom('grants').select('revoked_at').where('id', '=', grantId));
