// Issue 22: mail that survives a restart and an SMTP outage, and the single-use links it carries.
//
// - mail_queue: one row per message to send. A request only inserts it (often in the same
//   transaction as the change it tells about); the sender loop of each server (accounts/mail/
//   sender.ts) claims due rows with a lease (one UPDATE … RETURNING, so two servers never send
//   one message twice), sends, and records `sent` or, after its attempts, `failed`. `content`
//   holds the subject's bodies (JSON {text, html}), sealed with LATCHKEY_ENCRYPTION_KEY when it
//   is set (the bodies carry link tokens), and is emptied once the message is sent or given up.
// - email_tokens: the links of e-mail verification and e-mail change. Only the SHA-256 of the
//   token is stored; `email` is the address the link proves (for a change: the new one); a link
//   is used by one UPDATE … WHERE consumed_at IS NULL (single use under any concurrency).
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function mailQueue(dialect: Dialect) {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.createTable('mail_queue')
        .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('recipient', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('content', 'text', (c) => c.notNull())
        .addColumn('user_id', 'integer')
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('pending'))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', big, (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', big)
        .addColumn('expires_at', big)
        .addColumn('last_error', 'text')
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('finished_at', big)
        .execute();
      await db.schema.createIndex('mail_queue_due').on('mail_queue').columns(['status', 'next_attempt_at']).execute();

      await db.schema.createTable('email_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('expires_at', big, (c) => c.notNull())
        .addColumn('consumed_at', big)
        .execute();
      await db.schema.createIndex('email_tokens_user').on('email_tokens').columns(['user_id', 'purpose']).execute();
    },
  };
}
