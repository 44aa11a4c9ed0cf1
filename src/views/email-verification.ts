// The pages of e-mail links: the page a link opens (a button that uses it, so that a mail
// scanner fetching the link does not), the outcome, "check your inbox" after sign-up when
// verification is required, and the "send the link again" form and its answer. Each page
// speaks the language its route chose (http/locale.ts pageTranslator); English by default.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { csrfInput } from './forms.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export function emailLinkPage(o: { csrfToken: string; token: string; purpose: 'verify' | 'change'; email: string; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t, th } = tr;
  const title = o.purpose === 'verify' ? t('verify.link.verifyTitle') : t('verify.link.changeTitle');
  return layout({
    title,
    t: tr,
    body: html`<section class="card narrow">
<h1>${title}</h1>
<p>${o.purpose === 'verify' ? th('verify.link.verifyText', { email: o.email }) : th('verify.link.changeText', { email: o.email })}</p>
<form method="post" action="/verify-email">
${csrfInput(o.csrfToken)}
<input type="hidden" name="token" value="${o.token}">
<div class="actions"><button type="submit">${o.purpose === 'verify' ? t('verify.link.verifySubmit') : t('verify.link.changeSubmit')}</button></div>
</form>
</section>`,
  });
}

export function emailLinkDonePage(o: { title: string; message: string; signedIn: boolean; userName?: string | null; csrfToken?: string | null; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: o.title,
    t: tr,
    userName: o.userName ?? null,
    csrfToken: o.csrfToken ?? null,
    body: html`<section class="card narrow">
<h1>${o.title}</h1>
<div class="alert alert-ok" role="status">${o.message}</div>
<p><a href="${o.signedIn ? '/account' : '/login'}">${o.signedIn ? t('verify.goToAccount') : t('verify.signIn')}</a></p>
</section>`,
  });
}

export function emailLinkFailedPage(o: { message: string; signedIn: boolean; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t, th } = tr;
  return layout({
    title: t('verify.failed.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('verify.failed.title')}</h1>
<div class="alert alert-error" role="alert">${o.message}</div>
<p>${o.signedIn
    ? th('verify.failed.askOnAccount', { link: html`<a href="/account">${t('verify.goToAccount')}</a>` })
    : th('verify.failed.resendOrSignIn', { resend: html`<a href="/verify-email/resend">${t('verify.failed.resendLink')}</a>`, signIn: html`<a href="/login">${t('verify.failed.signInLink')}</a>` })}</p>
</section>`,
  });
}

/** The "send the link again" form (login page's path for an unverified account, and its own page). */
export function resendForm(o: { csrfToken: string; email: string; t?: Translator | undefined }): Html {
  const { t } = o.t ?? ENGLISH;
  return html`<form method="post" action="/verify-email/resend">
${csrfInput(o.csrfToken)}
<label for="resend-email">${t('verify.resend.email')}</label>
<input type="email" id="resend-email" name="email" value="${o.email}" autocomplete="email" required maxlength="254">
<div class="actions"><button type="submit">${t('verify.resend.submit')}</button></div>
</form>`;
}

export function resendPage(o: { csrfToken: string; email: string; notice?: string | null; error?: string | null; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: t('verify.resend.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('verify.resend.title')}</h1>
${o.notice ? html`<div class="alert alert-ok" role="status">${o.notice}</div>` : html``}
${o.error ? html`<div class="alert alert-error" role="alert">${o.error}</div>` : html``}
<p class="muted">${t('verify.resend.intro')}</p>
${resendForm({ csrfToken: o.csrfToken, email: o.email, t: tr })}
<p class="muted"><a href="/login">${t('verify.signIn')}</a></p>
</section>`,
  });
}

export function checkInboxPage(o: { email: string; csrfToken: string; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t, th } = tr;
  return layout({
    title: t('verify.inbox.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('verify.inbox.title')}</h1>
<div class="alert alert-ok" role="status">${th('verify.inbox.created', { email: o.email })}</div>
<p class="muted">${t('verify.inbox.noMessage')}</p>
${resendForm({ csrfToken: o.csrfToken, email: o.email, t: tr })}
</section>`,
  });
}
