// Single-use e-mail links (migration 010): verification of an account's address and
// confirmation of a new one. Only the SHA-256 of a token is stored; using one is one
// UPDATE … WHERE consumed_at IS NULL … RETURNING, so of any number of uses at once exactly one
// wins (DESIGN.md "Single use is one statement").
import type { Kysely } from 'kysely';
import type { Database, EmailTokensTable } from './schema.js';

export type EmailTokenPurpose = EmailTokensTable['purpose'];

export interface EmailToken {
  userId: number;
  purpose: EmailTokenPurpose;
  email: string;
  createdAt: number;
  expiresAt: number;
}

export class EmailTokenStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(token: { tokenHash: string; userId: number; purpose: EmailTokenPurpose; email: string; now: number; expiresAt: number }, db: Kysely<Database> = this.db): Promise<void> {
    await db.insertInto('email_tokens').values({
      token_hash: token.tokenHash, user_id: token.userId, purpose: token.purpose, email: token.email, created_at: token.now, expires_at: token.expiresAt,
    }).execute();
  }

  /** The token if it is unused and unexpired (a page showing what the link will do); nothing changes. */
  async findUsable(tokenHash: string, now: number): Promise<EmailToken | undefined> {
    const row = await this.db.selectFrom('email_tokens').select(['user_id', 'purpose', 'email', 'created_at', 'expires_at'])
      .where('token_hash', '=', tokenHash).where('consumed_at', 'is', null).where('expires_at', '>', now).executeTakeFirst();
    return row && { userId: row.user_id, purpose: row.purpose, email: row.email, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  /** Uses the token: its row if this call was the one that used it, else undefined. */
  async consume(tokenHash: string, now: number, db: Kysely<Database> = this.db): Promise<EmailToken | undefined> {
    const row = await db.updateTable('email_tokens').set({ consumed_at: now })
      .where('token_hash', '=', tokenHash).where('consumed_at', 'is', null).where('expires_at', '>', now)
      .returning(['user_id', 'purpose', 'email', 'created_at', 'expires_at']).executeTakeFirst();
    return row && { userId: row.user_id, purpose: row.purpose, email: row.email, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  /** Ends the unused links of one purpose of an account (a newer change of address replaces the older). */
  async cancelPending(userId: number, purpose: EmailTokenPurpose, now: number, db: Kysely<Database> = this.db): Promise<void> {
    await db.updateTable('email_tokens').set({ consumed_at: now })
      .where('user_id', '=', userId).where('purpose', '=', purpose).where('consumed_at', 'is', null).execute();
  }

  /** The newest unused, unexpired link of one purpose (the account page shows a pending change). */
  async findPending(userId: number, purpose: EmailTokenPurpose, now: number): Promise<EmailToken | undefined> {
    const row = await this.db.selectFrom('email_tokens').select(['user_id', 'purpose', 'email', 'created_at', 'expires_at'])
      .where('user_id', '=', userId).where('purpose', '=', purpose).where('consumed_at', 'is', null).where('expires_at', '>', now)
      .orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    return row && { userId: row.user_id, purpose: row.purpose, email: row.email, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  /** Deletes links that ended (used or expired) before `before`. */
  async deleteEnded(before: number): Promise<number> {
    const result = await this.db.deleteFrom('email_tokens')
      .where((w) => w.or([w('expires_at', '<', before), w('consumed_at', '<', before)])).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
