// Registered resources (RFC 8707; `latchkey resource create`), and the one mapping of a list
// of resource indicators to the space-separated text the code, refresh-token and access-token
// rows keep it in (a valid resource indicator holds no white space: oauth/resources.ts).
import type { Kysely, Selectable } from 'kysely';
import type { Database, ResourcesTable } from './schema.js';
import { KeptRows, type ChangeWatch } from './kept-rows.js';
import type { NewResource, Resource } from '../oauth/model.js';
import type { ResourcePort } from '../oauth/ports.js';
/** Longer identifiers are answered "unknown" without a lookup (oauth/resources.ts refuses them first). */
const MAX_RESOURCE_LENGTH = 2048;

/** A list of resource indicators as stored: NULL for none. */
export function storedResources(list: readonly string[] | null | undefined): string | null {
  return list === null || list === undefined || list.length === 0 ? null : list.join(' ');
}

/** The stored text back as a list: null for none. */
export function resourcesOf(text: string | null): string[] | null {
  if (text === null || text === '') return null;
  return text.split(' ').filter(Boolean);
}

function toResource(row: Selectable<ResourcesTable>): Resource {
  return { identifier: row.identifier, name: row.name, scopes: row.scopes.split(' ').filter(Boolean), createdAt: row.created_at };
}

function freeze(resource: Resource): Resource {
  Object.freeze(resource.scopes);
  return Object.freeze(resource);
}

const RESOURCES_KEPT = 1000;
/** The tables a kept resource is read from. */
export const RESOURCE_TABLES = ['resources'] as const;

export class ResourceStore implements ResourcePort {
  /**
   * A token request that indicates a resource (client_credentials, password) looks it up; kept
   * as clients are (see docs/PERFORMANCE.md, kept-clients), so such a grant costs no statement
   * of its own: on SQLite until the table may have changed, on PostgreSQL until migration
   * 016's trigger says it did. Unknown identifiers are never kept (a "not found" is read again).
   */
  private readonly kept: KeptRows<Resource>;

  constructor(private readonly db: Kysely<Database>, changes?: ChangeWatch) {
    this.kept = new KeptRows(changes, RESOURCE_TABLES, RESOURCES_KEPT);
  }

  async find(identifier: string): Promise<Resource | undefined> {
    if (identifier.length > MAX_RESOURCE_LENGTH || identifier.includes('\0')) return undefined;
    return this.kept.get(identifier, async () => {
      const row = await this.db.selectFrom('resources').selectAll().where('identifier', '=', identifier).executeTakeFirst();
      return row && toResource(row);
    }, freeze);
  }

  async list(): Promise<Resource[]> {
    const rows = await this.db.selectFrom('resources').selectAll().orderBy('id').execute();
    return rows.map(toResource);
  }

  async insert(resource: NewResource): Promise<Resource | undefined> {
    const row = await this.db.insertInto('resources')
      .values({ identifier: resource.identifier, name: resource.name, scopes: resource.scopes.join(' '), created_at: resource.now })
      .onConflict((oc) => oc.column('identifier').doNothing())
      .returningAll().executeTakeFirst();
    return row && toResource(row);
  }

  async delete(identifier: string): Promise<boolean> {
    const result = await this.db.deleteFrom('resources').where('identifier', '=', identifier).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
