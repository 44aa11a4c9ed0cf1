// GET /api/user, and GET and POST /oauth/userinfo (SPEC.md): read the Authorization header and,
// on POST, the `access_token` of a form-encoded body (RFC 6750 §2.2); call the core
// (oauth/userinfo.ts); answer with no-store. The query string is never read: a token there
// counts as no token. Refusals are OAuthErrors with their RFC 6750 challenge, answered by the
// one error handler (plugins/errors.ts).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../../oauth/errors.js';
import { asResourceRefusal, userIdentity, userinfo } from '../../oauth/userinfo.js';
import { fromFastifyError } from '../plugins/errors.js';
import { parseFormBody } from '../plugins/params.js';

const FORM = 'application/x-www-form-urlencoded';

/** Largest body POST /oauth/userinfo reads: an access token (at most 4 KiB) and little else. */
export const USERINFO_BODY_LIMIT = 16 * 1024;

/**
 * A refusal of the request itself (a body of another type, too large, badly encoded) as a
 * protected resource answers it: invalid_request with the Bearer challenge (RFC 6750 §3.1).
 */
function resourceRefusal(err: FastifyError | Error): Error {
  if (err instanceof OAuthError) return asResourceRefusal(err);
  const fastifyError = err as FastifyError;
  if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return asResourceRefusal(new OAuthError('invalid_request', `send the access token in the Authorization header or in an ${FORM} body`));
  }
  const oauth = fastifyError.statusCode === undefined ? undefined : fromFastifyError(fastifyError);
  return oauth === undefined ? err : asResourceRefusal(oauth);
}

export async function userinfoRoutes(app: FastifyInstance): Promise<void> {
  const services = app.services;

  // This group reads form-encoded bodies alone (RFC 6750 §2.2: "application/x-www-form-urlencoded");
  // a JSON or multipart body is refused rather than searched for a token.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: USERINFO_BODY_LIMIT }, (_request, body, done) => {
    try {
      done(null, parseFormBody(body as string));
    } catch (err) {
      done(err as Error);
    }
  });
  // Errors of this group carry the Bearer challenge; the app's error handler then answers them.
  app.setErrorHandler((err: FastifyError | Error) => {
    throw resourceRefusal(err);
  });

  function answer(reply: FastifyReply, body: object): FastifyReply {
    return reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache').send(body);
  }

  app.get('/api/user', async (request, reply) => answer(reply, await userIdentity(services, request.headers.authorization)));
  app.get('/oauth/userinfo', async (request, reply) => answer(reply, await userinfo(services, request.headers.authorization)));
  app.post('/oauth/userinfo', async (request: FastifyRequest, reply) => {
    // parseFormBody's map has no prototype: `access_token` is the parameter or undefined.
    const form = request.body as Record<string, string | string[]> | undefined | null;
    return answer(reply, await userinfo(services, request.headers.authorization, form?.access_token));
  });
}
