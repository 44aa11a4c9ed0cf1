// The protected resources (SPEC.md): the user identity that GET /api/user answers, and
// /oauth/userinfo, which answers the same identity for OAuth tokens and the OpenID Connect
// claims (Core §5.3) for tokens whose scope has `openid`.
//
// The access token comes in the Authorization header (`Bearer TOKEN`, or `OAuth2 TOKEN` for
// Huddle), or — at /oauth/userinfo, on POST — as `access_token` in a form-encoded body
// (RFC 6750 §2.2). Never from the query string: the route does not even pass it here.
//
// The identity depends on the token's scope: `email` under the `email` scope, `name` and
// `locale` under `profile`, `id` (and `organization`, when the grant is bound to one) under
// either. A token with neither scope, or one with no user behind it (client_credentials), gets
// 403 insufficient_scope: it may not read the user identity at all. The OpenID claims are
// claims.ts userClaims: `sub` always, the granted scopes' claims, those the grant's `claims`
// request names for UserInfo, `organization` when bound — never `id`.
//
// Every refusal is an OAuthError carrying its RFC 6750 §3 challenge, which the HTTP layer's one
// error handler sends as WWW-Authenticate beside the same error as JSON.
import type { Config } from '../config/load.js';
import {
  accessTokenState, bearerChallenge, parseBearerAuthorization, parseBodyAccessToken, type BearerChallenge, type BearerCredentials,
} from './bearer.js';
import { OPENID_SCOPE, userClaims, type UserClaims } from './claims.js';
import { nowSeconds } from './clock.js';
import { OAuthError } from './errors.js';
import { lookupAccessToken, type AccessTokenLookupDeps } from './jwt.js';
import type { AccessTokenContext } from './model.js';
import { audienceIncludes, builtInResourceIdentifier } from './resources.js';

export const REALM = 'latchkey';

export interface UserIdentity {
  id: number;
  name?: string;
  email?: string;
  locale?: string;
  organization?: { id: number; name: string };
}

/** What /oauth/userinfo answers: the OpenID claims for an `openid` token, else the identity. */
export type UserinfoAnswer = UserClaims | UserIdentity;

export interface UserinfoDeps extends AccessTokenLookupDeps {
  config: Pick<Config, 'issuer' | 'expiredTokenStatus'>;
}

/** RFC 9728 §3: where the protected-resource metadata of ISSUER/api is served. */
export function protectedResourceMetadataLocation(issuer: string): string {
  return `${issuer}/.well-known/oauth-protected-resource`;
}

/**
 * RFC 6750 §3: the status, the challenge, and the same error as an RFC 6749-style JSON body.
 * A 401 also names the protected-resource metadata (RFC 9728 §5.1), after the RFC 6750 fields.
 */
function refused(status: number, challenge: BearerChallenge & { error: NonNullable<BearerChallenge['error']>; description: string }, issuer?: string): OAuthError {
  const withMetadata = status === 401 && issuer !== undefined ? { ...challenge, resourceMetadata: protectedResourceMetadataLocation(issuer) } : challenge;
  return new OAuthError(challenge.error, challenge.description, { status, challenge: bearerChallenge(REALM, withMetadata) });
}

/** RFC 6750 §3.1 invalid_request: 400, with the challenge. */
function invalidRequest(description: string): OAuthError {
  return refused(400, { error: 'invalid_request', description });
}

/**
 * A request refused before its token was looked at (a body that is not form-encoded, or not
 * valid percent-encoding, …), as a protected resource answers it: invalid_request with the
 * Bearer challenge (RFC 6750 §3). Other errors, and those that carry a challenge, pass as they are.
 */
export function asResourceRefusal(error: OAuthError): OAuthError {
  if (error.challenge !== undefined || error.code !== 'invalid_request') return error;
  return new OAuthError('invalid_request', error.description, {
    status: error.status,
    challenge: bearerChallenge(REALM, { error: 'invalid_request', description: error.description }),
    ...(error.debug === undefined ? {} : { debug: error.debug }),
  });
}

/** The stored, usable access token the credentials name, or the RFC 6750 refusal. */
async function activeToken(deps: UserinfoDeps, credentials: BearerCredentials): Promise<AccessTokenContext> {
  if (credentials.kind === 'absent') {
    // RFC 6750 §3.1: no authentication information, so no error code in the challenge.
    throw new OAuthError('invalid_token', 'an access token is required: send Authorization: Bearer TOKEN', {
      status: 401, challenge: bearerChallenge(REALM, { resourceMetadata: protectedResourceMetadataLocation(deps.config.issuer) }),
    });
  }
  const issuer = deps.config.issuer;
  if (credentials.kind === 'malformed') throw refused(401, { error: 'invalid_token', description: 'the access token is malformed' }, issuer);

  // Opaque: by hash. JWT (RFC 9068): signature, iss, aud, typ and exp checked, then its jti looked up.
  const token = await lookupAccessToken(deps, credentials.token);
  switch (accessTokenState(token, nowSeconds(deps.clock))) {
    case 'unknown':
      throw refused(401, { error: 'invalid_token', description: 'the access token is invalid' }, issuer);
    case 'revoked':
      throw refused(401, { error: 'invalid_token', description: 'the access token has been revoked' }, issuer);
    case 'inactive_organization':
      throw refused(401, { error: 'invalid_token', description: 'third-party integrations are not available on the organization\'s plan' }, issuer);
    case 'expired':
      // SPEC.md: 401, or 403 under the huddle profile ("you will receive a 403 Forbidden").
      throw refused(deps.config.expiredTokenStatus, { error: 'invalid_token', description: 'the access token has expired' }, issuer);
    case 'active':
      break;
  }
  // accessTokenState returned 'active', so the token exists.
  const active = token!;
  // RFC 8707, RFC 9068 §4: a token for other resources is not for us (no audience: ISSUER/api).
  if (!audienceIncludes(active.audience, builtInResourceIdentifier(issuer), issuer)) {
    throw refused(401, { error: 'invalid_token', description: `the access token is not for this resource (its audience does not include ${builtInResourceIdentifier(issuer)})` }, issuer);
  }
  return active;
}

/** The identity of an active token, `scopes` being its scope split once. */
function identityOf(token: AccessTokenContext, scopes: readonly string[]): UserIdentity {
  const profile = scopes.includes('profile');
  const email = scopes.includes('email');
  if (token.user === null || (!profile && !email)) {
    const description = token.user === null
      ? 'this access token was issued to a client acting for itself and carries no user'
      : 'reading the user identity needs the profile or email scope';
    throw refused(403, { error: 'insufficient_scope', description, scope: 'profile email' });
  }

  const body: UserIdentity = { id: token.user.id };
  if (profile) body.name = token.user.name;
  if (email) body.email = token.user.email;
  if (profile) body.locale = token.user.locale;
  const organization = organizationOf(token);
  if (organization !== null) body.organization = organization;
  return body;
}

/** The organization the token's grant is bound to, or null. */
function organizationOf(token: AccessTokenContext): { id: number; name: string } | null {
  return token.organizationId !== null && token.organizationName !== null ? { id: token.organizationId, name: token.organizationName } : null;
}

/** GET /api/user: the identity, whatever the token's scope (SPEC.md), from the Authorization header. */
export async function userIdentity(deps: UserinfoDeps, authorization: string | undefined): Promise<UserIdentity> {
  const token = await activeToken(deps, parseBearerAuthorization(authorization));
  return identityOf(token, token.scope.split(' '));
}

/**
 * The credentials of a request whose form body carries `access_token` (RFC 6750 §2.2). A token
 * in both the header and the body, or two in the body, is invalid_request (RFC 6750 §2, §3.1:
 * "uses more than one method"). An empty value counts as none (RFC 6749 §3.1).
 */
function bodyCredentials(authorization: string | undefined, bodyToken: string | readonly string[]): BearerCredentials {
  if (typeof bodyToken !== 'string') throw invalidRequest('send one access token: access_token is repeated in the body');
  if (bodyToken === '') return parseBearerAuthorization(authorization);
  if (parseBearerAuthorization(authorization).kind !== 'absent') {
    throw invalidRequest('send the access token in the Authorization header or in the body, not both');
  }
  return parseBodyAccessToken(bodyToken);
}

/**
 * GET and POST /oauth/userinfo. `authorization` is the Authorization header; `bodyToken` is the
 * `access_token` of a form-encoded POST body (undefined when there is none, an array when it was
 * repeated). A token whose scope has `openid` gets its user's OpenID claims — `sub` alone when
 * neither `profile` nor `email` was granted; any other token gets the identity of /api/user.
 */
export async function userinfo(deps: UserinfoDeps, authorization: string | undefined, bodyToken?: string | readonly string[]): Promise<UserinfoAnswer> {
  const credentials = bodyToken === undefined ? parseBearerAuthorization(authorization) : bodyCredentials(authorization, bodyToken);
  const token = await activeToken(deps, credentials);
  const scopes = token.scope.split(' ');
  if (token.user !== null && scopes.includes(OPENID_SCOPE)) {
    return userClaims(token.user, token.scope, token.claimsRequest?.userinfo, organizationOf(token));
  }
  return identityOf(token, scopes);
}
