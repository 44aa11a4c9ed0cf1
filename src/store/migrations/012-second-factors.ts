// Second factors and passkeys (issue 22, SPEC.md "Accounts: e-mail, recovery, second factors"):
// - totp_credentials: one authenticator app per account. `secret` is the RFC 6238 key sealed
//   like a signing key (AES-256-GCM under LATCHKEY_ENCRYPTION_KEY, oauth/signing-keys.ts);
//   confirmed_at is NULL while enrolment waits for its first code; last_used_step is the
//   30-second step of the last code accepted, so no code is accepted twice (replay).
// - recovery_codes: ten single-use codes per account, only their SHA-256 (hex); used_at set
//   by the one UPDATE that consumes a code.
// - passkeys: WebAuthn credentials (credential id and COSE public key, base64url), usable as a
//   second factor and, being discoverable, as a first factor.
// - login_challenges: short-lived, single-use server state of a login or ceremony in progress:
//   a pending login (password right, second factor still owed) and WebAuthn challenges. Only
//   the SHA-256 of the cookie or handle that names a row is stored; a row is consumed by one
//   UPDATE that ends it (expires_at = 0).
// - sessions.amr: the RFC 8176 methods of the login that made the session (JSON array; NULL on
//   sessions made before this migration, which were password logins).
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function secondFactors(dialect: Dialect) {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable('sessions').addColumn('amr', 'text').execute();
      await db.schema.createTable('totp_credentials')
        .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('confirmed_at', big)
        .addColumn('last_used_step', big, (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createTable('recovery_codes')
        .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('code_hash', 'text', (c) => c.notNull())
        .addColumn('used_at', big)
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('recovery_codes_user').on('recovery_codes').columns(['user_id', 'code_hash']).execute();
      await db.schema.createTable('passkeys')
        .addColumn('credential_id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('counter', big, (c) => c.notNull().defaultTo(0))
        .addColumn('transports', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('backed_up', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('last_used_at', big)
        .execute();
      await db.schema.createIndex('passkeys_user').on('passkeys').column('user_id').execute();
      await db.schema.createTable('login_challenges')
        .addColumn('id_hash', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('challenge', 'text')
        .addColumn('amr', 'text')
        .addColumn('next', 'text')
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('expires_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('login_challenges_expiry').on('login_challenges').column('expires_at').execute();
    },
  };
}
