// Issue 22: password reset, and the device list of the account page.
// - password_resets: one row per "Forgot password?" request. Only the SHA-256 hex of the link's
//   token is kept (token_hash); the e-mail address asked for is kept as a SHA-256 hex too
//   (email_hash), so a request for an address that has no account leaves no address behind.
//   user_id is NULL for such a request (the row is written all the same: both answers do the
//   same work, accounts/password-reset.ts). A link is single use (used_at, set by one
//   `UPDATE … WHERE used_at IS NULL`) and dies at expires_at (30 minutes).
// - sessions.user_agent and sessions.address: what the account page shows of each signed-in
//   session ("Firefox on Windows", the address it was last seen from). NULL on older rows.
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function passwordResets(dialect: Dialect) {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.createTable('password_resets')
        .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('email_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('expires_at', big, (c) => c.notNull())
        .addColumn('used_at', big)
        .execute();
      await db.schema.createIndex('password_resets_user').on('password_resets').column('user_id').execute();
      await db.schema.createIndex('password_resets_expires').on('password_resets').column('expires_at').execute();
      await db.schema.alterTable('sessions').addColumn('user_agent', 'text').execute();
      await db.schema.alterTable('sessions').addColumn('address', 'text').execute();
    },
  };
}
