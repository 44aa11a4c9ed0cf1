// Login sessions and CSRF protection for the HTML pages.
// The session cookie carries a 256-bit random id; the database keeps only its hash, the user
// and a per-session CSRF token. A session ends when idle for config.sessionIdleTimeout or
// config.sessionTtl after it began, whichever comes first; its last_seen_at is written at
// most once a minute.
// Visitors who are not signed in get no session row: their forms (login, sign-up) carry a
// stateless double-submit token instead — a random value in a cookie of its own (HttpOnly,
// SameSite=Lax), echoed in the form's csrf_token field and compared in constant time.
// A cross-site page can neither read nor (with the __Host- prefix on https) plant that cookie.
// Signing in replaces the session (no fixation); signing out deletes it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/load.js';
import { constantTimeEqual, newSecret, sha256Base64url, sha256Hex } from '../oauth/crypto.js';
import { nowSeconds } from '../oauth/clock.js';
import type { User } from '../oauth/model.js';
import { errorPage } from '../views/layout.js';
import { pageTranslator } from './locale.js';

/** The cookie names on plain http; on an https issuer they carry the __Host- prefix. */
export const SESSION_COOKIE = 'lk_session';
export const CSRF_COOKIE = 'lk_csrf';

/** Seconds between two writes of a session's last_seen_at. */
export const SESSION_TOUCH_INTERVAL = 60;

export interface Session {
  /** The stored session's id hash; null for an anonymous visitor (no row). */
  idHash: string | null;
  user: User | null;
  csrfToken: string;
  /** Epoch seconds of the last password check, for prompt=login and max_age. */
  authTime: number | null;
  /** RFC 8176 methods of the login that made the session (`pwd`, `otp`, `hwk`, `mfa`…). */
  amr: readonly string[];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Cached by loadSession: undefined = not looked up yet, null = none. */
    latchkeySession?: Session | null;
  }
}

function secureCookies(config: Pick<Config, 'issuer'>): boolean {
  return config.issuer.startsWith('https:');
}

/**
 * A cookie's name: `__Host-` prefixed when the issuer is https (the browser then insists on
 * Secure, Path=/ and no Domain, so a sibling subdomain cannot plant or overwrite it).
 */
export function cookieName(config: Pick<Config, 'issuer'>, base: string): string {
  return secureCookies(config) ? `__Host-${base}` : base;
}

function cookieOptions(request: FastifyRequest, maxAgeSeconds?: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: secureCookies(request.server.services.config),
    ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
  };
}

/** Tokens we issue are 43 base64url characters; anything else in a cookie is ignored. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * The browser session's public id: the ID token's `sid` (OIDC Front-/Back-Channel Logout) and
 * what RP-initiated logout compares a hint against. One-way from the stored id hash, which is
 * itself one-way from the cookie, so a `sid` seen by a client reveals neither.
 */
export function sessionSid(session: Pick<Session, 'idHash'>): string | null {
  return session.idHash === null ? null : sha256Base64url(`sid:${session.idHash}`);
}

/** The live session named by the request's cookie, or null. */
export async function loadSession(request: FastifyRequest): Promise<Session | null> {
  if (request.latchkeySession !== undefined) return request.latchkeySession;
  const { services } = request.server;
  const { config } = services;
  const raw = request.cookies[cookieName(config, SESSION_COOKIE)];
  let session: Session | null = null;
  if (raw && raw.length <= 100) {
    const now = nowSeconds(services.clock);
    const record = await services.sessions.find(sha256Hex(raw), now, { idleTimeout: config.sessionIdleTimeout, lifetime: config.sessionTtl });
    if (record) {
      if (now - record.lastSeenAt >= SESSION_TOUCH_INTERVAL) {
        await services.sessions.touch(record.idHash, now, Math.min(record.createdAt + config.sessionTtl, now + config.sessionIdleTimeout), request.ip);
      }
      const found = record.userId === null ? null : (await services.users.findById(record.userId)) ?? null;
      // email_verification "required": an account whose address is not verified is not signed
      // in (a session from before the setting was turned on included).
      const user = found && config.emailVerification === 'required' && !found.emailVerified ? null : found;
      session = { idHash: record.idHash, user, csrfToken: record.csrfToken, authTime: record.authTime, amr: record.amr ?? ['pwd'] };
    }
  }
  request.latchkeySession = session;
  return session;
}

/** The User-Agent to remember for the account page's session list: printable text, at most 400 characters. */
function userAgentOf(request: FastifyRequest): string | null {
  const value = request.headers['user-agent'];
  if (typeof value !== 'string') return null;
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim().slice(0, 400);
  return clean === '' ? null : clean;
}

async function createSession(request: FastifyRequest, reply: FastifyReply, user: User, amr: readonly string[]): Promise<Session> {
  const { services } = request.server;
  const { config } = services;
  const now = nowSeconds(services.clock);
  const id = newSecret();
  const idHash = sha256Hex(id);
  const session: Session = { idHash, user, csrfToken: newSecret(), authTime: now, amr };
  const expiresAt = now + Math.min(config.sessionTtl, config.sessionIdleTimeout);
  await services.sessions.insert({ idHash, userId: user.id, csrfToken: session.csrfToken, authTime: now, expiresAt, now, amr, userAgent: userAgentOf(request), address: request.ip });
  reply.setCookie(cookieName(config, SESSION_COOKIE), id, cookieOptions(request, config.sessionTtl));
  request.latchkeySession = session;
  return session;
}

/** The anonymous visitor's double-submit token from its cookie, or undefined. */
function anonymousToken(request: FastifyRequest): string | undefined {
  const raw = request.cookies[cookieName(request.server.services.config, CSRF_COOKIE)];
  return raw !== undefined && TOKEN_SHAPE.test(raw) ? raw : undefined;
}

/**
 * The CSRF token for a form on this page: the session's when there is one, else the anonymous
 * visitor's double-submit token (set in its cookie when new). Writes nothing to the database.
 */
export async function formCsrfToken(request: FastifyRequest, reply: FastifyReply): Promise<string> {
  const session = await loadSession(request);
  if (session) return session.csrfToken;
  const existing = anonymousToken(request);
  if (existing !== undefined) return existing;
  const token = newSecret();
  // A browser-session cookie: it only has to outlive the form.
  reply.setCookie(cookieName(request.server.services.config, CSRF_COOKIE), token, cookieOptions(request));
  // Later forms in the same request (an error page re-rendered) reuse it.
  request.cookies[cookieName(request.server.services.config, CSRF_COOKIE)] = token;
  return token;
}

/**
 * Signs the user in: the old session (anonymous or not) is replaced by a new one. `amr`: the
 * RFC 8176 methods of this login (a password alone: `pwd`).
 */
export async function startUserSession(request: FastifyRequest, reply: FastifyReply, user: User, amr: readonly string[] = ['pwd']): Promise<Session> {
  const old = await loadSession(request);
  if (old?.idHash) await request.server.services.sessions.delete(old.idHash);
  return createSession(request, reply, user, amr);
}

export async function endSession(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await loadSession(request);
  if (session?.idHash) await request.server.services.sessions.delete(session.idHash);
  request.latchkeySession = null;
  reply.clearCookie(cookieName(request.server.services.config, SESSION_COOKIE), cookieOptions(request));
}

/** True when the form's csrf_token matches the session's (constant time). */
export function csrfValid(session: Session | null, submitted: unknown): boolean {
  return session !== null && typeof submitted === 'string' && submitted !== '' && constantTimeEqual(submitted, session.csrfToken);
}

/**
 * Checks the CSRF token of a form POST: a signed-in visitor's against their session's token,
 * an anonymous visitor's against their double-submit cookie. On failure it answers 403 and
 * returns null: the caller must stop and change nothing. An anonymous visitor gets a Session
 * with no row (idHash and user null).
 */
export async function requireCsrf(request: FastifyRequest, reply: FastifyReply): Promise<Session | null> {
  const stored = await loadSession(request);
  const cookieToken = stored ? undefined : anonymousToken(request);
  const session: Session | null = stored ?? (cookieToken === undefined ? null : { idHash: null, user: null, csrfToken: cookieToken, authTime: null, amr: [] });
  const body = request.body as Record<string, unknown> | undefined;
  if (!csrfValid(session, body?.csrf_token)) {
    const tr = pageTranslator(request, { user: stored?.user ?? null });
    await reply.code(403).type('text/html; charset=utf-8').send(
      errorPage(tr.t('error.formExpired.title'), tr.t('error.formExpired.message'), tr).toString(),
    );
    return null;
  }
  return session;
}

/** The signed-in user's session, or a redirect to the login page (returning null). */
export async function requireUser(request: FastifyRequest, reply: FastifyReply): Promise<(Session & { user: User }) | null> {
  const session = await loadSession(request);
  if (session?.user) return session as Session & { user: User };
  const next = safeNext(request.url, request.server.services.config.issuer);
  await reply.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
  return null;
}

// C0 controls, DEL and C1 controls: a browser drops TAB, CR and LF from a URL before resolving
// it (so `/\t/evil.example` becomes `//evil.example`), and none belongs in a local path.
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const NEXT_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\\]/;

/**
 * A path on this server to return to after login (issue 18: no open redirect). The value must
 * be a path (start with one `/`) without control characters or backslashes; it is then
 * resolved against the issuer with the WHATWG URL parser, as a browser would resolve the
 * Location, and must keep the issuer's origin. What comes back is the resolved URL's own
 * path, query and fragment, re-serialised (percent-encoded, dot segments gone); a path that
 * resolves to `//…` (`/..//evil.example`) is refused too. Anything else gives `fallback`.
 */
export function safeNext(value: unknown, issuer: string, fallback = '/account'): string {
  if (typeof value !== 'string' || value.length > 4000) return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || NEXT_FORBIDDEN.test(value)) return fallback;
  let base: URL;
  let resolved: URL;
  try {
    base = new URL(issuer);
    resolved = new URL(value, base);
  } catch {
    return fallback;
  }
  if (resolved.origin !== base.origin || resolved.pathname.startsWith('//')) return fallback;
  const out = `${resolved.pathname}${resolved.search}${resolved.hash}`;
  return out.startsWith('/') && !NEXT_FORBIDDEN.test(out) ? out : fallback;
}
