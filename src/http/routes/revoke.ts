// POST /oauth/revoke (RFC 7009): parse, authenticate the client, call the core, answer 200
// with an empty body whatever became of the token (RFC 7009 §2.2).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticateClientGuarded } from '../../oauth/client-auth.js';
import { audit } from '../../audit.js';
import { OAuthError } from '../../oauth/errors.js';
import { revoke } from '../../oauth/revoke.js';
import { toParams, type Params } from '../plugins/params.js';

/**
 * The parameters of a revocation or introspection request: the body (form, JSON or
 * multipart). A token in the query string is refused: URLs end up in logs and histories,
 * and both RFCs send it in the body (RFC 7009 §2.1, RFC 7662 §2.1).
 */
export function tokenRequestParams(request: FastifyRequest): Params {
  const query = toParams(request.query, 'query');
  if (query.token !== undefined) throw new OAuthError('invalid_request', 'send the token in the request body, not in the URL');
  return toParams(request.body);
}

export async function revokeRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;
  app.post('/oauth/revoke', async (request, reply) => {
    const params = tokenRequestParams(request);
    const client = await authenticateClientGuarded({ authorization: request.headers.authorization, params, endpoint: 'revocation', address: request.ip, log: request.log }, services);
    const outcome = await revoke(services, client, params);
    if (outcome.revoked !== null) {
      audit(request.log, 'token.revoked', { client_id: client.clientId, token_type: outcome.revoked, grant_id: outcome.grantId, address: request.ip });
    } else if (outcome.reason === 'other_client') {
      request.log.warn({ event: 'token.revoke_refused', client_id: client.clientId }, "a client tried to revoke another client's token");
    }
    return reply.code(200).header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send();
  });
}
