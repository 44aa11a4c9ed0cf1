// Organization invitations (issue 18): an admin no longer adds an account to an organization
// directly; they invite an e-mail address, and only the account with that address makes the
// membership, by accepting. One invitation per organization and address (a re-invite
// refreshes it); the rate limit on invitations counts these rows.
import type { Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against whatever schema existed before them
type AnyDb = Kysely<any>;

export function organizationInvitations(dialect: Dialect) {
  const serial = dialect === 'postgres' ? 'serial' : 'integer';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.createTable('organization_invitations')
        .addColumn('id', serial, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('organization_id', 'integer', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
        // As the admin typed it (trimmed), for the admin's list; matching uses email_normalized.
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('email_normalized', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('invited_by_user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('expires_at', big, (c) => c.notNull())
        .addUniqueConstraint('organization_invitations_org_email', ['organization_id', 'email_normalized'])
        .execute();
      await db.schema.createIndex('organization_invitations_email').on('organization_invitations').column('email_normalized').execute();
      await db.schema.createIndex('organization_invitations_inviter').on('organization_invitations').columns(['invited_by_user_id', 'created_at']).execute();
    },
  };
}
