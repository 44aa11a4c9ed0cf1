// The pages of second factors and passkeys: the second step of a login, the authenticator-app
// set-up (QR code and the secret as text), the recovery codes shown once, and the "Sign-in
// security" section of the account page.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, timeOf } from './forms.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

const WEBAUTHN_SCRIPT_TAG = html`<script src="/assets/webauthn.js" defer></script>`;

/** A passkey ceremony form, shown by /assets/webauthn.js when the browser can do WebAuthn. */
function passkeyForm(o: { mode: 'create' | 'get'; options: string; verify: string; csrfToken: string; next?: string; label: string; id: string; extra?: Html; secondary?: boolean; t: Translator }): Html {
  const { t } = o.t;
  // The script's messages in the page's language (views/webauthn-script.ts; English when missing).
  return html`<form method="post" action="${o.verify}" id="${o.id}" data-webauthn="${o.mode}" data-options="${o.options}" data-verify="${o.verify}" data-msg-failed="${t('webauthn.failed')}" data-msg-none="${t('webauthn.noPasskey')}" data-msg-cancelled="${t('webauthn.cancelled')}" data-msg-broken="${t('webauthn.didNotWork')}" hidden>
${csrfInput(o.csrfToken)}
${o.next !== undefined ? html`<input type="hidden" name="next" value="${o.next}">` : ''}
${o.extra ?? ''}
<p class="field-error" role="alert" data-webauthn-status hidden></p>
<div class="actions"><button type="submit"${o.secondary ? html` class="secondary"` : ''}>${o.label}</button></div>
</form>`;
}

/** The login page's "Sign in with a passkey" (no e-mail, no password). */
export function passkeySignInForm(csrfToken: string, next: string, tr: Translator = ENGLISH): Html {
  return html`${passkeyForm({ mode: 'get', options: '/login/passkey/options', verify: '/login/passkey/verify', csrfToken, next, label: tr.t('login.passkey'), id: 'passkey-signin', secondary: true, t: tr })}
${WEBAUTHN_SCRIPT_TAG}`;
}

export interface FactorPageOptions {
  csrfToken: string;
  hasTotp: boolean;
  hasPasskey: boolean;
  error?: string | null;
  t?: Translator | undefined;
}

/** The second step of a login: an authenticator code, a passkey, or a recovery code. */
export function factorPage(o: FactorPageOptions): Html {
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: t('factors.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('factors.title')}</h1>
<p class="muted">${t('factors.explain')}</p>
${formAlert(o.error ?? undefined)}
${o.hasTotp ? html`<form method="post" action="/login/factor">
${csrfInput(o.csrfToken)}
<div class="field">
<label for="factor-code">${t('factors.code')}</label>
<input id="factor-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="10" required autofocus aria-describedby="factor-code-hint">
<p class="hint" id="factor-code-hint">${t('factors.codeHint')}</p>
</div>
<div class="actions"><button type="submit">${t('factors.verify')}</button></div>
</form>` : ''}
${o.hasPasskey ? passkeyForm({ mode: 'get', options: '/login/factor/passkey/options', verify: '/login/factor/passkey/verify', csrfToken: o.csrfToken, label: t('factors.usePasskey'), id: 'passkey-factor', secondary: o.hasTotp, t: tr }) : ''}
<details>
<summary>${t('factors.useRecovery')}</summary>
<form method="post" action="/login/factor">
${csrfInput(o.csrfToken)}
<div class="field">
<label for="factor-recovery">${t('factors.recoveryCode')}</label>
<input id="factor-recovery" name="recovery_code" type="text" autocomplete="off" autocapitalize="off" spellcheck="false" maxlength="40" required aria-describedby="factor-recovery-hint">
<p class="hint" id="factor-recovery-hint">${t('factors.recoveryHint')}</p>
</div>
<div class="actions"><button type="submit" class="secondary">${t('factors.useRecoverySubmit')}</button></div>
</form>
</details>
<p><a href="/login">${t('factors.cancel')}</a></p>
</section>
${o.hasPasskey ? WEBAUTHN_SCRIPT_TAG : ''}`,
  });
}

export interface TotpSetupOptions {
  userName: string;
  csrfToken: string;
  /** The secret grouped in fours, for typing by hand. */
  secretText: string;
  /** A data: URL of the QR code (the CSP allows data: images). */
  qrDataUrl: string;
  error?: string | undefined;
  t?: Translator | undefined;
}

export function totpSetupPage(o: TotpSetupOptions): Html {
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: t('factors.totp.title'),
    t: tr,
    userName: o.userName,
    csrfToken: o.csrfToken,
    body: html`<section class="card narrow">
<h1>${t('factors.totp.title')}</h1>
<p>${t('factors.totp.scan')}</p>
<p><img src="${o.qrDataUrl}" alt="${t('factors.totp.qrAlt')}" width="200" height="200"></p>
<p>${t('factors.totp.byHand')}</p>
<p><code class="secret" id="totp-secret">${o.secretText}</code></p>
<form method="post" action="/account/totp/confirm" novalidate>
${csrfInput(o.csrfToken)}
${field({ idPrefix: 'totp', name: 'code', label: t('factors.totp.code'), autocomplete: 'one-time-code', error: o.error, required: true, maxlength: 10, hint: t('factors.totp.codeHint') })}
<div class="actions"><button type="submit">${t('factors.totp.turnOn')}</button><a href="/account#security">${t('common.cancel')}</a></div>
</form>
</section>`,
  });
}

export function recoveryCodesPage(o: { userName: string; csrfToken: string; codes: readonly string[]; intro: string; t?: Translator | undefined }): Html {
  const tr = o.t ?? ENGLISH;
  const { t } = tr;
  return layout({
    title: t('factors.recovery.title'),
    t: tr,
    userName: o.userName,
    csrfToken: o.csrfToken,
    body: html`<section class="card narrow">
<h1>${t('factors.recovery.title')}</h1>
<div class="alert alert-ok" role="status">${o.intro}</div>
<p>${t('factors.recovery.keep')}</p>
<ul class="plain" id="recovery-codes" aria-label="${t('factors.recovery.listLabel')}">${o.codes.map((c) => html`<li><code class="secret">${c}</code></li>`)}</ul>
<div class="actions"><a class="button" href="/account#security">${t('factors.recovery.saved')}</a></div>
</section>`,
  });
}

export interface SecuritySummary {
  totpEnabled: boolean;
  passkeys: ReadonlyArray<{ credentialId: string; name: string; createdAt: number; lastUsedAt: number | null }>;
  recoveryCodesLeft: number;
  errors?: { passkey?: string | undefined };
}

/** The account page's "Sign-in security" section. */
export function securitySection(s: SecuritySummary, csrfToken: string, tr: Translator = ENGLISH): Html {
  const { t } = tr;
  const hasFactor = s.totpEnabled || s.passkeys.length > 0;
  return html`<section class="card" id="security" aria-labelledby="security-heading">
<h2 id="security-heading">${t('factors.security.heading')}</h2>
<h3>${t('factors.security.totpHeading')}</h3>
${s.totpEnabled
  ? html`<p><span class="badge badge-on">${t('factors.security.on')}</span> ${t('factors.security.totpOn')}</p>
<form method="post" action="/account/totp/remove">${csrfInput(csrfToken)}<div class="actions"><button type="submit" class="danger">${t('factors.security.totpRemove')}</button></div></form>`
  : html`<p class="muted">${t('factors.security.totpOff')}</p>
<form method="post" action="/account/totp/start">${csrfInput(csrfToken)}<div class="actions"><button type="submit">${t('factors.security.totpSetUp')}</button></div></form>`}
<h3>${t('factors.security.passkeysHeading')}</h3>
<p class="muted">${t('factors.security.passkeysExplain')}</p>
${s.passkeys.length > 0 ? html`<ul class="items">${s.passkeys.map((p) => html`<li class="item">
<div class="item-main"><h3>${p.name}</h3><p class="muted">${tr.th('factors.security.added', { time: timeOf(p.createdAt) })}${p.lastUsedAt !== null ? tr.th('factors.security.lastUsed', { time: timeOf(p.lastUsedAt) }) : ''}</p></div>
<form method="post" action="/account/passkeys/remove" class="item-action">${csrfInput(csrfToken)}<input type="hidden" name="credential_id" value="${p.credentialId}"><button type="submit" class="danger">${tr.th('factors.security.removePasskey', { name: p.name })}</button></form>
</li>`)}</ul>` : ''}
${passkeyForm({
  mode: 'create', options: '/account/passkeys/options', verify: '/account/passkeys/verify', csrfToken, label: t('factors.security.addPasskey'), id: 'passkey-add', t: tr,
  extra: field({ idPrefix: 'passkey', name: 'name', label: t('factors.security.passkeyLabel'), maxlength: 100, hint: t('factors.security.passkeyLabelHint'), error: s.errors?.passkey }),
})}
<noscript><p class="muted">${t('factors.security.needsJs')}</p></noscript>
<h3>${t('factors.security.recoveryHeading')}</h3>
<p class="muted">${hasFactor || s.recoveryCodesLeft > 0 ? t('factors.security.recoveryLeft', { count: s.recoveryCodesLeft }) : t('factors.security.recoveryNone')}</p>
<form method="post" action="/account/recovery-codes" id="recovery-create">${csrfInput(csrfToken)}<div class="actions"><button type="submit" class="secondary"${hasFactor ? '' : html` disabled`}>${t('factors.security.recoveryNew')}</button></div></form>
</section>
${WEBAUTHN_SCRIPT_TAG}`;
}
