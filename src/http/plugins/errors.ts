// The one error handler (DESIGN.md "Errors are values with a code"): an OAuthError becomes
// RFC 6749 §5.2 JSON on API routes or an HTML page on page routes; Fastify's own 4xx
// (bad JSON, body too large, unsupported media type) become invalid_request; anything else
// becomes server_error with a logged id, never a stack trace.
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../../oauth/errors.js';
import { HashingRefused } from '../../accounts/passwords.js';
import { errorPage } from '../../views/layout.js';
import { PageError } from '../page-errors.js';
import { pageTranslator } from '../locale.js';

export type ErrorFormat = 'json' | 'html';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** How errors on this route are shown; JSON unless a page route says html. */
    errorFormat?: ErrorFormat;
    /** Token-endpoint routes: invalid_grant / invalid_request take the profile's status. */
    tokenEndpoint?: boolean;
  }
}

export interface ErrorHandlerOptions {
  tokenErrorStatus: 400 | 401;
}

/** Maps Fastify's own request errors to an OAuth error a client can act on. */
export function fromFastifyError(err: FastifyError): OAuthError | undefined {
  const status = err.statusCode ?? 500;
  if (status >= 500) return undefined;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OAuthError('invalid_request', 'the request body is too large', { status: 413 });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new OAuthError('invalid_request', 'unsupported content type: send application/x-www-form-urlencoded, application/json or multipart/form-data', { status: 400 });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new OAuthError('invalid_request', 'the JSON body is malformed', { status: 400 });
    default:
      return new OAuthError('invalid_request', 'the request is malformed', { status: status === 413 ? 413 : 400, debug: `${err.code ?? ''} ${err.message}` });
  }
}

/** Password hashing refused (accounts/passwords.ts): 429 when the caller's share is taken, 503 when the queue is full. */
export function fromHashingRefused(err: HashingRefused): OAuthError {
  return err.reason === 'busy'
    ? new OAuthError('slow_down', 'Too many password requests at once. Try again in a moment.', { status: 429, retryAfter: err.retryAfter })
    : new OAuthError('temporarily_unavailable', 'The server is busy checking passwords. Try again in a moment.', { retryAfter: err.retryAfter });
}

export function sendOAuthError(request: FastifyRequest, reply: FastifyReply, error: OAuthError, options: ErrorHandlerOptions): FastifyReply {
  let status = error.status;
  const config = request.routeOptions.config;
  // SPEC.md: at the token endpoint invalid_grant and invalid_request are 400, or 401 under the
  // hover profile — whatever made the request invalid (an oversized body included).
  if (config.tokenEndpoint && (error.code === 'invalid_grant' || error.code === 'invalid_request')) status = options.tokenErrorStatus;
  if (error.code === 'invalid_client' && error.basicAuthAttempted) reply.header('WWW-Authenticate', 'Basic realm="latchkey", charset="UTF-8"');
  if (error.retryAfter !== undefined) reply.header('Retry-After', String(error.retryAfter));
  if (config.errorFormat === 'html') {
    // The description comes from the core, in English; the frame speaks the page's language.
    const tr = pageTranslator(request);
    const message = error instanceof PageError ? error.say(tr) : error.description;
    return reply.code(status).type('text/html; charset=utf-8').send(errorPage(tr.t('error.generic.title'), message, tr).toString());
  }
  reply.code(status).header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
  // RFC 6750 §3: a protected resource (/api/user) answers with its Bearer challenge.
  if (error.challenge !== undefined) reply.header('WWW-Authenticate', error.challenge);
  return reply.send(error.toJSON());
}

export function registerErrorHandler(app: FastifyInstance, options: ErrorHandlerOptions): void {
  app.setErrorHandler((err: FastifyError | OAuthError | Error, request, reply) => {
    let oauth: OAuthError | undefined;
    if (err instanceof OAuthError) oauth = err;
    else if (err instanceof HashingRefused) oauth = fromHashingRefused(err);
    else if ((err as FastifyError).statusCode !== undefined) oauth = fromFastifyError(err as FastifyError);
    // temporarily_unavailable (503, Retry-After) is an answer, not a failure of the server.
    if (oauth && (oauth.status < 500 || oauth.code === 'temporarily_unavailable')) {
      if (oauth.debug) request.log.debug({ err: oauth.debug }, 'request refused');
      return sendOAuthError(request, reply, oauth, options);
    }
    const errorId = randomUUID();
    request.log.error({ err, errorId }, 'unhandled error');
    const serverError = new OAuthError('server_error', `the server could not complete the request (error id ${errorId})`);
    return sendOAuthError(request, reply, serverError, options);
  });

  app.setNotFoundHandler((request, reply) => {
    const wantsHtml = (request.headers.accept ?? '').includes('text/html');
    if (wantsHtml) {
      const tr = pageTranslator(request);
      return reply.code(404).type('text/html; charset=utf-8').send(errorPage(tr.t('error.notFound.title'), tr.t('error.notFound.message'), tr).toString());
    }
    return reply.code(404).send({ error: 'not_found', error_description: `no route for ${request.method} ${request.url.split('?')[0] ?? ''}` });
  });
}
