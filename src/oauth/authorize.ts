// The authorization endpoint's protocol (RFC 6749 §4.1.1–§4.1.2, RFC 7636, RFC 9700 §2.1 and
// §4.1): validate an authorization request, decide whether remembered consent covers it,
// record consent, and issue an authorization code. Framework-free: the HTTP layer
// (src/http/routes/authorize.ts) parses, calls these functions and writes the answer.
//
// Two kinds of failure (RFC 6749 §4.1.2.1):
// - until the client and its redirect URI are known good, an error is an OAuthError shown to
//   the user as an HTML page, never a redirect (otherwise the endpoint is an open redirector,
//   RFC 9700 §4.1.1 / RFC 6749 §10.15);
// - after that, an AuthorizationResponseError, which the HTTP layer turns into a redirect to
//   the client with `error`, `error_description` and the original `state` — except, for a
//   client anyone could register (the developer portal), until the user has signed in and seen
//   its consent page: then it is a page naming the redirect host (RFC 9700 §4.11.2).
import type { Config } from '../config/load.js';
import type { Client, Organization } from './model.js';
import type { ClientPort, CodePort, ConsentPort, GrantPort, RootPick } from './ports.js';
import { nowSeconds, type Clock } from './clock.js';
import { newOrderedSecret, tokenKey } from './crypto.js';
import { OAuthError, type OAuthErrorCode } from './errors.js';
import { isRegisteredRedirectUri } from './redirect-uri.js';
import { formatScope, isSubset, parseScope } from './scope.js';

/** Parameters as parsed from a query string or form: a value, or an array when repeated. */
export type ParamSource = Readonly<Record<string, unknown>>;

/** OpenID Connect Core §3.1.2.1 `prompt` values we honour. */
export type Prompt = 'none' | 'login' | 'consent';

export interface AuthorizationRequest {
  client: Client;
  /** The redirect URI the response goes to: the one sent, or the client's only one. */
  redirectUri: string;
  /** Whether the request carried redirect_uri; the token request must then repeat it (RFC 6749 §4.1.3). */
  redirectUriSent: boolean;
  /** Echoed unchanged in every response (RFC 6749 §4.1.2); undefined when not sent. */
  state: string | undefined;
  /** Requested scope, or the client's full set when none was asked for (SPEC.md). */
  scope: string[];
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | null;
  prompt: ReadonlySet<Prompt>;
}

/**
 * An error the client learns about by redirect (RFC 6749 §4.1.2.1): only ever built once the
 * redirect URI has been checked against the client's registration.
 */
export class AuthorizationResponseError extends OAuthError {
  override name = 'AuthorizationResponseError';
  constructor(
    code: OAuthErrorCode,
    description: string,
    readonly redirectUri: string,
    readonly state: string | undefined,
    /** The client the error would go to: whether it is trusted decides redirect or page. */
    readonly client: Pick<Client, 'id' | 'trusted'>,
  ) {
    super(code, description);
  }

  /** REDIRECT_URI?error=…&error_description=…&state=… */
  location(): string {
    return appendQuery(this.redirectUri, { error: this.code, error_description: this.description, state: this.state });
  }
}

/** An error answered by redirect to this request's (validated) redirect URI. */
export function responseError(request: AuthorizationRequest, code: OAuthErrorCode, description: string): AuthorizationResponseError {
  return new AuthorizationResponseError(code, description, request.redirectUri, request.state, request.client);
}

// RFC 7636 §4.2: the S256 challenge is BASE64URL(SHA256(verifier)), 43 characters; we accept
// the 43–128 base64url characters of the verifier's own length range and no more.
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43,128}$/;
const MAX_CLIENT_ID_LENGTH = 200;

type Param = { kind: 'absent' } | { kind: 'value'; value: string } | { kind: 'repeated' } | { kind: 'invalid' };

function readParam(params: ParamSource, name: string): Param {
  if (!Object.prototype.hasOwnProperty.call(params, name)) return { kind: 'absent' };
  const value = params[name];
  if (value === undefined || value === null) return { kind: 'absent' };
  if (Array.isArray(value)) return { kind: 'repeated' };
  if (typeof value !== 'string') return { kind: 'invalid' };
  // RFC 6749 §3.1: "Parameters sent without a value MUST be treated as if they were omitted."
  if (value === '') return { kind: 'absent' };
  return { kind: 'value', value };
}

/** 400 page: the client or redirect URI is not trusted yet, so nothing may redirect. */
function pageError(code: OAuthErrorCode, description: string): OAuthError {
  return new OAuthError(code, description, { status: 400 });
}

/** A parameter read before the redirect URI is validated: repeats are a page error too. */
function pageParam(params: ParamSource, name: string): string | undefined {
  const p = readParam(params, name);
  if (p.kind === 'repeated') throw pageError('invalid_request', `The request names ${name} more than once. Go back to the application and try again.`);
  if (p.kind === 'invalid') throw pageError('invalid_request', `The request's ${name} is not a text value.`);
  return p.kind === 'value' ? p.value : undefined;
}

/** Parses `prompt` (OpenID Connect Core §3.1.2.1); null when it holds an unknown value or combines none with others. */
export function parsePrompt(value: string | undefined): Set<Prompt> | null {
  const prompts = new Set<Prompt>();
  if (value === undefined) return prompts;
  for (const part of value.split(' ')) {
    if (part === '') continue;
    if (part !== 'none' && part !== 'login' && part !== 'consent') return null;
    prompts.add(part);
  }
  if (prompts.has('none') && prompts.size > 1) return null;
  return prompts;
}

export interface ValidateDeps {
  clients: RootPick<ClientPort, 'findByClientId'>;
  config: Pick<Config, 'scopes'>;
}

/**
 * Validates an authorization request (RFC 6749 §4.1.1). Throws OAuthError (to be shown as a
 * 400 page) while the client or redirect URI is in doubt, AuthorizationResponseError after.
 */
export async function validateAuthorizationRequest(params: ParamSource, deps: ValidateDeps): Promise<AuthorizationRequest> {
  // 1. Who is asking (RFC 6749 §4.1.2.1: never redirect for a bad client_id or redirect_uri).
  const clientId = pageParam(params, 'client_id');
  if (clientId === undefined) throw pageError('invalid_request', 'The request does not say which application it is for (client_id is missing).');
  // No client id is that long or holds NUL (which PostgreSQL refuses in text): no lookup needed.
  const client = clientId.length <= MAX_CLIENT_ID_LENGTH && !clientId.includes('\0') ? await deps.clients.findByClientId(clientId) : undefined;
  if (!client) throw pageError('invalid_client', 'The application that sent you here is not registered (unknown client_id).');

  // 2. Where the answer goes: an exact string match against the registration (RFC 6749
  //    §3.1.2.3, RFC 9700 §2.1 and §4.1.3: no normalisation, no patterns). It may be left out
  //    only when exactly one is registered (RFC 6749 §3.1.2.3).
  const sentRedirectUri = pageParam(params, 'redirect_uri');
  let redirectUri: string;
  if (sentRedirectUri === undefined) {
    const [only, ...others] = client.redirectUris;
    if (only === undefined || others.length > 0) {
      throw pageError('invalid_request', 'The request has no redirect_uri, and the application has registered more than one.');
    }
    redirectUri = only;
  } else {
    if (!isRegisteredRedirectUri(client.redirectUris, sentRedirectUri)) {
      throw pageError('invalid_request', 'The redirect_uri of this request is not registered for the application.');
    }
    redirectUri = sentRedirectUri;
  }

  // From here on every error goes back to the client by redirect, with the original state.
  const stateParam = readParam(params, 'state');
  const state = stateParam.kind === 'value' ? stateParam.value : undefined;
  const fail = (code: OAuthErrorCode, description: string) => new AuthorizationResponseError(code, description, redirectUri, state, client);

  const values: Partial<Record<'response_type' | 'scope' | 'code_challenge' | 'code_challenge_method' | 'prompt', string>> = {};
  for (const name of ['state', 'response_type', 'scope', 'code_challenge', 'code_challenge_method', 'prompt'] as const) {
    const p = name === 'state' ? stateParam : readParam(params, name);
    // RFC 6749 §3.1: request and response parameters must not be included more than once.
    if (p.kind === 'repeated') throw fail('invalid_request', `${name} must not be repeated (RFC 6749 section 3.1)`);
    if (p.kind === 'invalid') throw fail('invalid_request', `${name} must be a text value`);
    if (p.kind === 'value' && name !== 'state') values[name] = p.value;
  }

  // 3. response_type (RFC 6749 §3.1.1): only the authorization code flow.
  if (values.response_type === undefined) throw fail('invalid_request', 'response_type is missing (it must be code)');
  if (values.response_type !== 'code') throw fail('unsupported_response_type', 'only response_type=code is supported');

  // 4. The client must be allowed this grant (RFC 6749 §4.1.2.1 unauthorized_client).
  if (!client.grantTypes.includes('authorization_code')) {
    throw fail('unauthorized_client', 'this client is not allowed to use the authorization code grant');
  }

  // 5. Scope (RFC 6749 §3.3): a subset of what the client may ask for and the server offers;
  //    none asked for means the client's full set (SPEC.md).
  const allowed = client.scopes.filter((s) => deps.config.scopes.includes(s));
  let scope: string[];
  if (values.scope === undefined) {
    scope = allowed;
  } else {
    const parsed = parseScope(values.scope);
    if (parsed === null) throw fail('invalid_scope', 'the scope parameter is malformed (RFC 6749 section 3.3)');
    if (!isSubset(parsed, allowed)) {
      const refused = parsed.filter((s) => !allowed.includes(s));
      throw fail('invalid_scope', `scope not allowed for this client: ${formatScope(refused)}`);
    }
    scope = parsed.length > 0 ? parsed : allowed;
  }

  // 6. PKCE (RFC 7636). Only S256: `plain` protects nothing against an attacker who can read
  //    the authorization request (RFC 9700 §2.1.1). RFC 7636 §4.3 makes a missing method
  //    mean plain, so a challenge without a method is refused rather than silently weakened.
  //    Public clients have no secret, so PKCE is what binds their code to them (RFC 9700 §2.1.1).
  const challenge = values.code_challenge;
  const method = values.code_challenge_method;
  if (challenge === undefined) {
    if (method !== undefined) throw fail('invalid_request', 'code_challenge_method was sent without code_challenge');
    if (client.isPublic) throw fail('invalid_request', 'public clients must send a PKCE code_challenge with code_challenge_method=S256 (RFC 7636)');
  } else {
    if (method === undefined) throw fail('invalid_request', 'code_challenge_method is required and must be S256 (plain is not supported)');
    if (method !== 'S256') throw fail('invalid_request', 'code_challenge_method must be S256 (plain is not supported)');
    if (!CODE_CHALLENGE.test(challenge)) throw fail('invalid_request', 'code_challenge must be 43 to 128 base64url characters (RFC 7636 section 4.2)');
  }

  // 7. prompt (OpenID Connect Core §3.1.2.1): none, login, consent; none alone.
  const prompt = parsePrompt(values.prompt);
  if (prompt === null) throw fail('invalid_request', 'prompt must be none, or any of login and consent');

  return {
    client,
    redirectUri,
    redirectUriSent: sentRedirectUri !== undefined,
    state,
    scope,
    codeChallenge: challenge ?? null,
    codeChallengeMethod: challenge === undefined ? null : 'S256',
    prompt,
  };
}

// ---- errors and clients anyone could register (RFC 9700 §4.11.2) ---------------------------

export interface RedirectTrustDeps {
  grants: RootPick<ConsentPort, 'hasConsent'>;
}

/**
 * Whether an error may go to the client by redirect. RFC 9700 §4.11.2: an authorization server
 * should redirect automatically only to URIs it trusts. Operator-created clients are trusted.
 * A client anyone could register is trusted only by a user who has signed in and answered its
 * consent page before (a remembered consent); otherwise the error is shown as a page, so that
 * the endpoint cannot be used to bounce a visitor to any registered URI without interaction.
 * `userId` is asked for only when it matters (the signed-in user, or null).
 */
export async function errorMayRedirect(
  deps: RedirectTrustDeps,
  error: AuthorizationResponseError,
  userId: () => Promise<number | null>,
): Promise<boolean> {
  if (error.client.trusted) return true;
  const id = await userId();
  return id !== null && (await deps.grants.hasConsent(id, error.client.id));
}

/** The host an error would have been sent to, as shown to the user. */
export function redirectHost(redirectUri: string): string {
  try {
    const { host } = new URL(redirectUri);
    if (host !== '') return host;
  } catch {
    // a registered URI always parses; fall through to the URI itself
  }
  return redirectUri.length > 100 ? `${redirectUri.slice(0, 100)}…` : redirectUri;
}

/** The 400 page shown instead of redirecting an error to an untrusted client: what went wrong and where it would have gone. */
export function errorPageInsteadOfRedirect(error: AuthorizationResponseError): OAuthError {
  return new OAuthError(error.code, `The application's request could not be completed (${error.code}: ${error.description}). `
    + `It asked to send you back to ${redirectHost(error.redirectUri)}. Latchkey does not send you there automatically: `
    + 'anyone can register an application, and you have not signed in and allowed this one yet. Go back to the application, or close this page.', { status: 400 });
}

// ---- carrying a validated request through the consent form ----------------------------

/** The request's wire parameters, enough to validate it again when the consent form comes back. */
export function authorizationRequestParameters(request: AuthorizationRequest): Record<string, string> {
  const out: Record<string, string> = { response_type: 'code', client_id: request.client.clientId };
  if (request.redirectUriSent) out.redirect_uri = request.redirectUri;
  // The scope the user is shown, so that what is granted is exactly what was consented to.
  out.scope = formatScope(request.scope);
  if (request.state !== undefined) out.state = request.state;
  if (request.codeChallenge !== null) {
    out.code_challenge = request.codeChallenge;
    out.code_challenge_method = 'S256';
  }
  return out;
}

/**
 * The consent form carries the request as one base64url JSON value rather than a hidden field
 * per parameter: HTML parsing and form submission normalise line breaks and NUL characters in
 * field values, and `state` must come back byte for byte (RFC 6749 §4.1.2). It is not a
 * secret and needs no signature: every parameter is validated again on the way back.
 */
export function encodeAuthorizationRequest(parameters: Record<string, string>): string {
  return Buffer.from(JSON.stringify(parameters), 'utf8').toString('base64url');
}

/** The parameters of encodeAuthorizationRequest, or null when the value is not one. */
export function decodeAuthorizationRequest(value: unknown): Record<string, string> | null {
  if (typeof value !== 'string' || value.length > 16_000 || !/^[A-Za-z0-9_-]*$/.test(value)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof v !== 'string') return null;
    out[key] = v;
  }
  return out;
}

// ---- organizations -----------------------------------------------------------------------

/**
 * The organization a grant is for when the user need not be asked: none when the user belongs
 * to none, the only one when there is exactly one and its plan allows integrations. With
 * several, the request does not say which one the client wants, so the user must choose.
 */
export function implicitOrganization(organizations: readonly Organization[]): { organizationId: number | null } | undefined {
  if (organizations.length === 0) return { organizationId: null };
  const [only] = organizations;
  if (organizations.length === 1 && only?.integrationsEnabled) return { organizationId: only.id };
  return undefined;
}

export type OrganizationChoice =
  | { ok: true; organizationId: number | null }
  | { ok: false; reason: 'missing' | 'not_member' | 'integrations_off' };

/**
 * Checks the organization picked on the consent page (Hover: consent is per organization).
 * A user who belongs to organizations must pick one of them, and its plan must have
 * integrations on; a user who belongs to none picks none.
 */
export function chooseOrganization(organizations: readonly Organization[], submitted: string | undefined): OrganizationChoice {
  const value = submitted?.trim() ?? '';
  if (organizations.length === 0) return value === '' ? { ok: true, organizationId: null } : { ok: false, reason: 'not_member' };
  if (value === '') return { ok: false, reason: 'missing' };
  if (!/^[0-9]{1,15}$/.test(value)) return { ok: false, reason: 'not_member' };
  const organization = organizations.find((o) => o.id === Number(value));
  if (!organization) return { ok: false, reason: 'not_member' };
  if (!organization.integrationsEnabled) return { ok: false, reason: 'integrations_off' };
  return { ok: true, organizationId: organization.id };
}

// ---- consent and code issuance ------------------------------------------------------------

export interface IssueDeps {
  grants: RootPick<GrantPort, 'insert'> & RootPick<ConsentPort, 'findConsent' | 'upsertConsent'>;
  codes: RootPick<CodePort, 'insert'>;
  clock: Clock;
  config: Pick<Config, 'authorizationCodeTtl'>;
}

/** True when a remembered consent covers every requested scope. */
export function consentCovers(consentedScope: string | undefined, requested: readonly string[]): boolean {
  if (consentedScope === undefined) return false;
  return isSubset(requested, consentedScope.split(' ').filter(Boolean));
}

export interface IssuedCode {
  /** Where to send the browser: REDIRECT_URI?code=…&state=… (RFC 6749 §4.1.2). */
  location: string;
  grantId: number;
}

/**
 * Issues an authorization code: one grant row (everything later issued from the code descends
 * from it and is revoked with it) and one code row, stored only as its SHA-256 hash. The token
 * endpoint reads it back: redirectUri/redirectUriSent for RFC 6749 §4.1.3, the challenge
 * for RFC 7636 §4.6, expiresAt for the code lifetime (RFC 6749 §4.1.2: 10 minutes at most).
 * No transaction: a grant left without a code (the second insert failing) grants nothing.
 */
export async function issueAuthorizationCode(
  deps: IssueDeps,
  request: AuthorizationRequest,
  userId: number,
  organizationId: number | null,
): Promise<IssuedCode> {
  const now = nowSeconds(deps.clock);
  const scope = formatScope(request.scope);
  const grantId = await deps.grants.insert({
    clientId: request.client.id, userId, organizationId, scope, grantType: 'authorization_code', now,
  });
  const code = newOrderedSecret();
  await deps.codes.insert({
    codeHash: tokenKey(code),
    grantId,
    clientId: request.client.id,
    userId,
    organizationId,
    redirectUri: request.redirectUri,
    redirectUriSent: request.redirectUriSent,
    scope,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: request.codeChallengeMethod,
    createdAt: now,
    expiresAt: now + deps.config.authorizationCodeTtl,
  });
  return { location: appendQuery(request.redirectUri, { code, state: request.state }), grantId };
}

/**
 * The returning user's path: when consent for this user, client and organization already
 * covers the request (and prompt=consent does not ask again), the code is issued without a
 * page. Returns undefined when the user must be asked; with prompt=none that is an error
 * (OpenID Connect Core §3.1.2.6 consent_required).
 */
export async function authorizeWithRememberedConsent(
  deps: IssueDeps,
  request: AuthorizationRequest,
  userId: number,
  organizations: readonly Organization[],
): Promise<(IssuedCode & { organizationId: number | null }) | undefined> {
  if (!request.prompt.has('consent')) {
    const implicit = implicitOrganization(organizations);
    if (implicit) {
      const consent = await deps.grants.findConsent(userId, request.client.id, implicit.organizationId);
      if (consentCovers(consent?.scope, request.scope)) {
        const issued = await issueAuthorizationCode(deps, request, userId, implicit.organizationId);
        return { ...issued, organizationId: implicit.organizationId };
      }
    }
  }
  if (request.prompt.has('none')) throw responseError(request, 'consent_required', 'the user has not consented to this request');
  return undefined;
}

/**
 * The user allowed the request: remember consent (adding to what was consented before for the
 * same client and organization; consent is withdrawn from the account page) and issue a code.
 */
export async function approveAuthorizationRequest(
  deps: IssueDeps,
  request: AuthorizationRequest,
  userId: number,
  organizationId: number | null,
): Promise<IssuedCode> {
  const now = nowSeconds(deps.clock);
  const previous = await deps.grants.findConsent(userId, request.client.id, organizationId);
  const merged = [...new Set([...(previous?.scope.split(' ').filter(Boolean) ?? []), ...request.scope])];
  await deps.grants.upsertConsent(userId, request.client.id, organizationId, formatScope(merged), now);
  return issueAuthorizationCode(deps, request, userId, organizationId);
}

/** The user said no (RFC 6749 §4.1.2.1 access_denied). */
export function deniedLocation(request: AuthorizationRequest): string {
  return responseError(request, 'access_denied', 'the user denied the request').location();
}

// ---- building the redirect ------------------------------------------------------------------

// Lone UTF-16 surrogates cannot be percent-encoded (encodeURIComponent throws); they can only
// come from a malformed request and are replaced rather than allowed to fail the response.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Adds query parameters to a registered redirect URI without touching what is already there
 * (RFC 6749 §3.1.2: "MUST retain" an existing query): `?` or `&` as needed, values
 * percent-encoded, undefined values left out (state is echoed only when it was sent).
 */
export function appendQuery(uri: string, params: Record<string, string | undefined>): string {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) pairs.push(`${key}=${encodeURIComponent(value.replace(LONE_SURROGATE, '\uFFFD'))}`);
  }
  if (pairs.length === 0) return uri;
  const separator = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${separator}${pairs.join('&')}`;
}
