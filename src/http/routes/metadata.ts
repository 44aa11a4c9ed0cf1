// GET /.well-known/oauth-authorization-server (RFC 8414 §3) and GET
// /.well-known/openid-configuration (OpenID Connect Discovery 1.0 §4). Built per request from
// the config, so they always name the issuer the server runs under. HEAD answers too (Fastify
// adds it beside every GET).
import type { FastifyInstance } from 'fastify';
import {
  AUTHORIZATION_SERVER_METADATA_PATH, OPENID_CONFIGURATION_PATH, authorizationServerMetadata, openIdProviderMetadata,
} from '../../oauth/metadata.js';

/** Public and rarely changing; a short max-age lets a configuration change show soon. */
const CACHE_CONTROL = 'public, max-age=300';

export async function metadataRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;
  app.get(AUTHORIZATION_SERVER_METADATA_PATH, async (_request, reply) => {
    return reply.header('Cache-Control', CACHE_CONTROL).send(authorizationServerMetadata(services.config));
  });
  app.get(OPENID_CONFIGURATION_PATH, async (_request, reply) => {
    return reply.header('Cache-Control', CACHE_CONTROL).send(openIdProviderMetadata(services.config));
  });
}
