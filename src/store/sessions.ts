// Login sessions, server-side: the cookie holds a random id, the database its hash.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface SessionRecord {
  idHash: string;
  userId: number | null;
  csrfToken: string;
  authTime: number | null;
  expiresAt: number;
}

export class SessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(s: SessionRecord & { now: number }): Promise<void> {
    await this.db.insertInto('sessions').values({
      id_hash: s.idHash, user_id: s.userId, csrf_token: s.csrfToken, auth_time: s.authTime, created_at: s.now, expires_at: s.expiresAt,
    }).execute();
  }

  /** A live session, or undefined when unknown or expired. */
  async find(idHash: string, now: number): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).where('expires_at', '>', now).executeTakeFirst();
    return row && { idHash: row.id_hash, userId: row.user_id, csrfToken: row.csrf_token, authTime: row.auth_time, expiresAt: row.expires_at };
  }

  async delete(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  async deleteForUser(userId: number, exceptIdHash?: string): Promise<void> {
    let q = this.db.deleteFrom('sessions').where('user_id', '=', userId);
    if (exceptIdHash) q = q.where('id_hash', '!=', exceptIdHash);
    await q.execute();
  }
}
