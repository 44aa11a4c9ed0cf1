// The account page: profile (name, e-mail, language), password change, and the apps the user
// has connected, each with a "Revoke access" button.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, localeDatalist, notice, timeOf, type FormErrors } from './forms.js';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { SCOPE_DESCRIPTIONS } from '../oauth/scope.js';
import { describeScopeIn } from './consent.js';
import type { ConnectedApp, User } from '../oauth/model.js';
import { sessionsSection, type SessionView } from './account-sessions.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export interface AccountPageOptions {
  user: User;
  csrfToken: string;
  apps: ConnectedApp[];
  /** The account's signed-in sessions (this browser's marked `current`). */
  sessions?: readonly SessionView[];
  /** What the profile form shows (the submitted values after a failed save). */
  profile?: { name: string; email: string; locale: string };
  profileErrors?: FormErrors;
  passwordErrors?: FormErrors;
  notice?: string | undefined;
  /** The "Sign-in security" section (second factors and passkeys: views/factors.ts). */
  security?: Html | undefined;
  /** A new address waiting for its confirmation link. */
  pendingEmail?: string | null;
  /** The page's language; English when omitted. */
  t?: Translator | undefined;
}

function scopeList(scope: string, tr: Translator): Html {
  const scopes = scope.split(' ').filter(Boolean);
  if (scopes.length === 0) return html`<p class="muted">${tr.t('account.noScopes')}</p>`;
  return html`<ul class="scopes">${scopes.map((s) => html`<li><code>${s}</code>${Object.hasOwn(SCOPE_DESCRIPTIONS, s) ? html` — ${describeScopeIn(tr, s)}` : html``}</li>`)}</ul>`;
}

function connectedApp(app: ConnectedApp, csrfToken: string, tr: Translator): Html {
  const { t, th } = tr;
  const where = app.organizationId === null ? t('account.app.personal') : t('account.app.organization', { name: app.organizationName ?? `#${app.organizationId}` });
  return html`<li class="item">
<div class="item-main">
<h3>${app.clientName}</h3>
<p class="muted">${where} · ${th('account.app.granted', { time: timeOf(app.grantedAt) })}</p>
${scopeList(app.scope, tr)}
</div>
<form method="post" action="/account/apps/revoke" class="item-action">
${csrfInput(csrfToken)}
<input type="hidden" name="client_id" value="${app.clientPublicId}">
<input type="hidden" name="organization_id" value="${app.organizationId ?? ''}">
<button type="submit" class="danger">${app.organizationName ? th('account.app.revokeFor', { client: app.clientName, organization: app.organizationName }) : th('account.app.revoke', { client: app.clientName })}</button>
</form>
</li>`;
}

/** Whether the address is verified (with a button to send the link again), and a change waiting for its link. */
function emailStatus(o: AccountPageOptions, { t, th }: Translator): Html {
  return html`<div class="email-status" id="email-status">
${o.user.emailVerified
  ? html`<p class="muted">${th('account.email.verified', { email: o.user.email })}</p>`
  : html`<p>${th('account.email.unverified', { email: o.user.email })}</p>
<form method="post" action="/account/verify-email">
${csrfInput(o.csrfToken)}
<div class="actions"><button type="submit" class="secondary">${t('account.email.sendLink')}</button></div>
</form>`}
${o.pendingEmail ? html`<p role="status">${th('account.email.pending', { pending: o.pendingEmail, email: o.user.email })}</p>` : html``}
</div>`;
}

export function accountPage(o: AccountPageOptions): Html {
  const profile = o.profile ?? { name: o.user.name, email: o.user.email, locale: o.user.locale };
  const pe = o.profileErrors ?? {};
  const pw = o.passwordErrors ?? {};
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: t('account.title'),
    t: tr,
    userName: o.user.name,
    csrfToken: o.csrfToken,
    body: html`<h1>${t('account.title')}</h1>
${notice(o.notice)}
<section class="card" aria-labelledby="profile-heading">
<h2 id="profile-heading">${t('account.profile.heading')}</h2>
${formAlert(pe.form)}
<form method="post" action="/account/profile" novalidate>
${csrfInput(o.csrfToken)}
${field({ idPrefix: 'profile', name: 'name', label: t('account.profile.name'), value: profile.name, error: pe.name, autocomplete: 'name', required: true, maxlength: 200 })}
${field({ idPrefix: 'profile', name: 'email', label: t('account.profile.email'), type: 'email', value: profile.email, error: pe.email, autocomplete: 'email', required: true })}
${field({ idPrefix: 'profile', name: 'locale', label: t('account.profile.locale'), value: profile.locale, error: pe.locale, list: 'locales', required: true, hint: t('account.profile.localeHintApps') })}
${localeDatalist('locales')}
${field({ idPrefix: 'profile', name: 'current_password', label: t('account.profile.currentPassword'), type: 'password', error: pe.current_password, autocomplete: 'current-password', hint: t('account.profile.currentPasswordHintLink') })}
<div class="actions"><button type="submit">${t('account.profile.save')}</button></div>
</form>
${emailStatus(o, tr)}
</section>
<section class="card" aria-labelledby="password-heading">
<h2 id="password-heading">${t('account.password.heading')}</h2>
${formAlert(pw.form)}
<form method="post" action="/account/password" novalidate>
${csrfInput(o.csrfToken)}
<input type="text" name="username" value="${o.user.email}" autocomplete="username" hidden>
${field({ idPrefix: 'pw', name: 'current_password', label: t('account.password.current'), type: 'password', error: pw.current_password, autocomplete: 'current-password', required: true })}
${field({ idPrefix: 'pw', name: 'password', label: t('account.password.new'), type: 'password', error: pw.password, autocomplete: 'new-password', required: true, hint: t('account.password.newHint', { min: MIN_PASSWORD_LENGTH }) })}
${field({ idPrefix: 'pw', name: 'password_confirm', label: t('account.password.again'), type: 'password', error: pw.password_confirm, autocomplete: 'new-password', required: true })}
<div class="actions"><button type="submit">${t('account.password.submit')}</button></div>
</form>
</section>
${o.security ?? ''}
${o.sessions ? sessionsSection(o.sessions, o.csrfToken, tr) : ''}
<section class="card" id="connected-apps" aria-labelledby="apps-heading">
<h2 id="apps-heading">${t('account.apps.heading')}</h2>
${o.apps.length === 0
  ? html`<p class="muted">${t('account.apps.empty')}</p>`
  : html`<p class="muted">${t('account.apps.explain')}</p>
<ul class="items">${o.apps.map((a) => connectedApp(a, o.csrfToken, tr))}</ul>`}
</section>`,
  });
}
