// GET /.well-known/jwks.json (RFC 7517 §5): the public keys that verify our JWTs (RS256 and
// ES256: access tokens, ID tokens) — per algorithm the one signing now, one published ahead
// of signing, and the retired ones still needed. Registering this group also prepares the
// keys before the server listens (signing-keys.ts prepareSigningKeys: the one "stored
// unencrypted" warning, the first keys).
import type { FastifyInstance } from 'fastify';
import { JWKS_PATH } from '../../oauth/metadata.js';
import { KEY_CACHE_SECONDS, prepareSigningKeys } from '../../oauth/signing-keys.js';

export async function jwksRoutes(app: FastifyInstance): Promise<void> {
  const { signingKeys, logger } = app.services;
  await prepareSigningKeys(signingKeys, logger);
  app.addHook('onClose', async () => signingKeys.stop());

  app.get(JWKS_PATH, async (_request, reply) => {
    // Cached no longer than we cache keys ourselves; verifiers re-fetch on an unknown kid anyway.
    return reply.header('Cache-Control', `public, max-age=${KEY_CACHE_SECONDS}`)
      .type('application/jwk-set+json')
      .send(await signingKeys.publishedJwks());
  });
}
