// Password reset pages: GET/POST /forgot-password (ask for a link), GET/POST /reset-password
// (the link from the mail: choose a new password), GET /reset-password/done. The rules are in
// accounts/password-reset.ts; this file reads the forms and writes the pages.
//
// POST /forgot-password answers first and works after: once the caller's address has been
// counted, the one page is sent, and only then is the address looked at (carryOutResetRequest,
// the same work for every address). Its status, body and time therefore cannot tell whether an
// account has the address. The work still under way when the server closes is waited for
// before the database closes.
import type { FastifyInstance } from 'fastify';
import { AccountError, validateEmail, validatePassword } from '../../accounts/users.js';
import { HashingRefused } from '../../accounts/passwords.js';
import {
  carryOutResetRequest, countResetRequestFrom, liveResetLink, resetPassword, RESET_LINK_TTL_SECONDS,
} from '../../accounts/password-reset.js';
import { forgotPasswordPage, resetDonePage, resetLinkDeadPage, resetPasswordPage, resetRequestedPage } from '../../views/password-reset.js';
import type { FormErrors } from '../../views/forms.js';
import { capitalize, formValue, PAGE_ROUTE, sendPage } from '../pages.js';
import { endSession, formCsrfToken, requireCsrf } from '../session.js';
import { accountErrorText, pageTranslator } from '../locale.js';

/** The token of the link, from the query or the form; '' when missing or not text. */
function tokenOf(source: unknown): string {
  const value = formValue(source, 'token');
  return value.length <= 100 ? value : '';
}

export async function passwordResetRoutes(app: FastifyInstance): Promise<void> {
  const { services } = app;
  /** Reset requests still being carried out after their answer. */
  const underWay = new Set<Promise<void>>();
  // preClose: before the database is closed (the store's onClose hook may run before ours).
  app.addHook('preClose', async () => {
    await Promise.allSettled([...underWay]);
  });

  app.get('/forgot-password', PAGE_ROUTE, async (request, reply) => {
    const csrfToken = await formCsrfToken(request, reply);
    return sendPage(reply, forgotPasswordPage({ csrfToken, email: '', errors: {}, t: pageTranslator(request) }));
  });

  app.post('/forgot-password', PAGE_ROUTE, async (request, reply) => {
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    const tr = pageTranslator(request);
    const typed = formValue(request.body, 'email');
    let email: string;
    try {
      // Only the syntax is judged here: it says nothing about accounts.
      email = validateEmail(typed);
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      const message = typed.trim() === '' ? tr.t('reset.forgot.emailMissing') : (accountErrorText(tr, err) ?? capitalize(err.message));
      return sendPage(reply, forgotPasswordPage({ csrfToken: session.csrfToken, email: typed, errors: { email: message }, t: tr }), 400);
    }
    const limited = await countResetRequestFrom(services, request.ip);
    if (limited) {
      reply.header('Retry-After', String(limited.retryAfter));
      const errors: FormErrors = { form: tr.t('reset.forgot.tooMany', { minutes: Math.ceil(limited.retryAfter / 60) }) };
      return sendPage(reply, forgotPasswordPage({ csrfToken: session.csrfToken, email, errors, t: tr }), 429);
    }
    // The page's language, never the language of an account the address may have.
    sendPage(reply, resetRequestedPage(tr.t('reset.requested.message', { minutes: RESET_LINK_TTL_SECONDS / 60 }), tr));
    // The answer is on its way; now the work, the same for every address.
    const work = carryOutResetRequest(services, request.log, { email, address: request.ip })
      .catch((err: unknown) => request.log.error({ err }, 'password reset request failed after its answer'))
      .finally(() => underWay.delete(work));
    underWay.add(work);
    return reply;
  });

  app.get('/reset-password', PAGE_ROUTE, async (request, reply) => {
    const token = tokenOf(request.query);
    const live = await liveResetLink(services, token);
    const user = live && (await services.users.findById(live.userId));
    if (!user) return sendPage(reply, resetLinkDeadPage(pageTranslator(request, { user: null })), 400);
    const csrfToken = await formCsrfToken(request, reply);
    return sendPage(reply, resetPasswordPage({ csrfToken, token, email: user.email, errors: {}, t: pageTranslator(request, { user }) }));
  });

  app.post('/reset-password', PAGE_ROUTE, async (request, reply) => {
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    const token = tokenOf(request.body);
    const password = formValue(request.body, 'password');
    const errors: { password?: AccountError; password_confirm?: 'mismatch' } = {};
    // Before the link's account is known: the browser's language.
    const browser = pageTranslator(request, { user: null });
    try {
      validatePassword(password);
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      errors.password = err;
    }
    if (!errors.password && password !== formValue(request.body, 'password_confirm')) errors.password_confirm = 'mismatch';
    const showForm = async (status: number, more: 'busy' | 'overloaded' | null = null) => {
      const live = await liveResetLink(services, token);
      const user = live && (await services.users.findById(live.userId));
      if (!user) return sendPage(reply, resetLinkDeadPage(browser), 400);
      // The form speaks the language of the account the link is for.
      const tr = pageTranslator(request, { user });
      const shown: FormErrors = {};
      if (errors.password) shown.password = accountErrorText(tr, errors.password) ?? capitalize(errors.password.message);
      if (errors.password_confirm) shown.password_confirm = tr.t('validation.password.mismatch');
      if (more) shown.form = more === 'busy' ? tr.t('login.error.busy') : tr.t('login.error.overloaded');
      return sendPage(reply, resetPasswordPage({ csrfToken: session.csrfToken, token, email: user.email, errors: shown, t: tr }), status);
    };
    if (Object.keys(errors).length > 0) return showForm(400);
    let outcome;
    try {
      outcome = await resetPassword(services, request.log, { token, newPassword: password, address: request.ip });
    } catch (err) {
      if (!(err instanceof HashingRefused)) throw err;
      reply.header('Retry-After', String(err.retryAfter));
      return showForm(err.reason === 'busy' ? 429 : 503, err.reason === 'busy' ? 'busy' : 'overloaded');
    }
    if (!outcome.ok) return sendPage(reply, resetLinkDeadPage(browser), 400);
    // Every session of the account is gone, this browser's too if it was one: drop its cookie.
    if (session.user?.id === outcome.user.id) await endSession(request, reply);
    return reply.redirect('/reset-password/done', 303);
  });

  app.get('/reset-password/done', PAGE_ROUTE, async (request, reply) => sendPage(reply, resetDonePage(pageTranslator(request))));
}
