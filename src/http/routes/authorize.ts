// The browser side of the authorization code flow (RFC 6749 §4.1, OpenID Connect Core §3.1):
// GET and POST /oauth/authorize validate the request, send a visitor who must sign in (again)
// to the login page, show who is signed in for prompt=select_account, skip the page when
// remembered consent covers the request, or show the consent page; POST
// /oauth/authorize/decision takes the user's answer. The protocol lives in oauth/authorize.ts.
//
// Errors: before the client and redirect URI are validated, an OAuthError goes to the one
// error handler, which renders a 400 page (errorFormat 'html'); after, an
// AuthorizationResponseError goes to the client with error, state and iss — a 302, or with
// response_mode=form_post a self-submitting form (views/form-post.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  approveAuthorizationRequest,
  authorizationRequestParameters,
  authorizeWithRememberedConsent,
  AuthorizationResponseError,
  chooseOrganization,
  consentScope,
  decodeAuthorizationRequest,
  deniedResponse,
  encodeAuthorizationRequest,
  errorMayRedirect,
  errorPageInsteadOfRedirect,
  redirectHost,
  refuseUnreadableRequest,
  requiredInteraction,
  responseError,
  responseLocation,
  validateAuthorizationRequest,
  type AuthorizationRequest,
  type AuthorizationResponse,
  type LoginFacts,
  type SignedIn,
} from '../../oauth/authorize.js';
import { acrMeets, acrOfAmr, essentialAcrValues } from '../../oauth/acr.js';
import { strongestAcr } from '../../accounts/factors.js';
import { nowSeconds } from '../../oauth/clock.js';
import { OAuthError } from '../../oauth/errors.js';
import { PageError } from '../page-errors.js';
import { audit } from '../../audit.js';
import type { Organization, User } from '../../oauth/model.js';
import { consentPage } from '../../views/consent.js';
import { formPostPage, formPostPolicy } from '../../views/form-post.js';
import { selectAccountPage } from '../../views/select-account.js';
import { parseFormBody, parseFormBodyLenient } from '../plugins/params.js';
import { percentEncodeUnsafe } from '../plugins/security-headers.js';
import { loadSession, requireCsrf, sessionSid, type Session } from '../session.js';
import { pageTranslator } from '../locale.js';
import type { Translator } from '../../i18n/index.js';

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

/** Parameters that asked for the sign-in just made: coming back must not ask again (no loop). */
const SATISFIED_BY_LOGIN = new Set(['max_age', 'id_token_hint', 'login_hint']);
/** prompt values the login page (or the account choice) has answered. */
const PROMPTS_ANSWERED = new Set(['login', 'select_account']);

/**
 * The request URL for the login page (or the account choice) to come back to: without `login`
 * and `select_account` in `prompt`, and without max_age, id_token_hint and login_hint, which
 * the sign-in just made has answered. The ID token's auth_time still tells the client when it
 * was. Every other parameter is kept byte for byte, so state comes back exactly as sent.
 */
export function returnAfterLogin(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const kept: string[] = [];
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const name = safeDecode(eq === -1 ? pair : pair.slice(0, eq));
    if (SATISFIED_BY_LOGIN.has(name)) continue;
    if (name !== 'prompt') {
      kept.push(pair);
      continue;
    }
    const rest = safeDecode(eq === -1 ? '' : pair.slice(eq + 1)).split(' ').filter((p) => p !== '' && !PROMPTS_ANSWERED.has(p));
    if (rest.length > 0) kept.push(`prompt=${encodeURIComponent(rest.join(' '))}`);
  }
  const path = url.slice(0, q);
  return kept.length > 0 ? `${path}?${kept.join('&')}` : path;
}

/** The login page, coming back to `next`; `login_hint` pre-fills the e-mail, `other` empties it. */
function loginLocation(next: string, options: { loginHint?: string | null; otherAccount?: boolean } = {}): string {
  let location = `/login?next=${encodeURIComponent(next)}`;
  if (options.loginHint) location += `&login_hint=${encodeURIComponent(options.loginHint)}`;
  if (options.otherAccount) location += '&account=other';
  return location;
}

/**
 * The longest Location this endpoint sends. What it carries comes from the request: the state
 * in an answer to the client, and on the way to the login page the whole request once more
 * percent-encoded (up to five times its size). A POSTed request may be 64 KiB, and Node's and
 * undici's HTTP clients refuse a response head over 16 KiB (the other headers take about 400
 * bytes), so an answer that would not fit is refused in words the user can read instead.
 */
const MAX_LOCATION = 15 * 1024;

function tooLargeToAnswer(length: number): OAuthError {
  return new PageError('invalid_request', `The application's request is too large to answer: the way back to it would be ${length} characters long. `
    + 'Go back to the application and try again.', ({ t }) => t('error.tooLargeToAnswer', { length }));
}

/** The answer to the client (RFC 6749 §4.1.2): a 302 that no cache keeps, as it may carry a code. */
function redirectToClient(reply: FastifyReply, location: string): FastifyReply {
  const encoded = percentEncodeUnsafe(location);
  if (encoded.length > MAX_LOCATION) throw tooLargeToAnswer(encoded.length);
  return reply.header('Cache-Control', 'no-store').redirect(encoded, 302);
}

/**
 * Delivers an authorization response (success or error) by its response mode: a 302 with the
 * parameters in the query, or (form_post) a page that posts them to the redirect URI, with a
 * CSP of its own that lets exactly its submit script run and its form go to that URI's origin.
 */
function deliver(reply: FastifyReply, response: AuthorizationResponse): FastifyReply {
  if (response.responseMode === 'form_post') {
    return reply.code(200).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').header('Pragma', 'no-cache')
      .header('Content-Security-Policy', formPostPolicy(response.redirectUri))
      .send(formPostPage(response.redirectUri, response.parameters, pageTranslator(reply.request)).toString());
  }
  return redirectToClient(reply, responseLocation(response));
}

/** The session's login as the code and its ID tokens record it, with the RFC 8176 methods the login used. */
function loginFacts(session: Session): LoginFacts {
  return { authTime: session.authTime, sid: sessionSid(session) ?? '', amr: session.amr.length > 0 ? session.amr : ['pwd'] };
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
      const page = errorPageInsteadOfRedirect(err);
      throw new PageError(page.code, page.description, ({ t }) => t('error.notRedirected', { error: `${err.code}: ${err.description}`, host: redirectHost(err.redirectUri) }), page.status);
    }
    return deliver(reply, err.response());
  }
}

/** One text field of the posted form; repeated or non-text values count as missing. */
function formField(body: unknown, name: string): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** A POSTed authorization form whose encoding is broken, read leniently (plugins/params.ts parseFormBodyLenient). */
class UnreadableForm {
  constructor(readonly params: Record<string, unknown>, readonly error: OAuthError) {}
}

interface ConsentView {
  request: AuthorizationRequest;
  session: Session & { user: User };
  organizations: readonly Organization[];
  selectedOrganizationId?: number | null;
  error?: string | null;
  status?: number;
}

/** The language of the pages of an authorization request: the account's, else its ui_locales, else the browser's. */
function requestTranslator(request: FastifyRequest, authz: AuthorizationRequest, user: User): Translator {
  return pageTranslator(request, { user, uiLocales: authz.oidc?.uiLocales ?? null });
}

function sendConsentPage(reply: FastifyReply, view: ConsentView): FastifyReply {
  const enabled = view.organizations.filter((o) => o.integrationsEnabled);
  // With exactly one organization that can be chosen, choose it for the user.
  const selected = view.selectedOrganizationId ?? (enabled.length === 1 ? (enabled[0]?.id ?? null) : null);
  const page = consentPage({
    clientName: view.request.client.name,
    redirectUri: view.request.redirectUri,
    scope: consentScope(view.request),
    organizations: view.organizations,
    selectedOrganizationId: selected,
    authorizationRequest: encodeAuthorizationRequest(authorizationRequestParameters(view.request)),
    csrfToken: view.session.csrfToken,
    userName: view.session.user.name,
    userEmail: view.session.user.email,
    error: view.error ?? null,
    t: requestTranslator(reply.request, view.request, view.session.user),
  });
  return reply.code(view.status ?? 200).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page.toString());
}

async function organizationsOf(request: FastifyRequest, userId: number): Promise<Organization[]> {
  return (await request.server.services.orgs.listForUser(userId)).map((m) => m.organization);
}

export async function authorizeRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  // POST /oauth/authorize reads its own forms: one whose percent-encoding or UTF-8 is broken is
  // still a request from a client whose redirect URI can be checked, and is refused there as
  // invalid_request like any malformed parameter, rather than as a page (which is what the
  // strict parser makes of it everywhere else, the consent decision included).
  app.removeContentTypeParser('application/x-www-form-urlencoded');
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: app.initialConfig.bodyLimit }, (request, body, done) => {
    try {
      done(null, parseFormBody(body as string));
    } catch (err) {
      if (!(err instanceof OAuthError) || request.routeOptions.url !== AUTHORIZE_PATH) {
        done(err as Error);
        return;
      }
      done(null, new UnreadableForm(parseFormBodyLenient(body as string), err));
    }
  });

  /**
   * GET and POST /oauth/authorize (Core §3.1.2.1: both must be supported): `params` from the
   * query or the form; `unreadable` says why a form could not be read exactly.
   */
  async function authorize(request: FastifyRequest, reply: FastifyReply, params: Record<string, unknown>, url: string, unreadable?: string): Promise<FastifyReply> {
    return answeringByRedirect(request, reply, async () => {
      if (unreadable !== undefined) await refuseUnreadableRequest(params, services, unreadable);
      // Validate before any interaction: a bad request is answered at once, not after a login.
      // The session is looked up meanwhile (independent queries; a validation error still wins).
      const [authz, session] = await Promise.all([validateAuthorizationRequest(params, services), loadSession(request)]);
      const signedIn: SignedIn | null = session?.user ? { subject: session.user.subject, email: session.user.email, authTime: session.authTime, amr: loginFacts(session).amr } : null;
      // Under an essential acr request: what a new sign-in of this account could reach.
      const acrWanted = essentialAcrValues(authz.oidc?.claims);
      if (signedIn !== null && session?.user && acrWanted !== null) {
        signedIn.strongestAcr = await strongestAcr(services, session.user.id);
        if (!acrMeets(acrOfAmr(signedIn.amr ?? []), acrWanted)) {
          audit(request.log, 'login.acr_unmet', {
            user_id: session.user.id, client_id: authz.client.clientId, address: request.ip, reason: acrMeets(signedIn.strongestAcr, acrWanted) ? 'step_up' : 'denied',
          });
        }
      }
      // prompt=none never shows a page: whatever would need one is an error at the redirect URI.
      const interaction = requiredInteraction(authz, signedIn, nowSeconds(services.clock));
      const back = returnAfterLogin(url);
      if (interaction === 'login') {
        const location = loginLocation(back, { loginHint: authz.oidc?.loginHint ?? null });
        if (location.length > MAX_LOCATION) throw responseError(authz, 'invalid_request', 'the authorization request is too large to come back to after signing in');
        return reply.header('Cache-Control', 'no-store').redirect(location, 303);
      }
      const userSession = session as Session & { user: User };
      const user = userSession.user;
      if (interaction === 'select_account') {
        const page = selectAccountPage({
          clientName: authz.client.name, userName: user.name, userEmail: user.email, csrfToken: userSession.csrfToken,
          continueUrl: back, otherAccountUrl: loginLocation(back, { otherAccount: true }),
          t: requestTranslator(request, authz, user),
        });
        return reply.type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page.toString());
      }

      const organizations = await organizationsOf(request, user.id);
      const issued = await authorizeWithRememberedConsent(services, authz, user.id, organizations, loginFacts(userSession));
      if (issued) {
        request.log.info({ event: 'code_issued', clientId: authz.client.clientId, userId: user.id, organizationId: issued.organizationId, grantId: issued.grantId, consent: 'remembered' }, 'authorization code issued');
        return deliver(reply, issued.response);
      }
      return sendConsentPage(reply, { request: authz, session: userSession, organizations });
    }, (err) => errorMayRedirect(services, err, async () => (await loadSession(request))?.user?.id ?? null));
  }

  app.get(AUTHORIZE_PATH, PAGE, async (request, reply) => {
    // The query parser lets broken percent-encoding or UTF-8 through as it can; checked
    // strictly here, so that GET answers it as POST does (invalid_request at the redirect URI).
    const q = request.url.indexOf('?');
    const rawQuery = q === -1 ? '' : request.url.slice(q + 1);
    try {
      parseFormBody(rawQuery);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      return authorize(request, reply, parseFormBodyLenient(rawQuery), AUTHORIZE_PATH, 'the query string is not valid percent-encoded UTF-8');
    }
    return authorize(request, reply, request.query as Record<string, unknown>, request.url);
  });

  app.post(AUTHORIZE_PATH, PAGE, async (request, reply) => {
    const body = request.body;
    if (body instanceof UnreadableForm) return authorize(request, reply, body.params, AUTHORIZE_PATH, body.error.description);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new OAuthError('invalid_request', 'The authorization request must be sent as a form (application/x-www-form-urlencoded).', { status: 400 });
    }
    const params = body as Record<string, unknown>;
    // Where the login page comes back to: the same request as a GET (every value is a string
    // by now unless repeated, and a repeat has already been refused by validation).
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (typeof value === 'string') query.append(name, value);
      // RFC 8707: `resource` may repeat; other repeats are refused by validation.
      else if (Array.isArray(value)) for (const v of value) if (typeof v === 'string') query.append(name, v);
    }
    return authorize(request, reply, params, `${AUTHORIZE_PATH}?${query.toString()}`);
  });

  app.post(DECISION_PATH, PAGE, async (request, reply) => {
    // CSRF first (403, nothing changes): the decision must come from our own consent page.
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    const wire = decodeAuthorizationRequest(formField(request.body, 'authorization_request'));
    if (!wire) throw new PageError('invalid_request', 'The form is incomplete. Go back to the application and start again.', ({ t }) => t('error.formIncomplete'));

    // Errors redirect here whatever the client: the user is answering its consent page.
    return answeringByRedirect(request, reply, async () => {
      // Everything is checked again: the form is in the user's hands.
      const authz = await validateAuthorizationRequest(wire, services);
      if (!session.user) {
        // Signed out in another tab: sign in again, then the request starts over.
        const location = loginLocation(`${AUTHORIZE_PATH}?${new URLSearchParams(wire).toString()}`);
        if (location.length > MAX_LOCATION) throw tooLargeToAnswer(location.length);
        return reply.redirect(location, 303);
      }
      const user = session.user;
      const decision = formField(request.body, 'decision');
      if (decision === 'deny') {
        audit(request.log, 'consent.denied', { client_id: authz.client.clientId, user_id: user.id, address: request.ip });
        return deliver(reply, deniedResponse(authz));
      }

      // The form carries `claims` (not prompt, max_age or the hints, answered before the page):
      // its sub and an essential acr are checked against this session again (a hand-made POST).
      const signedIn: SignedIn = { subject: user.subject, email: user.email, authTime: session.authTime, amr: loginFacts(session).amr };
      if (essentialAcrValues(authz.oidc?.claims) !== null) signedIn.strongestAcr = await strongestAcr(services, user.id);
      if (requiredInteraction(authz, signedIn, nowSeconds(services.clock)) === 'login') {
        const location = loginLocation(`${AUTHORIZE_PATH}?${new URLSearchParams(wire).toString()}`);
        if (location.length > MAX_LOCATION) throw tooLargeToAnswer(location.length);
        return reply.redirect(location, 303);
      }

      const organizations = await organizationsOf(request, user.id);
      const userSession = session as Session & { user: User };
      const { t } = requestTranslator(request, authz, user);
      if (decision !== 'allow') {
        return sendConsentPage(reply, { request: authz, session: userSession, organizations, error: t('consent.error.chooseDecision'), status: 400 });
      }
      const choice = chooseOrganization(organizations, formField(request.body, 'organization_id'));
      if (!choice.ok) {
        // Membership and the plan are checked here, not only on the page (a hand-made POST).
        const error = choice.reason === 'integrations_off'
          ? t('consent.integrationsOff')
          : choice.reason === 'missing' ? t('consent.error.chooseOrganization') : t('consent.error.notMember');
        return sendConsentPage(reply, { request: authz, session: userSession, organizations, error, status: choice.reason === 'integrations_off' ? 403 : 400 });
      }

      const issued = await approveAuthorizationRequest(services, authz, user.id, choice.organizationId, loginFacts(userSession));
      audit(request.log, 'consent.granted', { client_id: authz.client.clientId, user_id: user.id, organization_id: choice.organizationId, grant_id: issued.grantId, scope: authz.scope.join(' '), address: request.ip });
      return deliver(reply, issued.response);
    });
  });
}
