// Request rate limits at the HTTP edge: a coarse limit per client address on the token
// endpoints (token-routes.ts) and on /login and /signup (@fastify/rate-limit;
// config.tokenRateLimit / loginRateLimit a minute, 0 = off; POST /login, POST /signup and the
// two pages each count in a budget of their own). It stops floods; the brute-force guard
// (accounts/backoff.ts, used by oauth/client-auth.ts and accounts/password-check.ts) is what
// slows guessing. Addresses are keyed by client-address.ts addressKey (an IPv6 client by its /64).
// Counters are in Redis when REDIS_URL is set (one limit across every process), else in
// process memory (an LRU of at most 10,000 addresses per limit) — with `serve --workers N`,
// the primary's memory, which every worker asks over the cluster channel (sharedStore below).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import { RedisCounters } from '../../accounts/backoff.js';
import type { Link } from '../../cluster/ipc.js';
import { ADDRESSES_PER_LIMIT, RATE_INCR } from '../../cluster/rate-windows.js';
import { tooManyRequests } from '../../oauth/lockout.js';
import { addressKey } from '../client-address.js';
import { TOKEN_ROUTES } from '../token-routes.js';
import { REGISTRATION_PATH } from '../../oauth/registration.js';

/** The routes each coarse limit covers (method and path as registered). */
export const TOKEN_LIMITED_ROUTES: ReadonlySet<string> = new Set(TOKEN_ROUTES.map((r) => `${r.method} ${r.path}`));
/**
 * Posting the login form; second factors and passkey sign-ins share its budget (each passkey
 * options call stores a challenge row, so anonymous callers must not make them unbounded).
 */
export const LOGIN_LIMITED_ROUTES = new Set([
  'POST /login', 'POST /login/factor', 'POST /login/factor/passkey/options', 'POST /login/factor/passkey/verify', 'POST /login/passkey/options', 'POST /login/passkey/verify',
]);
/** Posting the sign-up form hashes a password (argon2) for anyone who asks: the login limit, in a budget of its own. */
export const SIGNUP_LIMITED_ROUTES = new Set(['POST /signup']);
/** Password reset: asking for a link, and using one (the login limit, in a budget of its own). */
export const RESET_LIMITED_ROUTES = new Set(['POST /forgot-password', 'POST /reset-password']);
/** Showing the login, sign-up and reset forms: cheap (no database write) but still limited, in a budget of their own. */
export const PAGE_LIMITED_ROUTES = new Set(['GET /login', 'GET /signup', 'GET /forgot-password', 'GET /reset-password']);

/**
 * Dynamic client registration (RFC 7591) and its RFC 7592 management URIs: anyone may call them
 * (registration `open`), each registration writes a row (LATCHKEY_REGISTRATION_RATE_LIMIT, a budget of its own).
 */
export const REGISTRATION_LIMITED_ROUTES = new Set([
  `POST ${REGISTRATION_PATH}`, `GET ${REGISTRATION_PATH}/:client_id`, `PUT ${REGISTRATION_PATH}/:client_id`, `DELETE ${REGISTRATION_PATH}/:client_id`,
]);

const WINDOW_MS = 60_000;

/**
 * A @fastify/rate-limit store whose windows are the primary's (cluster/rate-windows.ts): every
 * count is one call over the cluster channel, atomic in the primary. The keys carry their
 * limit ("token:…", "login:…"), so one store serves every limit and a child is itself.
 */
function sharedStore(link: Link): new () => FastifyRateLimitStore {
  return class SharedRateLimitStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow?: number): void {
      link.call<{ current: number; ttl: number }>(RATE_INCR, key, timeWindow ?? WINDOW_MS).then((result) => callback(null, result), (err: Error) => callback(err));
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
}

/**
 * Registers the coarse per-address limits. Call before the routes are registered (it hooks
 * onRoute). `shared`: the cluster channel of a worker of `serve --workers N` (used when there
 * is no Redis).
 */
export async function registerRateLimits(app: FastifyInstance, shared?: Link): Promise<void> {
  const { config, guard } = app.services;
  const redis = guard.counters instanceof RedisCounters ? guard.counters.redis : undefined;
  await app.register(rateLimit, {
    global: false,
    ...(redis ? { redis, nameSpace: `${config.redisPrefix}rl:` } : shared ? { store: sharedStore(shared) } : {}),
    cache: ADDRESSES_PER_LIMIT,
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
  const groups: Array<{ routes: ReadonlySet<string>; hook: ReturnType<typeof limiter> }> = [];
  if (config.tokenRateLimit > 0) groups.push({ routes: TOKEN_LIMITED_ROUTES, hook: limiter('token', config.tokenRateLimit) });
  if (config.registrationRateLimit > 0) groups.push({ routes: REGISTRATION_LIMITED_ROUTES, hook: limiter('register', config.registrationRateLimit) });
  if (config.loginRateLimit > 0) {
    groups.push({ routes: LOGIN_LIMITED_ROUTES, hook: limiter('login', config.loginRateLimit) });
    groups.push({ routes: SIGNUP_LIMITED_ROUTES, hook: limiter('signup', config.loginRateLimit) });
    groups.push({ routes: RESET_LIMITED_ROUTES, hook: limiter('reset', config.loginRateLimit) });
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
