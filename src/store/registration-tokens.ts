// Initial access tokens for dynamic client registration (`latchkey registration token create`),
// stored only as SHA-256 hex, each with an optional expiry and number of uses.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { ConsumedRegistrationToken, RegistrationTokenPort } from '../oauth/registration.js';

export interface NewRegistrationToken {
  tokenHash: string;
  /** Epoch seconds; null: never expires. */
  expiresAt: number | null;
  /** null: any number of uses. */
  maxUses: number | null;
  /** The user the clients registered with it belong to; null: none. */
  ownerUserId: number | null;
  now: number;
}

export class RegistrationTokenStore implements RegistrationTokenPort {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(token: NewRegistrationToken): Promise<void> {
    await this.db.insertInto('registration_tokens').values({
      token_hash: token.tokenHash,
      expires_at: token.expiresAt,
      max_uses: token.maxUses,
      owner_user_id: token.ownerUserId,
      created_at: token.now,
    }).execute();
  }

  /**
   * One statement counts the use and checks the limits, so that N+1 registrations sent at once
   * with a token of N uses register exactly N, on one SQLite file (one writer) and across
   * servers on PostgreSQL (the row lock: a second UPDATE re-reads the row the first committed).
   */
  async consume(tokenHash: string, now: number): Promise<ConsumedRegistrationToken | undefined> {
    const row = await this.db.updateTable('registration_tokens')
      .set((eb) => ({ uses: eb('uses', '+', 1) }))
      .where('token_hash', '=', tokenHash)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
      .returning(['owner_user_id'])
      .executeTakeFirst();
    return row && { ownerUserId: row.owner_user_id };
  }

  async release(tokenHash: string): Promise<void> {
    await this.db.updateTable('registration_tokens').set((eb) => ({ uses: eb('uses', '-', 1) }))
      .where('token_hash', '=', tokenHash).where('uses', '>', 0).execute();
  }

  /** Deletes tokens that expired before `before` or are used up (the purge). */
  async deleteDead(before: number): Promise<number> {
    const result = await this.db.deleteFrom('registration_tokens')
      .where((eb) => eb.or([eb('expires_at', '<', before), eb.and([eb('max_uses', 'is not', null), eb('uses', '>=', eb.ref('max_uses'))])]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
