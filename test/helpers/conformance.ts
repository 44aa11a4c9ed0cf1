// The relying party of the OpenID Foundation's conformance suite (openid-certification/
// conformance-suite, plan `oidcc-basic-certification-test-plan`, class OIDCCBasicTestPlan) as
// test helpers: the authorization request it builds (CreateAuthorizationRequestSteps), the
// token request (client_secret_basic, or client_secret_post), and the checks it runs on every
// answer. Each check names the suite's condition it mirrors; where the suite only warns, the
// comment says so and the test asserts what SPEC.md promises instead.
//
// Variant: ServerMetadata discovery, ClientRegistration static_client (operator-created clients;
// SPEC.md shows errors for clients anyone could register as a page until the user has
// consented, RFC 9700 §4.11.2), ResponseType code, ResponseMode default.
import assert from 'node:assert/strict';
import { createHash, randomInt } from 'node:crypto';
import type { TestContext } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { authorize, type AuthorizeOptions, type AuthorizeResult } from './authorize.js';
import { CookieJar } from './browser.js';
import { createClient, createUser, type TestClient, type TestUser } from './fixtures.js';
import { startTestServer, type TestServer } from './server.js';
import { basicHeader } from './token.js';
import type { DbKind } from './databases.js';

/** The suite registers its redirect URI with a query (CheckMatchingCallbackParameters): it must come back intact. */
export const RP_REDIRECT_URI = 'https://rp.example/callback?dummy1=lorem&dummy2=ipsum';
const RP_REDIRECT_BASE = 'https://rp.example/callback';

/** ValidateIdToken's allowance for clock skew. */
const SKEW = 300;

/** Error parameters an authorization error response may carry (CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint), plus the registered query. */
const ERROR_RESPONSE_PARAMETERS = new Set(['error', 'error_description', 'error_uri', 'state', 'session_state', 'iss', 'dummy1', 'dummy2']);

/** RFC 6749 §4.1.2.1 / §5.2: error_description is limited to these characters (ValidateErrorDescriptionFromAuthorizationEndpointResponseError). */
export const ERROR_DESCRIPTION = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/;

/** The claims each scope stands for (AbstractVerifyScopesReturnedInClaims, after pyoidc). */
const SCOPE_STANDARD_CLAIMS: Record<string, string[]> = {
  openid: ['sub'],
  profile: ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at', 'preferred_username'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
  offline_access: [],
};

/** Claims an ID token may hold unrequested (EnsureIdTokenDoesNotContainNonRequestedClaims). */
const ID_TOKEN_VALID_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'at_hash', 'c_hash', 'nbf', 'jti', 'sid', 's_hash'];

/** OIDC Core §5.1 standard claims and their JSON types (ValidateIdTokenStandardClaims, ValidateUserInfoStandardClaims). */
const STANDARD_CLAIM_TYPES: Record<string, 'string' | 'boolean' | 'number' | 'object'> = {
  sub: 'string', name: 'string', given_name: 'string', family_name: 'string', middle_name: 'string', nickname: 'string',
  preferred_username: 'string', profile: 'string', picture: 'string', website: 'string', email: 'string', email_verified: 'boolean',
  gender: 'string', birthdate: 'string', zoneinfo: 'string', locale: 'string', phone_number: 'string', phone_number_verified: 'boolean',
  address: 'object', updated_at: 'number',
};

/** The OP under test: a started server, a user, and the suite's static clients. */
export interface Op {
  server: TestServer;
  user: TestUser;
  /** `client` in the suite's configuration: client_secret_basic. */
  client: TestClient;
  /** `client2`, for the tests that need a second client (oidcc-refresh-token). */
  client2: TestClient;
  /** `client_secret_post` in the configuration (oidcc-server-client-secret-post). */
  postClient: TestClient;
  login: { email: string; password: string };
  close(): Promise<void>;
}

export async function startOp(kind: DbKind): Promise<Op> {
  // Dozens of sign-ins in a minute from one address: the login rate limit is not under test here.
  const server = await startTestServer(kind, { env: { LATCHKEY_LOGIN_RATE_LIMIT: '0' } });
  const user = await createUser(server, { name: 'Buffy Summers', locale: 'en' });
  const client = await createClient(server, { name: 'Conformance RP', redirectUris: [RP_REDIRECT_URI] });
  const client2 = await createClient(server, { name: 'Conformance RP 2', redirectUris: [RP_REDIRECT_URI] });
  const postClient = await createClient(server, { name: 'Conformance RP (client_secret_post)', redirectUris: [RP_REDIRECT_URI] });
  return { server, user, client, client2, postClient, login: { email: user.email, password: user.password }, close: () => server.close() };
}

/** CreateRandomStateValue / CreateRandomNonceValue: alphanumerics; longer ones end in `-._~`. */
export function randomValue(length = 10): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const n = length > 10 ? length - 4 : length;
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[randomInt(alphabet.length)];
  return length > 10 ? `${out}-._~` : out;
}

/** One authorization request as the suite builds it. */
export interface RpRequest {
  client: TestClient;
  params: Array<[string, string]>;
  scope: string;
  state: string;
  nonce: string | null;
}

export interface RpRequestOptions {
  scope?: string;
  /** false: no nonce (oidcc-ensure-request-without-nonce-succeeds-for-code-flow); a number: its length. */
  nonce?: boolean | number;
  stateLength?: number;
  /** Added after the suite's own parameters, in order. */
  extra?: Array<[string, string]>;
  /** Parameters to leave out (oidcc-response-type-missing). */
  omit?: string[];
  redirectUri?: string;
  /** Send the parameters in the reverse order (oidcc-alternate-happy-flow). */
  reversed?: boolean;
}

/** CreateAuthorizationRequestSteps: client_id, redirect_uri, scope, state, nonce, response_type, then what the module adds. */
export function rpRequest(client: TestClient, options: RpRequestOptions = {}): RpRequest {
  const scope = options.scope ?? 'openid';
  const state = randomValue(options.stateLength ?? 10);
  const nonce = options.nonce === false ? null : randomValue(typeof options.nonce === 'number' ? options.nonce : 10);
  let params: Array<[string, string]> = [
    ['client_id', client.clientId], ['redirect_uri', options.redirectUri ?? client.redirectUri], ['scope', scope], ['state', state],
    ...(nonce === null ? [] : [['nonce', nonce] as [string, string]]), ['response_type', 'code'], ...(options.extra ?? []),
  ];
  params = params.filter(([name]) => !(options.omit ?? []).includes(name));
  if (options.reversed) params.reverse();
  return { client, params, scope, state, nonce };
}

/** Sends the request through the browser stand-in (login and consent pages as needed). */
export async function runAuthorization(op: Op, request: RpRequest, options: Omit<AuthorizeOptions, 'extra' | 'responseType'> = {}): Promise<AuthorizeResult> {
  return authorize(op.server, { responseType: null, extra: request.params, login: op.login, cookies: new CookieJar(), ...options });
}

/** The registered redirect URI, its query kept (CheckMatchingCallbackParameters). */
function assertAtRedirectUri(result: AuthorizeResult): URL {
  assert.equal(result.status, 302, `expected a redirect to the client, got ${result.status}: ${result.final.body.slice(0, 300)}`);
  const redirect = result.redirect;
  assert.ok(redirect, `expected a redirect to the client, got Location ${String(result.location)}`);
  assert.equal(`${redirect.origin}${redirect.pathname}`, RP_REDIRECT_BASE);
  assert.equal(redirect.searchParams.get('dummy1'), 'lorem');
  assert.equal(redirect.searchParams.get('dummy2'), 'ipsum');
  return redirect;
}

/** Shannon entropy of a string times its length, as AbstractEnsureMinimumEntropy computes it. */
export function entropyBits(value: string): number {
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perChar = 0;
  for (const n of counts.values()) perChar -= (n / value.length) * Math.log2(n / value.length);
  return perChar * value.length;
}

/**
 * A successful authorization response (AbstractOIDCCServerTest.onAuthorizationCallbackResponse):
 * the registered redirect URI with its query, `iss` our issuer (ValidateIssIfPresentInAuthorizationResponse;
 * SPEC.md: always there), the state sent (CheckStateInAuthorizationResponse), a code of at least
 * 128 bits and 96 bits of entropy (EnsureMinimumAuthorizationCodeLength/Entropy). Returns the code.
 */
export function expectCode(op: Op, request: RpRequest, result: AuthorizeResult): string {
  const redirect = assertAtRedirectUri(result);
  assert.equal(redirect.searchParams.get('error'), null, `authorization error: ${redirect.searchParams.get('error')} ${redirect.searchParams.get('error_description')}`);
  assert.equal(redirect.searchParams.get('iss'), op.server.config.issuer);
  assert.equal(redirect.searchParams.get('state'), request.state);
  const code = redirect.searchParams.get('code');
  assert.ok(code, 'the response carries a code');
  assert.ok(Buffer.byteLength(code) * 8 >= 128, `code of ${Buffer.byteLength(code) * 8} bits`);
  assert.ok(entropyBits(code) > 96, `code entropy ${entropyBits(code)}`);
  return code;
}

/**
 * An error response at the redirect URI (performGenericAuthorizationEndpointErrorResponseValidation):
 * the state sent, `iss`, an error (one of `allowed`), no code, no parameter beyond the expected
 * ones, and an error_description within RFC 6749's character set. Returns the error.
 */
export function expectErrorResponse(op: Op, request: RpRequest | { state: string | null }, result: AuthorizeResult, allowed: readonly string[]): string {
  const redirect = assertAtRedirectUri(result);
  const error = redirect.searchParams.get('error');
  assert.ok(error !== null && allowed.includes(error), `error ${String(error)} (${String(redirect.searchParams.get('error_description'))}), expected one of ${allowed.join(', ')}`);
  assert.equal(redirect.searchParams.get('state'), request.state);
  assert.equal(redirect.searchParams.get('iss'), op.server.config.issuer);
  assert.equal(redirect.searchParams.has('code'), false);
  for (const name of redirect.searchParams.keys()) assert.ok(ERROR_RESPONSE_PARAMETERS.has(name), `unexpected parameter ${name} in the error response`);
  const description = redirect.searchParams.get('error_description');
  if (description !== null) assert.match(description, ERROR_DESCRIPTION);
  return error;
}

export interface TokenResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POST /oauth/token with the client authenticated by client_secret_basic (the plan's default) or client_secret_post. */
export async function tokenRequest(op: Op, client: TestClient, params: Record<string, string>, auth: 'basic' | 'post' = 'basic'): Promise<TokenResult> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams(params);
  if (auth === 'basic') headers.authorization = basicHeader(client.clientId, client.clientSecret ?? '');
  else {
    form.set('client_id', client.clientId);
    form.set('client_secret', client.clientSecret ?? '');
  }
  const res = await fetch(`${op.server.url}/oauth/token`, { method: 'POST', headers, body: form.toString() });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** CreateTokenEndpointRequestForAuthorizationCodeGrant. */
export function exchange(op: Op, request: RpRequest, code: string, auth: 'basic' | 'post' = 'basic', extra: Record<string, string> = {}): Promise<TokenResult> {
  return tokenRequest(op, request.client, { grant_type: 'authorization_code', code, redirect_uri: request.client.redirectUri, ...extra }, auth);
}

const VSCHAR = /^[\x20-\x7E]+$/;

/**
 * A successful token response (requestAuthorizationCode, RefreshTokenRequestSteps): 200, JSON,
 * Cache-Control no-store (CheckTokenEndpointCacheHeaders), Bearer, an access token and refresh
 * token of visible ASCII (RFC 6749 A.12, A.17), a sane expires_in (ValidateExpiresIn), an ID token.
 */
export function expectTokens(res: TokenResult): { accessToken: string; refreshToken: string; idToken: string } {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok((res.headers.get('cache-control') ?? '').split(',').map((s) => s.trim()).includes('no-store'));
  assert.equal(String(res.body.token_type).toLowerCase(), 'bearer');
  const accessToken = res.body.access_token;
  assert.ok(typeof accessToken === 'string' && VSCHAR.test(accessToken));
  assert.ok(typeof res.body.expires_in === 'number' && res.body.expires_in > 0 && res.body.expires_in <= 31_536_000);
  const refreshToken = res.body.refresh_token;
  assert.ok(typeof refreshToken === 'string' && VSCHAR.test(refreshToken) && Buffer.byteLength(refreshToken) * 8 >= 128);
  const idToken = res.body.id_token;
  assert.ok(typeof idToken === 'string', 'the token response carries an id_token (OIDCC-3.1.3.3)');
  return { accessToken, refreshToken, idToken };
}

/**
 * An error from the token endpoint (AbstractOIDCCAuthCodeReuse.checkResponse): 400, JSON,
 * invalid_grant, an error_description within RFC 6749's character set.
 */
export function expectInvalidGrant(res: TokenResult): void {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.body.error, 'invalid_grant');
  if (res.body.error_description !== undefined) assert.match(String(res.body.error_description), ERROR_DESCRIPTION);
  assert.equal(res.body.error_uri, undefined);
}

/** GetDynamicServerConfiguration: the discovery document, whose issuer is ours (CheckServerConfiguration). */
export async function discovery(op: Op): Promise<Record<string, unknown>> {
  const res = await fetch(`${op.server.url}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  const document = (await res.json()) as Record<string, unknown>;
  assert.equal(document.issuer, op.server.config.issuer);
  return document;
}

/** OIDCCCheckScopesSupportedContainScopeTest: whether the suite runs a scope module at all. */
export async function scopesSupported(op: Op, scope: string): Promise<boolean> {
  const supported = (await discovery(op)).scopes_supported;
  assert.ok(Array.isArray(supported));
  return scope.split(' ').every((s) => supported.includes(s));
}

const jwksCache = new WeakMap<Op, JSONWebKeySet>();

/** FetchServerKeys, with CheckForKeyIdInServerJWKs and CheckDistinctKeyIdValueInServerJWKs. */
export async function serverJwks(op: Op): Promise<JSONWebKeySet> {
  const cached = jwksCache.get(op);
  if (cached) return cached;
  const res = await fetch(`${op.server.url}/.well-known/jwks.json`);
  assert.equal(res.status, 200);
  const jwks = (await res.json()) as JSONWebKeySet;
  const kids = jwks.keys.map((k) => k.kid);
  assert.ok(kids.every((k) => typeof k === 'string' && k !== ''), 'every key has a kid');
  assert.equal(new Set(kids).size, kids.length, 'kids are distinct');
  for (const key of jwks.keys) {
    // EnsureJwksHasNoPrivateOrSymmetricKeyMaterial.
    assert.notEqual(key.kty, 'oct');
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal((key as Record<string, unknown>)[secret], undefined, `the JWKS must not publish ${secret}`);
  }
  jwksCache.set(op, jwks);
  return jwks;
}

export interface VerifiedIdToken {
  header: ProtectedHeaderParameters;
  payload: JWTPayload & Record<string, unknown>;
}

/** The server's now, in epoch seconds (its clock may have been moved). */
export function serverNow(op: Op): number {
  return Math.floor(op.server.clock.nowMs() / 1000);
}

/** OIDC Core §5.1 claim types (ValidateIdTokenStandardClaims / ValidateUserInfoStandardClaims) and updated_at's range (EnsureIdTokenUpdatedAtValid). */
export function assertStandardClaims(op: Op, claims: Record<string, unknown>): void {
  for (const [name, type] of Object.entries(STANDARD_CLAIM_TYPES)) {
    if (claims[name] === undefined) continue;
    assert.equal(typeof claims[name], type, `claim ${name} must be a JSON ${type}`);
  }
  if (typeof claims.updated_at === 'number') {
    assert.ok(claims.updated_at >= Date.UTC(1990, 0, 1) / 1000, 'updated_at before 1990');
    assert.ok(claims.updated_at <= serverNow(op) + SKEW, 'updated_at in the future');
  }
}

/**
 * PerformStandardIdTokenChecks: the signature against the JWKS alone (ValidateIdTokenSignature),
 * iss, aud, exp, iat, auth_time and acr (ValidateIdToken), the claim types (ValidateIdTokenStandardClaims),
 * the nonce sent or none (ValidateIdTokenNonce), sub (CheckForSubjectInIdToken), updated_at.
 * With `kid`, also EnsureIdTokenContainsKid and EnsureIdTokenSignatureIsRS256 (oidcc-idtoken-signature).
 */
export async function standardIdTokenChecks(op: Op, client: TestClient, idToken: string, nonce: string | null): Promise<VerifiedIdToken> {
  const jwks = await serverJwks(op);
  const now = serverNow(op);
  const { payload, protectedHeader } = await jwtVerify(idToken, createLocalJWKSet(jwks), {
    issuer: op.server.config.issuer, audience: client.clientId, algorithms: ['RS256', 'ES256'], currentDate: new Date(now * 1000), clockTolerance: SKEW,
  });
  assert.deepEqual(decodeProtectedHeader(idToken), protectedHeader);
  const claims = payload as JWTPayload & Record<string, unknown>;
  assert.ok(Array.isArray(claims.aud) ? claims.aud.includes(client.clientId) : claims.aud === client.clientId);
  assert.equal(typeof claims.exp, 'number');
  assert.ok(claims.exp! > now - SKEW && claims.exp! < now + 50 * 365 * 86_400, 'exp');
  assert.equal(typeof claims.iat, 'number');
  assert.ok(Math.abs(claims.iat! - now) <= SKEW, `iat ${claims.iat} far from now ${now}`);
  if (claims.auth_time !== undefined) {
    assert.equal(typeof claims.auth_time, 'number');
    assert.ok((claims.auth_time as number) <= now + SKEW && (claims.auth_time as number) >= now - 365 * 86_400, 'auth_time');
  }
  if (claims.acr !== undefined) assert.ok(typeof claims.acr === 'string' && claims.acr !== '');
  if (nonce === null) assert.equal(claims.nonce, undefined, 'no nonce was sent, so none comes back');
  else assert.equal(claims.nonce, nonce);
  assert.ok(typeof claims.sub === 'string' && claims.sub !== '', 'sub');
  assertStandardClaims(op, claims);
  return { header: protectedHeader, payload: claims };
}

/** at_hash (ValidateAtHash, OIDC Core §3.1.3.6): the left half of SHA-256 of the access token. */
export function assertAtHash(verified: VerifiedIdToken, accessToken: string): void {
  assert.equal(verified.header.alg === 'RS256' || verified.header.alg === 'ES256', true);
  assert.equal(verified.payload.at_hash, createHash('sha256').update(accessToken, 'ascii').digest().subarray(0, 16).toString('base64url'));
}

/** EnsureIdTokenDoesNotContainNonRequestedClaims (a warning in the suite; asserted here). */
export function assertOnlyRequestedClaims(verified: VerifiedIdToken, scope: string): void {
  const allowed = new Set([...ID_TOKEN_VALID_CLAIMS, ...scope.split(' ').flatMap((s) => SCOPE_STANDARD_CLAIMS[s] ?? [])]);
  for (const name of Object.keys(verified.payload)) assert.ok(allowed.has(name), `the ID token holds the unrequested claim ${name}`);
}

/** The claims a scope set brings (VerifyScopesReturnedInUserInfoClaims' table), reduced to those Latchkey has (SPEC.md). */
export function latchkeyScopeClaims(scope: string): string[] {
  const ours = new Set(['sub', 'name', 'locale', 'updated_at', 'email', 'email_verified']);
  return scope.split(' ').flatMap((s) => SCOPE_STANDARD_CLAIMS[s] ?? []).filter((c) => ours.has(c));
}

export interface AuthorizedTokens {
  request: RpRequest;
  result: AuthorizeResult;
  code: string;
  tokens: { accessToken: string; refreshToken: string; idToken: string };
  idToken: VerifiedIdToken;
}

/**
 * The suite's standard code flow for one module: authorization request, response checks, code
 * exchange, token response checks, the standard ID token checks and at_hash.
 */
export async function codeFlow(
  op: Op,
  request: RpRequest,
  options: Omit<AuthorizeOptions, 'extra' | 'responseType'> & {
    auth?: 'basic' | 'post';
    tokenExtra?: Record<string, string>;
    /** Given: the suite's requestProtectedResource step follows, as a subtest (UserInfo answers the access token). */
    t?: TestContext;
  } = {},
): Promise<AuthorizedTokens> {
  const { auth, tokenExtra, t, ...authorizeOptions } = options;
  const result = await runAuthorization(op, request, authorizeOptions);
  const code = expectCode(op, request, result);
  const tokens = expectTokens(await exchange(op, request, code, auth, tokenExtra));
  const idToken = await standardIdTokenChecks(op, request.client, tokens.idToken, request.nonce);
  assertAtHash(idToken, tokens.accessToken);
  if (t) await requestProtectedResource(t, op, tokens.accessToken, String(idToken.payload.sub), request.scope);
  return { request, result, code, tokens, idToken };
}

/** requestProtectedResource: GET UserInfo with the access token answers 200 (here: the OpenID answer SPEC.md describes). */
export async function requestProtectedResource(t: TestContext, op: Op, accessToken: string, sub: string, scope: string, requested: readonly string[] = []): Promise<void> {
  await t.test('requestProtectedResource: UserInfo answers the access token', async () => {
    expectOidcUserInfo(op, await callUserInfo(op, accessToken), sub, scope, requested);
  });
}

export interface UserInfoResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** CallUserInfoEndpoint (GET, Bearer header), SetResourceMethodToPost (POST, header), CallUserInfoEndpointWithBearerTokenInBody. */
export async function callUserInfo(op: Op, accessToken: string, how: 'get' | 'post-header' | 'post-body' = 'get'): Promise<UserInfoResult> {
  const url = `${op.server.url}/oauth/userinfo`;
  const res = how === 'get'
    ? await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } })
    : how === 'post-header'
      ? await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` } })
      : await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: accessToken }).toString() });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    assert.fail(`UserInfo answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

/**
 * A UserInfo answer for an OpenID token (AbstractOIDCCUserInfoTest, AbstractOIDCCReturnedClaimsServerTest):
 * 200 JSON (EnsureContentTypeJson), `sub` equal to the ID token's (VerifyUserInfoAndIdTokenInTokenEndpointSameSub),
 * standard claim types and updated_at; SPEC.md: exactly `sub` and the granted scopes' claims, no `id`.
 */
export function expectOidcUserInfo(op: Op, res: UserInfoResult, sub: string, scope: string, requested: readonly string[] = []): void {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.body.sub, sub);
  assert.equal(res.body.id, undefined, 'an OpenID answer has sub, not id');
  assertStandardClaims(op, res.body);
  const expected = new Set([...latchkeyScopeClaims(`openid ${scope}`), ...requested]);
  assert.deepEqual(Object.keys(res.body).sort(), [...expected].sort());
}
