// RP-initiated logout's pages (oauth/logout.ts): "Sign out?" when the request could not be
// trusted to end the session by itself, and "You are signed out" when there is nowhere (known)
// to go back to.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { csrfInput } from './forms.js';
import { destination } from './consent.js';

export const LOGOUT_CONFIRM_PATH = '/oauth/logout/confirm';

export interface ConfirmLogoutPageOptions {
  userName: string;
  userEmail: string;
  csrfToken: string;
  /** The application the request came from, when a valid hint or client_id names it. */
  clientName: string | null;
  /** Why the user is asked (oauth/logout.ts ConfirmReason). */
  reason: 'no_hint' | 'invalid_hint' | 'other_user' | 'other_session';
  /** Sent back with the confirmation, only when the browser may go back there afterwards. */
  clientId: string | null;
  postLogoutRedirectUri: string | null;
  state: string | null;
}

function why(o: ConfirmLogoutPageOptions): Html {
  switch (o.reason) {
    case 'invalid_hint':
      return html`<p>An application asked to sign you out, but its request could not be verified as coming from an application you use.</p>`;
    case 'other_user':
      return html`<p><strong>${o.clientName ?? 'An application'}</strong> asked to sign out someone else than the account you are signed in with.</p>`;
    case 'other_session':
      return html`<p><strong>${o.clientName ?? 'An application'}</strong> asks to sign you out, but from an earlier sign-in than this one.</p>`;
    case 'no_hint':
      return o.clientName === null ? html`` : html`<p><strong>${o.clientName}</strong> asks to sign you out.</p>`;
  }
}

export function confirmLogoutPage(o: ConfirmLogoutPageOptions): Html {
  const goBack = o.postLogoutRedirectUri !== null && o.clientId !== null;
  return layout({
    title: 'Sign out?',
    userName: o.userName,
    csrfToken: o.csrfToken,
    body: html`<section class="card narrow">
<h1>Sign out of Latchkey?</h1>
<p class="muted">Signed in as ${o.userName} (${o.userEmail}).</p>
${why(o)}
<p>Signing out ends your Latchkey session in this browser: the next time an app asks who you are, you sign in again.</p>
<form method="post" action="${LOGOUT_CONFIRM_PATH}">
${csrfInput(o.csrfToken)}
${goBack ? html`<input type="hidden" name="client_id" value="${o.clientId ?? ''}">
<input type="hidden" name="post_logout_redirect_uri" value="${o.postLogoutRedirectUri ?? ''}">
${o.state !== null ? html`<input type="hidden" name="state" value="${o.state}">` : html``}` : html``}
${goBack ? html`<p class="hint">Afterwards you go back to <code>${destination(o.postLogoutRedirectUri ?? '')}</code>.</p>` : html``}
<div class="actions"><button type="submit">Sign out</button><a href="/account">Stay signed in</a></div>
</form>
</section>`,
  });
}

/**
 * "You are signed out"; with `offer`, a link back to the application that asked (not followed
 * by itself: oauth/logout.ts withoutBlindRedirect), naming where it leads.
 */
export function signedOutPage(offer?: { clientName: string; location: string }): Html {
  return layout({
    title: 'Signed out',
    body: html`<section class="card narrow">
<h1>You are signed out</h1>
<p>You have signed out of Latchkey in this browser. You can close this page.</p>
${offer ? html`<p><strong>${offer.clientName}</strong> asked to send you back to <code>${destination(offer.location)}</code>. Follow the link only if you trust that address.</p>` : html``}
<div class="actions">${offer ? html`<a class="button" href="${offer.location}">Go back to ${offer.clientName}</a>` : html``}<a class="button${offer ? ' secondary' : ''}" href="/login">Sign in again</a></div>
</section>`,
  });
}
