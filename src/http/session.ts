// Login sessions and CSRF protection for the HTML pages.
// The cookie carries a 256-bit random id; the database keeps only its hash, the user and a
// per-session CSRF token. Visitors who are not signed in get an anonymous session as soon
// as a page shows them a form, so every form (the login form too) carries a CSRF token.
// Signing in replaces the session (no fixation); signing out deletes it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { constantTimeEqual, newSecret, sha256Hex } from '../oauth/crypto.js';
import { nowSeconds } from '../oauth/clock.js';
import type { User } from '../store/users.js';
import { errorPage } from '../views/layout.js';

export const SESSION_COOKIE = 'lk_session';

export interface Session {
  idHash: string;
  user: User | null;
  csrfToken: string;
  /** Epoch seconds of the last password check, for prompt=login and max_age. */
  authTime: number | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Cached by loadSession: undefined = not looked up yet, null = none. */
    latchkeySession?: Session | null;
  }
}

function cookieOptions(request: FastifyRequest, maxAgeSeconds: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: request.server.services.config.issuer.startsWith('https:'),
    maxAge: maxAgeSeconds,
  };
}

/** The live session named by the request's cookie, or null. */
export async function loadSession(request: FastifyRequest): Promise<Session | null> {
  if (request.latchkeySession !== undefined) return request.latchkeySession;
  const { services } = request.server;
  const raw = request.cookies[SESSION_COOKIE];
  let session: Session | null = null;
  if (raw && raw.length <= 100) {
    const record = await services.sessions.find(sha256Hex(raw), nowSeconds(services.clock));
    if (record) {
      const user = record.userId === null ? null : (await services.users.findById(record.userId)) ?? null;
      session = { idHash: record.idHash, user, csrfToken: record.csrfToken, authTime: record.authTime };
    }
  }
  request.latchkeySession = session;
  return session;
}

async function createSession(request: FastifyRequest, reply: FastifyReply, user: User | null): Promise<Session> {
  const { services } = request.server;
  const now = nowSeconds(services.clock);
  const id = newSecret();
  const session: Session = { idHash: sha256Hex(id), user, csrfToken: newSecret(), authTime: user ? now : null };
  await services.sessions.insert({ ...session, userId: user?.id ?? null, expiresAt: now + services.config.sessionTtl, now });
  reply.setCookie(SESSION_COOKIE, id, cookieOptions(request, services.config.sessionTtl));
  request.latchkeySession = session;
  return session;
}

/** The current session, creating an anonymous one (for its CSRF token) when there is none. */
export async function ensureSession(request: FastifyRequest, reply: FastifyReply): Promise<Session> {
  return (await loadSession(request)) ?? createSession(request, reply, null);
}

/** Signs the user in: the old session (anonymous or not) is replaced by a new one. */
export async function startUserSession(request: FastifyRequest, reply: FastifyReply, user: User): Promise<Session> {
  const old = await loadSession(request);
  if (old) await request.server.services.sessions.delete(old.idHash);
  return createSession(request, reply, user);
}

export async function endSession(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await loadSession(request);
  if (session) await request.server.services.sessions.delete(session.idHash);
  request.latchkeySession = null;
  reply.clearCookie(SESSION_COOKIE, { path: '/' });
}

/** True when the form's csrf_token matches the session's (constant time). */
export function csrfValid(session: Session | null, submitted: unknown): boolean {
  return session !== null && typeof submitted === 'string' && submitted !== '' && constantTimeEqual(submitted, session.csrfToken);
}

/**
 * Checks the CSRF token of a form POST. On failure it answers 403 and returns null: the
 * caller must stop and change nothing.
 */
export async function requireCsrf(request: FastifyRequest, reply: FastifyReply): Promise<Session | null> {
  const session = await loadSession(request);
  const body = request.body as Record<string, unknown> | undefined;
  if (!csrfValid(session, body?.csrf_token)) {
    await reply.code(403).type('text/html; charset=utf-8').send(
      errorPage('Form expired', 'This form was not sent from this site or has expired. Go back, reload the page and try again.').toString(),
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
