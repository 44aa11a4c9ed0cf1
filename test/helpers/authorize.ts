// The browser side of the authorization code flow: login, consent, decision
// (GET /oauth/authorize → … → redirect). Drives the flow over real HTTP the way a browser
// would: keeps cookies, never follows redirects on its own, and reads the forms' hidden fields
// from the HTML.
import assert from 'node:assert/strict';
import { CookieJar, httpRequest, type HttpResult } from './browser.js';
import { formMarkup, hiddenFields, radioOptions } from './html.js';

export const LOGIN_PATH = '/login';
export const DECISION_PATH = '/oauth/authorize/decision';

/** Signs in through the login page; returns the browser's cookies. Fails the test if refused. */
export async function signIn(server: { url: string }, email: string, password: string, jar = new CookieJar()): Promise<CookieJar> {
  const page = await httpRequest(server, 'GET', LOGIN_PATH, { jar });
  assert.equal(page.status, 200, `GET /login → ${page.status}`);
  const res = await httpRequest(server, 'POST', LOGIN_PATH, { jar, form: { ...hiddenFields(page.body, LOGIN_PATH), email, password } });
  assert.equal(res.status, 303, `sign-in of ${email} → ${res.status}`);
  return jar;
}

export interface AuthorizeOptions {
  clientId?: string;
  redirectUri?: string;
  /** Default `code`; null leaves it out. */
  responseType?: string | null;
  scope?: string;
  state?: string;
  codeChallenge?: string;
  /** Default S256 when codeChallenge is given. */
  codeChallengeMethod?: string;
  prompt?: string;
  /** Any further query parameters, appended as given (repeats allowed). */
  extra?: Array<[string, string]>;
  /** The organization to pick on the consent page (default: the preselected one, if any). */
  organizationId?: number | string;
  /** What to press on the consent page (default allow); 'stop' returns the consent page itself. */
  decision?: 'allow' | 'deny' | 'stop';
  /** Extra fields posted with the decision. */
  decisionFields?: Record<string, string>;
  /** The browser's cookies (a signed-in session, or a fresh jar); updated in place. */
  cookies?: CookieJar;
  /** Credentials for the login page, when it is shown; without them the flow stops there. */
  login?: { email: string; password: string };
  /** How the authorization request is sent (OpenID Connect Core §3.1.2.1: GET or a POSTed form); default GET. */
  method?: 'GET' | 'POST';
}

export interface AuthorizeResult {
  /** The last response. */
  final: HttpResult;
  status: number;
  location: string | null;
  /** The Location parsed, when the flow ended with a redirect to the client. */
  redirect: URL | null;
  code: string | null;
  state: string | null;
  error: string | null;
  errorDescription: string | null;
  loginShown: boolean;
  /** The login page's HTML when it was shown (the last one). */
  loginPage: string | null;
  consentShown: boolean;
  /** The consent page's HTML when it was shown (the last one). */
  consentPage: string | null;
  cookies: CookieJar;
}

/** The authorization request's path and query. */
export function authorizePath(options: AuthorizeOptions): string {
  return `/oauth/authorize?${authorizeParams(options).toString()}`;
}

/** The authorization request's parameters, in order. */
export function authorizeParams(options: AuthorizeOptions): URLSearchParams {
  const q = new URLSearchParams();
  if (options.responseType !== null) q.append('response_type', options.responseType ?? 'code');
  if (options.clientId !== undefined) q.append('client_id', options.clientId);
  if (options.redirectUri !== undefined) q.append('redirect_uri', options.redirectUri);
  if (options.scope !== undefined) q.append('scope', options.scope);
  if (options.state !== undefined) q.append('state', options.state);
  if (options.codeChallenge !== undefined) q.append('code_challenge', options.codeChallenge);
  const method = options.codeChallengeMethod ?? (options.codeChallenge !== undefined ? 'S256' : undefined);
  if (method !== undefined) q.append('code_challenge_method', method);
  if (options.prompt !== undefined) q.append('prompt', options.prompt);
  for (const [k, v] of options.extra ?? []) q.append(k, v);
  return q;
}

function isOurs(server: { url: string }, location: string): boolean {
  return new URL(location, server.url).origin === new URL(server.url).origin;
}

/**
 * Runs the flow from GET /oauth/authorize to the redirect back to the client, or to wherever
 * it stops: an error page, the login page without (or with wrong) credentials, the consent
 * page with decision 'stop' or a refused choice. Returns the final Location's code, state, error.
 */
export async function authorize(server: { url: string }, options: AuthorizeOptions): Promise<AuthorizeResult> {
  const jar = options.cookies ?? new CookieJar();
  let loginShown = false;
  let consentShown = false;
  let consentPage: string | null = null;
  let loginPage: string | null = null;
  let response = options.method === 'POST'
    ? await httpRequest(server, 'POST', '/oauth/authorize', { jar, form: authorizeParams(options) })
    : await httpRequest(server, 'GET', authorizePath(options), { jar });

  for (let step = 0; step < 10; step++) {
    const location = response.location;
    if (location !== null && response.status >= 300 && response.status < 400) {
      if (!isOurs(server, location)) break; // back at the client
      const target = new URL(location, server.url);
      const page = await httpRequest(server, 'GET', target.pathname + target.search, { jar });
      if (target.pathname !== LOGIN_PATH) {
        response = page;
        continue;
      }
      loginShown = true;
      if (page.status === 200) loginPage = page.body;
      if (!options.login || page.status !== 200) {
        response = page;
        break;
      }
      response = await httpRequest(server, 'POST', LOGIN_PATH, {
        jar, form: { ...hiddenFields(page.body, LOGIN_PATH), email: options.login.email, password: options.login.password },
      });
      if (response.status !== 303) break; // refused: the login page again
      continue;
    }
    if (response.status !== 200 || formMarkup(response.body, DECISION_PATH) === undefined) break;
    consentShown = true;
    consentPage = response.body;
    if (options.decision === 'stop') break;
    const form: Record<string, string> = { ...hiddenFields(response.body, DECISION_PATH), decision: options.decision ?? 'allow' };
    const preselected = radioOptions(response.body, 'organization_id').find((o) => o.checked);
    if (options.organizationId !== undefined) form.organization_id = String(options.organizationId);
    else if (preselected) form.organization_id = preselected.value;
    Object.assign(form, options.decisionFields);
    response = await httpRequest(server, 'POST', DECISION_PATH, { jar, form });
    if (response.status === 302 || response.status === 303) continue;
    // A refused choice shows the consent page again: stop there rather than loop.
    if (formMarkup(response.body, DECISION_PATH) !== undefined) consentPage = response.body;
    break;
  }

  const location = response.location;
  const redirect = location !== null && response.status >= 300 && response.status < 400 && !isOurs(server, location) ? new URL(location) : null;
  const param = (name: string) => redirect?.searchParams.get(name) ?? null;
  return {
    final: response,
    status: response.status,
    location,
    redirect,
    code: param('code'),
    state: param('state'),
    error: param('error'),
    errorDescription: param('error_description'),
    loginShown,
    loginPage,
    consentShown,
    consentPage,
    cookies: jar,
  };
}

/** Where the flow handed the browser back to the client: a redirect, or a form_post page. */
export interface ClientArrival {
  /** The redirect URI with the response in its query (response_mode=query). */
  redirect: URL | null;
  /** The POST the form_post page makes (response_mode=form_post): its action and fields. */
  formPost: { action: string; fields: Record<string, string> } | null;
}

/**
 * Plays the browser for an authorization URL a client library built: follows it through login
 * (as `user`) and consent, and returns what reached the client — the redirect, or the
 * self-submitting form of response_mode=form_post.
 */
export async function followAuthorizationUrl(
  server: { url: string },
  authorizationUrl: URL,
  user: { email: string; password: string },
  cookies?: CookieJar,
): Promise<ClientArrival> {
  assert.equal(authorizationUrl.origin + authorizationUrl.pathname, `${server.url}/oauth/authorize`);
  const q = authorizationUrl.searchParams;
  const known = new Set(['client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method']);
  const result = await authorize(server, {
    clientId: q.get('client_id') ?? undefined,
    redirectUri: q.get('redirect_uri') ?? undefined,
    responseType: q.get('response_type'),
    scope: q.get('scope') ?? undefined,
    state: q.get('state') ?? undefined,
    codeChallenge: q.get('code_challenge') ?? undefined,
    codeChallengeMethod: q.get('code_challenge_method') ?? undefined,
    extra: [...q.entries()].filter(([k]) => !known.has(k)),
    login: user,
    ...(cookies ? { cookies } : {}),
  });
  if (result.redirect) return { redirect: result.redirect, formPost: null };
  const action = q.get('redirect_uri') ?? '';
  assert.equal(result.status, 200, `the flow ended without reaching the client (status ${result.status})`);
  assert.ok(formMarkup(result.final.body, action) !== undefined, `the flow ended without a redirect or a form posting to ${action}`);
  return { redirect: null, formPost: { action, fields: hiddenFields(result.final.body, action) } };
}
