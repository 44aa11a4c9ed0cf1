// The sign-up page: name, e-mail, password twice and language, each error next to its field.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, localeDatalist, type FormErrors } from './forms.js';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export interface SignupValues {
  name: string;
  email: string;
  locale: string;
}

export function signupPage(o: { csrfToken: string; values: SignupValues; errors: FormErrors; next: string | null; t?: Translator | undefined }): Html {
  const { values, errors } = o;
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: t('signup.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('signup.title')}</h1>
${formAlert(errors.form)}
<form method="post" action="/signup" novalidate>
${csrfInput(o.csrfToken)}
${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : html``}
${field({ name: 'name', label: t('signup.name'), value: values.name, error: errors.name, autocomplete: 'name', required: true, maxlength: 200 })}
${field({ name: 'email', label: t('signup.email'), type: 'email', value: values.email, error: errors.email, autocomplete: 'email', required: true })}
${field({ name: 'password', label: t('signup.password'), type: 'password', error: errors.password, autocomplete: 'new-password', required: true, hint: t('signup.passwordHint', { min: MIN_PASSWORD_LENGTH }) })}
${field({ name: 'password_confirm', label: t('signup.passwordConfirm'), type: 'password', error: errors.password_confirm, autocomplete: 'new-password', required: true })}
${field({ name: 'locale', label: t('signup.locale'), value: values.locale, error: errors.locale, list: 'locales', required: true, hint: t('signup.localeHint') })}
${localeDatalist('locales')}
<div class="actions"><button type="submit">${t('signup.submit')}</button></div>
</form>
<p class="muted">${t('signup.haveAccount')} <a href="${o.next ? `/login?next=${encodeURIComponent(o.next)}` : '/login'}">${t('signup.signIn')}</a>.</p>
</section>`,
  });
}
