// The browser side of the authorization code flow (RFC 6749 §4.1): GET /oauth/authorize
// validates the request, sends a visitor without a session to the login page, skips the page
// when remembered consent covers the request, or shows the consent page; POST
// /oauth/authorize/decision takes the user's answer. The protocol lives in oauth/authorize.ts.
//
// Errors: before the client and redirect URI are validated, an OAuthError goes to the one
// error handler, which renders a 400 page (errorFormat 'html'); after, an
// AuthorizationResponseError becomes a 302 to the client with error and state.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  approveAuthorizationRequest,
  authorizationRequestParameters,
  authorizeWithRememberedConsent,
  AuthorizationResponseError,
  chooseOrganization,
  decodeAuthorizationRequest,
  deniedLocation,
  encodeAuthorizationRequest,
  errorMayRedirect,
  errorPageInsteadOfRedirect,
  responseError,
  validateAuthorizationRequest,
  type AuthorizationRequest,
} from '../../oauth/authorize.js';
import { OAuthError } from '../../oauth/errors.js';
import { audit } from '../../audit.js';
import type { Organization, User } from '../../oauth/model.js';
import { consentPage, INTEGRATIONS_OFF_MESSAGE } from '../../views/consent.js';
import { percentEncodeUnsafe } from '../plugins/security-headers.js';
import { loadSession, requireCsrf, type Session } from '../session.js';

export const AUTHORIZE_PATH = '/oauth/authorize';
export const DECISION_PATH = '/oauth/authorize/decision';

const PAGE = { config: { errorFormat: 'html' as const } };

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/**
 * The request URL without `login` in `prompt`, for the login page to come back to: the
 * password has just been asked for, so coming back must not ask again (no loop). Every other
 * parameter is kept byte for byte, so state comes back exactly as sent.
 */
export function withoutPromptLogin(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const kept: string[] = [];
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    if (safeDecode(eq === -1 ? pair : pair.slice(0, eq)) !== 'prompt') {
      kept.push(pair);
      continue;
    }
    const rest = safeDecode(eq === -1 ? '' : pair.slice(eq + 1)).split(' ').filter((p) => p !== '' && p !== 'login');
    if (rest.length > 0) kept.push(`prompt=${encodeURIComponent(rest.join(' '))}`);
  }
  const path = url.slice(0, q);
  return kept.length > 0 ? `${path}?${kept.join('&')}` : path;
}

function loginLocation(next: string): string {
  return `/login?next=${encodeURIComponent(next)}`;
}

/** The answer to the client (RFC 6749 §4.1.2): a 302 that no cache keeps, as it may carry a code. */
function redirectToClient(reply: FastifyReply, location: string): FastifyReply {
  return reply.header('Cache-Control', 'no-store').redirect(percentEncodeUnsafe(location), 302);
}

/**
 * Runs a handler step; an error the client may learn by redirect becomes that redirect, unless
 * `mayRedirect` says no (an untrusted client the user has not seen yet): then a 400 page that
 * names the redirect host (RFC 9700 §4.11.2).
 */
async function answeringByRedirect(
  request: FastifyRequest,
  reply: FastifyReply,
  work: () => Promise<FastifyReply>,
  mayRedirect: (err: AuthorizationResponseError) => Promise<boolean> = async () => true,
): Promise<FastifyReply> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof AuthorizationResponseError)) throw err;
    request.log.debug({ error: err.code, description: err.description }, 'authorization request refused');
    if (!(await mayRedirect(err))) {
      request.log.info({ event: 'authorization_error_not_redirected', error: err.code, clientId: err.client.id }, 'untrusted client: error shown, not redirected');
      throw errorPageInsteadOfRedirect(err);
    }
    return redirectToClient(reply, err.location());
  }
}

/** One text field of the posted form; repeated or non-text values count as missing. */
function formField(body: unknown, name: string): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

interface ConsentView {
  request: AuthorizationRequest;
  session: Session & { user: User };
  organizations: readonly Organization[];
  selectedOrganizationId?: number | null;
  error?: string | null;
  status?: number;
}

function sendConsentPage(reply: FastifyReply, view: ConsentView): FastifyReply {
  const enabled = view.organizations.filter((o) => o.integrationsEnabled);
  // With exactly one organization that can be chosen, choose it for the user.
  const selected = view.selectedOrganizationId ?? (enabled.length === 1 ? (enabled[0]?.id ?? null) : null);
  const page = consentPage({
    clientName: view.request.client.name,
    redirectUri: view.request.redirectUri,
    scope: view.request.scope,
    organizations: view.organizations,
    selectedOrganizationId: selected,
    authorizationRequest: encodeAuthorizationRequest(authorizationRequestParameters(view.request)),
    csrfToken: view.session.csrfToken,
    userName: view.session.user.name,
    userEmail: view.session.user.email,
    error: view.error ?? null,
  });
  return reply.code(view.status ?? 200).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page.toString());
}

async function organizationsOf(request: FastifyRequest, userId: number): Promise<Organization[]> {
  return (await request.server.services.orgs.listForUser(userId)).map((m) => m.organization);
}

export async function authorizeRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  app.get(AUTHORIZE_PATH, PAGE, async (request, reply) =>
    answeringByRedirect(request, reply, async () => {
      // Validate before any interaction: a bad request is answered at once, not after a login.
      // The session is looked up meanwhile (independent queries; a validation error still wins).
      const [authz, session] = await Promise.all([
        validateAuthorizationRequest(request.query as Record<string, unknown>, services),
        loadSession(request),
      ]);
      const returnTo = withoutPromptLogin(request.url);

      if (!session?.user) {
        // OpenID Connect Core §3.1.2.6: prompt=none must not show a page.
        if (authz.prompt.has('none')) throw responseError(authz, 'login_required', 'the user is not signed in');
        return reply.header('Cache-Control', 'no-store').redirect(loginLocation(returnTo), 303);
      }
      // prompt=login: ask for the password again even though a session exists; the login page
      // comes back to the request without prompt=login.
      if (authz.prompt.has('login')) return reply.header('Cache-Control', 'no-store').redirect(loginLocation(returnTo), 303);

      const user = session.user;
      const organizations = await organizationsOf(request, user.id);
      const issued = await authorizeWithRememberedConsent(services, authz, user.id, organizations);
      if (issued) {
        request.log.info({ event: 'code_issued', clientId: authz.client.clientId, userId: user.id, organizationId: issued.organizationId, grantId: issued.grantId, consent: 'remembered' }, 'authorization code issued');
        return redirectToClient(reply, issued.location);
      }
      return sendConsentPage(reply, { request: authz, session: session as Session & { user: User }, organizations });
    }, (err) => errorMayRedirect(services, err, async () => (await loadSession(request))?.user?.id ?? null)));

  app.post(DECISION_PATH, PAGE, async (request, reply) => {
    // CSRF first (403, nothing changes): the decision must come from our own consent page.
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    const wire = decodeAuthorizationRequest(formField(request.body, 'authorization_request'));
    if (!wire) throw new OAuthError('invalid_request', 'The form is incomplete. Go back to the application and start again.', { status: 400 });

    // Errors redirect here whatever the client: the user is answering its consent page.
    return answeringByRedirect(request, reply, async () => {
      // Everything is checked again: the form is in the user's hands.
      const authz = await validateAuthorizationRequest(wire, services);
      if (!session.user) {
        // Signed out in another tab: sign in again, then the request starts over.
        return reply.redirect(loginLocation(`${AUTHORIZE_PATH}?${new URLSearchParams(wire).toString()}`), 303);
      }
      const user = session.user;
      const decision = formField(request.body, 'decision');
      if (decision === 'deny') {
        audit(request.log, 'consent.denied', { client_id: authz.client.clientId, user_id: user.id, address: request.ip });
        return redirectToClient(reply, deniedLocation(authz));
      }

      const organizations = await organizationsOf(request, user.id);
      const userSession = session as Session & { user: User };
      if (decision !== 'allow') {
        return sendConsentPage(reply, { request: authz, session: userSession, organizations, error: 'Choose Allow or Deny.', status: 400 });
      }
      const choice = chooseOrganization(organizations, formField(request.body, 'organization_id'));
      if (!choice.ok) {
        // Membership and the plan are checked here, not only on the page (a hand-made POST).
        const error = choice.reason === 'integrations_off'
          ? INTEGRATIONS_OFF_MESSAGE
          : choice.reason === 'missing' ? 'Choose the organization this access is for.' : 'You are not a member of that organization.';
        return sendConsentPage(reply, { request: authz, session: userSession, organizations, error, status: choice.reason === 'integrations_off' ? 403 : 400 });
      }

      const issued = await approveAuthorizationRequest(services, authz, user.id, choice.organizationId);
      audit(request.log, 'consent.granted', { client_id: authz.client.clientId, user_id: user.id, organization_id: choice.organizationId, grant_id: issued.grantId, scope: authz.scope.join(' '), address: request.ip });
      return redirectToClient(reply, issued.location);
    });
  });
}
