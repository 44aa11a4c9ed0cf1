// GET /metrics: Prometheus text (prom-client). One registry per server (tests start several
// in one process), one onResponse hook, labels by route pattern (never the raw URL, whose
// query string would make the label set unbounded).
//
//   latchkey_http_requests_total{method,route,status}         every answered request
//   latchkey_http_errors_total{route,status,error}             answers with status >= 400 (error: the OAuth code)
//   latchkey_token_requests_total{grant_type,outcome}          token endpoint: outcome "success" or the error code
//   latchkey_token_request_duration_seconds{grant_type}        token endpoint latency (histogram)
//   latchkey_mail_sent_total{kind}                            mails handed to SMTP (or the outbox)
//   latchkey_mail_failed_total{kind,outcome}                   failed attempts: outcome "retry" (queued again) or "given_up"
//   process_* and nodejs_*                                     prom-client's default process metrics
//
// With `serve --workers N` every figure is the sum over the workers (cluster/metrics.ts).
//
// Who may read it (SPEC.md): without LATCHKEY_METRICS_TOKEN loopback peers only (404 to anyone
// else); with it, `Authorization: Bearer <token>` from anywhere (401 otherwise). See
// client-address.ts metricsAccess.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Link } from '../../cluster/ipc.js';
import { METRICS_COLLECT, METRICS_SUM, type MetricsJson } from '../../cluster/metrics.js';
import { OAuthError } from '../../oauth/errors.js';
import { metricsAccess } from '../client-address.js';
import { GRANT_TYPES } from '../../oauth/grant-types.js';
import { TOKEN_ROUTES_BY_PATH, type TokenRoute } from '../token-routes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The OAuth error code the request ended with, for the metrics (set by the onError hook). */
    latchkeyErrorCode?: string;
  }
}

const KNOWN_GRANT_TYPES = new Set<string>(GRANT_TYPES);

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpErrors: Counter<'route' | 'status' | 'error'>;
  tokenRequests: Counter<'grant_type' | 'outcome'>;
  tokenDuration: Histogram<'grant_type'>;
  mailSent: Counter<'kind'>;
  mailFailed: Counter<'kind' | 'outcome'>;
}

// The process metrics belong to the process, not to one server: collected once into their own
// registry (tests start many servers in one process) and merged into each scrape.
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  return {
    registry,
    httpRequests: new Counter({ name: 'latchkey_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpErrors: new Counter({ name: 'latchkey_http_errors_total', help: 'HTTP answers with status >= 400, by route pattern, status and OAuth error code', labelNames: ['route', 'status', 'error'], registers: [registry] }),
    tokenRequests: new Counter({ name: 'latchkey_token_requests_total', help: 'Token endpoint requests by grant type and outcome (success or the OAuth error code)', labelNames: ['grant_type', 'outcome'], registers: [registry] }),
    tokenDuration: new Histogram({
      name: 'latchkey_token_request_duration_seconds',
      help: 'Token endpoint latency by grant type',
      labelNames: ['grant_type'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    mailSent: new Counter({ name: 'latchkey_mail_sent_total', help: 'Mails sent (over SMTP, or written to the outbox), by kind', labelNames: ['kind'], registers: [registry] }),
    mailFailed: new Counter({ name: 'latchkey_mail_failed_total', help: 'Failed mail attempts by kind and outcome (retry: queued again; given_up: not sent)', labelNames: ['kind', 'outcome'], registers: [registry] }),
  };
}

/** The grant_type label: one of ours (case-insensitively, as the endpoint matches it), else "other". */
function grantTypeLabel(request: FastifyRequest, route: TokenRoute): string {
  if (route.refreshOnly) return 'refresh_token';
  const body = request.body;
  const raw = body !== null && typeof body === 'object' ? (body as Record<string, unknown>).grant_type : undefined;
  if (typeof raw !== 'string') return raw === undefined ? 'none' : 'other';
  const value = raw.trim().toLowerCase();
  return KNOWN_GRANT_TYPES.has(value) ? value : 'other';
}

function errorCode(request: FastifyRequest, status: number): string {
  // Pages answer some refusals themselves (a login form with an error, a 429 login page):
  // those carry no OAuth code.
  return request.latchkeyErrorCode ?? (status === 404 ? 'not_found' : status === 429 ? 'slow_down' : status >= 500 ? 'server_error' : 'none');
}

/**
 * `shared`: the cluster channel of a worker of `serve --workers N`. The worker then answers the
 * primary's requests for its own figures, and /metrics answers the sum over every process
 * (cluster/metrics.ts), whichever worker the scrape reaches.
 */
export function registerMetrics(app: FastifyInstance, metrics: Metrics = createMetrics(), shared?: Link): Metrics {
  shared?.handle(METRICS_COLLECT, async (): Promise<MetricsJson> => {
    const [own, proc] = await Promise.all([metrics.registry.getMetricsAsJSON(), processMetrics().getMetricsAsJSON()]);
    return [...own, ...proc] as MetricsJson;
  });

  app.addHook('onError', async (request, _reply, error) => {
    // The same mapping as the error handler: Fastify's own 4xx become invalid_request.
    const status = (error as { statusCode?: number }).statusCode;
    request.latchkeyErrorCode = error instanceof OAuthError ? error.code : status !== undefined && status < 500 ? 'invalid_request' : 'server_error';
  });

  // Callback style (as security-headers.ts): no promise per response.
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const statusLabel = String(status);
    metrics.httpRequests.inc({ method: request.method, route, status: statusLabel });
    if (status >= 400) metrics.httpErrors.inc({ route, status: statusLabel, error: errorCode(request, status) });
    const tokenRoute = TOKEN_ROUTES_BY_PATH.get(route);
    if (tokenRoute !== undefined && request.method === tokenRoute.method) {
      const grantType = grantTypeLabel(request, tokenRoute);
      metrics.tokenRequests.inc({ grant_type: grantType, outcome: status < 400 ? 'success' : errorCode(request, status) });
      metrics.tokenDuration.observe({ grant_type: grantType }, reply.elapsedTime / 1000);
    }
    done();
  });

  app.get('/metrics', async (request, reply) => {
    const headers = request.headers;
    const access = metricsAccess({
      socketAddress: request.raw.socket?.remoteAddress,
      forwarded: headers['x-forwarded-for'] !== undefined || headers.forwarded !== undefined || headers['x-real-ip'] !== undefined,
      authorization: headers.authorization,
    }, app.services.config.metricsToken);
    if (access === 'hidden') return reply.callNotFound();
    if (access === 'unauthorized') {
      return reply.code(401).header('WWW-Authenticate', 'Bearer realm="metrics"').header('Cache-Control', 'no-store')
        .send({ error: 'invalid_token', error_description: 'GET /metrics needs the metrics bearer token' });
    }
    let text: string;
    if (shared) {
      try {
        text = await shared.call<string>(METRICS_SUM);
      } catch (err) {
        request.log.warn({ err, event: 'metrics.sum_failed' }, 'the workers\' metrics could not be summed');
        return reply.code(503).header('Cache-Control', 'no-store').header('Retry-After', '1')
          .send({ error: 'temporarily_unavailable', error_description: 'the workers\' metrics could not be gathered; try again' });
      }
    } else {
      text = await Registry.merge([processMetrics(), metrics.registry]).metrics();
    }
    return reply.header('Cache-Control', 'no-store').type(metrics.registry.contentType).send(text);
  });
  return metrics;
}
