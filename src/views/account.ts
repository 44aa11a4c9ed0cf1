// The account page: profile (name, e-mail, language), password change, and the apps the user
// has connected, each with a "Revoke access" button.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, localeDatalist, notice, timeOf, type FormErrors } from './forms.js';
import { MIN_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { SCOPE_DESCRIPTIONS } from '../oauth/scope.js';
import type { ConnectedApp, User } from '../oauth/model.js';
import { sessionsSection, type SessionView } from './account-sessions.js';

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
}

function scopeList(scope: string): Html {
  const scopes = scope.split(' ').filter(Boolean);
  if (scopes.length === 0) return html`<p class="muted">No scopes: only that you have an account.</p>`;
  return html`<ul class="scopes">${scopes.map((s) => html`<li><code>${s}</code>${SCOPE_DESCRIPTIONS[s] ? html` — ${SCOPE_DESCRIPTIONS[s]}` : html``}</li>`)}</ul>`;
}

function connectedApp(app: ConnectedApp, csrfToken: string): Html {
  const where = app.organizationId === null ? 'Your personal account' : `Organization: ${app.organizationName ?? `#${app.organizationId}`}`;
  return html`<li class="item">
<div class="item-main">
<h3>${app.clientName}</h3>
<p class="muted">${where} · granted ${timeOf(app.grantedAt)}</p>
${scopeList(app.scope)}
</div>
<form method="post" action="/account/apps/revoke" class="item-action">
${csrfInput(csrfToken)}
<input type="hidden" name="client_id" value="${app.clientPublicId}">
<input type="hidden" name="organization_id" value="${app.organizationId ?? ''}">
<button type="submit" class="danger">Revoke access<span class="visually-hidden"> of ${app.clientName}${app.organizationName ? ` for ${app.organizationName}` : ''}</span></button>
</form>
</li>`;
}

/** Whether the address is verified (with a button to send the link again), and a change waiting for its link. */
function emailStatus(o: AccountPageOptions): Html {
  return html`<div class="email-status" id="email-status">
${o.user.emailVerified
  ? html`<p class="muted">Your e-mail address <strong>${o.user.email}</strong> is verified.</p>`
  : html`<p>Your e-mail address <strong>${o.user.email}</strong> is not verified yet. Follow the link we sent you, or ask for a new one.</p>
<form method="post" action="/account/verify-email">
${csrfInput(o.csrfToken)}
<div class="actions"><button type="submit" class="secondary">Send verification link</button></div>
</form>`}
${o.pendingEmail ? html`<p role="status">Waiting for confirmation: we sent a link to <strong>${o.pendingEmail}</strong>. Your account keeps <strong>${o.user.email}</strong> until you follow it.</p>` : html``}
</div>`;
}

export function accountPage(o: AccountPageOptions): Html {
  const profile = o.profile ?? { name: o.user.name, email: o.user.email, locale: o.user.locale };
  const pe = o.profileErrors ?? {};
  const pw = o.passwordErrors ?? {};
  return layout({
    title: 'Your account',
    userName: o.user.name,
    csrfToken: o.csrfToken,
    body: html`<h1>Your account</h1>
${notice(o.notice)}
<section class="card" aria-labelledby="profile-heading">
<h2 id="profile-heading">Profile</h2>
${formAlert(pe.form)}
<form method="post" action="/account/profile" novalidate>
${csrfInput(o.csrfToken)}
${field({ idPrefix: 'profile', name: 'name', label: 'Name', value: profile.name, error: pe.name, autocomplete: 'name', required: true, maxlength: 200 })}
${field({ idPrefix: 'profile', name: 'email', label: 'E-mail address', type: 'email', value: profile.email, error: pe.email, autocomplete: 'email', required: true })}
${field({ idPrefix: 'profile', name: 'locale', label: 'Language', value: profile.locale, error: pe.locale, list: 'locales', required: true, hint: 'A language tag such as en, nl or de-CH. Apps you connect receive it.' })}
${localeDatalist('locales')}
${field({ idPrefix: 'profile', name: 'current_password', label: 'Your password', type: 'password', error: pe.current_password, autocomplete: 'current-password', hint: 'Needed only to change your e-mail address. The new address is used once you follow the link we send to it.' })}
<div class="actions"><button type="submit">Save profile</button></div>
</form>
${emailStatus(o)}
</section>
<section class="card" aria-labelledby="password-heading">
<h2 id="password-heading">Password</h2>
${formAlert(pw.form)}
<form method="post" action="/account/password" novalidate>
${csrfInput(o.csrfToken)}
<input type="text" name="username" value="${o.user.email}" autocomplete="username" hidden>
${field({ idPrefix: 'pw', name: 'current_password', label: 'Current password', type: 'password', error: pw.current_password, autocomplete: 'current-password', required: true })}
${field({ idPrefix: 'pw', name: 'password', label: 'New password', type: 'password', error: pw.password, autocomplete: 'new-password', required: true, hint: `At least ${MIN_PASSWORD_LENGTH} characters. Your other sessions and connected apps are signed out; apps must be approved again.` })}
${field({ idPrefix: 'pw', name: 'password_confirm', label: 'New password again', type: 'password', error: pw.password_confirm, autocomplete: 'new-password', required: true })}
<div class="actions"><button type="submit">Change password</button></div>
</form>
</section>
${o.security ?? ''}
${o.sessions ? sessionsSection(o.sessions, o.csrfToken) : ''}
<section class="card" id="connected-apps" aria-labelledby="apps-heading">
<h2 id="apps-heading">Connected apps</h2>
${o.apps.length === 0
  ? html`<p class="muted">You have not given any app access to your account.</p>`
  : html`<p class="muted">These apps may act on your behalf. Revoking access ends it at once: the app's tokens stop working and it must ask you again.</p>
<ul class="items">${o.apps.map((a) => connectedApp(a, o.csrfToken))}</ul>`}
</section>`,
  });
}
