// The rules of organizations, shared by the portal's pages: creating one (its creator becomes
// its admin), inviting people by e-mail, accepting or declining an invitation, cancelling one,
// changing roles and removing members. An admin cannot make anyone a member: they invite an
// address, and only the account with that address, once signed in, makes the membership by
// accepting (as in Keycloak's organization invitations). Until then the invitation counts for
// nothing (no membership, not on the consent page, no token bound to it). The invite answer is
// the same whether or not an account uses the address; invitations are rate limited per
// organization and per inviting admin, counted from the table so the limit holds across
// processes. An organization always keeps an admin, and whoever leaves it loses the apps they
// connected for it. Every change is an audit line. The operator's `latchkey org add-member`
// still adds members directly.
import { audit, type AuditLogger } from '../audit.js';
import { nowSeconds } from '../oauth/clock.js';
import type { AccountServices } from './services.js';
import type { Invitation, Membership, Organization, PendingInvitation, Role, User } from '../oauth/model.js';
import type { LockedOrganization } from '../store/orgs.js';
import { AccountError, validateEmail } from './users.js';

/** Seconds an invitation can be accepted: 7 days. */
export const INVITATION_TTL = 7 * 24 * 3600;
/** The rate limit's window, seconds. */
export const INVITATION_WINDOW = 3600;
/** Invitations one organization may send in the window. */
export const INVITATIONS_PER_ORGANIZATION = 20;
/** Invitations one admin may send in the window, over all their organizations. */
export const INVITATIONS_PER_INVITER = 30;
export const MAX_ORG_NAME_LENGTH = 200;

export type OrganizationErrorKind = 'forbidden' | 'not_found' | 'invalid' | 'already_member' | 'last_admin' | 'rate_limited';

/** Which refusal it is, for pages that say it in the reader's language (http/locale.ts). */
export type OrganizationErrorReason =
  | 'role_invalid' | 'name_empty' | 'name_too_long' | 'email_invalid' | 'already_member' | 'last_admin'
  | 'organization_rate_limited' | 'inviter_rate_limited'
  | 'admin_only_invite' | 'admin_only_cancel' | 'admin_only_roles' | 'admin_only_remove';

/** A refusal, with a message for the page (English; `reason` and `email` let a page translate it). */
export class OrganizationError extends Error {
  override name = 'OrganizationError';
  constructor(
    readonly kind: OrganizationErrorKind,
    message: string,
    readonly options: { field?: 'name' | 'email' | 'form'; retryAfter?: number; reason?: OrganizationErrorReason; email?: string } = {},
  ) {
    super(message);
  }
}

/** Who acts, and from where (for the audit trail). */
export interface Actor {
  services: AccountServices;
  user: User;
  log: AuditLogger;
  address: string;
}

const LAST_ADMIN = 'An organization needs at least one admin: make someone else admin first.';

export function parseRole(value: string): Role | null {
  return value === 'admin' || value === 'member' ? value : null;
}

function requireRole(value: string): Role {
  const role = parseRole(value);
  if (!role) throw new OrganizationError('invalid', 'Choose a role: admin or member', { field: 'form', reason: 'role_invalid' });
  return role;
}

const ADMIN_ONLY = {
  admin_only_invite: 'Only an admin of this organization can invite members.',
  admin_only_cancel: 'Only an admin of this organization can cancel invitations.',
  admin_only_roles: 'Only an admin of this organization can change roles.',
  admin_only_remove: 'Only an admin of this organization can remove members.',
} as const;

function requireAdmin(membership: Membership, reason: keyof typeof ADMIN_ONLY): void {
  if (membership.role !== 'admin') throw new OrganizationError('forbidden', ADMIN_ONLY[reason], { reason });
}

/** The same check again under the organization's lock: an admin demoted meanwhile acts no more. */
async function stillAdmin(tx: LockedOrganization, organizationId: number, userId: number, reason: keyof typeof ADMIN_ONLY): Promise<void> {
  if ((await tx.orgs.findMembership(organizationId, userId))?.role !== 'admin') throw new OrganizationError('forbidden', ADMIN_ONLY[reason], { reason });
}

export async function createOrganization(actor: Actor, nameInput: string): Promise<Organization> {
  const name = nameInput.trim();
  if (name === '') throw new OrganizationError('invalid', 'An organization needs a name', { field: 'name', reason: 'name_empty' });
  if (name.length > MAX_ORG_NAME_LENGTH) throw new OrganizationError('invalid', `The name must be at most ${MAX_ORG_NAME_LENGTH} characters`, { field: 'name', reason: 'name_too_long' });
  const { services } = actor;
  const now = nowSeconds(services.clock);
  // Integrations start on, as with `latchkey org create`; the operator may switch them off.
  const org = await services.orgs.insert({ name, integrationsEnabled: true, now });
  await services.orgs.upsertMember(org.id, actor.user.id, 'admin', now);
  return org;
}

function minutes(seconds: number): string {
  const n = Math.max(1, Math.ceil(seconds / 60));
  return n === 1 ? 'a minute' : `${n} minutes`;
}

/**
 * The wait before one more invitation fits in a limit of `limit` per window, given the
 * creation times (oldest first) of those already in the window; 0 when it fits now.
 */
function waitFor(times: number[], limit: number, now: number): number {
  if (times.length < limit) return 0;
  const freesUp = (times[times.length - limit] ?? now) + INVITATION_WINDOW;
  return Math.max(1, freesUp - now);
}

/**
 * Invites `emailInput` to the admin's organization with `roleInput`, or refreshes the
 * invitation it has for that address. Answers alike whether or not an account uses the
 * address (no account is looked up); "already a member" only for an address of a listed member.
 */
export async function inviteMember(actor: Actor, membership: Membership, emailInput: string, roleInput: string): Promise<Invitation> {
  requireAdmin(membership, 'admin_only_invite');
  let email: string;
  try {
    email = validateEmail(emailInput);
  } catch (err) {
    if (!(err instanceof AccountError)) throw err;
    throw new OrganizationError('invalid', 'Enter an e-mail address such as name@example.com', { field: 'email', reason: 'email_invalid' });
  }
  const role = requireRole(roleInput);
  const { services } = actor;
  const org = membership.organization;
  const now = nowSeconds(services.clock);
  const invitation = await services.orgs.locked(org.id, async (tx) => {
    await stillAdmin(tx, org.id, actor.user.id, 'admin_only_invite');
    if (await tx.orgs.hasMemberWithEmail(org.id, email)) throw new OrganizationError('already_member', `${email} is already a member.`, { field: 'email', reason: 'already_member', email });
    await tx.invitations.lockInviter(actor.user.id);
    const created = await tx.invitations.upsert({ organizationId: org.id, email, role, invitedBy: actor.user.id, now, expiresAt: now + INVITATION_TTL });
    const since = now - INVITATION_WINDOW;
    const orgWait = waitFor(await tx.invitations.createdSinceForOrganization(org.id, since, created.id), INVITATIONS_PER_ORGANIZATION, now);
    if (orgWait > 0) {
      throw new OrganizationError('rate_limited', `Too many invitations: an organization may send at most ${INVITATIONS_PER_ORGANIZATION} an hour. Try again in ${minutes(orgWait)}.`, { field: 'form', retryAfter: orgWait, reason: 'organization_rate_limited' });
    }
    const inviterWait = waitFor(await tx.invitations.createdSinceByInviter(actor.user.id, since, created.id), INVITATIONS_PER_INVITER, now);
    if (inviterWait > 0) {
      throw new OrganizationError('rate_limited', `Too many invitations: you may send at most ${INVITATIONS_PER_INVITER} an hour. Try again in ${minutes(inviterWait)}.`, { field: 'form', retryAfter: inviterWait, reason: 'inviter_rate_limited' });
    }
    return created;
  });
  if (!invitation) throw new OrganizationError('not_found', 'There is no such organization.');
  audit(actor.log, 'org.invitation.created', { user_id: actor.user.id, organization_id: org.id, invitation_id: invitation.id, role, address: actor.address });
  return invitation;
}

/** The organization's invitations, for its admins (none for a member). */
export async function invitationsOf(services: AccountServices, membership: Membership): Promise<Invitation[]> {
  return membership.role === 'admin' ? services.invitations.listForOrganization(membership.organization.id) : [];
}

/** The unexpired invitations addressed to the user's e-mail address. */
export async function pendingInvitations(services: AccountServices, user: User): Promise<PendingInvitation[]> {
  return services.invitations.listPendingForEmail(user.email, nowSeconds(services.clock));
}

const NO_INVITATION = 'There is no such invitation, or it has expired.';

/** Accepts an invitation addressed to the user: the membership, with the invited role. */
export async function acceptInvitation(actor: Actor, invitationId: number): Promise<Invitation> {
  const { services, user } = actor;
  const invitation = await services.invitations.accept(invitationId, user.email, user.id, nowSeconds(services.clock));
  if (!invitation) throw new OrganizationError('not_found', NO_INVITATION);
  audit(actor.log, 'org.invitation.accepted', { user_id: user.id, organization_id: invitation.organizationId, invitation_id: invitation.id, role: invitation.role, address: actor.address });
  return invitation;
}

/** Declines (deletes) an invitation addressed to the user. */
export async function declineInvitation(actor: Actor, invitationId: number): Promise<Invitation> {
  const { services, user } = actor;
  const invitation = await services.invitations.decline(invitationId, user.email);
  if (!invitation) throw new OrganizationError('not_found', NO_INVITATION);
  audit(actor.log, 'org.invitation.declined', { user_id: user.id, organization_id: invitation.organizationId, invitation_id: invitation.id, address: actor.address });
  return invitation;
}

/** An admin cancels (deletes) one of the organization's invitations. */
export async function cancelInvitation(actor: Actor, membership: Membership, invitationId: number): Promise<Invitation> {
  requireAdmin(membership, 'admin_only_cancel');
  const org = membership.organization;
  const invitation = await actor.services.invitations.cancel(org.id, invitationId);
  if (!invitation) throw new OrganizationError('not_found', NO_INVITATION);
  audit(actor.log, 'org.invitation.cancelled', { user_id: actor.user.id, organization_id: org.id, invitation_id: invitation.id, address: actor.address });
  return invitation;
}

/** An admin changes a member's role; the last admin cannot be made a member. */
export async function changeRole(actor: Actor, membership: Membership, memberId: number, roleInput: string): Promise<void> {
  requireAdmin(membership, 'admin_only_roles');
  const org = membership.organization;
  const { services } = actor;
  const role = requireRole(roleInput);
  const done = await services.orgs.locked(org.id, async (tx) => {
    await stillAdmin(tx, org.id, actor.user.id, 'admin_only_roles');
    const target = await tx.orgs.findMembership(org.id, memberId);
    if (!target) throw new OrganizationError('not_found', 'There is no such member.');
    if (role === 'member' && target.role === 'admin' && (await tx.orgs.countAdmins(org.id)) <= 1) {
      throw new OrganizationError('last_admin', LAST_ADMIN, { field: 'form', reason: 'last_admin' });
    }
    await tx.orgs.upsertMember(org.id, memberId, role, nowSeconds(services.clock));
    return true;
  });
  if (!done) throw new OrganizationError('not_found', 'There is no such organization.');
  audit(actor.log, 'org.role.changed', { user_id: actor.user.id, organization_id: org.id, member_id: memberId, role, address: actor.address });
}

/**
 * Removes a member (an admin), or the user themself (leaving); the last admin cannot go.
 * Whoever leaves an organization no longer speaks for it: the apps they connected to it lose
 * their consent and grants.
 */
export async function removeMember(actor: Actor, membership: Membership, memberId: number): Promise<{ self: boolean }> {
  const self = memberId === actor.user.id;
  if (!self) requireAdmin(membership, 'admin_only_remove');
  const org = membership.organization;
  const { services } = actor;
  const done = await services.orgs.locked(org.id, async (tx) => {
    if (!self) await stillAdmin(tx, org.id, actor.user.id, 'admin_only_remove');
    const target = await tx.orgs.findMembership(org.id, memberId);
    if (!target) throw new OrganizationError('not_found', 'There is no such member.');
    if (target.role === 'admin' && (await tx.orgs.countAdmins(org.id)) <= 1) throw new OrganizationError('last_admin', LAST_ADMIN, { field: 'form', reason: 'last_admin' });
    await tx.orgs.removeMember(org.id, memberId);
    return true;
  });
  if (!done) throw new OrganizationError('not_found', 'There is no such organization.');
  const now = nowSeconds(services.clock);
  let revoked = 0;
  for (const connected of await services.grants.listConnectedApps(memberId)) {
    if (connected.organizationId !== org.id) continue;
    await services.grants.deleteConsent(memberId, connected.clientId, org.id);
    revoked += await services.grants.revokeForUserClient(memberId, connected.clientId, org.id, now);
  }
  audit(actor.log, 'org.member.removed', { user_id: actor.user.id, organization_id: org.id, member_id: memberId, reason: self ? 'left' : 'removed', count: revoked, address: actor.address });
  return { self };
}
