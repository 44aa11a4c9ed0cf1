// GET /api/user and GET /oauth/userinfo (SPEC.md): parse the Authorization header, call the
// core (oauth/userinfo.ts), answer with no-store. Refusals are OAuthErrors with their RFC 6750
// challenge, answered by the one error handler (plugins/errors.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { userIdentity } from '../../oauth/userinfo.js';

export async function userinfoRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;

  async function userinfo(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = await userIdentity(services, request.headers.authorization);
    return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(body);
  }

  app.get('/api/user', userinfo);
  app.get('/oauth/userinfo', userinfo);
}
