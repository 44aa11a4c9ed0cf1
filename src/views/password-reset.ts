// The pages of password reset: asking for the e-mail address, the one answer to that, the form
// for the new password (reached from the link in the mail), and what follows it.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, type FormErrors } from './forms.js';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';

export function forgotPasswordPage(o: { csrfToken: string; email: string; errors: FormErrors }): Html {
  return layout({
    title: 'Forgot your password?',
    body: html`<section class="card narrow">
<h1>Forgot your password?</h1>
<p>Enter the e-mail address of your account. We will send it a link to choose a new password.</p>
${formAlert(o.errors.form)}
<form method="post" action="/forgot-password" novalidate>
${csrfInput(o.csrfToken)}
${field({ name: 'email', label: 'E-mail address', type: 'email', value: o.email, error: o.errors.email, autocomplete: 'username', required: true, maxlength: 254 })}
<div class="actions"><button type="submit">Send reset link</button></div>
</form>
<p class="muted"><a href="/login">Back to sign in</a></p>
</section>`,
  });
}

/** The one answer to a reset request, whether or not an account has the address. */
export function resetRequestedPage(message: string): Html {
  return layout({
    title: 'Check your e-mail',
    body: html`<section class="card narrow">
<h1>Check your e-mail</h1>
<div class="alert alert-ok" role="status">${message}</div>
<p class="muted"><a href="/login">Back to sign in</a></p>
</section>`,
  });
}

export function resetPasswordPage(o: { csrfToken: string; token: string; email: string; errors: FormErrors }): Html {
  return layout({
    title: 'Choose a new password',
    body: html`<section class="card narrow">
<h1>Choose a new password</h1>
<p>For the account <strong>${o.email}</strong>. Once it is changed, every browser and app signed in to your account is signed out.</p>
${formAlert(o.errors.form)}
<form method="post" action="/reset-password" novalidate>
${csrfInput(o.csrfToken)}
<input type="hidden" name="token" value="${o.token}">
<input type="text" name="username" value="${o.email}" autocomplete="username" hidden>
${field({ name: 'password', label: 'New password', type: 'password', error: o.errors.password, autocomplete: 'new-password', required: true, hint: `At least ${MIN_PASSWORD_LENGTH} characters.` })}
${field({ name: 'password_confirm', label: 'New password again', type: 'password', error: o.errors.password_confirm, autocomplete: 'new-password', required: true })}
<div class="actions"><button type="submit">Change password</button></div>
</form>
</section>`,
  });
}

export const RESET_LINK_DEAD_MESSAGE = 'This link to reset your password has expired or was already used. Ask for a new one.';

export function resetLinkDeadPage(): Html {
  return layout({
    title: 'Link expired',
    body: html`<section class="card narrow">
<h1>Link expired</h1>
<div class="alert alert-error" role="alert">${RESET_LINK_DEAD_MESSAGE}</div>
<p><a href="/forgot-password">Ask for a new link</a></p>
</section>`,
  });
}

export function resetDonePage(): Html {
  return layout({
    title: 'Password changed',
    body: html`<section class="card narrow">
<h1>Password changed</h1>
<div class="alert alert-ok" role="status">Your password is changed. Every browser and app that was signed in to your account is signed out; we have sent you an e-mail about it.</div>
<p><a href="/login">Sign in with your new password</a></p>
</section>`,
  });
}
