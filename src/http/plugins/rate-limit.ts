// Request rate limits and the brute-force guard at the HTTP edge.
//
// - A coarse limit per client address on the token endpoints (POST /oauth/token, /token,
//   /refresh) and on /login and /signup (@fastify/rate-limit; config.tokenRateLimit /
//   loginRateLimit a minute, 0 = off; POST /login, POST /signup and the two pages each count
//   in a budget of their own). It stops floods; the brute-force guard (accounts/backoff.ts) is
//   what slows password guessing. Addresses are keyed by client-address.ts addressKey (an
//   IPv6 client by its /64).
// - authenticateClientLimited(): client authentication with the per-client_id backoff, for the
//   token, revocation and introspection endpoints.
// Counters are in Redis when REDIS_URL is set (one limit across every process), else in
// process memory (an LRU of at most 10,000 addresses per limit).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { audit } from '../../audit.js';
import { lockoutError, RedisCounters, tooManyRequests } from '../../accounts/backoff.js';
import { authenticateClient, parseBasicAuthorization, type ClientAuthRequest } from '../../oauth/client-auth.js';
import { OAuthError } from '../../oauth/errors.js';
import type { Client } from '../../oauth/model.js';
import { addressKey } from '../client-address.js';

/** The routes each coarse limit covers (method and path as registered). */
export const TOKEN_LIMITED_ROUTES = new Set(['POST /oauth/token', 'POST /token', 'POST /refresh']);
export const LOGIN_LIMITED_ROUTES = new Set(['POST /login']);
/** Posting the sign-up form hashes a password (argon2) for anyone who asks: the login limit, in a budget of its own. */
export const SIGNUP_LIMITED_ROUTES = new Set(['POST /signup']);
/** Showing the login and sign-up forms: cheap (no database write) but still limited, in a budget of their own. */
export const PAGE_LIMITED_ROUTES = new Set(['GET /login', 'GET /signup']);

const WINDOW_MS = 60_000;

/** Registers the coarse per-address limits. Call before the routes are registered (it hooks onRoute). */
export async function registerRateLimits(app: FastifyInstance): Promise<void> {
  const { config, guard } = app.services;
  const redis = guard.counters instanceof RedisCounters ? guard.counters.redis : undefined;
  await app.register(rateLimit, {
    global: false,
    ...(redis ? { redis, nameSpace: `${config.redisPrefix}rl:` } : {}),
    cache: 10_000,
    // An unreachable Redis must not take the token endpoint down with it.
    skipOnError: true,
  });

  const limiter = (group: string, max: number) =>
    app.rateLimit({
      max,
      timeWindow: WINDOW_MS,
      keyGenerator: (request: FastifyRequest) => `${group}:${addressKey(request.ip)}`,
      errorResponseBuilder: (_request, context) => tooManyRequests(Math.ceil(context.ttl / 1000)),
    });
  const groups: Array<{ routes: Set<string>; hook: ReturnType<typeof limiter> }> = [];
  if (config.tokenRateLimit > 0) groups.push({ routes: TOKEN_LIMITED_ROUTES, hook: limiter('token', config.tokenRateLimit) });
  if (config.loginRateLimit > 0) {
    groups.push({ routes: LOGIN_LIMITED_ROUTES, hook: limiter('login', config.loginRateLimit) });
    groups.push({ routes: SIGNUP_LIMITED_ROUTES, hook: limiter('signup', config.loginRateLimit) });
    groups.push({ routes: PAGE_LIMITED_ROUTES, hook: limiter('pages', config.loginRateLimit) });
  }

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const { routes, hook } of groups) {
      if (!methods.some((m) => routes.has(`${m} ${route.url}`))) continue;
      const existing = route.onRequest;
      route.onRequest = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook];
    }
  });

  app.addHook('onClose', async () => {
    await guard.close();
  });
}

/** The client_id a request presents (Basic or body), without judging it; undefined when none. */
function presentedClientId(request: ClientAuthRequest): string | undefined {
  try {
    const basic = parseBasicAuthorization(request.authorization);
    if (basic) return basic.clientId;
  } catch {
    return undefined;
  }
  const id = request.params.client_id;
  return id === undefined || id === '' || id.length > 200 ? undefined : id;
}

/**
 * Client authentication with the per-client_id backoff: a client_id with too many recent
 * failures is answered 429 (Retry-After) without checking, except from an address where it
 * has authenticated before (accounts/backoff.ts); each invalid_client of a confidential client
 * counts one failure.
 */
export async function authenticateClientLimited(request: FastifyRequest, auth: ClientAuthRequest): Promise<Client> {
  const { guard, clients } = request.server.services;
  const clientId = presentedClientId(auth);
  if (clientId !== undefined) {
    const lockout = await guard.checkClient(clientId, request.ip);
    if (lockout) {
      audit(request.log, 'client_auth.locked', { client_id: clientId, address: request.ip, retry_after: lockout.retryAfter });
      throw lockoutError(lockout);
    }
  }
  try {
    const client = await authenticateClient(auth, (id) => clients.findByClientId(id));
    // Public clients prove nothing, so they earn no "known good" address.
    if (!client.isPublic) await guard.clientSucceeded(client.clientId, request.ip);
    return client;
  } catch (err) {
    // Only a confidential client's failures count: an unknown client_id has nothing to guess,
    // and counting a public client's would let anyone lock every user of an app out.
    if (err instanceof OAuthError && err.code === 'invalid_client' && clientId !== undefined && (await clients.findByClientId(clientId))?.isPublic === false) {
      const lockout = await guard.clientFailed(clientId);
      audit(request.log, 'client_auth.failed', { client_id: clientId, address: request.ip });
      if (lockout) audit(request.log, 'client_auth.locked', { client_id: clientId, address: request.ip, retry_after: lockout.retryAfter });
    }
    throw err;
  }
}
