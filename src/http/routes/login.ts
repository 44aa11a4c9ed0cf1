// Signing in and out: GET/POST /login, POST /logout. The login page is where the
// authorization endpoint (and every portal page) sends a visitor without a session; after a
// correct password it continues to `next`, a local path only (no open redirect).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../../audit.js';
import { checkLoginLockout, recordFailedLogin, recordSuccessfulLogin, type LoginLockout } from '../../accounts/login-backoff.js';
import { dummyPasswordHash, MAX_PASSWORD_LENGTH, verifyPassword } from '../../accounts/passwords.js';
import { endSession, formCsrfToken, loadSession, requireCsrf, safeNext, startUserSession } from '../session.js';
import { LOGIN_FAILED_MESSAGE, loginPage, type LoginPageOptions } from '../../views/login.js';

const MAX_EMAIL_LENGTH = 320;

/** One text field of a form or query; repeated or non-text values count as missing. */
function textField(source: unknown, name: string): string {
  if (source === null || typeof source !== 'object') return '';
  const value = (source as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

async function sendLoginPage(
  request: FastifyRequest,
  reply: FastifyReply,
  options: Omit<LoginPageOptions, 'csrfToken' | 'signupOpen'>,
  status = 200,
): Promise<FastifyReply> {
  const csrfToken = await formCsrfToken(request, reply);
  const page = loginPage({ ...options, csrfToken, signupOpen: request.server.services.config.signup });
  // The page carries a CSRF token: never cached.
  return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(page.toString());
}

function sendLockout(request: FastifyRequest, reply: FastifyReply, lockout: LoginLockout, email: string, next: string): Promise<FastifyReply> {
  reply.header('Retry-After', String(lockout.retryAfter));
  return sendLoginPage(request, reply, { next, email, error: lockout.message }, 429);
}

export async function loginRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;

  app.get('/login', { config: { errorFormat: 'html' } }, async (request, reply) => {
    const nextParam = textField(request.query, 'next');
    const next = safeNext(nextParam, services.config.issuer);
    const session = await loadSession(request);
    // Signed in and nowhere in particular to go: the account page. Signed in with a `next`
    // (the authorization endpoint's prompt=login): confirm the password again.
    if (session?.user && nextParam === '') return reply.redirect('/account', 303);
    return sendLoginPage(request, reply, {
      next,
      email: session?.user?.email ?? '',
      reauthenticate: Boolean(session?.user),
    });
  });

  app.post('/login', { config: { errorFormat: 'html' } }, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    const email = textField(request.body, 'email').trim();
    const password = textField(request.body, 'password');
    const next = safeNext(textField(request.body, 'next'), services.config.issuer);
    const attempt = { email, ip: request.ip };

    const lockout = await checkLoginLockout(services, attempt);
    if (lockout) return sendLockout(request, reply, lockout, email, next);

    // The password is always checked against some hash, so an unknown e-mail costs the same
    // time as a known one and timing does not reveal which accounts exist.
    // No account has an e-mail that long or with NUL in it (PostgreSQL refuses NUL in text).
    const lookUp = email !== '' && email.length <= MAX_EMAIL_LENGTH && !email.includes('\0');
    const user = lookUp ? await services.users.findCredentialsByEmail(email) : undefined;
    const passwordOk = password !== '' && password.length <= MAX_PASSWORD_LENGTH
      && (await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), password));

    if (!user || !passwordOk) {
      audit(request.log, 'login.failed', { user_id: user?.id ?? null, address: request.ip });
      const started = await recordFailedLogin(services, attempt);
      if (started) return sendLockout(request, reply, started, email, next);
      // One message whichever was wrong (no account enumeration); the e-mail stays in the field.
      return sendLoginPage(request, reply, { next, email, error: LOGIN_FAILED_MESSAGE }, 401);
    }

    await recordSuccessfulLogin(services, attempt);
    const { passwordHash: _hash, ...account } = user;
    await startUserSession(request, reply, account);
    audit(request.log, 'login.succeeded', { user_id: user.id, address: request.ip });
    return reply.redirect(next, 303);
  });

  app.post('/logout', { config: { errorFormat: 'html' } }, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    await endSession(request, reply);
    return reply.redirect('/login', 303);
  });
}
