// The sign-in page: e-mail and password, a hidden CSRF token and the page to return to.
// One message for every failure, so the page never tells which of the two was wrong.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { passkeySignInForm } from './factors.js';
import { csrfInput } from './forms.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export interface LoginPageOptions {
  csrfToken: string;
  /** A local path to continue to after signing in (already checked by safeNext). */
  next: string;
  /** The e-mail typed before, kept in the field after a failed attempt. */
  email?: string;
  /** An alert shown above the form. */
  error?: string | null;
  /** A signed-in user asked to confirm their password again (prompt=login). */
  reauthenticate?: boolean;
  /**
   * Whether to offer a link to /signup. It carries `next` on, so that someone the authorization
   * endpoint sent here who creates an account lands back in the authorization.
   */
  signupOpen?: boolean;
  /** The account's address is not verified (email_verification "required"): offer to send the link again. */
  resendVerification?: boolean;
  /** The page's language; English when omitted. */
  t?: Translator | undefined;
}

export const LOGIN_FAILED_MESSAGE = 'The e-mail address or password is not correct.';
export const EMAIL_UNVERIFIED_MESSAGE = 'Verify your e-mail address before you sign in: follow the link in the message we sent you.';

export function loginPage(options: LoginPageOptions): Html {
  const tr = options.t ?? ENGLISH;
  const { t } = tr;
  const title = options.reauthenticate ? t('login.reauth.title') : t('login.title');
  return layout({
    title,
    t: tr,
    body: html`<section class="card narrow">
<h1>${title}</h1>
${options.reauthenticate ? html`<p class="muted">${t('login.reauth.explain')}</p>` : ''}
${options.error ? html`<div class="alert alert-error" role="alert" id="login-error">${options.error}</div>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="csrf_token" value="${options.csrfToken}">
  <input type="hidden" name="next" value="${options.next}">
  <label for="email">${t('login.email')}</label>
  <input type="email" id="email" name="email" value="${options.email ?? ''}" autocomplete="username" required maxlength="254"${options.email ? '' : html` autofocus`}${options.error ? html` aria-describedby="login-error"` : ''}>
  <label for="password">${t('login.password')}</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024"${options.email ? html` autofocus` : ''}>
  ${options.reauthenticate ? '' : html`<p class="hint"><a href="/forgot-password">${t('login.forgotPassword')}</a></p>`}
  <div class="actions">
    <button type="submit">${options.reauthenticate ? t('login.continue') : t('login.submit')}</button>
    ${options.signupOpen && !options.reauthenticate ? html`<a href="/signup?next=${encodeURIComponent(options.next)}">${t('login.createAccount')}</a>` : ''}
  </div>
</form>
${passkeySignInForm(options.csrfToken, options.next, tr)}
${options.resendVerification ? html`<section aria-labelledby="resend-heading">
<h2 id="resend-heading">${t('login.resend.heading')}</h2>
<form method="post" action="/verify-email/resend">
${csrfInput(options.csrfToken)}
<label for="resend-email">${t('login.resend.email')}</label>
<input type="email" id="resend-email" name="email" value="${options.email ?? ''}" autocomplete="email" required maxlength="254">
<div class="actions"><button type="submit">${t('login.resend.submit')}</button></div>
</form>
</section>` : ''}
</section>`,
  });
}
