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
import type { ClaimsRequest, Client, OidcLogin, Organization, Resource } from './model.js';
import { normalizeEmail } from './model.js';
import type { ClientPort, CodePort, ConsentPort, GrantPort, ResourcePort, RootPick } from './ports.js';
import { parseResources, resolveResources, scopeForResources } from './resources.js';
import { acrMeets, acrOfAmr, essentialAcrValues, type AcrValue } from './acr.js';
import { claimsWithinScopes, OFFLINE_ACCESS_SCOPE, OPENID_SCOPE, parseClaimsParameter, scopesOfRequestedClaims } from './claims.js';
import { verifyIdTokenHint, type IdTokenHint } from './id-token.js';
import type { SigningKeys } from './signing-keys.js';
import { nowSeconds, type Clock } from './clock.js';
import { newOrderedSecret, tokenKey } from './crypto.js';
import { OAuthError, wireDescription, type OAuthErrorCode } from './errors.js';
import { isRegisteredRedirectUri } from './redirect-uri.js';
import { formatScope, isSubset, parseScope } from './scope.js';

/** Parameters as parsed from a query string or form: a value, or an array when repeated. */
export type ParamSource = Readonly<Record<string, unknown>>;

/** OpenID Connect Core §3.1.2.1 `prompt` values we honour. */
export type Prompt = 'none' | 'login' | 'consent' | 'select_account';

/** How the response reaches the client: the query of a redirect, or an auto-submitted form (OAuth 2.0 Form Post Response Mode). */
export type ResponseMode = 'query' | 'form_post';

/** The authorization response, however it is delivered: where, how, and its parameters (`iss` always, RFC 9207). */
export interface AuthorizationResponse {
  redirectUri: string;
  responseMode: ResponseMode;
  parameters: Record<string, string | undefined>;
}

/** What OpenID Connect adds to a request whose scope names `openid` (Core §3.1.2.1). */
export interface OidcParameters {
  nonce: string | null;
  /** Seconds; null when not sent. */
  maxAge: number | null;
  /** The verified `id_token_hint`; null when not sent. */
  idTokenHint: IdTokenHint | null;
  /** `login_hint` when it is an e-mail address (others are ignored, SPEC.md). */
  loginHint: string | null;
  claims: ClaimsRequest | null;
  /** The raw `claims` value, carried through the consent form. */
  claimsParameter: string | null;
  /** Accepted and carried (pages speak one language until the languages issue). */
  uiLocales: string | null;
}

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
  responseMode: ResponseMode;
  /** Our issuer: every response carries it as `iss` (RFC 9207). */
  issuer: string;
  /** Set exactly when the scope names `openid` (SPEC.md); null for OAuth requests. */
  oidc: OidcParameters | null;
  /** RFC 8707: the resources the request indicated (each known); null when none. */
  resources: readonly string[] | null;
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
    /** Our issuer, sent as `iss` (RFC 9207). */
    readonly issuer: string,
    readonly responseMode: ResponseMode = 'query',
  ) {
    super(code, description);
  }

  /** The error response (RFC 6749 §4.1.2.1, RFC 9207 `iss`), to deliver by `responseMode`. */
  response(): AuthorizationResponse {
    return {
      redirectUri: this.redirectUri,
      responseMode: this.responseMode,
      parameters: { error: this.code, error_description: wireDescription(this.description), state: this.state, iss: this.issuer },
    };
  }

  /** REDIRECT_URI?error=…&error_description=…&state=…&iss=… */
  location(): string {
    return appendQuery(this.redirectUri, this.response().parameters);
  }
}

/** An error answered by redirect to this request's (validated) redirect URI. */
export function responseError(request: AuthorizationRequest, code: OAuthErrorCode, description: string): AuthorizationResponseError {
  return new AuthorizationResponseError(code, description, request.redirectUri, request.state, request.client, request.issuer, request.responseMode);
}

// RFC 7636 §4.2: the S256 challenge is BASE64URL(SHA256(verifier)), 43 characters; we accept
// the 43–128 base64url characters of the verifier's own length range and no more.
const CODE_CHALLENGE = /^[A-Za-z0-9_-]{43,128}$/;

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
    if (part !== 'none' && part !== 'login' && part !== 'consent' && part !== 'select_account') return null;
    prompts.add(part);
  }
  if (prompts.has('none') && prompts.size > 1) return null;
  return prompts;
}

export interface ValidateDeps {
  clients: RootPick<ClientPort, 'findByClientId'>;
  /** The registered resources (RFC 8707); without them only ISSUER/api is known. */
  resources?: Pick<ResourcePort, 'find'>;
  config: Pick<Config, 'scopes' | 'issuer'>;
  /** Verifies `id_token_hint` against the keys we publish. */
  signingKeys: Pick<SigningKeys, 'verificationKey'>;
}

/** OpenID Connect parameters beyond OAuth, each read once (repeats refused). */
const OIDC_PARAMETERS = ['nonce', 'max_age', 'id_token_hint', 'login_hint', 'ui_locales', 'claims_locales', 'acr_values', 'display', 'claims'] as const;
type OidcParameterName = (typeof OIDC_PARAMETERS)[number];

/** Core §3.1.2.1 `display` values. */
const DISPLAY_VALUES = new Set(['page', 'popup', 'touch', 'wap']);
/** A nonce is echoed in the ID token and stored with the code: no real one is longer. */
const MAX_NONCE_LENGTH = 1024;
/** Hints and locales are read, not stored; anything longer is noise. */
const MAX_HINT_LENGTH = 8192;
const EMAIL_SHAPE = /^[^\s@]{1,200}@[^\s@]{1,200}$/;

/** Where an authorization request's answer goes, once its client and redirect URI are known good. */
interface RedirectTarget {
  client: Client;
  redirectUri: string;
  redirectUriSent: boolean;
  stateParam: Param;
  state: string | undefined;
  issuer: string;
  responseMode: ResponseMode;
  /** An error for the redirect URI, with the state, iss and response mode. */
  fail(code: OAuthErrorCode, description: string): AuthorizationResponseError;
}

/**
 * The client and redirect URI of a request (RFC 6749 §4.1.2.1: never redirect for a bad
 * client_id or redirect_uri: OAuthError, a 400 page), then its state and response mode.
 */
async function redirectTarget(params: ParamSource, deps: ValidateDeps): Promise<RedirectTarget> {
  // 1. Who is asking.
  const clientId = pageParam(params, 'client_id');
  if (clientId === undefined) throw pageError('invalid_request', 'The request does not say which application it is for (client_id is missing).');
  // The store answers "no such client" for a value no client id can be (NUL, overlong) without a lookup.
  const client = await deps.clients.findByClientId(clientId);
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

  // From here on every error goes back to the client by redirect, with the original state
  // and our issuer (RFC 9207), in the response mode asked for once that is known.
  const stateParam = readParam(params, 'state');
  const state = stateParam.kind === 'value' ? stateParam.value : undefined;
  const issuer = deps.config.issuer;
  let responseMode: ResponseMode = 'query';
  const fail = (code: OAuthErrorCode, description: string) => new AuthorizationResponseError(code, description, redirectUri, state, client, issuer, responseMode);

  // response_mode (OAuth 2.0 Multiple Response Type Encoding Practices §2.1, Form Post
  // Response Mode): query, the default for code, or form_post.
  const modeParam = readParam(params, 'response_mode');
  if (modeParam.kind === 'repeated') throw fail('invalid_request', 'response_mode must not be repeated (RFC 6749 section 3.1)');
  if (modeParam.kind === 'invalid') throw fail('invalid_request', 'response_mode must be a text value');
  if (modeParam.kind === 'value') {
    if (modeParam.value !== 'query' && modeParam.value !== 'form_post') throw fail('invalid_request', 'response_mode must be query or form_post');
    responseMode = modeParam.value;
  }
  return { client, redirectUri, redirectUriSent: sentRedirectUri !== undefined, stateParam, state, issuer, responseMode, fail };
}

/**
 * A request that could not be read exactly (a POSTed form with broken percent-encoding or
 * UTF-8), read as well as it can be: its client and redirect URI are checked as for any
 * request (a 400 page when they are bad), then it is invalid_request at the redirect URI,
 * like every other malformed parameter of a known client.
 */
export async function refuseUnreadableRequest(params: ParamSource, deps: ValidateDeps, description: string): Promise<never> {
  throw (await redirectTarget(params, deps)).fail('invalid_request', description);
}

/**
 * Validates an authorization request (RFC 6749 §4.1.1). Throws OAuthError (to be shown as a
 * 400 page) while the client or redirect URI is in doubt, AuthorizationResponseError after.
 */
export async function validateAuthorizationRequest(params: ParamSource, deps: ValidateDeps): Promise<AuthorizationRequest> {
  const { client, redirectUri, redirectUriSent, stateParam, state, issuer, responseMode, fail } = await redirectTarget(params, deps);

  // Request objects (Core §6) are not implemented: refused with the errors Core §3.1.2.6 names.
  if (readParam(params, 'request').kind !== 'absent') throw fail('request_not_supported', 'request objects (the request parameter) are not supported');
  if (readParam(params, 'request_uri').kind !== 'absent') throw fail('request_uri_not_supported', 'the request_uri parameter is not supported');

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
  //    none asked for means the client's full set except openid (SPEC.md: such a request stays
  //    an OAuth one). offline_access is accepted in an OpenID request and changes nothing.
  const allowed = client.scopes.filter((s) => deps.config.scopes.includes(s));
  const fallback = allowed.filter((s) => s !== OPENID_SCOPE && s !== OFFLINE_ACCESS_SCOPE);
  // 5a. RFC 8707 resource indicators (may repeat): each an absolute URI without fragment that
  //     names a known resource (invalid_target); the scope is then the resources' (resources.ts).
  const resources = await indicatedResources(params, deps, fail);
  let scope: string[];
  if (resources !== undefined) {
    try {
      scope = scopeForResources(values.scope, resources, client, allowed);
    } catch (err) {
      if (err instanceof OAuthError) throw fail(err.code, err.description);
      throw err;
    }
  } else if (values.scope === undefined) {
    scope = fallback;
  } else {
    const parsed = parseScope(values.scope);
    if (parsed === null) throw fail('invalid_scope', 'the scope parameter is malformed (RFC 6749 section 3.3)');
    const acceptable = parsed.includes(OPENID_SCOPE) && allowed.includes(OPENID_SCOPE) ? [...allowed, OFFLINE_ACCESS_SCOPE] : allowed;
    if (!isSubset(parsed, acceptable)) {
      const refused = parsed.filter((s) => !acceptable.includes(s));
      throw fail('invalid_scope', `scope not allowed for this client: ${formatScope(refused)}`);
    }
    scope = parsed.length > 0 ? parsed : fallback;
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

  // 7. prompt (OpenID Connect Core §3.1.2.1): none, login, consent, select_account; none alone.
  const prompt = parsePrompt(values.prompt);
  if (prompt === null) throw fail('invalid_request', 'prompt must be none, or any of login, consent and select_account');

  // 8. OpenID Connect (Core §3.1.2.1), exactly when the scope names openid.
  const oidc = scope.includes(OPENID_SCOPE) ? await readOidcParameters(params, deps, client, allowed, fail) : null;

  return {
    client,
    redirectUri,
    redirectUriSent,
    state,
    scope,
    codeChallenge: challenge ?? null,
    codeChallengeMethod: challenge === undefined ? null : 'S256',
    prompt,
    responseMode,
    issuer,
    oidc,
    resources: resources === undefined ? null : resources.map((r) => r.identifier),
  };
}

/** The `resource` values of an authorization request, resolved; undefined when it names none. */
async function indicatedResources(
  params: ParamSource, deps: ValidateDeps, fail: (code: OAuthErrorCode, description: string) => AuthorizationResponseError,
): Promise<Resource[] | undefined> {
  if (!Object.prototype.hasOwnProperty.call(params, 'resource')) return undefined;
  const raw = params.resource;
  if (raw === undefined || raw === null) return undefined;
  const values = Array.isArray(raw) ? raw : [raw];
  if (!values.every((v): v is string => typeof v === 'string')) throw fail('invalid_request', 'resource must be a text value');
  try {
    const identifiers = parseResources(values);
    if (identifiers === undefined) return undefined;
    return await resolveResources({ resources: deps.resources ?? { find: async () => undefined }, config: deps.config }, identifiers);
  } catch (err) {
    if (err instanceof OAuthError) throw fail(err.code, err.description);
    throw err;
  }
}

/** The OpenID Connect parameters of a request (Core §3.1.2.1, §5.5); every malformed one is invalid_request. */
async function readOidcParameters(
  params: ParamSource,
  deps: ValidateDeps,
  client: Pick<Client, 'clientId'>,
  allowedScopes: readonly string[],
  fail: (code: OAuthErrorCode, description: string) => AuthorizationResponseError,
): Promise<OidcParameters> {
  const values: Partial<Record<OidcParameterName, string>> = {};
  for (const name of OIDC_PARAMETERS) {
    const p = readParam(params, name);
    if (p.kind === 'repeated') throw fail('invalid_request', `${name} must not be repeated`);
    if (p.kind === 'invalid') throw fail('invalid_request', `${name} must be a text value`);
    if (p.kind === 'value') {
      if (p.value.length > MAX_HINT_LENGTH) throw fail('invalid_request', `${name} is too long`);
      values[name] = p.value;
    }
  }
  if (values.nonce !== undefined && values.nonce.length > MAX_NONCE_LENGTH) throw fail('invalid_request', `nonce must be at most ${MAX_NONCE_LENGTH} characters`);
  // The nonce is stored with the code: PostgreSQL refuses NUL in text, and no nonce needs one.
  if (values.nonce?.includes('\0')) throw fail('invalid_request', 'nonce must not contain NUL characters');
  let maxAge: number | null = null;
  if (values.max_age !== undefined) {
    // Core §3.1.2.1: a non-negative number of seconds.
    if (!/^[0-9]{1,10}$/.test(values.max_age)) throw fail('invalid_request', 'max_age must be a non-negative whole number of seconds');
    maxAge = Number(values.max_age);
  }
  if (values.display !== undefined && !DISPLAY_VALUES.has(values.display)) throw fail('invalid_request', 'display must be page, popup, touch or wap');
  let claims: ClaimsRequest | null = null;
  if (values.claims !== undefined) {
    const parsed = parseClaimsParameter(values.claims);
    if (typeof parsed === 'string') throw fail('invalid_request', parsed);
    claims = claimsWithinScopes(parsed, allowedScopes);
  }
  let idTokenHint: IdTokenHint | null = null;
  if (values.id_token_hint !== undefined) {
    idTokenHint = await verifyIdTokenHint({ keys: deps.signingKeys, issuer: deps.config.issuer }, values.id_token_hint);
    if (idTokenHint === null) throw fail('invalid_request', 'id_token_hint is not an ID token this server issued');
    // As node-oidc-provider: the hint must have been issued to the client presenting it.
    if (idTokenHint.aud !== client.clientId) throw fail('invalid_request', 'id_token_hint was issued to another client');
  }
  const loginHint = values.login_hint !== undefined && EMAIL_SHAPE.test(values.login_hint.trim()) ? values.login_hint.trim() : null;
  return {
    nonce: values.nonce ?? null,
    maxAge,
    idTokenHint,
    loginHint,
    claims,
    claimsParameter: values.claims ?? null,
    uiLocales: values.ui_locales ?? null,
  };
}

// ---- who must sign in (OpenID Connect Core §3.1.2.3) -----------------------------------------

/** The signed-in user as the interaction checks see them. */
export interface SignedIn {
  subject: string;
  email: string;
  /** Epoch seconds of the last password check; null when unknown. */
  authTime: number | null;
  /** The session's RFC 8176 methods (its `acr`, acr.ts); absent counts as a password. */
  amr?: readonly string[];
  /**
   * The strongest `acr` a new sign-in of this account could reach (its factors: a passkey →
   * phr, an authenticator app → mfa). Needed only under an essential acr request; absent
   * counts as the session's own level.
   */
  strongestAcr?: AcrValue;
}

/** What the request needs before a code can be issued. */
export type Interaction = 'proceed' | 'login' | 'select_account';

/**
 * Whether the user must (again) sign in or choose an account first: nobody signed in,
 * prompt=login, a login older than max_age, or a hint (id_token_hint, login_hint) naming
 * someone else; prompt=select_account shows who is signed in. With prompt=none every such
 * need is an error at the redirect URI (Core §3.1.2.6 login_required), never a page. A
 * `claims` request for a specific `sub` that is not the signed-in user fails outright
 * (Core §3.1.2.2: no token for a different user).
 */
export function requiredInteraction(request: AuthorizationRequest, user: SignedIn | null, now: number): Interaction {
  const none = request.prompt.has('none');
  const login = (why: string): Interaction => {
    if (none) throw responseError(request, 'login_required', why);
    return 'login';
  };
  if (user === null) return login('the user is not signed in');
  if (request.prompt.has('login')) return 'login';
  const oidc = request.oidc;
  if (oidc !== null) {
    // Core §3.1.2.1: max_age=0 is prompt=login; a sign-in within the same second is not fresh enough for it.
    if (oidc.maxAge === 0) return login('max_age=0 asks for a new sign-in');
    if (oidc.maxAge !== null && (user.authTime === null || now - user.authTime > oidc.maxAge)) return login('the sign-in is older than max_age');
    if (oidc.idTokenHint !== null && oidc.idTokenHint.sub !== user.subject) return login('id_token_hint names another user than the one signed in');
    if (oidc.loginHint !== null && normalizeEmail(oidc.loginHint) !== normalizeEmail(user.email)) return login('login_hint names another user than the one signed in');
    const wanted = oidc.claims?.id_token?.sub?.value;
    if (wanted !== undefined && wanted !== user.subject) throw responseError(request, 'login_required', 'the requested subject is not the signed-in user');
    // Core §5.5.1.1: an essential acr the login does not meet. A new sign-in that could meet
    // it (the account has the factor) is asked for; otherwise the authentication has failed.
    const acrWanted = essentialAcrValues(oidc.claims);
    const level = acrOfAmr(user.amr ?? ['pwd']);
    if (acrWanted !== null && !acrMeets(level, acrWanted)) {
      if (!acrMeets(user.strongestAcr ?? level, acrWanted)) throw responseError(request, 'access_denied', 'the essential acr requested cannot be met by this account');
      return login('the sign-in does not meet the essential acr requested');
    }
  }
  if (request.prompt.has('select_account')) return 'select_account';
  return 'proceed';
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
export function authorizationRequestParameters(request: AuthorizationRequest): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { response_type: 'code', client_id: request.client.clientId };
  if (request.redirectUriSent) out.redirect_uri = request.redirectUri;
  // The scope the user is shown, so that what is granted is exactly what was consented to.
  out.scope = formatScope(request.scope);
  if (request.state !== undefined) out.state = request.state;
  if (request.codeChallenge !== null) {
    out.code_challenge = request.codeChallenge;
    out.code_challenge_method = 'S256';
  }
  if (request.responseMode !== 'query') out.response_mode = request.responseMode;
  // RFC 8707: one value per resource, as on the wire.
  if (request.resources !== null) out.resource = [...request.resources];
  // What the code and its ID token carry; the hints and max_age were settled before the page.
  const oidc = request.oidc;
  if (oidc !== null) {
    if (oidc.nonce !== null) out.nonce = oidc.nonce;
    if (oidc.claimsParameter !== null) out.claims = oidc.claimsParameter;
    if (oidc.uiLocales !== null) out.ui_locales = oidc.uiLocales;
  }
  return out;
}

/**
 * The scopes the user is asked about and consents to: the requested ones, plus those whose
 * claims a `claims` request names (Core §5.5), so no claim reaches the client unconsented.
 */
export function consentScope(request: AuthorizationRequest): string[] {
  return [...new Set([...request.scope, ...scopesOfRequestedClaims(request.oidc?.claims ?? null)])];
}

/**
 * The consent form carries the request as one base64url JSON value rather than a hidden field
 * per parameter: HTML parsing and form submission normalise line breaks and NUL characters in
 * field values, and `state` must come back byte for byte (RFC 6749 §4.1.2). It is not a
 * secret and needs no signature: every parameter is validated again on the way back.
 */
export function encodeAuthorizationRequest(parameters: Record<string, string | string[]>): string {
  return Buffer.from(JSON.stringify(parameters), 'utf8').toString('base64url');
}

/** The parameters of encodeAuthorizationRequest, or null when the value is not one (a list of strings only for `resource`). */
export function decodeAuthorizationRequest(value: unknown): Record<string, string | string[]> | null {
  if (typeof value !== 'string' || value.length > 16_000 || !/^[A-Za-z0-9_-]*$/.test(value)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [key, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (key === 'resource' && Array.isArray(v) && v.every((x) => typeof x === 'string')) {
      out[key] = v as string[];
      continue;
    }
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
  /** The response: code, state and iss (RFC 6749 §4.1.2, RFC 9207), by the request's response mode. */
  response: AuthorizationResponse;
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
  login: LoginFacts,
): Promise<IssuedCode> {
  const now = nowSeconds(deps.clock);
  const scope = formatScope(request.scope);
  // An OpenID grant remembers its login: every ID token of it repeats auth_time, sid and amr.
  const oidcLogin: OidcLogin | undefined = request.oidc === null ? undefined : {
    authTime: login.authTime ?? now, sid: login.sid, amr: login.amr, claims: request.oidc.claims,
  };
  const grantId = await deps.grants.insert({
    clientId: request.client.id, userId, organizationId, scope, grantType: 'authorization_code', now, ...(oidcLogin ? { login: oidcLogin } : {}),
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
    nonce: request.oidc?.nonce ?? null,
    resources: request.resources,
  });
  return {
    response: { redirectUri: request.redirectUri, responseMode: request.responseMode, parameters: { code, state: request.state, iss: request.issuer } },
    grantId,
  };
}

/** The browser session a code is issued in (auth_time, sid and amr of its ID tokens). */
export interface LoginFacts {
  /** When the password was last checked; null when unknown (then: now). */
  authTime: number | null;
  sid: string;
  /** RFC 8176 values. */
  amr: readonly string[];
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
  login: LoginFacts,
): Promise<(IssuedCode & { organizationId: number | null }) | undefined> {
  if (!request.prompt.has('consent')) {
    const implicit = implicitOrganization(organizations);
    if (implicit) {
      const consent = await deps.grants.findConsent(userId, request.client.id, implicit.organizationId);
      if (consentCovers(consent?.scope, consentScope(request))) {
        const issued = await issueAuthorizationCode(deps, request, userId, implicit.organizationId, login);
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
  login: LoginFacts,
): Promise<IssuedCode> {
  const now = nowSeconds(deps.clock);
  const previous = await deps.grants.findConsent(userId, request.client.id, organizationId);
  const merged = [...new Set([...(previous?.scope.split(' ').filter(Boolean) ?? []), ...consentScope(request)])];
  await deps.grants.upsertConsent(userId, request.client.id, organizationId, formatScope(merged), now);
  return issueAuthorizationCode(deps, request, userId, organizationId, login);
}

/** The user said no (RFC 6749 §4.1.2.1 access_denied). */
export function deniedResponse(request: AuthorizationRequest): AuthorizationResponse {
  return responseError(request, 'access_denied', 'the user denied the request').response();
}

/** A response as a redirect location (response_mode=query). */
export function responseLocation(response: AuthorizationResponse): string {
  return appendQuery(response.redirectUri, response.parameters);
}

// ---- building the redirect ------------------------------------------------------------------

// Lone UTF-16 surrogates cannot be percent-encoded (encodeURIComponent throws); they can only
// come from a malformed request and are replaced rather than allowed to fail the response.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `value` with each lone surrogate replaced by U+FFFD, so that it can be percent-encoded or posted as UTF-8. */
export function withoutLoneSurrogates(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * Adds query parameters to a registered redirect URI without touching what is already there
 * (RFC 6749 §3.1.2: "MUST retain" an existing query): `?` or `&` as needed, values
 * percent-encoded, undefined values left out (state is echoed only when it was sent).
 */
export function appendQuery(uri: string, params: Record<string, string | undefined>): string {
  const pairs: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) pairs.push(`${key}=${encodeURIComponent(withoutLoneSurrogates(value))}`);
  }
  if (pairs.length === 0) return uri;
  const separator = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${separator}${pairs.join('&')}`;
}
