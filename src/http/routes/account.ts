// /account: the profile (a new e-mail address needs the current password and is confirmed by
// a link sent to it: accounts/email-change.ts; an unverified address can ask for a new
// verification link), a password change (the current password required; it ends every
// grant and consent of the account: accounts/password-change.ts), and the connected apps with
// "Revoke access", which deletes the remembered consent and revokes every grant of that user,
// client and organization, so all their tokens fail at once; apps holding a grant without a
// remembered consent (the password grant) are listed too. And the signed-in sessions (device,
// address, last seen) with "Sign out everywhere else", which ends every other session.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccountError, validateEmail, validateLocale, validateName, validatePassword } from '../../accounts/users.js';
import { changePassword } from '../../accounts/password-change.js';
import { accountShare, passwordChecker, type CheckPassword } from '../../accounts/password-check.js';
import { nowSeconds } from '../../oauth/clock.js';
import { audit } from '../../audit.js';
import type { User } from '../../oauth/model.js';
import { startEmailChange, countEmailChangeAttempt } from '../../accounts/email-change.js';
import { accountPage, type AccountPageOptions } from '../../views/account.js';
import { resendVerification } from '../../accounts/email-verification.js';
import type { FormErrors } from '../../views/forms.js';
import { capitalize, formValue, PAGE_ROUTE, sendPage, sessionUser } from '../pages.js';
import { loadSession, requireCsrf, requireUser } from '../session.js';
import { lockoutText, securityFor } from './factors.js';
import { PASSKEY_PAGE_POLICY } from '../plugins/security-headers.js';
import { accountErrorText, pageTranslator } from '../locale.js';
import { waitText, type MessageKey, type Translator } from '../../i18n/index.js';
import { BUSY_MESSAGE, OVERLOADED_MESSAGE } from '../../accounts/password-check.js';

const NOTICES = {
  profile: 'account.notice.profile',
  password: 'account.notice.password',
  revoked: 'account.notice.revoked',
  totp: 'account.notice.totp',
  totp_removed: 'account.notice.totpRemoved',
  passkey: 'account.notice.passkey',
  passkey_removed: 'account.notice.passkeyRemoved',
  email_pending: 'account.notice.emailPending',
  verification_sent: 'account.notice.verificationSent',
} as const satisfies Readonly<Record<string, MessageKey>>;

/** A notice of ?done=… in the page's language; undefined for an unknown one. */
function noticeText({ t }: Translator, done: string): string | undefined {
  const key = Object.hasOwn(NOTICES, done) ? NOTICES[done as keyof typeof NOTICES] : undefined;
  return key === undefined ? undefined : t(key);
}

/** A password check's refusal (a lockout, too many at once, hashing full) in the page's language. */
function refusalText(tr: Translator, message: string, retryAfter: number): string {
  const { t } = tr;
  if (message === OVERLOADED_MESSAGE) return t('login.error.overloaded');
  if (message === BUSY_MESSAGE) return t('login.error.busy');
  const wait = waitText(tr, retryAfter);
  if (message.startsWith('Too many sign-in attempts at once')) return t('login.error.tooManyAtOnce', { wait });
  if (message.startsWith('Too many failed sign-in attempts')) return t('login.error.tooManyFailed', { wait });
  if (message.startsWith('Too many password changes')) return t('account.error.tooManyPasswordChanges', { wait });
  return message;
}

/** The notice after "Sign out everywhere else", with how many sessions it ended. */
function signedOutOthersNotice({ t }: Translator, ended: unknown): string {
  const n = typeof ended === 'string' && /^[0-9]{1,6}$/.test(ended) ? Number(ended) : null;
  if (n === null) return t('account.notice.signedOutOthers');
  return n === 1 ? t('account.notice.signedOutOthersOne') : t('account.notice.signedOutOthersMany', { count: n });
}

function collect(errors: FormErrors, fn: () => unknown, tr: Translator): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof AccountError)) throw err;
    errors[err.field] = accountErrorText(tr, err) ?? capitalize(err.message);
  }
}

/**
 * Checks the signed-in user's current password through the one password check (a wrong one
 * counts towards the account's and the address's back-off). null when it is right, else the
 * message for the field and, when the caller is held back, the status and seconds to wait.
 */
async function checkCurrentPassword(checkPassword: CheckPassword, tr: Translator, user: User, password: string, address: string): Promise<{ message: string; status?: number; retryAfter?: number } | null> {
  const { t } = tr;
  if (password === '') return { message: t('account.error.currentPasswordNeeded') };
  const checked = await checkPassword({ email: user.email, password, address, purpose: 'email_change', userId: user.id });
  if (checked.ok) return null;
  if (checked.refusal === 'wrong') return { message: t('account.error.wrongPassword') };
  return { message: refusalText(tr, checked.message, checked.retryAfter), status: checked.refusal === 'overloaded' ? 503 : 429, retryAfter: checked.retryAfter };
}

export async function accountRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;
  const checkPassword = passwordChecker({ guard: services.guard, users: services.users, logger: app.log });

  async function render(request: FastifyRequest, reply: FastifyReply, user: User, csrfToken: string, extra: Partial<AccountPageOptions>, status = 200) {
    const now = nowSeconds(services.clock);
    const [consented, grantOnly, pending, sessions, current] = await Promise.all([
      services.grants.listConnectedApps(user.id),
      services.grants.listGrantOnlyApps(user.id),
      services.emailTokens.findPending(user.id, 'change', now),
      services.sessions.listForUser(user.id, now, { idleTimeout: services.config.sessionIdleTimeout, lifetime: services.config.sessionTtl }),
      loadSession(request),
    ]);
    // This browser first, then the others, most recently seen first.
    const sessionViews = sessions.map((s) => ({ current: s.idHash === current?.idHash, userAgent: s.userAgent, address: s.address, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt }))
      .sort((a, b) => Number(b.current) - Number(a.current));
    const t = pageTranslator(request, { user });
    const security = await securityFor(services, user.id, csrfToken, undefined, t);
    reply.header('Content-Security-Policy', PASSKEY_PAGE_POLICY);
    return sendPage(reply, accountPage({ user, csrfToken, apps: [...consented, ...grantOnly], pendingEmail: pending?.email ?? null, sessions: sessionViews, security, t, ...extra }), status);
  }

  app.get('/account', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const query = request.query as Record<string, unknown>;
    const done = query.done;
    const t = pageTranslator(request, { user: session.user });
    const notice = done === 'signed-out-others' ? signedOutOthersNotice(t, query.ended) : typeof done === 'string' ? noticeText(t, done) : undefined;
    return render(request, reply, session.user, session.csrfToken, { notice });
  });

  app.post('/account/profile', PAGE_ROUTE, async (request, reply) => {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return reply;
    const session = await sessionUser(csrf, reply, '/account');
    if (!session) return reply;
    const body = request.body;
    const values = { name: formValue(body, 'name'), email: formValue(body, 'email'), locale: formValue(body, 'locale') };
    const errors: FormErrors = {};
    const user = session.user;
    const tr = pageTranslator(request, { user });
    collect(errors, () => validateName(values.name), tr);
    collect(errors, () => validateEmail(values.email), tr);
    collect(errors, () => validateLocale(values.locale), tr);
    const profile = { name: values.name.trim(), locale: values.locale.trim() };
    const email = values.email.trim();
    const refuse = (status = 400) => render(request, reply, user, session.csrfToken, { profile: values, profileErrors: errors }, status);
    if (Object.keys(errors).length > 0) return refuse();
    if (email === user.email) {
      // Name and language only: the session is enough.
      await services.users.update(user.id, profile, nowSeconds(services.clock));
      return reply.redirect('/account?done=profile', 303);
    }
    // The address apps receive as `email`: the current password, within a limit of attempts.
    const limited = await countEmailChangeAttempt(services, user.id);
    if (limited) {
      reply.header('Retry-After', String(limited.retryAfter));
      errors.email = tr.t('account.error.tooManyEmailChanges', { minutes: Math.ceil(limited.retryAfter / 60) });
      return refuse(429);
    }
    const refusal = await checkCurrentPassword(checkPassword, tr, user, formValue(body, 'current_password'), request.ip);
    if (refusal) {
      errors.current_password = refusal.message;
      if (refusal.retryAfter === undefined) return refuse();
      reply.header('Retry-After', String(refusal.retryAfter));
      return refuse(refusal.status);
    }
    if ((await startEmailChange(services, request.log, { user, email, address: request.ip, profile })) === 'unusable') {
      errors.email = tr.t('account.error.unusableEmail');
      return refuse();
    }
    return reply.redirect('/account?done=email_pending', 303);
  });

  // "Send verification link" for a signed-in account whose address is not verified yet.
  app.post('/account/verify-email', PAGE_ROUTE, async (request, reply) => {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return reply;
    const session = await sessionUser(csrf, reply, '/account');
    if (!session) return reply;
    const limited = await resendVerification(services, request.log, session.user.email, request.ip);
    if (limited) {
      reply.header('Retry-After', String(limited.retryAfter));
      return render(request, reply, session.user, session.csrfToken, { notice: pageTranslator(request, { user: session.user }).t('account.error.tooManyLinks', { minutes: Math.ceil(limited.retryAfter / 60) }) }, 429);
    }
    return reply.redirect('/account?done=verification_sent', 303);
  });

  app.post('/account/password', PAGE_ROUTE, async (request, reply) => {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return reply;
    const session = await sessionUser(csrf, reply, '/account');
    if (!session) return reply;
    const body = request.body;
    const current = formValue(body, 'current_password');
    const password = formValue(body, 'password');
    const errors: FormErrors = {};
    const tr = pageTranslator(request, { user: session.user });
    // Password changes are rate limited per account, and the current password goes through
    // the one password check: a wrong one counts in the account's back-off like a failed login.
    const limited = await services.guard.passwordChangeAttempt(session.user.id);
    if (limited) {
      reply.header('Retry-After', String(limited.retryAfter));
      return render(request, reply, session.user, session.csrfToken, { passwordErrors: { current_password: lockoutText(tr, limited) } }, 429);
    }
    const checked = await checkPassword({ email: session.user.email, password: current, address: request.ip, purpose: 'password_change', userId: session.user.id });
    if (!checked.ok && checked.refusal !== 'wrong') {
      reply.header('Retry-After', String(checked.retryAfter));
      return render(request, reply, session.user, session.csrfToken, { passwordErrors: { current_password: refusalText(tr, checked.message, checked.retryAfter) } }, checked.refusal === 'overloaded' ? 503 : 429);
    }
    if (!checked.ok) {
      errors.current_password = tr.t('account.error.wrongPassword');
      request.log.info({ event: 'password_change_refused', userId: session.user.id }, 'wrong current password');
    }
    collect(errors, () => validatePassword(password), tr);
    if (!errors.password && password !== formValue(body, 'password_confirm')) errors.password_confirm = tr.t('account.error.passwordMismatch');
    if (Object.keys(errors).length > 0) {
      return render(request, reply, session.user, session.csrfToken, { passwordErrors: errors }, 400);
    }
    // Anyone signed in with the old password (another browser, a stolen cookie) is signed out,
    // and every app connected before must be approved again (accounts/password-change.ts).
    await changePassword(services, request.log, {
      userId: session.user.id, newPassword: password, keepSessionIdHash: session.idHash, address: request.ip, share: { account: accountShare(session.user.email) },
    });
    return reply.redirect('/account?done=password', 303);
  });

  // "Sign out everywhere else": every other session of the account ends (this one stays).
  app.post('/account/sessions/sign-out-others', PAGE_ROUTE, async (request, reply) => {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return reply;
    const session = await sessionUser(csrf, reply, '/account');
    if (!session) return reply;
    const ended = await services.sessions.deleteForUser(session.user.id, session.idHash);
    audit(request.log, 'session.ended_others', { user_id: session.user.id, address: request.ip, sessions_ended: ended });
    return reply.redirect(`/account?done=signed-out-others&ended=${ended}#sessions`, 303);
  });

  app.post('/account/apps/revoke', PAGE_ROUTE, async (request, reply) => {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return reply;
    const session = await sessionUser(csrf, reply, '/account');
    if (!session) return reply;
    const body = request.body;
    const client = await services.clients.findByClientId(formValue(body, 'client_id'));
    const orgText = formValue(body, 'organization_id');
    const organizationId = /^[1-9][0-9]{0,9}$/.test(orgText) ? Number(orgText) : null;
    if (client && (orgText === '' || organizationId !== null)) {
      await services.grants.deleteConsent(session.user.id, client.id, organizationId);
      const revoked = await services.grants.revokeForUserClient(session.user.id, client.id, organizationId, nowSeconds(services.clock));
      audit(request.log, 'grant.revoked', { user_id: session.user.id, client_id: client.clientId, organization_id: organizationId, count: revoked, reason: 'user_disconnected_app', address: request.ip });
    }
    // Unknown or already revoked: the outcome the person wanted holds either way.
    return reply.redirect('/account?done=revoked#connected-apps', 303);
  });
}
