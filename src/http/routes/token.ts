// The token endpoint (RFC 6749 §3.2): POST /oauth/token, its alias POST /token (Huddle), and
// POST /refresh (Huddle: refresh_token only, where a client registered with
// refresh_without_secret may send client_id alone). Bodies: form, JSON or multipart (Hover),
// all flattened by toParams (repeats refused, values trimmed). The steps: find the grant by
// grant_type, authenticate the client, check the client may use the grant, let the grant
// handle the rest, answer with no-store.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../../audit.js';
import { passwordChecker } from '../../accounts/password-check.js';
import { OAuthError } from '../../oauth/errors.js';
import { createGrantRegistry } from '../../oauth/grants/index.js';
import { accessTokenFormatter } from '../../oauth/jwt.js';
import { issuedFor, TokenIssuer } from '../../oauth/tokens.js';
import { mergeParams, toParams } from '../plugins/params.js';
import { authenticateClientLimited } from '../plugins/rate-limit.js';

export async function tokenRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;
  // SPEC.md `access_token_format`: opaque, or JWT (RFC 9068) signed with services.signingKeys.
  const issuer = new TokenIssuer(services.config, accessTokenFormatter(services.config, services.signingKeys));
  const registry = createGrantRegistry({
    clock: services.clock,
    config: services.config,
    issuer,
    transaction: services.transaction,
    codes: services.codes,
    refreshTokens: services.refreshTokens,
    grants: services.grants,
    checkPassword: passwordChecker({ guard: services.guard, users: services.users, logger: app.log }),
    audit: app.log,
  });

  function handler(refreshOnly: boolean) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      const params = toParams(request.body);
      // RFC 6749 §3.2: a parameter sent in both the query and the body is a repeat.
      mergeParams(toParams(request.query, 'query'), params);
      const rawGrantType = params.grant_type;
      if (rawGrantType === undefined || rawGrantType === '') throw new OAuthError('invalid_request', 'the grant_type parameter is required');
      // SPEC.md: matched case-insensitively (Huddle sends "Refresh_Token").
      const grantType = rawGrantType.toLowerCase();
      const grant = registry.get(grantType);
      if (!grant || (refreshOnly && grant.grantType !== 'refresh_token')) {
        const supported = refreshOnly ? 'refresh_token' : [...registry.keys()].join(', ');
        throw new OAuthError('unsupported_grant_type', `grant_type ${JSON.stringify(rawGrantType.slice(0, 100))} is not supported here (supported: ${supported})`);
      }

      const client = await authenticateClientLimited(request, { authorization: request.headers.authorization, params, allowRefreshWithoutSecret: refreshOnly });
      if (!client.grantTypes.includes(grant.grantType)) {
        throw new OAuthError('unauthorized_client', `this client is not allowed the ${grant.grantType} grant`);
      }
      if (grant.clientAuthentication === 'confidential' && client.isPublic) {
        throw new OAuthError('unauthorized_client', `the ${grant.grantType} grant is for confidential clients only`);
      }

      const response = await grant.handle({ client, params, address: request.ip });
      const to = issuedFor(response);
      audit(request.log, 'token.issued', {
        user_id: to?.userId ?? null, client_id: client.clientId, grant_id: to?.grantId ?? null, grant_type: grant.grantType, address: request.ip,
        ...(response.scope !== undefined ? { scope: response.scope } : {}),
      });
      // RFC 6749 §5.1: tokens must not be cached.
      return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(response);
    };
  }

  const options = { config: { tokenEndpoint: true } };
  app.post('/oauth/token', options, handler(false));
  app.post('/token', options, handler(false));
  app.post('/refresh', options, handler(true));
}
