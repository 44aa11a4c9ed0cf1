// GET/POST /signup: open only while the `signup` setting is on (SPEC.md); otherwise 404.
// A new account is sent a verification link (accounts/email-verification.ts) and, unless
// email_verification is "required", signed in at once (a fresh session: no fixation) and
// lands on /account; when it is required, the page says to follow the link first.
import type { FastifyInstance } from 'fastify';
import { AccountError, createUser, validateEmail, validateLocale, validateName, validatePassword } from '../../accounts/users.js';
import { DuplicateEmailError } from '../../store/users.js';
import { sendVerification } from '../../accounts/email-verification.js';
import { checkInboxPage } from '../../views/email-verification.js';
import { signupPage, type SignupValues } from '../../views/signup.js';
import type { FormErrors } from '../../views/forms.js';
import { capitalize, formValue, PAGE_ROUTE, sendNotFound, sendPage } from '../pages.js';
import { formCsrfToken, loadSession, requireCsrf, safeNext, startUserSession } from '../session.js';
import { accountErrorText, pageTranslator } from '../locale.js';
import type { Translator } from '../../i18n/index.js';

function nextParam(value: unknown, issuer: string): string | null {
  const next = safeNext(value, issuer, '');
  return next === '' ? null : next;
}

/** Every field's problem at once, so the person fixes them in one go. */
function validateSignup(tr: Translator, values: SignupValues, password: string, confirm: string): FormErrors {
  const errors: FormErrors = {};
  const check = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof AccountError)) throw err;
      errors[err.field] = accountErrorText(tr, err) ?? capitalize(err.message);
    }
  };
  check(() => validateName(values.name));
  check(() => validateEmail(values.email));
  check(() => validatePassword(password));
  check(() => validateLocale(values.locale));
  if (!errors.password && password !== confirm) errors.password_confirm = tr.t('validation.password.mismatch');
  return errors;
}

export async function signupRoutes(app: FastifyInstance): Promise<void> {
  app.get('/signup', PAGE_ROUTE, async (request, reply) => {
    if (!app.services.config.signup) return sendNotFound(reply);
    const query = request.query as Record<string, unknown>;
    const next = nextParam(query.next, app.services.config.issuer);
    const existing = await loadSession(request);
    if (existing?.user) return reply.redirect(next ?? '/account', 303);
    const csrfToken = await formCsrfToken(request, reply);
    // The page's language (ui_locales of the authorization request in `next`, else the
    // browser's) is what the language field offers first.
    const t = pageTranslator(request, { next });
    return sendPage(reply, signupPage({ csrfToken, values: { name: '', email: '', locale: t.locale }, errors: {}, next, t }));
  });

  app.post('/signup', PAGE_ROUTE, async (request, reply) => {
    if (!app.services.config.signup) return sendNotFound(reply);
    const session = await requireCsrf(request, reply);
    if (!session) return reply;
    const body = request.body;
    const next = nextParam(formValue(body, 'next'), app.services.config.issuer);
    const values: SignupValues = { name: formValue(body, 'name'), email: formValue(body, 'email'), locale: formValue(body, 'locale') };
    const password = formValue(body, 'password');
    const t = pageTranslator(request, { next });
    const errors = validateSignup(t, values, password, formValue(body, 'password_confirm'));
    if (Object.keys(errors).length === 0) {
      try {
        const user = await createUser(app.services, { ...values, password, share: { address: request.ip } });
        request.log.info({ event: 'signup', userId: user.id }, 'account created');
        // Always a verification mail (SPEC.md); with email_verification "required" no session
        // until the link is followed.
        await sendVerification(app.services, request.log, user, request.ip);
        if (app.services.config.emailVerification === 'required') {
          return sendPage(reply, checkInboxPage({ email: user.email, csrfToken: session.csrfToken, t: pageTranslator(request, { user }) }));
        }
        await startUserSession(request, reply, user);
        return reply.redirect(next ?? '/account', 303);
      } catch (err) {
        if (err instanceof DuplicateEmailError) errors.email = t.t('signup.error.duplicate');
        else if (err instanceof AccountError) errors[err.field] = accountErrorText(t, err) ?? capitalize(err.message);
        else throw err;
      }
    }
    return sendPage(reply, signupPage({ csrfToken: session.csrfToken, values, errors, next, t }), 400);
  });
}
