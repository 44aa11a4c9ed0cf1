// Invitations to organizations: an admin invites an e-mail address; the account with that
// address (matched on users.email_normalized) accepts, which makes the membership, or
// declines. Until then an invitation grants nothing. One row per organization and address.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { normalizeEmail, type Invitation, type PendingInvitation, type Role } from '../oauth/model.js';

interface InvitationRow {
  id: number;
  organization_id: number;
  email: string;
  role: Role;
  created_at: number;
  expires_at: number;
}

const COLUMNS = ['id', 'organization_id', 'email', 'role', 'created_at', 'expires_at'] as const;

function toInvitation(row: InvitationRow): Invitation {
  return { id: row.id, organizationId: row.organization_id, email: row.email, role: row.role, createdAt: row.created_at, expiresAt: row.expires_at };
}

export class InvitationStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Creates the invitation, or refreshes the one this organization already has for the address. */
  async upsert(input: { organizationId: number; email: string; role: Role; invitedBy: number; now: number; expiresAt: number }): Promise<Invitation> {
    const email = input.email.trim();
    const fresh = { email, role: input.role, invited_by_user_id: input.invitedBy, created_at: input.now, expires_at: input.expiresAt };
    const row = await this.db.insertInto('organization_invitations')
      .values({ organization_id: input.organizationId, email_normalized: normalizeEmail(email), ...fresh })
      .onConflict((oc) => oc.columns(['organization_id', 'email_normalized']).doUpdateSet(fresh))
      .returning(COLUMNS).executeTakeFirstOrThrow();
    return toInvitation(row);
  }

  /** Creation times (oldest first) of this organization's invitations made since `since`, but `exceptId`. */
  async createdSinceForOrganization(organizationId: number, since: number, exceptId: number): Promise<number[]> {
    const rows = await this.db.selectFrom('organization_invitations').select('created_at')
      .where('organization_id', '=', organizationId).where('created_at', '>', since).where('id', '<>', exceptId)
      .orderBy('created_at').execute();
    return rows.map((r) => r.created_at);
  }

  /** Creation times (oldest first) of the invitations this user made since `since`, but `exceptId`. */
  async createdSinceByInviter(userId: number, since: number, exceptId: number): Promise<number[]> {
    const rows = await this.db.selectFrom('organization_invitations').select('created_at')
      .where('invited_by_user_id', '=', userId).where('created_at', '>', since).where('id', '<>', exceptId)
      .orderBy('created_at').execute();
    return rows.map((r) => r.created_at);
  }

  /**
   * Takes the inviting user's row lock until the transaction ends (a write that changes
   * nothing), so that one admin's invitations in several organizations are counted one at a time.
   */
  async lockInviter(userId: number): Promise<void> {
    await this.db.updateTable('users').set((eb) => ({ updated_at: eb.ref('updated_at') })).where('id', '=', userId).execute();
  }

  /** Every invitation of the organization (expired ones too), newest first: for its admins. */
  async listForOrganization(organizationId: number): Promise<Invitation[]> {
    const rows = await this.db.selectFrom('organization_invitations').select(COLUMNS)
      .where('organization_id', '=', organizationId).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(toInvitation);
  }

  /** The unexpired invitations addressed to this e-mail address, with their organizations' names. */
  async listPendingForEmail(email: string, now: number): Promise<PendingInvitation[]> {
    const rows = await this.db.selectFrom('organization_invitations as i').innerJoin('organizations as o', 'o.id', 'i.organization_id')
      .select(['i.id', 'i.organization_id', 'i.email', 'i.role', 'i.created_at', 'i.expires_at', 'o.name'])
      .where('i.email_normalized', '=', normalizeEmail(email)).where('i.expires_at', '>', now)
      .orderBy('o.name').orderBy('i.id').execute();
    return rows.map((r) => ({ ...toInvitation(r), organizationName: r.name }));
  }

  /**
   * Accepts the invitation `id` for the account with `email`, if it is addressed to that
   * address and unexpired: deletes it and makes the membership with its role (a membership
   * that exists already is left as it is), in one transaction. Undefined when there is none.
   */
  async accept(id: number, email: string, userId: number, now: number): Promise<Invitation | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx.deleteFrom('organization_invitations')
        .where('id', '=', id).where('email_normalized', '=', normalizeEmail(email)).where('expires_at', '>', now)
        .returning(COLUMNS).executeTakeFirst();
      if (!row) return undefined;
      await trx.insertInto('memberships').values({ organization_id: row.organization_id, user_id: userId, role: row.role, created_at: now })
        .onConflict((oc) => oc.columns(['organization_id', 'user_id']).doNothing()).execute();
      return toInvitation(row);
    });
  }

  /** Deletes the invitation `id` if it is addressed to `email`; undefined when there is none. */
  async decline(id: number, email: string): Promise<Invitation | undefined> {
    const row = await this.db.deleteFrom('organization_invitations')
      .where('id', '=', id).where('email_normalized', '=', normalizeEmail(email)).returning(COLUMNS).executeTakeFirst();
    return row && toInvitation(row);
  }

  /** Deletes the organization's invitation `id`; undefined when it has none such. */
  async cancel(organizationId: number, id: number): Promise<Invitation | undefined> {
    const row = await this.db.deleteFrom('organization_invitations')
      .where('id', '=', id).where('organization_id', '=', organizationId).returning(COLUMNS).executeTakeFirst();
    return row && toInvitation(row);
  }
}
