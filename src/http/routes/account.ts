// /account: the profile, a password change (the current password required), and the
// connected apps with "Revoke access", which deletes the remembered consent and revokes every
// grant of that user, client and organization, so all their tokens fail at once.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccountError, validateEmail, validateLocale, validateName, validatePassword } from '../../accounts/users.js';
import { hashPassword } from '../../accounts/passwords.js';
import { accountShare, passwordChecker } from '../../accounts/password-check.js';
import { nowSeconds } from '../../oauth/clock.js';
import { audit } from '../../audit.js';
import { lockoutMessage } from '../../accounts/backoff.js';
import { DuplicateEmailError, type User } from '../../store/users.js';
import { accountPage, type AccountPageOptions } from '../../views/account.js';
import type { FormErrors } from '../../views/forms.js';
import { capitalize, formValue, PAGE_ROUTE, sendPage, sessionUser } from '../pages.js';
import { requireCsrf, requireUser } from '../session.js';

const NOTICES: Readonly<Record<string, string>> = {
  profile: 'Your profile is saved.',
  password: 'Your password is changed. Your other sessions are signed out.',
  revoked: 'Access revoked. The app can no longer use your account.',
};

function collect(errors: FormErrors, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof AccountError)) throw err;
    errors[err.field] = capitalize(err.message);
  }
}

export async function accountRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;
  const checkPassword = passwordChecker({ guard: services.guard, users: services.users, logger: app.log });

  async function render(request: FastifyRequest, reply: FastifyReply, user: User, csrfToken: string, extra: Partial<AccountPageOptions>, status = 200) {
    const apps = await services.grants.listConnectedApps(user.id);
    return sendPage(reply, accountPage({ user, csrfToken, apps, ...extra }), status);
  }

  app.get('/account', PAGE_ROUTE, async (request, reply) => {
    const session = await requireUser(request, reply);
    if (!session) return reply;
    const done = (request.query as Record<string, unknown>).done;
    return render(request, reply, session.user, session.csrfToken, { notice: typeof done === 'string' ? NOTICES[done] : undefined });
  });

  app.post('/account/profile', PAGE_ROUTE, async (request, reply) => {
    const csrf = await requireCsrf(request, reply);
    if (!csrf) return reply;
    const session = await sessionUser(csrf, reply, '/account');
    if (!session) return reply;
    const body = request.body;
    const values = { name: formValue(body, 'name'), email: formValue(body, 'email'), locale: formValue(body, 'locale') };
    const errors: FormErrors = {};
    collect(errors, () => validateName(values.name));
    collect(errors, () => validateEmail(values.email));
    collect(errors, () => validateLocale(values.locale));
    if (Object.keys(errors).length === 0) {
      try {
        await services.users.update(session.user.id, { name: values.name.trim(), email: values.email.trim(), locale: values.locale.trim() }, nowSeconds(services.clock));
        return reply.redirect('/account?done=profile', 303);
      } catch (err) {
        if (!(err instanceof DuplicateEmailError)) throw err;
        errors.email = 'Another account already uses this e-mail address';
      }
    }
    return render(request, reply, session.user, session.csrfToken, { profile: values, profileErrors: errors }, 400);
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
    // Password changes are rate limited per account, and the current password goes through
    // the one password check: a wrong one counts in the account's back-off like a failed login.
    const limited = await services.guard.passwordChangeAttempt(session.user.id);
    if (limited) {
      reply.header('Retry-After', String(limited.retryAfter));
      return render(request, reply, session.user, session.csrfToken, { passwordErrors: { current_password: lockoutMessage(limited) } }, 429);
    }
    const checked = await checkPassword({ email: session.user.email, password: current, address: request.ip, purpose: 'password_change', userId: session.user.id });
    if (!checked.ok && checked.refusal !== 'wrong') {
      reply.header('Retry-After', String(checked.retryAfter));
      return render(request, reply, session.user, session.csrfToken, { passwordErrors: { current_password: checked.message } }, checked.refusal === 'overloaded' ? 503 : 429);
    }
    if (!checked.ok) {
      errors.current_password = 'This is not your current password';
      request.log.info({ event: 'password_change_refused', userId: session.user.id }, 'wrong current password');
    }
    collect(errors, () => validatePassword(password));
    if (!errors.password && password !== formValue(body, 'password_confirm')) errors.password_confirm = 'The two passwords are not the same';
    if (Object.keys(errors).length > 0) {
      return render(request, reply, session.user, session.csrfToken, { passwordErrors: errors }, 400);
    }
    await services.users.update(session.user.id, { passwordHash: await hashPassword(password, { account: accountShare(session.user.email) }) }, nowSeconds(services.clock));
    // Anyone signed in with the old password (another browser, a stolen cookie) is signed out.
    await services.sessions.deleteForUser(session.user.id, session.idHash);
    request.log.info({ event: 'password_changed', userId: session.user.id }, 'password changed');
    return reply.redirect('/account?done=password', 303);
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
