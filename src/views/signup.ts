// The sign-up page: name, e-mail, password twice and language, each error next to its field.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, localeDatalist, type FormErrors } from './forms.js';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';

export interface SignupValues {
  name: string;
  email: string;
  locale: string;
}

export function signupPage(o: { csrfToken: string; values: SignupValues; errors: FormErrors; next: string | null }): Html {
  const { values, errors } = o;
  return layout({
    title: 'Create an account',
    body: html`<section class="card narrow">
<h1>Create an account</h1>
${formAlert(errors.form)}
<form method="post" action="/signup" novalidate>
${csrfInput(o.csrfToken)}
${o.next ? html`<input type="hidden" name="next" value="${o.next}">` : html``}
${field({ name: 'name', label: 'Name', value: values.name, error: errors.name, autocomplete: 'name', required: true, maxlength: 200 })}
${field({ name: 'email', label: 'E-mail address', type: 'email', value: values.email, error: errors.email, autocomplete: 'email', required: true })}
${field({ name: 'password', label: 'Password', type: 'password', error: errors.password, autocomplete: 'new-password', required: true, hint: `At least ${MIN_PASSWORD_LENGTH} characters.` })}
${field({ name: 'password_confirm', label: 'Password again', type: 'password', error: errors.password_confirm, autocomplete: 'new-password', required: true })}
${field({ name: 'locale', label: 'Language', value: values.locale, error: errors.locale, list: 'locales', required: true, hint: 'A language tag such as en, nl or de-CH. Apps you connect receive it.' })}
${localeDatalist('locales')}
<div class="actions"><button type="submit">Create account</button></div>
</form>
<p class="muted">Already have an account? <a href="${o.next ? `/login?next=${encodeURIComponent(o.next)}` : '/login'}">Sign in</a>.</p>
</section>`,
  });
}
