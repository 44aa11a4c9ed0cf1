// RP-Initiated Logout 1.0 (SPEC.md "Logout"): GET and POST /oauth/logout, and the POST of its
// confirmation page. What to do is decided in oauth/logout.ts; this file reads the request and
// the session, ends the session, and answers with a redirect (303) or a page.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../../audit.js';
import { confirmedLogoutLocation, decideLogout, logoutRequest, type LogoutDeps } from '../../oauth/logout.js';
import type { User } from '../../oauth/model.js';
import { confirmLogoutPage, LOGOUT_CONFIRM_PATH, signedOutPage } from '../../views/logout.js';
import { PAGE_ROUTE, sendPage } from '../pages.js';
import { formActionPolicy, percentEncodeUnsafe } from '../plugins/security-headers.js';
import { endSession, loadSession, requireCsrf, sessionSid } from '../session.js';
import { pageTranslator } from '../locale.js';

export const LOGOUT_PATH = '/oauth/logout';

function logoutDeps(request: FastifyRequest): LogoutDeps {
  const { services } = request.server;
  return { clients: services.clients, signingKeys: services.signingKeys, issuer: services.config.issuer };
}

/** The request's `ui_locales` (accepted by logoutRequest, which has already refused a repeated one). */
function uiLocalesOf(sources: unknown[]): string | null {
  for (const source of sources) {
    const value = source !== null && typeof source === 'object' ? (source as Record<string, unknown>).ui_locales : undefined;
    if (typeof value === 'string') return value;
  }
  return null;
}

/** Ends the browser session (if any), then goes back to the client or shows the signed-out page. */
async function signOut(
  request: FastifyRequest, reply: FastifyReply, user: User | null, clientId: string | null, location: string | null,
  offer?: { clientName: string; location: string }, uiLocales: string | null = null,
): Promise<FastifyReply> {
  // The signed-out page still speaks the language of the account that just signed out.
  const t = pageTranslator(request, { user, uiLocales });
  await endSession(request, reply);
  if (user) audit(request.log, 'logout.rp_initiated', { user_id: user.id, client_id: clientId, address: request.ip });
  if (location === null) return sendPage(reply, signedOutPage(offer, t));
  return reply.header('Cache-Control', 'no-store').redirect(percentEncodeUnsafe(location), 303);
}

/** Both methods of /oauth/logout: the parameters come in the query (GET) or the form body (POST). */
async function logout(request: FastifyRequest, reply: FastifyReply, sources: unknown[]): Promise<FastifyReply> {
  const params = logoutRequest(...sources);
  const session = await loadSession(request);
  const user = session?.user ?? null;
  const signedIn = session !== null && user !== null ? { subject: user.subject, sid: sessionSid(session) } : null;
  const decision = await decideLogout(params, logoutDeps(request), signedIn);
  if (decision.action === 'end' || session === null || user === null) {
    // decideLogout asks only a signed-in user; nobody signed in has nothing to confirm.
    const location = decision.action === 'end' ? decision.location : null;
    const offer = decision.action === 'end' && decision.offer !== undefined && decision.client !== null
      ? { clientName: decision.client.name, location: decision.offer } : undefined;
    return signOut(request, reply, user, decision.client?.clientId ?? null, location, offer, uiLocalesOf(sources));
  }
  const goBack = decision.client !== null && decision.postLogoutRedirectUri !== null;
  const page = confirmLogoutPage({
    userName: user.name,
    userEmail: user.email,
    csrfToken: session.csrfToken,
    clientName: decision.client?.name ?? null,
    reason: decision.reason,
    clientId: goBack ? (decision.client?.clientId ?? null) : null,
    postLogoutRedirectUri: goBack ? decision.postLogoutRedirectUri : null,
    state: goBack ? decision.state : null,
    t: pageTranslator(request, { user, uiLocales: uiLocalesOf(sources) }),
  });
  // The form's answer redirects to the client: its origin must be a form-action source (Chromium checks redirects).
  reply.header('Content-Security-Policy', formActionPolicy(goBack && decision.postLogoutRedirectUri !== null ? [decision.postLogoutRedirectUri] : []));
  return sendPage(reply, page);
}

export async function logoutRoutes(app: FastifyInstance): Promise<void> {
  app.get(LOGOUT_PATH, PAGE_ROUTE, async (request, reply) => logout(request, reply, [request.query]));

  app.post(LOGOUT_PATH, PAGE_ROUTE, async (request, reply) => logout(request, reply, [request.query, request.body]));

  app.post(LOGOUT_CONFIRM_PATH, PAGE_ROUTE, async (request, reply) => {
    // CSRF first (403, nothing ends): the confirmation must come from our own page.
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    // The form's fields are read as strictly as the request's: a repeated or NUL-holding one is a 400.
    const fields = logoutRequest(request.body);
    const location = await confirmedLogoutLocation(fields, logoutDeps(request));
    return signOut(request, reply, session.user, location === null ? null : (fields.clientId ?? null), location);
  });
}
