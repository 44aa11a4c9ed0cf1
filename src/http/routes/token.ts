// The token endpoint (RFC 6749 §3.2) on the routes of token-routes.ts: POST /oauth/token, its
// alias POST /token (Huddle), and POST /refresh (refresh_token only). Bodies: form, JSON or
// multipart (Hover), all flattened by toParams (repeats refused, values trimmed). Parse, call
// the core (oauth/token-endpoint.ts: every protocol step is there), log token.issued, answer
// with no-store.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../../audit.js';
import { passwordChecker } from '../../accounts/password-check.js';
import { createGrantRegistry } from '../../oauth/grants/index.js';
import { accessTokenFormatter } from '../../oauth/jwt.js';
import { createTokenEndpoint } from '../../oauth/token-endpoint.js';
import { TokenIssuer } from '../../oauth/tokens.js';
import { mergeParams, toParams } from '../plugins/params.js';
import { TOKEN_ROUTES } from '../token-routes.js';

const REPEATABLE = ['resource'];

export async function tokenRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;
  // SPEC.md `access_token_format`: opaque, or JWT (RFC 9068) signed with services.signingKeys.
  const checkPassword = passwordChecker({ guard: services.guard, users: services.users, logger: app.log });
  const issuer = new TokenIssuer(services.config, accessTokenFormatter(services.config, services.signingKeys));
  const tokenEndpoint = createTokenEndpoint({
    clients: services.clients,
    guard: services.guard,
    clientAssertions: services.clientAssertions,
    grants: createGrantRegistry({
      clock: services.clock,
      config: services.config,
      issuer,
      transaction: services.transaction,
      codes: services.codes,
      refreshTokens: services.refreshTokens,
      grants: services.grants,
      resources: services.resources,
      // An account with a second factor cannot be reached by its password alone: the password
      // grant answers as for a wrong password (no hint that the password was right), and the
      // person signs in through the browser (authorization code), where the factor is asked.
      checkPassword: async (request) => {
        const checked = await checkPassword(request);
        if (checked.ok && (await services.factors.hasSecondFactor(checked.user.id))) {
          audit(app.log, 'factor.failed', { user_id: checked.user.id, client_id: request.clientId, grant_type: 'password', address: request.address, reason: 'password_grant_needs_second_factor' });
          return { ok: false, refusal: 'wrong' };
        }
        return checked;
      },
      audit: app.log,
      idTokens: { keys: services.signingKeys, config: services.config },
    }),
  });

  function handler(refreshOnly: boolean) {
    return async (request: FastifyRequest, reply: FastifyReply) => {
      // RFC 8707 §2: `resource` may repeat, one value per resource.
      const params = toParams(request.body, 'body', REPEATABLE);
      // RFC 6749 §3.2: a parameter sent in both the query and the body is a repeat.
      mergeParams(toParams(request.query, 'query', REPEATABLE), params);
      const result = await tokenEndpoint({ params, authorization: request.headers.authorization, address: request.ip, refreshOnly, log: request.log });
      audit(request.log, 'token.issued', result.audit);
      // RFC 6749 §5.1: tokens must not be cached.
      return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(result.body);
    };
  }

  const options = { config: { tokenEndpoint: true } };
  for (const route of TOKEN_ROUTES) app.route({ method: route.method, url: route.path, ...options, handler: handler(route.refreshOnly) });
}
