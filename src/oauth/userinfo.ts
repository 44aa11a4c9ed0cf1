// The user identity (SPEC.md): what GET /api/user and GET /oauth/userinfo answer for the
// Authorization header they were sent (`Bearer TOKEN`, or `OAuth2 TOKEN` for Huddle).
//
// What the body holds depends on the token's scope: `email` under the `email` scope, `name`
// and `locale` under `profile`, `id` (and `organization`, when the grant is bound to one)
// under either. A token with neither scope, or one with no user behind it
// (client_credentials), gets 403 insufficient_scope: it may not read the user identity at all.
// Every refusal is an OAuthError carrying its RFC 6750 §3 challenge, which the HTTP layer's one
// error handler sends as WWW-Authenticate beside the same error as JSON.
import type { Config } from '../config/load.js';
import { accessTokenState, bearerChallenge, parseBearerAuthorization, type BearerChallenge } from './bearer.js';
import { nowSeconds } from './clock.js';
import { OAuthError } from './errors.js';
import { lookupAccessToken, type AccessTokenLookupDeps } from './jwt.js';
import { hasScope } from './scope.js';

export const REALM = 'latchkey';

export interface UserIdentity {
  id: number;
  name?: string;
  email?: string;
  locale?: string;
  organization?: { id: number; name: string };
}

export interface UserinfoDeps extends AccessTokenLookupDeps {
  config: Pick<Config, 'issuer' | 'expiredTokenStatus'>;
}

/** RFC 6750 §3: the status, the challenge, and the same error as an RFC 6749-style JSON body. */
function refused(status: number, challenge: BearerChallenge & { error: 'invalid_token' | 'insufficient_scope'; description: string }): OAuthError {
  return new OAuthError(challenge.error, challenge.description, { status, challenge: bearerChallenge(REALM, challenge) });
}

export async function userIdentity(deps: UserinfoDeps, authorization: string | undefined): Promise<UserIdentity> {
  const credentials = parseBearerAuthorization(authorization);
  if (credentials.kind === 'absent') {
    // RFC 6750 §3.1: no authentication information, so no error code in the challenge.
    throw new OAuthError('invalid_token', 'an access token is required: send Authorization: Bearer TOKEN', { status: 401, challenge: bearerChallenge(REALM) });
  }
  if (credentials.kind === 'malformed') throw refused(401, { error: 'invalid_token', description: 'the access token is malformed' });

  // Opaque: by hash. JWT (RFC 9068): signature, iss, aud, typ and exp checked, then its jti looked up.
  const token = await lookupAccessToken(deps, credentials.token);
  switch (accessTokenState(token, nowSeconds(deps.clock))) {
    case 'unknown':
      throw refused(401, { error: 'invalid_token', description: 'the access token is invalid' });
    case 'revoked':
      throw refused(401, { error: 'invalid_token', description: 'the access token has been revoked' });
    case 'inactive_organization':
      throw refused(401, { error: 'invalid_token', description: 'third-party integrations are not available on the organization\'s plan' });
    case 'expired':
      // SPEC.md: 401, or 403 under the huddle profile ("you will receive a 403 Forbidden").
      throw refused(deps.config.expiredTokenStatus, { error: 'invalid_token', description: 'the access token has expired' });
    case 'active':
      break;
  }
  // accessTokenState returned 'active', so the token exists.
  const active = token!;
  const profile = hasScope(active.scope, 'profile');
  const email = hasScope(active.scope, 'email');
  if (active.user === null || (!profile && !email)) {
    const description = active.user === null
      ? 'this access token was issued to a client acting for itself and carries no user'
      : 'reading the user identity needs the profile or email scope';
    throw refused(403, { error: 'insufficient_scope', description, scope: 'profile email' });
  }

  const body: UserIdentity = { id: active.user.id };
  if (profile) body.name = active.user.name;
  if (email) body.email = active.user.email;
  if (profile) body.locale = active.user.locale;
  if (active.organizationId !== null && active.organizationName !== null) {
    body.organization = { id: active.organizationId, name: active.organizationName };
  }
  return body;
}
