// POST /oauth/introspect (RFC 7662): parse, authenticate the client, call the core, answer
// 200 with the introspection JSON (RFC 7662 §2.2).
import type { FastifyInstance } from 'fastify';
import { authenticateClientGuarded } from '../../oauth/client-auth.js';
import { introspect, type ActiveIntrospection } from '../../oauth/introspect.js';
import { tokenRequestParams } from './revoke.js';

/**
 * The answer's shape (oauth/introspect.ts IntrospectionResponse), so that Fastify serializes it
 * with a compiled serializer instead of JSON.stringify. Every member is optional: an inactive
 * token's answer is `{"active":false}` alone. A member missing here would be dropped from the
 * answer: `satisfies` makes the compiler refuse a schema that does not list every member of
 * ActiveIntrospection, and test/http/introspect.test.ts compares whole answers.
 */
const INTROSPECTION_RESPONSE = {
  type: 'object',
  properties: {
    active: { type: 'boolean' },
    scope: { type: 'string' },
    client_id: { type: 'string' },
    username: { type: 'string' },
    sub: { type: 'string' },
    exp: { type: 'integer' },
    iat: { type: 'integer' },
    token_type: { type: 'string' },
    iss: { type: 'string' },
    // RFC 8707: one audience as a string, several as an array (RFC 7662 §2.2 names both).
    aud: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    jti: { type: 'string' },
    org_id: { type: 'integer' },
  } satisfies Record<keyof ActiveIntrospection, { type: string } | { anyOf: readonly object[] }>,
  required: ['active'],
} as const;

export async function introspectRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;
  app.post('/oauth/introspect', { schema: { response: { 200: INTROSPECTION_RESPONSE } } }, async (request, reply) => {
    const params = tokenRequestParams(request);
    const client = await authenticateClientGuarded({ authorization: request.headers.authorization, params, endpoint: 'introspection', address: request.ip, log: request.log }, services);
    const result = await introspect(services, client, params);
    // The answer describes a credential: never cached (RFC 7662 §4).
    return reply.code(200).header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(result);
  });
}
