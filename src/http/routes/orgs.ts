// Organizations: /orgs (mine, create one: the creator becomes its admin) and /orgs/:orgId
// (members; admins invite existing users by e-mail, change roles and remove members). Only
// members see an organization (404 for anyone else). The plan's integrations switch is shown
// to admins but flipped only by a server administrator (`latchkey org set-integrations`).
// An organization always keeps at least one admin.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { validateEmail, AccountError } from '../../accounts/users.js';
import { nowSeconds } from '../../oauth/clock.js';
import type { Membership, Role } from '../../store/orgs.js';
import type { User } from '../../store/users.js';
import type { FormErrors } from '../../views/forms.js';
import { orgListPage, orgPage, type OrgPageOptions } from '../../views/orgs.js';
import { formValue, idParam, PAGE_ROUTE, sendForbidden, sendNotFound, sendPage, sessionUser } from '../pages.js';
import { requireCsrf, requireUser, type Session } from '../session.js';

type UserSession = Session & { user: User };

const MAX_ORG_NAME_LENGTH = 200;

const NOTICES: Readonly<Record<string, string>> = {
  created: 'The organization is created. You are its admin.',
  invited: 'The member is added.',
  role: 'The role is changed.',
  removed: 'The member is removed.',
  left: 'You left the organization.',
};

function noticeOf(request: FastifyRequest): string | undefined {
  const done = (request.query as Record<string, unknown>).done;
  return typeof done === 'string' ? NOTICES[done] : undefined;
}

function parseRole(value: string): Role | null {
  return value === 'admin' || value === 'member' ? value : null;
}

export async function orgRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  async function postSession(request: FastifyRequest, reply: FastifyReply, returnTo: string): Promise<UserSession | null> {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return null;
    return sessionUser(csrf, reply, returnTo);
  }

  /** The user's membership of the organization in the path, or a 404 page sent and null. */
  async function membershipOf(request: FastifyRequest, reply: FastifyReply, session: UserSession): Promise<Membership | null> {
    const orgId = idParam(request, 'orgId');
    const membership = orgId === null ? undefined : await services.orgs.findMembership(orgId, session.user.id);
    if (!membership) {
      await sendNotFound(reply, session);
      return null;
    }
    return membership;
  }

  async function renderOrg(reply: FastifyReply, session: UserSession, membership: Membership, extra: Partial<OrgPageOptions>, status = 200) {
    const members = await services.orgs.listMembers(membership.organization.id);
    return sendPage(reply, orgPage({
      user: session.user, csrfToken: session.csrfToken, organization: membership.organization, role: membership.role, members,
      invite: { email: '', role: 'member' }, errors: {}, ...extra,
    }), status);
  }

  /** True when `userId` is the organization's only admin (who must not be demoted or removed). */
  async function isLastAdmin(orgId: number, userId: number): Promise<boolean> {
    const admins = (await services.orgs.listMembers(orgId)).filter((m) => m.role === 'admin');
    return admins.length === 1 && admins[0]?.userId === userId;
  }

  app.get('/orgs', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const memberships = await services.orgs.listForUser(session.user.id);
    return sendPage(reply, orgListPage({ user: session.user, csrfToken: session.csrfToken, memberships, name: '', errors: {}, notice: noticeOf(request) }));
  });

  app.post('/orgs', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, '/orgs');
    if (!session) return reply;
    const name = formValue(request.body, 'name').trim();
    const errors: FormErrors = {};
    if (name === '') errors.name = 'An organization needs a name';
    else if (name.length > MAX_ORG_NAME_LENGTH) errors.name = `The name must be at most ${MAX_ORG_NAME_LENGTH} characters`;
    if (errors.name) {
      const memberships = await services.orgs.listForUser(session.user.id);
      return sendPage(reply, orgListPage({ user: session.user, csrfToken: session.csrfToken, memberships, name, errors }), 400);
    }
    const now = nowSeconds(services.clock);
    // Integrations start on, as with `latchkey org create`; the operator may switch them off.
    const org = await services.orgs.insert({ name, integrationsEnabled: true, now });
    await services.orgs.upsertMember(org.id, session.user.id, 'admin', now);
    request.log.info({ event: 'org_created', userId: session.user.id, organizationId: org.id }, 'organization created');
    return reply.redirect(`/orgs/${org.id}?done=created`, 303);
  });

  app.get('/orgs/:orgId', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    return renderOrg(reply, session, membership, { notice: noticeOf(request) });
  });

  app.post('/orgs/:orgId/members', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, request.url.replace(/\/members$/, ''));
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    if (membership.role !== 'admin') return sendForbidden(reply, 'Only an admin of this organization can add members.', session);
    const org = membership.organization;
    const email = formValue(request.body, 'email');
    const role = parseRole(formValue(request.body, 'role'));
    const errors: FormErrors = {};
    let invitee: User | undefined;
    try {
      invitee = await services.users.findByEmail(validateEmail(email));
      if (!invitee) errors.email = 'No account uses this e-mail address. Ask them to sign up first.';
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      errors.email = 'Enter an e-mail address such as name@example.com';
    }
    if (invitee && (await services.orgs.findMembership(org.id, invitee.id))) errors.email = `${invitee.name} is already a member`;
    if (!role) errors.form = 'Choose a role: admin or member';
    if (!invitee || Object.keys(errors).length > 0) {
      return renderOrg(reply, session, membership, { invite: { email, role: role ?? 'member' }, errors }, 400);
    }
    await services.orgs.upsertMember(org.id, invitee.id, role ?? 'member', nowSeconds(services.clock));
    request.log.info({ event: 'org_member_added', userId: session.user.id, organizationId: org.id, memberId: invitee.id, role }, 'member added');
    return reply.redirect(`/orgs/${org.id}?done=invited`, 303);
  });

  app.post('/orgs/:orgId/members/:userId/role', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, `/orgs/${idParam(request, 'orgId') ?? ''}`);
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    if (membership.role !== 'admin') return sendForbidden(reply, 'Only an admin of this organization can change roles.', session);
    const org = membership.organization;
    const memberId = idParam(request, 'userId');
    const target = memberId === null ? undefined : await services.orgs.findMembership(org.id, memberId);
    if (memberId === null || !target) return sendNotFound(reply, session);
    const role = parseRole(formValue(request.body, 'role'));
    if (!role) return renderOrg(reply, session, membership, { errors: { form: 'Choose a role: admin or member' } }, 400);
    if (role === 'member' && target.role === 'admin' && (await isLastAdmin(org.id, memberId))) {
      return renderOrg(reply, session, membership, { errors: { form: 'An organization needs at least one admin: make someone else admin first.' } }, 400);
    }
    await services.orgs.upsertMember(org.id, memberId, role, nowSeconds(services.clock));
    request.log.info({ event: 'org_role_changed', userId: session.user.id, organizationId: org.id, memberId, role }, 'role changed');
    return reply.redirect(`/orgs/${org.id}?done=role`, 303);
  });

  app.post('/orgs/:orgId/members/:userId/remove', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, `/orgs/${idParam(request, 'orgId') ?? ''}`);
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    const org = membership.organization;
    const memberId = idParam(request, 'userId');
    const self = memberId === session.user.id;
    if (!self && membership.role !== 'admin') return sendForbidden(reply, 'Only an admin of this organization can remove members.', session);
    const target = memberId === null ? undefined : await services.orgs.findMembership(org.id, memberId);
    if (memberId === null || !target) return sendNotFound(reply, session);
    if (target.role === 'admin' && (await isLastAdmin(org.id, memberId))) {
      return renderOrg(reply, session, membership, { errors: { form: 'An organization needs at least one admin: make someone else admin first.' } }, 400);
    }
    await services.orgs.removeMember(org.id, memberId);
    // Whoever leaves an organization no longer speaks for it: apps they connected to it lose access.
    const now = nowSeconds(services.clock);
    for (const connected of await services.grants.listConnectedApps(memberId)) {
      if (connected.organizationId !== org.id) continue;
      await services.grants.deleteConsent(memberId, connected.clientId, org.id);
      await services.grants.revokeForUserClient(memberId, connected.clientId, org.id, now);
    }
    request.log.info({ event: 'org_member_removed', userId: session.user.id, organizationId: org.id, memberId }, 'member removed');
    return reply.redirect(self ? '/orgs?done=left' : `/orgs/${org.id}?done=removed`, 303);
  });
}
