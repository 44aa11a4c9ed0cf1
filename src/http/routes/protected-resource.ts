// RFC 9728 protected-resource metadata. GET /.well-known/oauth-protected-resource describes
// Latchkey's own resource, ISSUER/api (`/api/user`, `/oauth/userinfo`), and so does its
// path-inserted form /.well-known/oauth-protected-resource/api (RFC 9728 §3.1). A registered
// resource whose identifier lies on the issuer's origin is served at its own path-inserted URL
// (ISSUER_ORIGIN/.well-known/oauth-protected-resource/PATH); others print theirs with
// `latchkey resource metadata --identifier URI` for their operator to serve.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../../oauth/errors.js';
import { builtInResource, protectedResourceMetadata, resourceSyntaxError } from '../../oauth/resources.js';
import type { Resource } from '../../oauth/model.js';

export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** Public and rarely changing, as the authorization-server metadata (metadata.ts). */
const CACHE_CONTROL = 'public, max-age=300';

export async function protectedResourceRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;
  const send = (reply: FastifyReply, resource: Resource) =>
    reply.header('Cache-Control', CACHE_CONTROL).send(protectedResourceMetadata(resource, services.config.issuer));

  app.get(PROTECTED_RESOURCE_METADATA_PATH, async (_request, reply) => send(reply, builtInResource(services.config)));

  app.get(`${PROTECTED_RESOURCE_METADATA_PATH}/*`, async (request: FastifyRequest, reply) => {
    const builtIn = builtInResource(services.config);
    const origin = new URL(services.config.issuer).origin;
    // The identifier this URL was made from (RFC 9728 §3.1): the origin, then what follows the well-known segment.
    const rest = request.url.slice(PROTECTED_RESOURCE_METADATA_PATH.length);
    const identifier = `${origin}${rest}`;
    if (identifier === builtIn.identifier) return send(reply, builtIn);
    const found = resourceSyntaxError(identifier) === null ? await services.resources.find(identifier) : undefined;
    if (!found) throw new OAuthError('invalid_request', 'no protected resource is described at this address', { status: 404 });
    return send(reply, found);
  });
}
