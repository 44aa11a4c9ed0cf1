// Client assertion jtis seen (RFC 7523 §3 item 7), by SHA-256 per client, until the
// assertion's exp: a second use of one is a replay. Single use is one statement (DESIGN.md):
// an INSERT whose primary key (client_id, jti_hash) decides, so of any number of uses at once,
// on one process or many on one PostgreSQL, exactly one inserts. A row past its expiry (not
// yet purged) is taken over by the same statement; store/purge.ts deletes the rest.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { ClientAssertionPort } from '../oauth/ports.js';

export class ClientAssertionStore implements ClientAssertionPort {
  constructor(private readonly db: Kysely<Database>) {}

  async remember(clientId: number, jtiHash: string, expiresAt: number, now: number): Promise<boolean> {
    const result = await this.db.insertInto('client_assertions')
      .values({ client_id: clientId, jti_hash: jtiHash, expires_at: expiresAt })
      .onConflict((oc) => oc.columns(['client_id', 'jti_hash'])
        .doUpdateSet({ expires_at: expiresAt })
        .where('client_assertions.expires_at', '<', now))
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }
}
