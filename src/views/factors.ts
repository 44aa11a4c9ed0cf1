// The pages of second factors and passkeys: the second step of a login, the authenticator-app
// set-up (QR code and the secret as text), the recovery codes shown once, and the "Sign-in
// security" section of the account page.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, timeOf } from './forms.js';

const WEBAUTHN_SCRIPT_TAG = html`<script src="/assets/webauthn.js" defer></script>`;

/** A passkey ceremony form, shown by /assets/webauthn.js when the browser can do WebAuthn. */
function passkeyForm(o: { mode: 'create' | 'get'; options: string; verify: string; csrfToken: string; next?: string; label: string; id: string; extra?: Html; secondary?: boolean }): Html {
  return html`<form method="post" action="${o.verify}" id="${o.id}" data-webauthn="${o.mode}" data-options="${o.options}" data-verify="${o.verify}" hidden>
${csrfInput(o.csrfToken)}
${o.next !== undefined ? html`<input type="hidden" name="next" value="${o.next}">` : ''}
${o.extra ?? ''}
<p class="field-error" role="alert" data-webauthn-status hidden></p>
<div class="actions"><button type="submit"${o.secondary ? html` class="secondary"` : ''}>${o.label}</button></div>
</form>`;
}

/** The login page's "Sign in with a passkey" (no e-mail, no password). */
export function passkeySignInForm(csrfToken: string, next: string): Html {
  return html`${passkeyForm({ mode: 'get', options: '/login/passkey/options', verify: '/login/passkey/verify', csrfToken, next, label: 'Sign in with a passkey', id: 'passkey-signin', secondary: true })}
${WEBAUTHN_SCRIPT_TAG}`;
}

export interface FactorPageOptions {
  csrfToken: string;
  hasTotp: boolean;
  hasPasskey: boolean;
  error?: string | null;
}

/** The second step of a login: an authenticator code, a passkey, or a recovery code. */
export function factorPage(o: FactorPageOptions): Html {
  return layout({
    title: 'Two-step verification',
    body: html`<section class="card narrow">
<h1>Two-step verification</h1>
<p class="muted">Your password is right. Your account asks for a second step before you are signed in.</p>
${formAlert(o.error ?? undefined)}
${o.hasTotp ? html`<form method="post" action="/login/factor">
${csrfInput(o.csrfToken)}
<div class="field">
<label for="factor-code">Authentication code</label>
<input id="factor-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="10" required autofocus aria-describedby="factor-code-hint">
<p class="hint" id="factor-code-hint">The 6-digit code your authenticator app shows for Latchkey.</p>
</div>
<div class="actions"><button type="submit">Verify</button></div>
</form>` : ''}
${o.hasPasskey ? passkeyForm({ mode: 'get', options: '/login/factor/passkey/options', verify: '/login/factor/passkey/verify', csrfToken: o.csrfToken, label: 'Use a passkey', id: 'passkey-factor', secondary: o.hasTotp }) : ''}
<details>
<summary>Use a recovery code</summary>
<form method="post" action="/login/factor">
${csrfInput(o.csrfToken)}
<div class="field">
<label for="factor-recovery">Recovery code</label>
<input id="factor-recovery" name="recovery_code" type="text" autocomplete="off" autocapitalize="off" spellcheck="false" maxlength="40" required aria-describedby="factor-recovery-hint">
<p class="hint" id="factor-recovery-hint">One of the ten codes you saved when you set up two-step verification. Each works once.</p>
</div>
<div class="actions"><button type="submit" class="secondary">Use recovery code</button></div>
</form>
</details>
<p><a href="/login">Cancel and start again</a></p>
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
}

export function totpSetupPage(o: TotpSetupOptions): Html {
  return layout({
    title: 'Set up an authenticator app',
    userName: o.userName,
    csrfToken: o.csrfToken,
    body: html`<section class="card narrow">
<h1>Set up an authenticator app</h1>
<p>Scan this QR code with an authenticator app (such as FreeOTP, Aegis, Google Authenticator or 1Password).</p>
<p><img src="${o.qrDataUrl}" alt="QR code for your authenticator app" width="200" height="200"></p>
<p>Or enter this key in the app by hand:</p>
<p><code class="secret" id="totp-secret">${o.secretText}</code></p>
<form method="post" action="/account/totp/confirm" novalidate>
${csrfInput(o.csrfToken)}
${field({ idPrefix: 'totp', name: 'code', label: 'Code from the app', autocomplete: 'one-time-code', error: o.error, required: true, maxlength: 10, hint: 'Enter the 6-digit code the app shows, to prove it is set up.' })}
<div class="actions"><button type="submit">Turn on</button><a href="/account#security">Cancel</a></div>
</form>
</section>`,
  });
}

export function recoveryCodesPage(o: { userName: string; csrfToken: string; codes: readonly string[]; intro: string }): Html {
  return layout({
    title: 'Your recovery codes',
    userName: o.userName,
    csrfToken: o.csrfToken,
    body: html`<section class="card narrow">
<h1>Your recovery codes</h1>
<div class="alert alert-ok" role="status">${o.intro}</div>
<p>Keep these codes somewhere safe. Each one signs you in once if you lose your authenticator app or passkey. They are shown only this once.</p>
<ul class="plain" id="recovery-codes" aria-label="Recovery codes">${o.codes.map((c) => html`<li><code class="secret">${c}</code></li>`)}</ul>
<div class="actions"><a class="button" href="/account#security">I have saved my codes</a></div>
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
export function securitySection(s: SecuritySummary, csrfToken: string): Html {
  const hasFactor = s.totpEnabled || s.passkeys.length > 0;
  return html`<section class="card" id="security" aria-labelledby="security-heading">
<h2 id="security-heading">Sign-in security</h2>
<h3>Authenticator app</h3>
${s.totpEnabled
  ? html`<p><span class="badge badge-on">On</span> Signing in with your password asks for a code from your authenticator app.</p>
<form method="post" action="/account/totp/remove">${csrfInput(csrfToken)}<div class="actions"><button type="submit" class="danger">Remove authenticator app</button></div></form>`
  : html`<p class="muted">Add a second step to signing in: a 6-digit code from an app on your phone.</p>
<form method="post" action="/account/totp/start">${csrfInput(csrfToken)}<div class="actions"><button type="submit">Set up authenticator app</button></div></form>`}
<h3>Passkeys</h3>
<p class="muted">A passkey signs you in without a password (“Sign in with a passkey”), and serves as the second step after your password.</p>
${s.passkeys.length > 0 ? html`<ul class="items">${s.passkeys.map((p) => html`<li class="item">
<div class="item-main"><h3>${p.name}</h3><p class="muted">added ${timeOf(p.createdAt)}${p.lastUsedAt !== null ? html` · last used ${timeOf(p.lastUsedAt)}` : ''}</p></div>
<form method="post" action="/account/passkeys/remove" class="item-action">${csrfInput(csrfToken)}<input type="hidden" name="credential_id" value="${p.credentialId}"><button type="submit" class="danger">Remove<span class="visually-hidden"> passkey ${p.name}</span></button></form>
</li>`)}</ul>` : ''}
${passkeyForm({
  mode: 'create', options: '/account/passkeys/options', verify: '/account/passkeys/verify', csrfToken, label: 'Add a passkey', id: 'passkey-add',
  extra: field({ idPrefix: 'passkey', name: 'name', label: 'Passkey label', maxlength: 100, hint: 'So you can tell your passkeys apart, e.g. “Work laptop”.', error: s.errors?.passkey }),
})}
<noscript><p class="muted">Adding a passkey needs JavaScript.</p></noscript>
<h3>Recovery codes</h3>
<p class="muted">${hasFactor || s.recoveryCodesLeft > 0 ? `${s.recoveryCodesLeft} of 10 recovery codes left.` : 'Recovery codes come with your first authenticator app or passkey.'}</p>
<form method="post" action="/account/recovery-codes" id="recovery-create">${csrfInput(csrfToken)}<div class="actions"><button type="submit" class="secondary"${hasFactor ? '' : html` disabled`}>Make new recovery codes</button></div></form>
</section>
${WEBAUTHN_SCRIPT_TAG}`;
}
