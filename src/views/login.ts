// The sign-in page: e-mail and password, a hidden CSRF token and the page to return to.
// One message for every failure, so the page never tells which of the two was wrong.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { passkeySignInForm } from './factors.js';
import { resendForm } from './email-verification.js';

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
}

export const LOGIN_FAILED_MESSAGE = 'The e-mail address or password is not correct.';
export const EMAIL_UNVERIFIED_MESSAGE = 'Verify your e-mail address before you sign in: follow the link in the message we sent you.';

export function loginPage(options: LoginPageOptions): Html {
  const title = options.reauthenticate ? 'Confirm it is you' : 'Sign in';
  return layout({
    title,
    body: html`<section class="card narrow">
<h1>${title}</h1>
${options.reauthenticate ? html`<p class="muted">The application asked you to enter your password again before it continues.</p>` : ''}
${options.error ? html`<div class="alert alert-error" role="alert" id="login-error">${options.error}</div>` : ''}
<form method="post" action="/login">
  <input type="hidden" name="csrf_token" value="${options.csrfToken}">
  <input type="hidden" name="next" value="${options.next}">
  <label for="email">E-mail address</label>
  <input type="email" id="email" name="email" value="${options.email ?? ''}" autocomplete="username" required maxlength="254"${options.email ? '' : html` autofocus`}${options.error ? html` aria-describedby="login-error"` : ''}>
  <label for="password">Password</label>
  <input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024"${options.email ? html` autofocus` : ''}>
  ${options.reauthenticate ? '' : html`<p class="hint"><a href="/forgot-password">Forgot password?</a></p>`}
  <div class="actions">
    <button type="submit">${options.reauthenticate ? 'Continue' : 'Sign in'}</button>
    ${options.signupOpen && !options.reauthenticate ? html`<a href="/signup?next=${encodeURIComponent(options.next)}">Create an account</a>` : ''}
  </div>
</form>
${passkeySignInForm(options.csrfToken, options.next)}
${options.resendVerification ? html`<section aria-labelledby="resend-heading">
<h2 id="resend-heading">No link in your inbox?</h2>
${resendForm({ csrfToken: options.csrfToken, email: options.email ?? '' })}
</section>` : ''}
</section>`,
  });
}
