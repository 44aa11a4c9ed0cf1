// "Forgot password?" requests (migration 011). The store keeps the SHA-256 hex of the link's
// token and of the address asked for, never either in clear. A link is used by one statement
// (`UPDATE … WHERE used_at IS NULL AND expires_at > now RETURNING user_id`), so of links sent
// at once exactly one can win, on one server or several on one PostgreSQL (DESIGN.md: single
// use is one statement).
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface PasswordResetInsert {
  tokenHash: string;
  /** null: no account has the address asked for. */
  userId: number | null;
  emailHash: string;
  now: number;
  expiresAt: number;
}

export class PasswordResetStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(input: PasswordResetInsert): Promise<void> {
    await this.db.insertInto('password_resets').values({
      token_hash: input.tokenHash, user_id: input.userId, email_hash: input.emailHash, created_at: input.now, expires_at: input.expiresAt, used_at: null,
    }).execute();
  }

  /** The account a link would reset, while it is unused and unexpired; undefined otherwise. */
  async findLive(tokenHash: string, now: number): Promise<{ userId: number; expiresAt: number } | undefined> {
    const row = await this.db.selectFrom('password_resets').select(['user_id', 'expires_at'])
      .where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', now).where('user_id', 'is not', null)
      .executeTakeFirst();
    return row && row.user_id !== null ? { userId: row.user_id, expiresAt: row.expires_at } : undefined;
  }

  /** Uses the link: its account when it was live (and is now used), else undefined. One statement. */
  async consume(tokenHash: string, now: number): Promise<number | undefined> {
    const row = await this.db.updateTable('password_resets').set({ used_at: now })
      .where('token_hash', '=', tokenHash).where('used_at', 'is', null).where('expires_at', '>', now).where('user_id', 'is not', null)
      .returning('user_id').executeTakeFirst();
    return row?.user_id ?? undefined;
  }

  /** Ends every other unused link of the account (a reset done, the others must not work after it). */
  async expireForUser(userId: number, now: number): Promise<number> {
    const result = await this.db.updateTable('password_resets').set({ used_at: now })
      .where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Deletes at most `limit` rows that ended before `before` (expired, used or not). */
  async deleteExpired(before: number, limit = 500): Promise<number> {
    const result = await this.db.deleteFrom('password_resets')
      .where('id', 'in', (eb) => eb.selectFrom('password_resets').select('id').where('expires_at', '<', before).limit(limit))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
