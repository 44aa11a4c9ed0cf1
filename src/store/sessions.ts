// Login sessions, server-side: the cookie holds a random id, the database its hash.
// A session lives until its expires_at, and no longer than `lifetime` after created_at nor
// `idleTimeout` after last_seen_at (checked on every read, so shortening either setting takes
// effect at once; expires_at is kept at the earlier of the two so the purge finds idle rows).
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

export interface SessionRecord {
  idHash: string;
  userId: number | null;
  csrfToken: string;
  authTime: number | null;
  expiresAt: number;
  /** RFC 8176 methods of the login (migration 012); a session from before it was a password login. */
  amr?: readonly string[];
}

export interface StoredSession extends SessionRecord {
  createdAt: number;
  lastSeenAt: number;
}

/** What the account page shows of one signed-in session (migration 011 added the device and address). */
export interface SessionSummary {
  idHash: string;
  createdAt: number;
  lastSeenAt: number;
  userAgent: string | null;
  address: string | null;
}

export interface SessionLimits {
  /** Seconds a session may go unused. */
  idleTimeout: number;
  /** Seconds a session may live at most, however busy. */
  lifetime: number;
}

/** The stored methods, or `pwd` for a session from before they were recorded. */
function parseAmr(value: string | null): string[] {
  if (value === null) return ['pwd'];
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return parsed as string[];
  } catch {
    // fall through
  }
  return ['pwd'];
}

export class SessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(s: SessionRecord & { now: number; userAgent?: string | null; address?: string | null }): Promise<void> {
    await this.db.insertInto('sessions').values({
      id_hash: s.idHash, user_id: s.userId, csrf_token: s.csrfToken, auth_time: s.authTime, created_at: s.now, expires_at: s.expiresAt, last_seen_at: s.now,
      ...(s.amr !== undefined ? { amr: JSON.stringify(s.amr) } : {}),
      user_agent: s.userAgent ?? null, address: s.address ?? null,
    }).execute();
  }

  /** The user's live sessions (expired, idle or too old ones left out), the most recently seen first. */
  async listForUser(userId: number, now: number, limits: SessionLimits): Promise<SessionSummary[]> {
    const rows = await this.db.selectFrom('sessions').select(['id_hash', 'created_at', 'last_seen_at', 'user_agent', 'address'])
      .where('user_id', '=', userId).where('expires_at', '>', now)
      .where('last_seen_at', '>', now - limits.idleTimeout).where('created_at', '>', now - limits.lifetime)
      .orderBy('last_seen_at', 'desc').orderBy('created_at', 'desc').limit(100).execute();
    return rows.map((r) => ({ idHash: r.id_hash, createdAt: r.created_at, lastSeenAt: r.last_seen_at, userAgent: r.user_agent, address: r.address }));
  }

  /**
   * A live session, or undefined when unknown, expired, idle too long or too old. A session
   * found dead is deleted on the spot.
   */
  async find(idHash: string, now: number, limits: SessionLimits): Promise<StoredSession | undefined> {
    const row = await this.db.selectFrom('sessions').selectAll().where('id_hash', '=', idHash).executeTakeFirst();
    if (!row) return undefined;
    if (row.expires_at <= now || row.last_seen_at + limits.idleTimeout <= now || row.created_at + limits.lifetime <= now) {
      await this.delete(idHash);
      return undefined;
    }
    return {
      idHash: row.id_hash, userId: row.user_id, csrfToken: row.csrf_token, authTime: row.auth_time, expiresAt: row.expires_at,
      createdAt: row.created_at, lastSeenAt: row.last_seen_at, amr: parseAmr(row.amr),
    };
  }

  /**
   * Records activity: last_seen_at = now, expires_at moved to the new idle deadline (never past
   * the lifetime), and the address it came from when given.
   */
  async touch(idHash: string, now: number, expiresAt: number, address?: string): Promise<void> {
    await this.db.updateTable('sessions').set({ last_seen_at: now, expires_at: expiresAt, ...(address !== undefined ? { address } : {}) })
      .where('id_hash', '=', idHash).execute();
  }

  async delete(idHash: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id_hash', '=', idHash).execute();
  }

  /** Deletes the user's sessions, but `exceptIdHash`; returns how many. */
  async deleteForUser(userId: number, exceptIdHash?: string | null): Promise<number> {
    let q = this.db.deleteFrom('sessions').where('user_id', '=', userId);
    if (exceptIdHash) q = q.where('id_hash', '!=', exceptIdHash);
    const result = await q.executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
