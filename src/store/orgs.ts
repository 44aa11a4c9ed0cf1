// Organizations, their plan's integrations switch, and memberships with a role.
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { InvitationStore } from './invitations.js';
import { normalizeEmail, type Member, type Membership, type Organization, type Role } from '../oauth/model.js';

/** The stores bound to one transaction that holds an organization's row lock (OrganizationStore.locked). */
export interface LockedOrganization {
  orgs: OrganizationStore;
  invitations: InvitationStore;
}

function toOrg(row: { id: number; name: string; integrations_enabled: number }): Organization {
  return { id: row.id, name: row.name, integrationsEnabled: row.integrations_enabled === 1 };
}

export class OrganizationStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(input: { name: string; integrationsEnabled: boolean; now: number }): Promise<Organization> {
    const row = await this.db.insertInto('organizations')
      .values({ name: input.name, integrations_enabled: input.integrationsEnabled ? 1 : 0, created_at: input.now })
      .returning(['id', 'name', 'integrations_enabled']).executeTakeFirstOrThrow();
    return toOrg(row);
  }

  async findById(id: number): Promise<Organization | undefined> {
    const row = await this.db.selectFrom('organizations').select(['id', 'name', 'integrations_enabled']).where('id', '=', id).executeTakeFirst();
    return row && toOrg(row);
  }

  /** Adds the user, or changes the role of an existing member. */
  async upsertMember(organizationId: number, userId: number, role: Role, now: number): Promise<void> {
    await this.db.insertInto('memberships')
      .values({ organization_id: organizationId, user_id: userId, role, created_at: now })
      .onConflict((oc) => oc.columns(['organization_id', 'user_id']).doUpdateSet({ role }))
      .execute();
  }

  async removeMember(organizationId: number, userId: number): Promise<void> {
    await this.db.deleteFrom('memberships').where('organization_id', '=', organizationId).where('user_id', '=', userId).execute();
  }

  /**
   * Runs `work` in one transaction that first takes the organization's row lock (a write that
   * changes nothing: a row lock on PostgreSQL, the write lock on SQLite), so that changes to
   * one organization's admins and invitations happen one at a time: two admins demoting each
   * other at once cannot leave it without one, and a burst of invitations is counted exactly.
   * Undefined (nothing run) when there is no such organization. `work` must use only the stores
   * it is given; what it throws rolls everything back and is rethrown.
   */
  async locked<T>(organizationId: number, work: (tx: LockedOrganization) => Promise<T>): Promise<T | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const touched = await trx.updateTable('organizations').set((eb) => ({ integrations_enabled: eb.ref('integrations_enabled') }))
        .where('id', '=', organizationId).executeTakeFirst();
      if (Number(touched.numUpdatedRows) === 0) return undefined;
      return work({ orgs: new OrganizationStore(trx), invitations: new InvitationStore(trx) });
    });
  }

  /** True when a member of the organization has this e-mail address (members are listed with it). */
  async hasMemberWithEmail(organizationId: number, email: string): Promise<boolean> {
    const row = await this.db.selectFrom('memberships as m').innerJoin('users as u', 'u.id', 'm.user_id').select('m.user_id')
      .where('m.organization_id', '=', organizationId).where('u.email_normalized', '=', normalizeEmail(email)).executeTakeFirst();
    return row !== undefined;
  }

  async countAdmins(organizationId: number): Promise<number> {
    const rows = await this.db.selectFrom('memberships').select('user_id').where('organization_id', '=', organizationId).where('role', '=', 'admin').execute();
    return rows.length;
  }

  async setIntegrations(id: number, enabled: boolean): Promise<boolean> {
    const result = await this.db.updateTable('organizations').set({ integrations_enabled: enabled ? 1 : 0 }).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async listForUser(userId: number): Promise<Membership[]> {
    const rows = await this.db.selectFrom('memberships as m').innerJoin('organizations as o', 'o.id', 'm.organization_id')
      .select(['o.id', 'o.name', 'o.integrations_enabled', 'm.role']).where('m.user_id', '=', userId).orderBy('o.name').orderBy('o.id').execute();
    return rows.map((r) => ({ organization: toOrg(r), role: r.role }));
  }

  async findMembership(organizationId: number, userId: number): Promise<Membership | undefined> {
    const row = await this.db.selectFrom('memberships as m').innerJoin('organizations as o', 'o.id', 'm.organization_id')
      .select(['o.id', 'o.name', 'o.integrations_enabled', 'm.role'])
      .where('m.user_id', '=', userId).where('m.organization_id', '=', organizationId).executeTakeFirst();
    return row && { organization: toOrg(row), role: row.role };
  }

  async listMembers(organizationId: number): Promise<Member[]> {
    const rows = await this.db.selectFrom('memberships as m').innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['u.id', 'u.name', 'u.email', 'm.role']).where('m.organization_id', '=', organizationId).orderBy('u.name').execute();
    return rows.map((r) => ({ userId: r.id, name: r.name, email: r.email, role: r.role }));
  }
}
