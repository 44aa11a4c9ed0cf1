// POST /oauth/introspect (RFC 7662): parse, authenticate the client, call the core, answer
// 200 with the introspection JSON (RFC 7662 §2.2).
import type { FastifyInstance } from 'fastify';
import { introspect } from '../../oauth/introspect.js';
import { authenticateClientLimited } from '../plugins/rate-limit.js';
import { tokenRequestParams } from './revoke.js';

export async function introspectRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;
  app.post('/oauth/introspect', async (request, reply) => {
    const params = tokenRequestParams(request);
    const client = await authenticateClientLimited(request, { authorization: request.headers.authorization, params });
    const result = await introspect(services, client, params);
    // The answer describes a credential: never cached (RFC 7662 §4).
    return reply.code(200).header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(result);
  });
}
