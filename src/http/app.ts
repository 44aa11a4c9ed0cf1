// Builds the Fastify server: body parsers, security headers, the one error handler, and the
// route groups of routes/index.ts. Routes parse and call the protocol core; they never write SQL.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import cookie from '@fastify/cookie';
import type { Link } from '../cluster/ipc.js';
import type { Services } from '../services.js';
import { registerErrorHandler } from './plugins/errors.js';
import { registerMetrics } from './plugins/metrics.js';
import { registerMailSender } from './plugins/mail-sender.js';
import { registerPurgeTimer } from './plugins/purge-timer.js';
import { registerRateLimits } from './plugins/rate-limit.js';
import { lenientHeadClientErrorHandler } from './plugins/lenient-head.js';
import { parseMultipartBody } from './plugins/multipart-body.js';
import { parseFormBody } from './plugins/params.js';
import { registerSecurityHeaders } from './plugins/security-headers.js';
import { ROUTES } from './routes/index.js';

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** Largest body any endpoint accepts: token requests and portal forms are a few hundred bytes. */
export const BODY_LIMIT = 64 * 1024;

/** A number of hops becomes Fastify's function form (its typings take no bare number). */
function trustProxyOption(setting: boolean | number | string[]): boolean | string[] | ((address: string, hop: number) => boolean) {
  return typeof setting === 'number' ? (_address: string, hop: number) => hop < setting : setting;
}

export interface AppOptions {
  /**
   * A worker of `serve --workers N`: its channel to the primary, which keeps the rate-limit
   * windows (without Redis) and sums the workers' metrics.
   */
  cluster?: Link;
}

export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: services.logger as FastifyBaseLogger,
    // Per-request access lines are off: at thousands of requests a second they would dominate
    // the log; audit events (logins, issuance, revocation) are logged explicitly instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    // Huddle's guide sends absolute-form request targets ("POST https://login.huddle.net/token");
    // route on the path alone.
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      if (url.startsWith('/')) return url;
      const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(url);
      if (!m) return url;
      const rest = m[1] ?? '';
      return rest.startsWith('/') ? rest : `/${rest}`;
    },
    // Huddle's guide also prints heads llhttp refuses ("Content-Type : …", "HTTP/1.1 "):
    // repaired only after the parser has refused them (plugins/lenient-head.ts).
    clientErrorHandler: lenientHeadClientErrorHandler,
    return503OnClosing: true,
    trustProxy: trustProxyOption(services.config.trustProxy),
    forceCloseConnections: true,
  });
  app.decorate('services', services);
  if (services.config.trustProxy === true) {
    // Every client then picks the address its rate limits and back-off count under.
    app.log.warn({ event: 'config.trust_proxy_all' },
      'LATCHKEY_TRUST_PROXY=true believes X-Forwarded-For from anyone: any client can choose the address its rate limits and back-off count under. Set the number of proxy hops or the proxies\' addresses/CIDRs instead.');
  }

  await app.register(cookie);
  await app.register(formbody, {
    bodyLimit: BODY_LIMIT,
    parser: (body: string) => parseFormBody(body),
  });
  // Buffered under BODY_LIMIT and parsed strictly (plugins/multipart-body.ts): a truncated
  // body, a file part or invalid UTF-8 is invalid_request, as with the other formats.
  app.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (request, body, done) => {
    try {
      done(null, parseMultipartBody(body as Buffer, request.headers['content-type']));
    } catch (err) {
      done(err as Error);
    }
  });

  registerSecurityHeaders(app, { https: services.config.issuer.startsWith('https:') });
  registerErrorHandler(app, { tokenErrorStatus: services.config.tokenErrorStatus });

  // Before the routes: both hook every route as it is added.
  const metrics = registerMetrics(app, undefined, options.cluster);
  await registerRateLimits(app, options.cluster);
  registerPurgeTimer(app);
  registerMailSender(app, { sent: metrics.mailSent, failed: metrics.mailFailed });

  for (const route of ROUTES) await app.register(route);
  return app;
}
