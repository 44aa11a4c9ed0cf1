// API clients: exact redirect URIs, allowed grant types and scopes, a hashed secret.
import type { Kysely, Selectable } from 'kysely';
import type { ClientsTable, Database } from './schema.js';
import { precompiled } from './sqlite/precompiled.js';
import { KeptRows, type ChangeWatch } from './kept-rows.js';
import type { GrantType } from '../oauth/grant-types.js';
import type { Client, ClientMetadata, IdTokenAlg, JsonWebKeySet, NewClient, TokenEndpointAuthMethod } from '../oauth/model.js';
import type { ClientPort } from '../oauth/ports.js';
import type { RegisteredClientChanges, RegisteredClientPort } from '../oauth/registration.js';

function toClient(row: Selectable<ClientsTable>): Client {
  return {
    id: row.id,
    clientId: row.client_id,
    secretHash: row.secret_hash,
    name: row.name,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    ownerUserId: row.owner_user_id,
    isPublic: row.is_public === 1,
    grantTypes: row.grant_types.split(' ').filter(Boolean) as GrantType[],
    scopes: row.scopes.split(' ').filter(Boolean),
    refreshWithoutSecret: row.refresh_without_secret === 1,
    createdAt: row.created_at,
    trusted: row.trusted === 1,
    postLogoutRedirectUris: JSON.parse(row.post_logout_redirect_uris) as string[],
    idTokenSignedResponseAlg: row.id_token_signed_response_alg === 'ES256' ? 'ES256' : 'RS256',
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as TokenEndpointAuthMethod | null,
    jwks: row.jwks === null ? null : JSON.parse(row.jwks) as JsonWebKeySet,
    jwksUri: row.jwks_uri,
    secretSealed: row.secret_sealed,
    metadata: JSON.parse(row.metadata) as ClientMetadata,
    registration: row.registration === 'open' || row.registration === 'token' || row.registration === 'document' ? row.registration : null,
    registrationTokenHash: row.registration_token_hash,
  };
}

/** A kept client is shared by every caller: frozen, so that none can change it for the others. */
function freezeClient(client: Client): Client {
  Object.freeze(client.redirectUris);
  Object.freeze(client.grantTypes);
  Object.freeze(client.scopes);
  Object.freeze(client.postLogoutRedirectUris);
  Object.freeze(client.metadata);
  return Object.freeze(client);
}

/** Longer client_id values are answered "no such client" without a lookup. */
const MAX_CLIENT_ID_LENGTH = 200;

/** Clients kept by findByClientId at most (made-up ids are never kept). */
const CLIENTS_KEPT = 1000;
/** The tables a kept client is read from. */
export const CLIENT_TABLES = ['clients'] as const;

export class ClientStore implements ClientPort, RegisteredClientPort {
  /**
   * Every token-endpoint request looks its client up, and on SQLite that lookup, a statement
   * of its own outside the grant's transaction, cost more than its share of the grant's
   * writes (see docs/PERFORMANCE.md, kept-clients). So on SQLite the clients found
   * are kept, frozen, until the clients table may have changed: an UPDATE of it or any DELETE
   * through this connection, or another connection's commit (the command line, another
   * process), seen at most one turn of the event loop late (sqlite/changes.ts). Inside a transaction
   * and on PostgreSQL (other servers share the database and nothing tells us of their
   * changes) every lookup reads the row.
   */
  private readonly kept: KeptRows<Client>;

  constructor(private readonly db: Kysely<Database>, changes?: ChangeWatch) {
    this.kept = new KeptRows(changes, CLIENT_TABLES, CLIENTS_KEPT);
  }

  async insert(input: NewClient): Promise<Client> {
    const row = await this.db.insertInto('clients').values({
      client_id: input.clientId,
      secret_hash: input.secretHash,
      name: input.name,
      redirect_uris: JSON.stringify(input.redirectUris),
      owner_user_id: input.ownerUserId,
      is_public: input.isPublic ? 1 : 0,
      grant_types: input.grantTypes.join(' '),
      scopes: input.scopes.join(' '),
      refresh_without_secret: input.refreshWithoutSecret ? 1 : 0,
      trusted: input.trusted ? 1 : 0,
      post_logout_redirect_uris: JSON.stringify(input.postLogoutRedirectUris ?? []),
      id_token_signed_response_alg: input.idTokenSignedResponseAlg ?? 'RS256',
      token_endpoint_auth_method: input.tokenEndpointAuthMethod ?? null,
      jwks: input.jwks ? JSON.stringify(input.jwks) : null,
      jwks_uri: input.jwksUri ?? null,
      secret_sealed: input.secretSealed ?? null,
      metadata: JSON.stringify(input.metadata ?? {}),
      registration: input.registration ?? null,
      registration_token_hash: input.registrationTokenHash ?? null,
      created_at: input.now,
      updated_at: input.now,
    }).returningAll().executeTakeFirstOrThrow();
    return toClient(row);
  }

  async findByClientId(clientId: string): Promise<Client | undefined> {
    // No client_id holds a NUL (PostgreSQL text cannot), and PostgreSQL rejects the query
    // outright: answer "no such client" instead of a database error. None is that long
    // either (ours are 22 characters): no lookup, and nothing kept, for such a value.
    if (clientId.includes('\u0000') || clientId.length > MAX_CLIENT_ID_LENGTH) return undefined;
    return this.kept.get(clientId, async () => {
      const [row] = await findByClientIdQuery(this.db, clientId);
      return row && toClient(row);
    }, freezeClient);
  }

  async findById(id: number): Promise<Client | undefined> {
    const row = await this.db.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toClient(row);
  }

  async listByOwner(ownerUserId: number): Promise<Client[]> {
    const rows = await this.db.selectFrom('clients').selectAll().where('owner_user_id', '=', ownerUserId).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toClient);
  }

  /** Replaces the secret hash; the old secret stops matching at once. */
  async updateSecretHash(clientId: string, secretHash: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable('clients').set({ secret_hash: secretHash, updated_at: now })
      .where('client_id', '=', clientId).where('is_public', '=', 0).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async update(
    id: number,
    changes: { name?: string; redirectUris?: string[]; postLogoutRedirectUris?: string[]; idTokenSignedResponseAlg?: IdTokenAlg },
    now: number,
  ): Promise<void> {
    await this.db.updateTable('clients').set({
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.redirectUris !== undefined ? { redirect_uris: JSON.stringify(changes.redirectUris) } : {}),
      ...(changes.postLogoutRedirectUris !== undefined ? { post_logout_redirect_uris: JSON.stringify(changes.postLogoutRedirectUris) } : {}),
      ...(changes.idTokenSignedResponseAlg !== undefined ? { id_token_signed_response_alg: changes.idTokenSignedResponseAlg } : {}),
      updated_at: now,
    }).where('id', '=', id).execute();
  }

  /** Every client, newest first (`latchkey client list`). */
  async listAll(): Promise<Client[]> {
    const rows = await this.db.selectFrom('clients').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toClient);
  }

  /** Dynamically registered clients (RFC 7591), newest first: what operators list and may delete. */
  async listRegistered(): Promise<Client[]> {
    const rows = await this.db.selectFrom('clients').selectAll().where('registration', 'is not', null).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toClient);
  }

  async replaceRegistered(id: number, expectedTokenHash: string, changes: RegisteredClientChanges, now: number): Promise<boolean> {
    const result = await this.db.updateTable('clients').set({
      name: changes.name,
      redirect_uris: JSON.stringify(changes.redirectUris),
      grant_types: changes.grantTypes.join(' '),
      scopes: changes.scopes.join(' '),
      is_public: changes.isPublic ? 1 : 0,
      token_endpoint_auth_method: changes.tokenEndpointAuthMethod,
      jwks: changes.jwks ? JSON.stringify(changes.jwks) : null,
      jwks_uri: changes.jwksUri,
      post_logout_redirect_uris: JSON.stringify(changes.postLogoutRedirectUris),
      id_token_signed_response_alg: changes.idTokenSignedResponseAlg,
      metadata: JSON.stringify(changes.metadata),
      ...(changes.secret ? { secret_hash: changes.secret.hash, secret_sealed: changes.secret.sealed } : {}),
      registration_token_hash: changes.registrationTokenHash,
      updated_at: now,
    }).where('id', '=', id).where('registration_token_hash', '=', expectedTokenHash).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async deleteRegistered(id: number, expectedTokenHash: string): Promise<boolean> {
    const result = await this.db.deleteFrom('clients').where('id', '=', id).where('registration_token_hash', '=', expectedTokenHash).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Deletes the client; its grants, codes and tokens go with it (ON DELETE CASCADE). */
  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('clients').where('id', '=', id).execute();
  }
}

// Every token-endpoint request authenticates its client: built once (precompiled.ts).
const findByClientIdQuery = precompiled((db, clientId: string) => db.selectFrom('clients').selectAll().where('client_id', '=', clientId));
