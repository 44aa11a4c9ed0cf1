// RFC 7591 dynamic client registration (POST /oauth/register) and RFC 7592 management
// (GET/PUT/DELETE /oauth/register/:client_id): parse the JSON body and the Bearer token, call
// the core (oauth/registration.ts), answer. The routes live in a context of their own: the
// body is read by one parser of their own (JSON objects of at most 16 KB), and whatever
// Fastify refuses before the handler (too large, not JSON, bad JSON) is invalid_client_metadata
// (RFC 7591 §3.2.2), never a 5xx.
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { audit } from '../../audit.js';
import { OAuthError } from '../../oauth/errors.js';
import {
  deleteRegisteredClient, MAX_REGISTRATION_BODY, readRegisteredClient, registerDynamicClient, REGISTRATION_PATH, updateRegisteredClient,
  type RegistrationDeps,
} from '../../oauth/registration.js';

/** The routes' paths as registered (rate-limit.ts limits them per address). */
export const REGISTRATION_ROUTES = {
  register: REGISTRATION_PATH,
  manage: `${REGISTRATION_PATH}/:client_id`,
} as const;

const JSON_TYPE = /^application\/json\s*(;.*)?$/i;

/** Parses the body only when it is JSON; anything else is left as a marker the handler refuses. */
class NotJson {
  constructor(readonly reason: string) {}
}

function metadataError(description: string): OAuthError {
  return new OAuthError('invalid_client_metadata', description);
}

function bodyOf(request: FastifyRequest): unknown {
  const body = request.body;
  if (body instanceof NotJson) throw metadataError(body.reason);
  if (body === undefined || body === null) throw metadataError('send the client metadata as a JSON object (Content-Type: application/json)');
  return body;
}

function noStore<T extends { header(name: string, value: string): T }>(reply: T): T {
  return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
}

export async function registrationRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;
  const deps: RegistrationDeps = {
    get config() { return services.config; },
    clock: services.clock,
    clients: services.clients,
    registrationTokens: services.registrationTokens,
  };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_REGISTRATION_BODY }, (request, body, done) => {
    const type = request.headers['content-type'] ?? '';
    if (!JSON_TYPE.test(type)) return done(null, new NotJson('the request body must be JSON (Content-Type: application/json)'));
    try {
      // JSON.parse makes "__proto__" an own member, never the prototype; the core reads own members only.
      done(null, JSON.parse(body as string) as unknown);
    } catch {
      done(null, new NotJson('the request body is not valid JSON'));
    }
  });

  // Fastify's own refusals (body too large, a bad Content-Length) are the document's fault;
  // everything else goes on to the server's one error handler.
  app.setErrorHandler((err: FastifyError | Error, _request, _reply) => {
    if (err instanceof OAuthError) throw err;
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      throw (err as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? metadataError(`the registration document must be at most ${MAX_REGISTRATION_BODY} bytes`)
        : metadataError('the request body must be a JSON object of client metadata');
    }
    throw err;
  });

  const refused = (request: FastifyRequest, err: unknown, clientId: string | null) => {
    if (err instanceof OAuthError) {
      audit(request.log, 'client.registration_refused', { client_id: clientId, address: request.ip, reason: err.code, kind: services.config.registration });
    }
    return err;
  };

  app.post(REGISTRATION_ROUTES.register, async (request, reply) => {
    try {
      // The mode and the initial access token are checked before the body is.
      const outcome = await registerDynamicClient(deps, () => bodyOf(request), request.headers.authorization);
      audit(request.log, 'client.registered', { client_id: outcome.client.clientId, user_id: outcome.client.ownerUserId, address: request.ip, kind: services.config.registration });
      return noStore(reply.code(201)).send(outcome.response);
    } catch (err) {
      throw refused(request, err, null);
    }
  });

  app.get<{ Params: { client_id: string } }>(REGISTRATION_ROUTES.manage, async (request, reply) => {
    const outcome = await readRegisteredClient(deps, request.params.client_id, request.headers.authorization);
    return noStore(reply.code(200)).send(outcome.response);
  });

  app.put<{ Params: { client_id: string } }>(REGISTRATION_ROUTES.manage, async (request, reply) => {
    try {
      const outcome = await updateRegisteredClient(deps, request.params.client_id, request.headers.authorization, () => bodyOf(request));
      audit(request.log, 'client.updated', { client_id: outcome.client.clientId, address: request.ip, kind: 'dynamic' });
      return noStore(reply.code(200)).send(outcome.response);
    } catch (err) {
      throw refused(request, err, request.params.client_id);
    }
  });

  app.delete<{ Params: { client_id: string } }>(REGISTRATION_ROUTES.manage, async (request, reply) => {
    const client = await deleteRegisteredClient(deps, request.params.client_id, request.headers.authorization);
    audit(request.log, 'client.deleted', { client_id: client.clientId, address: request.ip, kind: 'dynamic' });
    return noStore(reply.code(204)).send();
  });
}
