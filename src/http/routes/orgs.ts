// Organizations: /orgs (mine, the invitations addressed to me with Accept and Decline, create
// one: the creator becomes its admin) and /orgs/:orgId (members; admins invite people by
// e-mail, see and cancel pending invitations, change roles and remove members). Only members
// see an organization (404 for anyone else). The plan's integrations switch is shown to admins
// but flipped only by a server administrator (`latchkey org set-integrations`). The rules
// (invitations, their rate limit, the last admin, audit lines) are in accounts/organizations.ts:
// these handlers parse the request, call them and render the answer.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  acceptInvitation,
  cancelInvitation,
  changeRole,
  createOrganization,
  declineInvitation,
  invitationsOf,
  inviteMember,
  OrganizationError,
  parseRole,
  pendingInvitations,
  removeMember,
  type Actor,
} from '../../accounts/organizations.js';
import { nowSeconds } from '../../oauth/clock.js';
import type { Membership, User } from '../../oauth/model.js';
import type { FormErrors } from '../../views/forms.js';
import { orgListPage, orgPage, type OrgPageOptions } from '../../views/orgs.js';
import { formValue, idParam, PAGE_ROUTE, sendForbidden, sendNotFound, sendPage, sessionUser } from '../pages.js';
import { requireCsrf, requireUser, type Session } from '../session.js';
import { organizationErrorText, pageTranslator } from '../locale.js';
import type { Translator } from '../../i18n/index.js';

type UserSession = Session & { user: User };

const NOTICES = {
  created: 'orgs.notice.created',
  joined: 'orgs.notice.joined',
  declined: 'orgs.notice.declined',
  cancelled: 'orgs.notice.cancelled',
  role: 'orgs.notice.role',
  removed: 'orgs.notice.removed',
  left: 'orgs.notice.left',
} as const;

/** The page's language: the signed-in account's. */
function translatorOf(request: FastifyRequest, session: UserSession): Translator {
  return pageTranslator(request, { user: session.user });
}

function noticeOf(request: FastifyRequest, session: UserSession): string | undefined {
  const done = (request.query as Record<string, unknown>).done;
  if (typeof done !== 'string' || !Object.hasOwn(NOTICES, done)) return undefined;
  return translatorOf(request, session).t(NOTICES[done as keyof typeof NOTICES]);
}

export async function orgRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  const actorOf = (request: FastifyRequest, session: UserSession): Actor => ({ services, user: session.user, log: request.log, address: request.ip });

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
    const [members, invitations] = await Promise.all([services.orgs.listMembers(membership.organization.id), invitationsOf(services, membership)]);
    return sendPage(reply, orgPage({
      user: session.user, csrfToken: session.csrfToken, t: translatorOf(reply.request, session), organization: membership.organization, role: membership.role, members, invitations,
      now: nowSeconds(services.clock), invite: { email: '', role: 'member' }, errors: {}, ...extra,
    }), status);
  }

  async function renderList(reply: FastifyReply, session: UserSession, extra: { name?: string; errors?: FormErrors; notice?: string | undefined }, status = 200) {
    const [memberships, invitations] = await Promise.all([services.orgs.listForUser(session.user.id), pendingInvitations(services, session.user)]);
    return sendPage(reply, orgListPage({ user: session.user, csrfToken: session.csrfToken, t: translatorOf(reply.request, session), memberships, invitations, name: '', errors: {}, ...extra }), status);
  }

  /** A refusal from the rules as a page: 403, 404, or the form again with the message (400, 429). */
  async function refusal(reply: FastifyReply, session: UserSession, err: unknown, form: (errors: FormErrors, status: number) => Promise<FastifyReply>): Promise<FastifyReply> {
    if (!(err instanceof OrganizationError)) throw err;
    const message = organizationErrorText(translatorOf(reply.request, session), err) ?? err.message;
    switch (err.kind) {
      case 'forbidden':
        return sendForbidden(reply, message, session);
      case 'not_found':
        return sendNotFound(reply, session);
      case 'rate_limited':
        reply.header('Retry-After', String(err.options.retryAfter ?? 60));
        return form({ form: message }, 429);
      default:
        return form({ [err.options.field ?? 'form']: message }, 400);
    }
  }

  app.get('/orgs', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    return renderList(reply, session, { notice: noticeOf(request, session) });
  });

  app.post('/orgs', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, '/orgs');
    if (!session) return reply;
    const name = formValue(request.body, 'name');
    try {
      const org = await createOrganization(actorOf(request, session), name);
      request.log.info({ event: 'org_created', userId: session.user.id, organizationId: org.id }, 'organization created');
      return reply.redirect(`/orgs/${org.id}?done=created`, 303);
    } catch (err) {
      return refusal(reply, session, err, (errors, status) => renderList(reply, session, { name: name.trim(), errors }, status));
    }
  });

  app.get('/orgs/:orgId', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    return renderOrg(reply, session, membership, { notice: noticeOf(request, session) });
  });

  // The invite form. It makes no membership: it sends an invitation the invitee may accept.
  app.post('/orgs/:orgId/members', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, request.url.replace(/\/members$/, ''));
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    const email = formValue(request.body, 'email');
    const roleInput = formValue(request.body, 'role');
    try {
      const invitation = await inviteMember(actorOf(request, session), membership, email, roleInput);
      // Answered here rather than by a redirect, to name the address; the same page whether or
      // not an account uses it.
      return await renderOrg(reply, session, membership, { notice: translatorOf(request, session).t('orgs.notice.invited', { email: invitation.email }) });
    } catch (err) {
      return refusal(reply, session, err, (errors, status) => renderOrg(reply, session, membership, { invite: { email, role: parseRole(roleInput) ?? 'member' }, errors }, status));
    }
  });

  app.post('/orgs/:orgId/invitations/:invitationId/cancel', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, `/orgs/${idParam(request, 'orgId') ?? ''}`);
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    const invitationId = idParam(request, 'invitationId');
    if (invitationId === null) return sendNotFound(reply, session);
    try {
      await cancelInvitation(actorOf(request, session), membership, invitationId);
      return reply.redirect(`/orgs/${membership.organization.id}?done=cancelled`, 303);
    } catch (err) {
      return refusal(reply, session, err, (errors, status) => renderOrg(reply, session, membership, { errors }, status));
    }
  });

  // The invitee's answer. Another account gets 404: an invitation is matched on the signed-in
  // account's e-mail address, never on its id alone.
  for (const answer of ['accept', 'decline'] as const) {
    app.post(`/orgs/invitations/:invitationId/${answer}`, PAGE_ROUTE, async (request, reply) => {
      const session = await postSession(request, reply, '/orgs');
      if (!session) return reply;
      const invitationId = idParam(request, 'invitationId');
      if (invitationId === null) return sendNotFound(reply, session);
      try {
        if (answer === 'accept') {
          const invitation = await acceptInvitation(actorOf(request, session), invitationId);
          return reply.redirect(`/orgs/${invitation.organizationId}?done=joined`, 303);
        }
        await declineInvitation(actorOf(request, session), invitationId);
        return reply.redirect('/orgs?done=declined', 303);
      } catch (err) {
        return refusal(reply, session, err, (errors, status) => renderList(reply, session, { errors }, status));
      }
    });
  }

  app.post('/orgs/:orgId/members/:userId/role', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, `/orgs/${idParam(request, 'orgId') ?? ''}`);
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    const memberId = idParam(request, 'userId');
    if (memberId === null) return membership.role === 'admin' ? sendNotFound(reply, session) : sendForbidden(reply, translatorOf(request, session).t('orgs.error.onlyAdminRoles'), session);
    try {
      await changeRole(actorOf(request, session), membership, memberId, formValue(request.body, 'role'));
      return reply.redirect(`/orgs/${membership.organization.id}?done=role`, 303);
    } catch (err) {
      return refusal(reply, session, err, (errors, status) => renderOrg(reply, session, membership, { errors }, status));
    }
  });

  app.post('/orgs/:orgId/members/:userId/remove', PAGE_ROUTE, async (request, reply) => {
    const session = await postSession(request, reply, `/orgs/${idParam(request, 'orgId') ?? ''}`);
    if (!session) return reply;
    const membership = await membershipOf(request, reply, session);
    if (!membership) return reply;
    const memberId = idParam(request, 'userId');
    if (memberId === null) return membership.role === 'admin' ? sendNotFound(reply, session) : sendForbidden(reply, translatorOf(request, session).t('orgs.error.onlyAdminRemove'), session);
    try {
      const { self } = await removeMember(actorOf(request, session), membership, memberId);
      return reply.redirect(self ? '/orgs?done=left' : `/orgs/${membership.organization.id}?done=removed`, 303);
    } catch (err) {
      return refusal(reply, session, err, (errors, status) => renderOrg(reply, session, membership, { errors }, status));
    }
  });
}
