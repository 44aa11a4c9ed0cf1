// Signing in and out: GET/POST /login, POST /logout. The login page is where the
// authorization endpoint (and every portal page) sends a visitor without a session; after a
// correct password it continues to `next`, a local path only (no open redirect).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../../audit.js';
import { passwordChecker } from '../../accounts/password-check.js';
import { endSession, formCsrfToken, loadSession, requireCsrf, safeNext, startUserSession } from '../session.js';
import { loginPage, type LoginPageOptions } from '../../views/login.js';
import { pageTranslator } from '../locale.js';
import { waitText, type Translator } from '../../i18n/index.js';
import { BUSY_MESSAGE, type PasswordCheckResult } from '../../accounts/password-check.js';
import { startPendingLogin } from './factors.js';
import { PASSKEY_PAGE_POLICY } from '../plugins/security-headers.js';

/** One text field of a form or query; repeated or non-text values count as missing. */
function textField(source: unknown, name: string): string {
  if (source === null || typeof source !== 'object') return '';
  const value = (source as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : '';
}

async function sendLoginPage(
  request: FastifyRequest,
  reply: FastifyReply,
  options: Omit<LoginPageOptions, 'csrfToken' | 'signupOpen' | 't'>,
  status = 200,
): Promise<FastifyReply> {
  const csrfToken = await formCsrfToken(request, reply);
  // The authorization request's ui_locales rides in `next`; nobody is signed in on this page's
  // account yet, except for prompt=login (then the session's account speaks).
  const t = pageTranslator(request, { next: options.next });
  const page = loginPage({ ...options, csrfToken, signupOpen: request.server.services.config.signup, t });
  // The page carries a CSRF token: never cached.
  return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store')
    .header('Content-Security-Policy', PASSKEY_PAGE_POLICY).send(page.toString());
}

type Refusal = Extract<PasswordCheckResult, { retryAfter: number }>;

/** A refusal's sentence in the page's language (the English words are oauth/lockout.ts's and password-check.ts's). */
export function refusalText(tr: Translator, refusal: Refusal): string {
  const { t } = tr;
  if (refusal.refusal === 'overloaded') return t('login.error.overloaded');
  if (refusal.refusal === 'busy' && refusal.message === BUSY_MESSAGE) return t('login.error.busy');
  // A lockout: "at once" when the account's attempts in flight are full, else failed attempts.
  const wait = waitText(tr, refusal.retryAfter);
  if (refusal.message.startsWith('Too many sign-in attempts at once')) return t('login.error.tooManyAtOnce', { wait });
  if (refusal.message.startsWith('Too many failed sign-in attempts')) return t('login.error.tooManyFailed', { wait });
  return refusal.message;
}

/** A refusal before or instead of verification: 429 (lockout, too many at once) or 503 (hashing full), with Retry-After. */
function sendRefusal(request: FastifyRequest, reply: FastifyReply, refusal: Refusal, status: 429 | 503, email: string, next: string): Promise<FastifyReply> {
  reply.header('Retry-After', String(refusal.retryAfter));
  return sendLoginPage(request, reply, { next, email, error: refusalText(pageTranslator(request, { next }), refusal) }, status);
}

export async function loginRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;
  const checkPassword = passwordChecker({ guard: services.guard, users: services.users, logger: app.log });

  app.get('/login', { config: { errorFormat: 'html' } }, async (request, reply) => {
    const nextParam = textField(request.query, 'next');
    const next = safeNext(nextParam, services.config.issuer);
    const session = await loadSession(request);
    // Signed in and nowhere in particular to go: the account page. Signed in with a `next`
    // (the authorization endpoint's prompt=login): confirm the password again.
    if (session?.user && nextParam === '') return reply.redirect('/account', 303);
    // The authorization endpoint passes OpenID's login_hint (an e-mail) to pre-fill the field,
    // and account=other for "use another account" (prompt=select_account): an empty field.
    const loginHint = textField(request.query, 'login_hint').trim();
    const otherAccount = textField(request.query, 'account') === 'other';
    const email = otherAccount ? '' : loginHint !== '' && loginHint.length <= 320 ? loginHint : session?.user?.email ?? '';
    return sendLoginPage(request, reply, {
      next,
      email,
      reauthenticate: Boolean(session?.user) && !otherAccount && email === session?.user?.email,
    });
  });

  app.post('/login', { config: { errorFormat: 'html' } }, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    const email = textField(request.body, 'email').trim();
    const password = textField(request.body, 'password');
    const next = safeNext(textField(request.body, 'next'), services.config.issuer);

    // The one password check (accounts/password-check.ts): the brute-force reservation before
    // anything is verified, argon2 against a dummy hash for an unknown e-mail, the audit.
    const checked = await checkPassword({ email, password, address: request.ip });
    if (!checked.ok) {
      if (checked.refusal === 'wrong') {
        // One message whichever was wrong (no account enumeration); the e-mail stays in the field.
        return sendLoginPage(request, reply, { next, email, error: pageTranslator(request, { next }).t('login.failed') }, 401);
      }
      return sendRefusal(request, reply, checked, checked.refusal === 'overloaded' ? 503 : 429, email, next);
    }
    const account = checked.user;
    if (services.config.emailVerification === 'required' && !account.emailVerified) {
      // The password was right, but the address is not proven yet: no session (SPEC.md).
      audit(request.log, 'login.failed', { user_id: account.id, address: request.ip, reason: 'email_unverified' });
      return sendLoginPage(request, reply, { next, email, error: pageTranslator(request, { next }).t('login.emailUnverified'), resendVerification: true }, 403);
    }
    // An account with an authenticator app or a passkey: no session yet, the second step first.
    if (await startPendingLogin(request, reply, account, next)) return reply.redirect('/login/factor', 303);
    await startUserSession(request, reply, account, ['pwd']);
    audit(request.log, 'login.succeeded', { user_id: account.id, address: request.ip });
    return reply.redirect(next, 303);
  });

  app.post('/logout', { config: { errorFormat: 'html' } }, async (request, reply) => {
    if (!(await requireCsrf(request, reply))) return reply;
    await endSession(request, reply);
    return reply.redirect('/login', 303);
  });
}
