// The pages of password reset: asking for the e-mail address, the one answer to that, the form
// for the new password (reached from the link in the mail), and what follows it. Each page
// speaks the language its route chose (http/locale.ts pageTranslator); English by default.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, type FormErrors } from './forms.js';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export function forgotPasswordPage(o: { csrfToken: string; email: string; errors: FormErrors; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: t('reset.forgot.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('reset.forgot.title')}</h1>
<p>${t('reset.forgot.intro')}</p>
${formAlert(o.errors.form)}
<form method="post" action="/forgot-password" novalidate>
${csrfInput(o.csrfToken)}
${field({ name: 'email', label: t('reset.forgot.email'), type: 'email', value: o.email, error: o.errors.email, autocomplete: 'username', required: true, maxlength: 254 })}
<div class="actions"><button type="submit">${t('reset.forgot.submit')}</button></div>
</form>
<p class="muted"><a href="/login">${t('reset.backToSignIn')}</a></p>
</section>`,
  });
}

/** The one answer to a reset request, whether or not an account has the address. */
export function resetRequestedPage(message: string, tr: Translator = ENGLISH): Html {
  const { t } = tr;
  return layout({
    title: t('reset.requested.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('reset.requested.title')}</h1>
<div class="alert alert-ok" role="status">${message}</div>
<p class="muted"><a href="/login">${t('reset.backToSignIn')}</a></p>
</section>`,
  });
}

export function resetPasswordPage(o: { csrfToken: string; token: string; email: string; errors: FormErrors; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t, th } = tr;
  return layout({
    title: t('reset.form.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('reset.form.title')}</h1>
<p>${th('reset.form.intro', { email: o.email })}</p>
${formAlert(o.errors.form)}
<form method="post" action="/reset-password" novalidate>
${csrfInput(o.csrfToken)}
<input type="hidden" name="token" value="${o.token}">
<input type="text" name="username" value="${o.email}" autocomplete="username" hidden>
${field({ name: 'password', label: t('reset.form.password'), type: 'password', error: o.errors.password, autocomplete: 'new-password', required: true, hint: t('reset.form.passwordHint', { min: MIN_PASSWORD_LENGTH }) })}
${field({ name: 'password_confirm', label: t('reset.form.passwordConfirm'), type: 'password', error: o.errors.password_confirm, autocomplete: 'new-password', required: true })}
<div class="actions"><button type="submit">${t('reset.form.submit')}</button></div>
</form>
</section>`,
  });
}

export const RESET_LINK_DEAD_MESSAGE = ENGLISH.t('reset.dead.message');

export function resetLinkDeadPage(tr: Translator = ENGLISH): Html {
  const { t } = tr;
  return layout({
    title: t('reset.dead.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('reset.dead.title')}</h1>
<div class="alert alert-error" role="alert">${t('reset.dead.message')}</div>
<p><a href="/forgot-password">${t('reset.dead.askNew')}</a></p>
</section>`,
  });
}

export function resetDonePage(tr: Translator = ENGLISH): Html {
  const { t } = tr;
  return layout({
    title: t('reset.done.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('reset.done.title')}</h1>
<div class="alert alert-ok" role="status">${t('reset.done.message')}</div>
<p><a href="/login">${t('reset.done.signIn')}</a></p>
</section>`,
  });
}
