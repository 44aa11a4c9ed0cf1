// GET /.well-known/oauth-authorization-server (RFC 8414 §3). Built per request from the
// config, so it always names the issuer the server runs under.
import type { FastifyInstance } from 'fastify';
import { authorizationServerMetadata } from '../../oauth/metadata.js';

export async function metadataRoutes(app: FastifyInstance): Promise<void> {
  app.get('/.well-known/oauth-authorization-server', async (_request, reply) => {
    // Public and rarely changing; a short max-age lets a configuration change show soon.
    return reply.header('Cache-Control', 'public, max-age=300').send(authorizationServerMetadata(app.services.config));
  });
}
