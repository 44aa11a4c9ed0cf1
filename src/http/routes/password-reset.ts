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
import { BUSY_MESSAGE, OVERLOADED_MESSAGE } from '../../accounts/password-check.js';
import {
  carryOutResetRequest, countResetRequestFrom, liveResetLink, resetPassword, RESET_REQUESTED_MESSAGE,
} from '../../accounts/password-reset.js';
import { forgotPasswordPage, resetDonePage, resetLinkDeadPage, resetPasswordPage, resetRequestedPage } from '../../views/password-reset.js';
import type { FormErrors } from '../../views/forms.js';
import { capitalize, formValue, PAGE_ROUTE, sendPage } from '../pages.js';
import { endSession, formCsrfToken, requireCsrf } from '../session.js';

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
    return sendPage(reply, forgotPasswordPage({ csrfToken, email: '', errors: {} }));
  });

  app.post('/forgot-password', PAGE_ROUTE, async (request, reply) => {
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    const typed = formValue(request.body, 'email');
    let email: string;
    try {
      // Only the syntax is judged here: it says nothing about accounts.
      email = validateEmail(typed);
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      const message = typed.trim() === '' ? 'Enter the e-mail address of your account' : capitalize(err.message);
      return sendPage(reply, forgotPasswordPage({ csrfToken: session.csrfToken, email: typed, errors: { email: message } }), 400);
    }
    const limited = await countResetRequestFrom(services, request.ip);
    if (limited) {
      reply.header('Retry-After', String(limited.retryAfter));
      const errors: FormErrors = { form: `Too many reset requests from your network. Try again in ${Math.ceil(limited.retryAfter / 60)} minutes.` };
      return sendPage(reply, forgotPasswordPage({ csrfToken: session.csrfToken, email, errors }), 429);
    }
    sendPage(reply, resetRequestedPage(RESET_REQUESTED_MESSAGE));
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
    if (!user) return sendPage(reply, resetLinkDeadPage(), 400);
    const csrfToken = await formCsrfToken(request, reply);
    return sendPage(reply, resetPasswordPage({ csrfToken, token, email: user.email, errors: {} }));
  });

  app.post('/reset-password', PAGE_ROUTE, async (request, reply) => {
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    const token = tokenOf(request.body);
    const password = formValue(request.body, 'password');
    const errors: FormErrors = {};
    try {
      validatePassword(password);
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      errors.password = capitalize(err.message);
    }
    if (!errors.password && password !== formValue(request.body, 'password_confirm')) errors.password_confirm = 'The two passwords are not the same';
    const showForm = async (status: number, more: FormErrors = {}) => {
      const live = await liveResetLink(services, token);
      const user = live && (await services.users.findById(live.userId));
      if (!user) return sendPage(reply, resetLinkDeadPage(), 400);
      return sendPage(reply, resetPasswordPage({ csrfToken: session.csrfToken, token, email: user.email, errors: { ...errors, ...more } }), status);
    };
    if (Object.keys(errors).length > 0) return showForm(400);
    let outcome;
    try {
      outcome = await resetPassword(services, request.log, { token, newPassword: password, address: request.ip });
    } catch (err) {
      if (!(err instanceof HashingRefused)) throw err;
      reply.header('Retry-After', String(err.retryAfter));
      return showForm(err.reason === 'busy' ? 429 : 503, { form: err.reason === 'busy' ? BUSY_MESSAGE : OVERLOADED_MESSAGE });
    }
    if (!outcome.ok) return sendPage(reply, resetLinkDeadPage(), 400);
    // Every session of the account is gone, this browser's too if it was one: drop its cookie.
    if (session.user?.id === outcome.user.id) await endSession(request, reply);
    return reply.redirect('/reset-password/done', 303);
  });

  app.get('/reset-password/done', PAGE_ROUTE, async (_request, reply) => sendPage(reply, resetDonePage()));
}
