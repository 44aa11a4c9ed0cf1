// The pages of e-mail links: the page a link opens (a button that uses it, so that a mail
// scanner fetching the link does not), the outcome, "check your inbox" after sign-up when
// verification is required, and the "send the link again" form and its answer.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { csrfInput } from './forms.js';

export function emailLinkPage(o: { csrfToken: string; token: string; purpose: 'verify' | 'change'; email: string }): Html {
  const title = o.purpose === 'verify' ? 'Verify your e-mail address' : 'Confirm your new e-mail address';
  return layout({
    title,
    body: html`<section class="card narrow">
<h1>${title}</h1>
<p>${o.purpose === 'verify' ? html`Confirm that <strong>${o.email}</strong> is your e-mail address.` : html`Use <strong>${o.email}</strong> as the e-mail address of your account from now on.`}</p>
<form method="post" action="/verify-email">
${csrfInput(o.csrfToken)}
<input type="hidden" name="token" value="${o.token}">
<div class="actions"><button type="submit">${o.purpose === 'verify' ? 'Verify e-mail address' : 'Confirm new address'}</button></div>
</form>
</section>`,
  });
}

export function emailLinkDonePage(o: { title: string; message: string; signedIn: boolean; userName?: string | null; csrfToken?: string | null }): Html {
  return layout({
    title: o.title,
    userName: o.userName ?? null,
    csrfToken: o.csrfToken ?? null,
    body: html`<section class="card narrow">
<h1>${o.title}</h1>
<div class="alert alert-ok" role="status">${o.message}</div>
<p><a href="${o.signedIn ? '/account' : '/login'}">${o.signedIn ? 'Go to your account' : 'Sign in'}</a></p>
</section>`,
  });
}

export function emailLinkFailedPage(o: { message: string; signedIn: boolean }): Html {
  return layout({
    title: 'This link cannot be used',
    body: html`<section class="card narrow">
<h1>This link cannot be used</h1>
<div class="alert alert-error" role="alert">${o.message}</div>
<p>${o.signedIn ? html`<a href="/account">Go to your account</a> to ask for a new link.` : html`<a href="/verify-email/resend">Send a new verification link</a> or <a href="/login">sign in</a>.`}</p>
</section>`,
  });
}

/** The "send the link again" form (login page's path for an unverified account, and its own page). */
export function resendForm(o: { csrfToken: string; email: string }): Html {
  return html`<form method="post" action="/verify-email/resend">
${csrfInput(o.csrfToken)}
<label for="resend-email">E-mail address</label>
<input type="email" id="resend-email" name="email" value="${o.email}" autocomplete="email" required maxlength="254">
<div class="actions"><button type="submit">Send the link again</button></div>
</form>`;
}

export function resendPage(o: { csrfToken: string; email: string; notice?: string | null; error?: string | null }): Html {
  return layout({
    title: 'Send a new verification link',
    body: html`<section class="card narrow">
<h1>Send a new verification link</h1>
${o.notice ? html`<div class="alert alert-ok" role="status">${o.notice}</div>` : html``}
${o.error ? html`<div class="alert alert-error" role="alert">${o.error}</div>` : html``}
<p class="muted">Enter the e-mail address of your account. If it still needs to be verified, we send it a new link.</p>
${resendForm(o)}
<p class="muted"><a href="/login">Sign in</a></p>
</section>`,
  });
}

export function checkInboxPage(o: { email: string; csrfToken: string }): Html {
  return layout({
    title: 'Check your inbox',
    body: html`<section class="card narrow">
<h1>Check your inbox</h1>
<div class="alert alert-ok" role="status">Your account is created. We sent a link to <strong>${o.email}</strong>: follow it to verify your address, then sign in.</div>
<p class="muted">No message after a few minutes? Look in your spam folder, or send the link again.</p>
${resendForm({ csrfToken: o.csrfToken, email: o.email })}
</section>`,
  });
}
