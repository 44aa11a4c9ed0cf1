// Users: one row each, e-mail unique case-insensitively (email_normalized), each with its own
// OpenID Connect subject (subject, unique; migrations/007-user-subjects.ts says how it is made).
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database, UsersTable } from './schema.js';
import { normalizeEmail, type User } from '../oauth/model.js';
import type { UserPort } from '../oauth/ports.js';

type UserRow = Selectable<UsersTable>;

/** The columns a User is read from. */
const USER_COLUMNS = ['id', 'email', 'name', 'locale', 'subject', 'email_verified', 'updated_at'] as const;

function toUser(row: Pick<UserRow, (typeof USER_COLUMNS)[number]>): User {
  return {
    id: row.id, email: row.email, name: row.name, locale: row.locale, subject: row.subject, emailVerified: row.email_verified === 1, updatedAt: row.updated_at,
  };
}

export class DuplicateEmailError extends Error {
  override name = 'DuplicateEmailError';
}

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  // SQLite: SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY; PostgreSQL: 23505.
  return e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class UserStore implements UserPort {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(input: { email: string; name: string; locale: string; passwordHash: string; now: number; emailVerified?: boolean }): Promise<User> {
    try {
      const row = await this.db.insertInto('users').values({
        email: input.email.trim(),
        email_normalized: normalizeEmail(input.email),
        name: input.name,
        locale: input.locale,
        password_hash: input.passwordHash,
        // 122 random bits: a repeat of any subject, even a deleted user's, is not to be expected
        // (were one drawn, the unique index would refuse the insert rather than share it).
        subject: randomUUID(),
        created_at: input.now,
        updated_at: input.now,
        email_verified: input.emailVerified === true ? 1 : 0,
      }).returning(USER_COLUMNS).executeTakeFirstOrThrow();
      return toUser(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateEmailError(`a user with e-mail ${input.email.trim()} already exists`);
      throw err;
    }
  }

  async findById(id: number): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async findBySubject(subject: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').select(USER_COLUMNS).where('subject', '=', subject).executeTakeFirst();
    return row && toUser(row);
  }

  /** The user and password hash for a login attempt. */
  async findCredentialsByEmail(email: string): Promise<(User & { passwordHash: string }) | undefined> {
    const row = await this.db.selectFrom('users').select([...USER_COLUMNS, 'password_hash'])
      .where('email_normalized', '=', normalizeEmail(email)).executeTakeFirst();
    return row && { ...toUser(row), passwordHash: row.password_hash };
  }

  /** The user and password hash of one account, whatever its e-mail is now (a password change). */
  async findCredentialsById(id: number): Promise<(User & { passwordHash: string }) | undefined> {
    const row = await this.db.selectFrom('users').select([...USER_COLUMNS, 'password_hash']).where('id', '=', id).executeTakeFirst();
    return row && { ...toUser(row), passwordHash: row.password_hash };
  }

  async findPasswordHash(id: number): Promise<string | undefined> {
    const row = await this.db.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirst();
    return row?.password_hash;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').select(USER_COLUMNS)
      .where('email_normalized', '=', normalizeEmail(email)).executeTakeFirst();
    return row && toUser(row);
  }

  async update(id: number, changes: { email?: string; name?: string; locale?: string; passwordHash?: string; emailVerified?: boolean }, now: number): Promise<void> {
    try {
      await this.db.updateTable('users').set({
        // A new address is not verified, whatever the old one was.
        ...(changes.email !== undefined ? { email: changes.email.trim(), email_normalized: normalizeEmail(changes.email), email_verified: 0 } : {}),
        ...(changes.emailVerified !== undefined ? { email_verified: changes.emailVerified ? 1 : 0 } : {}),
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.locale !== undefined ? { locale: changes.locale } : {}),
        ...(changes.passwordHash !== undefined ? { password_hash: changes.passwordHash } : {}),
        updated_at: now,
      }).where('id', '=', id).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateEmailError(`a user with e-mail ${changes.email ?? ''} already exists`);
      throw err;
    }
  }
}
