// The user identity (SPEC.md): GET /api/user and GET /oauth/userinfo, for an access token
// sent as `Authorization: Bearer TOKEN` or `Authorization: OAuth2 TOKEN` (Huddle).
//
// What the body holds depends on the token's scope: `email` under the `email` scope, `name`
// and `locale` under `profile`, `id` (and `organization`, when the grant is bound to one)
// under either. A token with neither scope, or one with no user behind it
// (client_credentials), gets 403 insufficient_scope: it may not read the user identity at all.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { accessTokenState, bearerChallenge, parseBearerAuthorization, type BearerChallenge } from '../../oauth/bearer.js';
import { nowSeconds } from '../../oauth/clock.js';
import { lookupAccessToken } from '../../oauth/jwt.js';
import { hasScope } from '../../oauth/scope.js';

export const REALM = 'latchkey';

interface UserIdentity {
  id: number;
  name?: string;
  email?: string;
  locale?: string;
  organization?: { id: number; name: string };
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
}

/** RFC 6750 §3: the status, the challenge, and the same error as an RFC 6749-style JSON body. */
function refuse(reply: FastifyReply, status: number, challenge: BearerChallenge & { description: string }): FastifyReply {
  return noStore(reply).code(status).header('WWW-Authenticate', bearerChallenge(REALM, challenge))
    .send({ error: challenge.error ?? 'invalid_token', error_description: challenge.description });
}

export async function userinfoRoutes(app: FastifyInstance): Promise<void> {
  const { clock, config } = app.services;

  async function userinfo(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const credentials = parseBearerAuthorization(request.headers.authorization);
    if (credentials.kind === 'absent') {
      // RFC 6750 §3.1: no authentication information, so no error code in the challenge.
      return noStore(reply).code(401).header('WWW-Authenticate', bearerChallenge(REALM))
        .send({ error: 'invalid_token', error_description: 'an access token is required: send Authorization: Bearer TOKEN' });
    }
    if (credentials.kind === 'malformed') {
      return refuse(reply, 401, { error: 'invalid_token', description: 'the access token is malformed' });
    }

    // Opaque: by hash. JWT (RFC 9068): signature, iss, aud, typ and exp checked, then its jti looked up.
    const token = await lookupAccessToken(app.services, credentials.token);
    switch (accessTokenState(token, nowSeconds(clock))) {
      case 'unknown':
        return refuse(reply, 401, { error: 'invalid_token', description: 'the access token is invalid' });
      case 'revoked':
        return refuse(reply, 401, { error: 'invalid_token', description: 'the access token has been revoked' });
      case 'inactive_organization':
        return refuse(reply, 401, { error: 'invalid_token', description: 'third-party integrations are not available on the organization\'s plan' });
      case 'expired':
        // SPEC.md: 401, or 403 under the huddle profile ("you will receive a 403 Forbidden").
        return refuse(reply, config.expiredTokenStatus, { error: 'invalid_token', description: 'the access token has expired' });
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
      return refuse(reply, 403, { error: 'insufficient_scope', description, scope: 'profile email' });
    }

    const body: UserIdentity = { id: active.user.id };
    if (profile) body.name = active.user.name;
    if (email) body.email = active.user.email;
    if (profile) body.locale = active.user.locale;
    if (active.organizationId !== null && active.organizationName !== null) {
      body.organization = { id: active.organizationId, name: active.organizationName };
    }
    return noStore(reply).send(body);
  }

  app.get('/api/user', userinfo);
  app.get('/oauth/userinfo', userinfo);
}
