// API clients: exact redirect URIs, allowed grant types and scopes, a hashed secret.
import type { Kysely, Selectable } from 'kysely';
import type { ClientsTable, Database } from './schema.js';
import { precompiled } from './precompiled.js';

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'password', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export interface Client {
  /** Internal row id (foreign keys). */
  id: number;
  clientId: string;
  /** SHA-256 hex of the secret; null for public clients. */
  secretHash: string | null;
  name: string;
  redirectUris: string[];
  ownerUserId: number | null;
  isPublic: boolean;
  grantTypes: GrantType[];
  scopes: string[];
  refreshWithoutSecret: boolean;
  createdAt: number;
}

export function toClient(row: Selectable<ClientsTable>): Client {
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
  };
}

/** A kept client is shared by every caller: frozen, so that none can change it for the others. */
function freezeClient(client: Client): Client {
  Object.freeze(client.redirectUris);
  Object.freeze(client.grantTypes);
  Object.freeze(client.scopes);
  return Object.freeze(client);
}

export interface NewClient {
  clientId: string;
  secretHash: string | null;
  name: string;
  redirectUris: string[];
  ownerUserId: number | null;
  isPublic: boolean;
  grantTypes: GrantType[];
  scopes: string[];
  refreshWithoutSecret: boolean;
  now: number;
}

/** Clients kept by findByClientId at most; the map is emptied when full (made-up ids are never kept). */
const CLIENTS_KEPT = 1000;

export class ClientStore {
  /**
   * Every token-endpoint request looks its client up, and on SQLite that lookup, a statement
   * of its own outside the grant's transaction, cost more than its share of the grant's
   * writes (interleaved A/B with the clients kept: client credentials 5,095 → 7,303/s, code
   * exchange 4,130 → 5,480/s, introspection 4,495 → 5,792/s). So on SQLite the clients found
   * are kept, frozen, and every change made through this store empties the map; a change
   * committed by anyone else (the command line, another process on the same file) moves
   * `dataVersion`, checked once per turn of the event loop, and empties it too — no request is
   * answered from a client row older than the last turn. While this connection is inside a
   * transaction the version cannot be read (dataVersion says undefined) and the lookup reads
   * the row instead. Without `dataVersion` (PostgreSQL, where other servers share the
   * database and nothing tells us of their changes) nothing is kept. Nothing else in this
   * process writes the clients table (should users ever be deleted, their ON DELETE SET NULL
   * would leave a kept client naming an owner id that AUTOINCREMENT never gives out again).
   */
  private readonly kept = new Map<string, Client>();
  /**
   * Moves with every change through this store: a lookup that overlapped one keeps nothing.
   * On SQLite's one connection an overlapping lookup has so far always finished before the
   * change's forget() (the overlap test passes without this); it guards the order, not a case
   * seen.
   */
  private generation = 0;
  private keptVersion: number | undefined;
  private versionCheckedThisTurn = false;

  constructor(private readonly db: Kysely<Database>, private readonly dataVersion?: () => number | undefined) {}

  /**
   * Empties the kept clients when another connection has committed since the last look.
   * False when that cannot be told now (the connection is inside a transaction): the caller
   * then reads the row and keeps nothing.
   */
  private checkedForChangesElsewhere(dataVersion: () => number | undefined): boolean {
    if (this.versionCheckedThisTurn) return true;
    const version = dataVersion();
    if (version === undefined) return false;
    this.versionCheckedThisTurn = true;
    setImmediate(() => {
      this.versionCheckedThisTurn = false;
    });
    if (version !== this.keptVersion) {
      this.forget();
      this.keptVersion = version;
    }
    return true;
  }

  /**
   * Runs a change to the clients table and then forgets every kept client; the generation it
   * moves stops a lookup that ran alongside from keeping the row as it was.
   */
  private async changing<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } finally {
      this.forget();
    }
  }

  private forget(): void {
    this.generation++;
    this.kept.clear();
  }

  async insert(input: NewClient): Promise<Client> {
    const row = await this.changing(() => this.db.insertInto('clients').values({
      client_id: input.clientId,
      secret_hash: input.secretHash,
      name: input.name,
      redirect_uris: JSON.stringify(input.redirectUris),
      owner_user_id: input.ownerUserId,
      is_public: input.isPublic ? 1 : 0,
      grant_types: input.grantTypes.join(' '),
      scopes: input.scopes.join(' '),
      refresh_without_secret: input.refreshWithoutSecret ? 1 : 0,
      created_at: input.now,
      updated_at: input.now,
    }).returningAll().executeTakeFirstOrThrow());
    return toClient(row);
  }

  async findByClientId(clientId: string): Promise<Client | undefined> {
    // No client_id holds a NUL (PostgreSQL text cannot), and PostgreSQL rejects the query
    // outright: answer "no such client" instead of a database error.
    if (clientId.includes('\u0000')) return undefined;
    const dataVersion = this.dataVersion;
    if (dataVersion === undefined || !this.checkedForChangesElsewhere(dataVersion)) {
      const [row] = await findByClientIdQuery(this.db, clientId);
      return row && toClient(row);
    }
    const kept = this.kept.get(clientId);
    if (kept !== undefined) return kept;
    const generation = this.generation;
    const [row] = await findByClientIdQuery(this.db, clientId);
    if (!row) return undefined;
    const client = freezeClient(toClient(row));
    if (generation === this.generation) {
      if (this.kept.size >= CLIENTS_KEPT) this.kept.clear();
      this.kept.set(clientId, client);
    }
    return client;
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
    const result = await this.changing(() => this.db.updateTable('clients').set({ secret_hash: secretHash, updated_at: now })
      .where('client_id', '=', clientId).where('is_public', '=', 0).executeTakeFirst());
    return Number(result.numUpdatedRows) > 0;
  }

  async update(id: number, changes: { name?: string; redirectUris?: string[] }, now: number): Promise<void> {
    await this.changing(() => this.db.updateTable('clients').set({
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.redirectUris !== undefined ? { redirect_uris: JSON.stringify(changes.redirectUris) } : {}),
      updated_at: now,
    }).where('id', '=', id).execute());
  }

  /** Deletes the client; its grants, codes and tokens go with it (ON DELETE CASCADE). */
  async delete(id: number): Promise<void> {
    await this.changing(() => this.db.deleteFrom('clients').where('id', '=', id).execute());
  }
}

// Every token-endpoint request authenticates its client: built once (precompiled.ts).
const findByClientIdQuery = precompiled((db, clientId: string) => db.selectFrom('clients').selectAll().where('client_id', '=', clientId));
