// Authorization codes, stored by SHA-256 hash only. Single use is one statement (DESIGN.md):
// consuming a code is an `UPDATE … WHERE consumed_at IS NULL RETURNING …`, so two servers on
// one database can never both win.
import type { Kysely, QueryCreator, Selectable } from 'kysely';
import type { AuthorizationCodesTable, Database } from './schema.js';
import { precompiled } from './sqlite/precompiled.js';
import { liveGrant } from './grants.js';
import { resourcesOf, storedResources } from './resources.js';
import type { AuthorizationCode, NewAuthorizationCode } from '../oauth/model.js';
import type { CodePort, TransactionCodeMethods } from '../oauth/ports.js';

export class CodeStore implements CodePort, TransactionCodeMethods {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(code: NewAuthorizationCode): Promise<void> {
    await this.db.insertInto('authorization_codes').values({
      code_hash: code.codeHash,
      grant_id: code.grantId,
      client_id: code.clientId,
      user_id: code.userId,
      organization_id: code.organizationId,
      redirect_uri: code.redirectUri,
      redirect_uri_sent: code.redirectUriSent ? 1 : 0,
      scope: code.scope,
      code_challenge: code.codeChallenge,
      code_challenge_method: code.codeChallengeMethod,
      created_at: code.createdAt,
      expires_at: code.expiresAt,
      consumed_at: null,
      nonce: code.nonce ?? null,
      resource: storedResources(code.resources),
    }).execute();
  }

  /**
   * Marks the code used and returns it, in one statement; undefined when it is unknown,
   * already used, belongs to another client, or its grant is revoked or bound to an
   * organization whose integrations are off. Expiry is the caller's to check.
   */
  async consume(codeHash: string, clientId: number, now: number): Promise<AuthorizationCode | undefined> {
    const [row] = await consumeCodeQuery(this.db, now, codeHash, clientId);
    return row && toCode(row);
  }

  async find(codeHash: string): Promise<AuthorizationCode | undefined> {
    const row = await this.db.selectFrom('authorization_codes').selectAll().where('code_hash', '=', codeHash).executeTakeFirst();
    return row && toCode(row);
  }
}

export function toCode(row: Selectable<AuthorizationCodesTable>): AuthorizationCode {
  return {
    codeHash: row.code_hash,
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    organizationId: row.organization_id,
    redirectUri: row.redirect_uri,
    redirectUriSent: row.redirect_uri_sent === 1,
    scope: row.scope,
    codeChallenge: row.code_challenge,
    codeChallengeMethod: row.code_challenge_method,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
    nonce: row.nonce,
    resources: resourcesOf(row.resource),
  };
}

// ---- the hot statement, built once (precompiled.ts) --------------------------------------

/** The consume of a code as an `UPDATE … RETURNING` of the whole row (postgres/consumes.ts gathers a group's into one statement with the same conditions). */
export function consumeCode(db: QueryCreator<Database>, now: number, codeHash: string, clientId: number) {
  return db.updateTable('authorization_codes').set({ consumed_at: now })
    .where('code_hash', '=', codeHash).where('client_id', '=', clientId).where('consumed_at', 'is', null)
    .where(({ exists, selectFrom }) => exists(liveGrant(selectFrom, 'authorization_codes.grant_id')))
    .returningAll();
}

const consumeCodeQuery = precompiled(consumeCode);
