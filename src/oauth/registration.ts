// RFC 7591 dynamic client registration and RFC 7592 management, framework-free: the routes
// (http/routes/register.ts) parse the body and the Bearer token and call these steps; the
// stores implement the two ports below. Every refusal is an OAuthError with an RFC 7591 §3.2.2
// code (invalid_redirect_uri, invalid_client_metadata, invalid_software_statement), or
// access_denied (registration closed) / invalid_token (initial or registration access token).
//
// Secrets: the client secret, the registration access token and the initial access token are
// 256-bit random values stored only as SHA-256; the client_secret_jwt secret is kept sealed too
// (sealed-secret.ts), since an HMAC cannot be checked against a hash.
import { createPublicKey } from 'node:crypto';
import type { Config, RegistrationMode } from '../config/load.js';
import { nowSeconds, type Clock } from './clock.js';
import { constantTimeEqual, newClientId, newSecret, sha256Hex } from './crypto.js';
import { OAuthError, type OAuthErrorCode } from './errors.js';
import { GRANT_TYPES, type GrantType } from './grant-types.js';
import type { Client, ClientMetadata, IdTokenAlg, JsonWebKeySet, NewClient, TokenEndpointAuthMethod } from './model.js';
import { MAX_URI_LENGTH, RedirectUriError, validateRedirectUri } from './redirect-uri.js';
import { sealClientSecret } from './sealed-secret.js';
import { isSigningAlg, SIGNING_ALGS } from './signing-keys.js';

export const REGISTRATION_PATH = '/oauth/register';

/** Largest registration document accepted (a JWK Set of a few RSA keys fits many times over). */
export const MAX_REGISTRATION_BODY = 16 * 1024;

/** RFC 7591 §2 token_endpoint_auth_method values accepted at registration. */
export const REGISTRATION_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'];

/** Grant types a dynamically registered client may use: not `password` (RFC 9700 §2.4: never for a client anyone can register). */
export const REGISTRATION_GRANT_TYPES: readonly GrantType[] = GRANT_TYPES.filter((g) => g !== 'password');

/** As the developer portal and the command line (accounts/client-registration.ts). */
const MAX_URIS = 20;
const MAX_CLIENT_NAME_LENGTH = 200;
const MAX_KEYS = 10;
const MAX_CONTACTS = 10;
const MAX_SHORT_STRING = 200;
const MAX_CONTACT_LENGTH = 320;
// Control characters, line and paragraph separators, and invisible formatting (bidi overrides):
// a name or contact shown on the consent page must read as what it is.
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/;
/** JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The client metadata as validated: what is stored, in the model's terms. */
export interface ValidatedMetadata {
  readonly redirectUris: string[];
  readonly grantTypes: GrantType[];
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** null: none given (the client is then named by its client_id). */
  readonly clientName: string | null;
  readonly scopes: string[];
  readonly jwks: JsonWebKeySet | null;
  readonly jwksUri: string | null;
  readonly postLogoutRedirectUris: string[];
  readonly idTokenSignedResponseAlg: IdTokenAlg;
  readonly metadata: ClientMetadata;
}

function refuse(code: OAuthErrorCode, description: string): never {
  throw new OAuthError(code, description);
}

const metadataError = (description: string): never => refuse('invalid_client_metadata', description);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The member `name` when the document has it as its own (never an inherited one such as `__proto__`'s). */
function member(doc: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(doc, name) ? doc[name] : undefined;
}

function stringList(value: unknown, field: string, max: number, code: OAuthErrorCode = 'invalid_client_metadata'): string[] {
  if (!Array.isArray(value)) refuse(code, `${field} must be an array of strings`);
  if (value.length > max) refuse(code, `${field} may hold at most ${max} values`);
  for (const v of value) if (typeof v !== 'string') refuse(code, `${field} must be an array of strings`);
  return value as string[];
}

function shortText(value: unknown, field: string, max = MAX_SHORT_STRING): string {
  if (typeof value !== 'string') metadataError(`${field} must be a string`);
  const text = (value as string).trim();
  if (text === '') metadataError(`${field} must not be empty`);
  if (text.length > max) metadataError(`${field} must be at most ${max} characters`);
  if (UNSAFE_TEXT.test(text)) metadataError(`${field} must not contain control or invisible formatting characters`);
  return text;
}

/** An https URL the server only stores and hands back (logo_uri, client_uri, policy_uri, tos_uri, jwks_uri). */
function httpsUrl(value: unknown, field: string): string {
  if (typeof value !== 'string') metadataError(`${field} must be a string`);
  const text = value as string;
  if (text.length > MAX_URI_LENGTH) metadataError(`${field} must be at most ${MAX_URI_LENGTH} characters`);
  if (UNSAFE_TEXT.test(text) || text.includes('\\') || /\s/.test(text)) metadataError(`${field} must not contain spaces, control characters or backslashes`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return metadataError(`${field} must be an absolute https URL`);
  }
  if (url.protocol !== 'https:' || !/^https:\/\//i.test(text)) metadataError(`${field} must be an https URL`);
  if (url.hostname === '') metadataError(`${field} has no host`);
  if (url.username !== '' || url.password !== '') metadataError(`${field} must not contain user information (...@)`);
  if (text.includes('#')) metadataError(`${field} must not contain a fragment (#...)`);
  return text;
}

/**
 * A JWK Set of public keys (RFC 7517 §5), each one a key node:crypto can import; throws
 * invalid_client_metadata naming what is wrong. Registered `jwks` and sets fetched from a
 * `jwks_uri` (net/jwks-cache.ts) are both held to it.
 */
export function publicJwkSet(value: unknown): JsonWebKeySet {
  if (!isPlainObject(value)) metadataError('jwks must be a JWK Set: an object with a "keys" array');
  const keys = member(value as Record<string, unknown>, 'keys');
  if (!Array.isArray(keys) || keys.length === 0) metadataError('jwks must be a JWK Set: an object with a non-empty "keys" array');
  if ((keys as unknown[]).length > MAX_KEYS) metadataError(`jwks may hold at most ${MAX_KEYS} keys`);
  const out: Array<Record<string, unknown>> = [];
  const kids = new Set<string>();
  for (const [i, key] of (keys as unknown[]).entries()) {
    if (!isPlainObject(key)) metadataError(`jwks key ${i} is not a JSON object`);
    const jwk = key as Record<string, unknown>;
    const kty = member(jwk, 'kty');
    if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') metadataError(`jwks key ${i}: kty must be RSA, EC or OKP (public keys only)`);
    for (const m of PRIVATE_JWK_MEMBERS) {
      if (Object.hasOwn(jwk, m)) metadataError(`jwks key ${i} holds private key material ("${m}"): register public keys only`);
    }
    for (const m of ['kid', 'use', 'alg', 'crv', 'n', 'e', 'x', 'y']) {
      const v = member(jwk, m);
      if (v !== undefined && (typeof v !== 'string' || v.length > 2048)) metadataError(`jwks key ${i}: "${m}" must be a string`);
    }
    const kid = member(jwk, 'kid');
    if (typeof kid === 'string') {
      if (kids.has(kid)) metadataError(`jwks: two keys share the kid ${JSON.stringify(kid)}`);
      kids.add(kid);
    }
    const use = member(jwk, 'use');
    if (use !== undefined && use !== 'sig') metadataError(`jwks key ${i}: use must be "sig"`);
    try {
      // node:crypto parses the JWK and checks the key itself (an RSA modulus, a point on its curve).
      createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch {
      metadataError(`jwks key ${i} is not a valid ${String(kty)} public key`);
    }
    if (kty === 'RSA' && typeof jwk.n === 'string' && Buffer.from(jwk.n, 'base64url').length < 256) metadataError(`jwks key ${i}: RSA keys must have at least 2048 bits`);
    out.push(jwk);
  }
  return { keys: out };
}

function redirectUriList(value: unknown, field: 'redirect_uris' | 'post_logout_redirect_uris'): string[] {
  const code: OAuthErrorCode = field === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata';
  const uris = stringList(value, field, MAX_URIS, code);
  try {
    // The developer portal's rules (redirect-uri.ts, as accounts/client-registration.ts applies
    // them): absolute, no fragment, no user information, no control characters or backslashes,
    // https except for http on loopback hosts.
    return [...new Set(uris.map((u) => validateRedirectUri(u, { requireHttps: true })))];
  } catch (err) {
    if (err instanceof RedirectUriError) return refuse(code, field === 'redirect_uris' ? err.message : `post_logout_redirect_uris: ${err.message}`);
    throw err;
  }
}

/**
 * Validates an RFC 7591 §2 client metadata document (the body of POST /oauth/register, or of
 * an RFC 7592 PUT) against what this server supports. Unknown members are ignored (RFC 7591 §2).
 */
export function validateClientMetadata(body: unknown, config: Pick<Config, 'scopes'>): ValidatedMetadata {
  if (!isPlainObject(body)) metadataError('the request body must be a JSON object of client metadata');
  const doc = body as Record<string, unknown>;

  // RFC 7591 §2.3: software statements are optional for a server; this one takes none.
  if (member(doc, 'software_statement') !== undefined) refuse('invalid_software_statement', 'software statements are not accepted by this server: send the client metadata itself');

  // token_endpoint_auth_method (RFC 7591 §2): client_secret_basic when left out.
  const methodValue = member(doc, 'token_endpoint_auth_method');
  if (methodValue !== undefined && (typeof methodValue !== 'string' || !(REGISTRATION_AUTH_METHODS as readonly string[]).includes(methodValue))) {
    metadataError(`token_endpoint_auth_method must be one of ${REGISTRATION_AUTH_METHODS.join(', ')}`);
  }
  const tokenEndpointAuthMethod = (methodValue ?? 'client_secret_basic') as TokenEndpointAuthMethod;

  // grant_types: authorization_code when left out (RFC 7591 §2).
  const grantValue = member(doc, 'grant_types');
  const grantTypes = grantValue === undefined ? ['authorization_code'] : [...new Set(stringList(grantValue, 'grant_types', 10))];
  if (grantTypes.length === 0) metadataError('grant_types must name at least one grant type');
  for (const g of grantTypes) {
    if (g === 'password') metadataError('the password grant is not offered to dynamically registered clients (RFC 9700 section 2.4)');
    if (!(REGISTRATION_GRANT_TYPES as readonly string[]).includes(g)) metadataError(`grant type ${JSON.stringify(g)} is not supported (supported: ${REGISTRATION_GRANT_TYPES.join(', ')})`);
  }
  if (grantTypes.length === 1 && grantTypes[0] === 'refresh_token') metadataError('refresh_token needs a grant that issues refresh tokens (authorization_code)');

  // response_types: only `code`, and consistent with grant_types (RFC 7591 §2.1): code ⇔
  // authorization_code. Left out: ["code"] when the client uses authorization_code, else none.
  const responseValue = member(doc, 'response_types');
  const usesCode = grantTypes.includes('authorization_code');
  const responseTypes = responseValue === undefined ? (usesCode ? ['code'] : []) : [...new Set(stringList(responseValue, 'response_types', 10))];
  for (const r of responseTypes) if (r !== 'code') metadataError(`response type ${JSON.stringify(r)} is not supported (only "code")`);
  if (usesCode && !responseTypes.includes('code')) metadataError('grant_types has authorization_code, so response_types must have "code" (RFC 7591 section 2.1)');
  if (!usesCode && responseTypes.includes('code')) metadataError('response_types has "code", so grant_types must have authorization_code (RFC 7591 section 2.1)');

  if (tokenEndpointAuthMethod === 'none' && grantTypes.includes('client_credentials')) {
    metadataError('a client with token_endpoint_auth_method "none" cannot use client_credentials (it has no credentials)');
  }

  // redirect_uris: required for the code flow (OIDC Dynamic Client Registration §2; RFC 7591 §2).
  const redirectValue = member(doc, 'redirect_uris');
  const redirectUris = redirectValue === undefined ? [] : redirectUriList(redirectValue, 'redirect_uris');
  if (usesCode && redirectUris.length === 0) refuse('invalid_redirect_uri', 'redirect_uris is required for the authorization_code grant');

  const postLogoutValue = member(doc, 'post_logout_redirect_uris');
  const postLogoutRedirectUris = postLogoutValue === undefined ? [] : redirectUriList(postLogoutValue, 'post_logout_redirect_uris');

  const nameValue = member(doc, 'client_name');
  const clientName = nameValue === undefined ? null : shortText(nameValue, 'client_name', MAX_CLIENT_NAME_LENGTH);

  // scope: a space-separated subset of the server's scopes; all of them when left out.
  const scopeValue = member(doc, 'scope');
  let scopes = [...config.scopes];
  if (scopeValue !== undefined) {
    if (typeof scopeValue !== 'string') metadataError('scope must be a string of space-separated scope names');
    scopes = [...new Set((scopeValue as string).split(' ').filter((s) => s !== ''))];
    if (scopes.length === 0) metadataError('scope must name at least one scope');
    for (const s of scopes) {
      if (!config.scopes.includes(s)) metadataError(`scope ${JSON.stringify(s.slice(0, 40))} is not offered by this server (offered: ${config.scopes.join(' ')})`);
    }
  }

  // jwks / jwks_uri: one or the other (RFC 7591 §2), public keys only; private_key_jwt needs one.
  const jwksValue = member(doc, 'jwks');
  const jwksUriValue = member(doc, 'jwks_uri');
  if (jwksValue !== undefined && jwksUriValue !== undefined) metadataError('jwks and jwks_uri must not both be present (RFC 7591 section 2)');
  const jwks = jwksValue === undefined ? null : publicJwkSet(jwksValue);
  const jwksUri = jwksUriValue === undefined ? null : httpsUrl(jwksUriValue, 'jwks_uri');
  if (tokenEndpointAuthMethod === 'private_key_jwt' && jwks === null && jwksUri === null) metadataError('private_key_jwt needs the client\'s public keys: jwks or jwks_uri');

  const algValue = member(doc, 'id_token_signed_response_alg');
  if (algValue !== undefined && !isSigningAlg(algValue)) metadataError(`id_token_signed_response_alg must be ${SIGNING_ALGS.join(' or ')}`);
  const idTokenSignedResponseAlg: IdTokenAlg = algValue === undefined ? 'RS256' : algValue as IdTokenAlg;

  const metadata: { -readonly [K in keyof ClientMetadata]: ClientMetadata[K] } = {};
  for (const field of ['client_uri', 'logo_uri', 'policy_uri', 'tos_uri'] as const) {
    const v = member(doc, field);
    if (v !== undefined) metadata[field] = httpsUrl(v, field);
  }
  const contactsValue = member(doc, 'contacts');
  if (contactsValue !== undefined) {
    metadata.contacts = [...new Set(stringList(contactsValue, 'contacts', MAX_CONTACTS).map((c) => shortText(c, 'contacts', MAX_CONTACT_LENGTH)))];
  }
  for (const field of ['software_id', 'software_version'] as const) {
    const v = member(doc, field);
    if (v !== undefined) metadata[field] = shortText(v, field);
  }

  return {
    redirectUris,
    grantTypes: grantTypes as GrantType[],
    tokenEndpointAuthMethod,
    clientName,
    scopes,
    jwks,
    jwksUri,
    postLogoutRedirectUris,
    idTokenSignedResponseAlg,
    metadata,
  };
}

/** Whether a client authenticating with `method` is given a client_secret. */
export function needsSecret(method: TokenEndpointAuthMethod): boolean {
  return method !== 'none' && method !== 'private_key_jwt';
}

// ---- the ports the steps below need ---------------------------------------------------------

/** What an initial access token allows once consumed: who owns the clients registered with it. */
export interface ConsumedRegistrationToken {
  readonly ownerUserId: number | null;
}

export interface RegistrationTokenPort {
  /**
   * Counts one use of the initial access token with this SHA-256 hex, atomically (one
   * `UPDATE … WHERE uses < max_uses AND not expired RETURNING`): undefined when it is unknown,
   * expired or used up.
   */
  consume(tokenHash: string, now: number): Promise<ConsumedRegistrationToken | undefined>;
  /** Gives back a use counted for a registration that then failed to be stored. */
  release(tokenHash: string): Promise<void>;
}

/** A registered client's metadata as an RFC 7592 update writes it. */
export interface RegisteredClientChanges {
  readonly name: string;
  readonly redirectUris: readonly string[];
  readonly grantTypes: readonly GrantType[];
  readonly scopes: readonly string[];
  readonly isPublic: boolean;
  readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  readonly jwks: JsonWebKeySet | null;
  readonly jwksUri: string | null;
  readonly postLogoutRedirectUris: readonly string[];
  readonly idTokenSignedResponseAlg: IdTokenAlg;
  readonly metadata: ClientMetadata;
  /** undefined: the secret stays as it is. */
  readonly secret?: { readonly hash: string | null; readonly sealed: string | null };
  readonly registrationTokenHash: string;
}

export interface RegisteredClientPort {
  insert(client: NewClient): Promise<Client>;
  findByClientId(clientId: string): Promise<Client | undefined>;
  /**
   * Replaces a dynamically registered client's metadata and registration access token, only
   * while its registration access token is still `expectedTokenHash` (a concurrent update or
   * delete wins once); false when it no longer is (or the client is gone).
   */
  replaceRegistered(id: number, expectedTokenHash: string, changes: RegisteredClientChanges, now: number): Promise<boolean>;
  /** Deletes the client while its registration access token is `expectedTokenHash`; false otherwise. */
  deleteRegistered(id: number, expectedTokenHash: string): Promise<boolean>;
}

export interface RegistrationDeps {
  config: Pick<Config, 'issuer' | 'scopes' | 'registration' | 'encryptionKey'>;
  clock: Clock;
  clients: RegisteredClientPort;
  registrationTokens: RegistrationTokenPort;
}

/** The RFC 7591 §3.2.1 / RFC 7592 §3 answer: the client's metadata with its credentials. */
export type RegistrationResponse = Record<string, unknown>;

/** What one registration step did, for the audit line. */
export interface RegistrationOutcome {
  readonly client: Client;
  readonly response: RegistrationResponse;
}

export function registrationClientUri(issuer: string, clientId: string): string {
  return `${issuer}${REGISTRATION_PATH}/${encodeURIComponent(clientId)}`;
}

/** The client as RFC 7591 §3.2.1 describes it; credentials only when just issued. */
export function registrationResponse(
  issuer: string,
  client: Client,
  issued: { clientSecret?: string | null; registrationAccessToken?: string } = {},
): RegistrationResponse {
  const method = client.tokenEndpointAuthMethod ?? (client.isPublic ? 'none' : 'client_secret_basic');
  const usesCode = client.grantTypes.includes('authorization_code');
  return {
    client_id: client.clientId,
    ...(issued.clientSecret ? { client_secret: issued.clientSecret } : {}),
    client_id_issued_at: client.createdAt,
    // Required whenever the client has a secret (RFC 7591 §3.2.1); 0: it does not expire.
    ...(client.secretHash !== null ? { client_secret_expires_at: 0 } : {}),
    ...(issued.registrationAccessToken ? { registration_access_token: issued.registrationAccessToken } : {}),
    registration_client_uri: registrationClientUri(issuer, client.clientId),
    client_name: client.name,
    redirect_uris: [...client.redirectUris],
    grant_types: [...client.grantTypes],
    response_types: usesCode ? ['code'] : [],
    token_endpoint_auth_method: method,
    scope: client.scopes.join(' '),
    ...(client.jwks !== null ? { jwks: client.jwks } : {}),
    ...(client.jwksUri !== null ? { jwks_uri: client.jwksUri } : {}),
    post_logout_redirect_uris: [...client.postLogoutRedirectUris],
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    ...client.metadata,
  };
}

/** The Bearer token a registration request carried, or undefined (RFC 6750 §2.1). */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  return m?.[1];
}

const INVALID_INITIAL_TOKEN = 'registration needs a valid initial access token (Authorization: Bearer ...); this one is missing, unknown, expired or used up';
const INVALID_REGISTRATION_TOKEN = 'the registration access token is missing or not valid for this client';

function invalidToken(description: string): OAuthError {
  return new OAuthError('invalid_token', description, { challenge: `Bearer error="invalid_token", error_description="${description.replace(/"/g, "'")}"` });
}

/** Secrets for a client authenticating with `method`: the one to hand out and what is stored of it. */
function newClientSecret(method: TokenEndpointAuthMethod, clientId: string, key: Buffer | null): { secret: string | null; hash: string | null; sealed: string | null } {
  if (!needsSecret(method)) return { secret: null, hash: null, sealed: null };
  const secret = newSecret();
  return { secret, hash: sha256Hex(secret), sealed: method === 'client_secret_jwt' ? sealClientSecret(secret, clientId, key) : null };
}

/**
 * POST /oauth/register (RFC 7591 §3): checks the mode and the initial access token, validates
 * the metadata (`readBody` is called only then: a closed server or a missing token is answered
 * as such whatever the body), stores the client. The token's use is counted only for a valid document, so a
 * refused one costs none; it is given back if storing fails.
 */
export async function registerDynamicClient(deps: RegistrationDeps, readBody: () => unknown, authorization: string | undefined): Promise<RegistrationOutcome> {
  const mode: RegistrationMode = deps.config.registration;
  if (mode === 'closed') throw new OAuthError('access_denied', 'dynamic client registration is not open on this server');
  let initialTokenHash: string | undefined;
  if (mode === 'token') {
    const token = bearerToken(authorization);
    if (token === undefined) throw invalidToken(INVALID_INITIAL_TOKEN);
    initialTokenHash = sha256Hex(token);
  }
  const metadata = validateClientMetadata(readBody(), deps.config);
  const now = nowSeconds(deps.clock);

  let owner: number | null = null;
  if (initialTokenHash !== undefined) {
    const consumed = await deps.registrationTokens.consume(initialTokenHash, now);
    if (!consumed) throw invalidToken(INVALID_INITIAL_TOKEN);
    owner = consumed.ownerUserId;
  }

  const clientId = newClientId();
  const secret = newClientSecret(metadata.tokenEndpointAuthMethod, clientId, deps.config.encryptionKey);
  const registrationAccessToken = newSecret();
  let client: Client;
  try {
    client = await deps.clients.insert({
      clientId,
      secretHash: secret.hash,
      secretSealed: secret.sealed,
      name: metadata.clientName ?? clientId,
      redirectUris: metadata.redirectUris,
      ownerUserId: owner,
      isPublic: metadata.tokenEndpointAuthMethod === 'none',
      grantTypes: metadata.grantTypes,
      scopes: metadata.scopes,
      refreshWithoutSecret: false,
      // Anyone may register: errors never redirect before the consent page (RFC 9700 §4.11.2).
      trusted: false,
      postLogoutRedirectUris: metadata.postLogoutRedirectUris,
      idTokenSignedResponseAlg: metadata.idTokenSignedResponseAlg,
      tokenEndpointAuthMethod: metadata.tokenEndpointAuthMethod,
      jwks: metadata.jwks,
      jwksUri: metadata.jwksUri,
      metadata: metadata.metadata,
      registration: mode,
      registrationTokenHash: sha256Hex(registrationAccessToken),
      now,
    });
  } catch (err) {
    if (initialTokenHash !== undefined) await deps.registrationTokens.release(initialTokenHash).catch(() => undefined);
    throw err;
  }
  return { client, response: registrationResponse(deps.config.issuer, client, { clientSecret: secret.secret, registrationAccessToken }) };
}

/**
 * The client an RFC 7592 request is about, once its registration access token matches (in
 * constant time). An unknown client and a wrong token get the same 401 (no enumeration).
 */
export async function authorizeManagement(deps: Pick<RegistrationDeps, 'clients'>, clientId: string, authorization: string | undefined): Promise<{ client: Client; tokenHash: string }> {
  const token = bearerToken(authorization);
  const presentedHash = sha256Hex(token ?? '');
  const client = token === undefined ? undefined : await deps.clients.findByClientId(clientId);
  const stored = client?.registrationTokenHash ?? null;
  // Compared even when there is nothing to compare with, so that timing does not tell an unknown client from a wrong token.
  const matches = constantTimeEqual(presentedHash, stored ?? sha256Hex('')) && stored !== null;
  if (!client || !matches) throw invalidToken(INVALID_REGISTRATION_TOKEN);
  return { client, tokenHash: stored };
}

/** GET on the registration client URI (RFC 7592 §2.1). */
export async function readRegisteredClient(deps: RegistrationDeps, clientId: string, authorization: string | undefined): Promise<RegistrationOutcome> {
  const { client } = await authorizeManagement(deps, clientId, authorization);
  return { client, response: registrationResponse(deps.config.issuer, client) };
}

/**
 * PUT on the registration client URI (RFC 7592 §2.2): the document replaces the client's
 * metadata (members left out take their defaults), the client_id stays, the registration
 * access token is rotated (the old one stops working). The secret is kept when the new
 * method still uses one of the same kind; otherwise a new one is issued (or none kept).
 */
export async function updateRegisteredClient(deps: RegistrationDeps, clientId: string, authorization: string | undefined, readBody: () => unknown): Promise<RegistrationOutcome> {
  const { client, tokenHash } = await authorizeManagement(deps, clientId, authorization);
  const body = readBody();
  if (!isPlainObject(body)) metadataError('the request body must be a JSON object of client metadata');
  const doc = body as Record<string, unknown>;
  // RFC 7592 §2.2: the client_id must be sent and be this client's; a client_secret sent must be the current one.
  if (member(doc, 'client_id') !== client.clientId) metadataError('client_id must be present and be this client\'s client_id (RFC 7592 section 2.2)');
  const sentSecret = member(doc, 'client_secret');
  if (sentSecret !== undefined && (typeof sentSecret !== 'string' || client.secretHash === null || !constantTimeEqual(sha256Hex(sentSecret), client.secretHash))) {
    metadataError('client_secret must be the client\'s current secret (a client cannot choose its own)');
  }
  const metadata = validateClientMetadata(doc, deps.config);
  const oldMethod = client.tokenEndpointAuthMethod ?? (client.isPublic ? 'none' : 'client_secret_basic');
  const newMethod = metadata.tokenEndpointAuthMethod;
  // The secret is kept when both methods use one, and a client_secret_jwt client has it sealed.
  const keepSecret = needsSecret(oldMethod) && needsSecret(newMethod) && client.secretHash !== null
    && (newMethod !== 'client_secret_jwt' || client.secretSealed !== null);
  const fresh = keepSecret ? undefined : newClientSecret(newMethod, client.clientId, deps.config.encryptionKey);
  const registrationAccessToken = newSecret();
  const now = nowSeconds(deps.clock);
  const updated = await deps.clients.replaceRegistered(client.id, tokenHash, {
    name: metadata.clientName ?? client.clientId,
    redirectUris: metadata.redirectUris,
    grantTypes: metadata.grantTypes,
    scopes: metadata.scopes,
    isPublic: newMethod === 'none',
    tokenEndpointAuthMethod: newMethod,
    jwks: metadata.jwks,
    jwksUri: metadata.jwksUri,
    postLogoutRedirectUris: metadata.postLogoutRedirectUris,
    idTokenSignedResponseAlg: metadata.idTokenSignedResponseAlg,
    metadata: metadata.metadata,
    ...(fresh ? { secret: { hash: fresh.hash, sealed: fresh.sealed } } : {}),
    registrationTokenHash: sha256Hex(registrationAccessToken),
  }, now);
  // Another request rotated or deleted first: this token is no longer the client's.
  if (!updated) throw invalidToken(INVALID_REGISTRATION_TOKEN);
  const after = await deps.clients.findByClientId(client.clientId);
  if (!after) throw invalidToken(INVALID_REGISTRATION_TOKEN);
  return { client: after, response: registrationResponse(deps.config.issuer, after, { clientSecret: fresh?.secret ?? null, registrationAccessToken }) };
}

/** DELETE on the registration client URI (RFC 7592 §2.3): the client, its grants and tokens go at once. */
export async function deleteRegisteredClient(deps: RegistrationDeps, clientId: string, authorization: string | undefined): Promise<Client> {
  const { client, tokenHash } = await authorizeManagement(deps, clientId, authorization);
  if (!(await deps.clients.deleteRegistered(client.id, tokenHash))) throw invalidToken(INVALID_REGISTRATION_TOKEN);
  return client;
}
