// RP-initiated logout's pages (oauth/logout.ts): "Sign out?" when the request could not be
// trusted to end the session by itself, and "You are signed out" when there is nowhere (known)
// to go back to.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { csrfInput } from './forms.js';
import { destination } from './consent.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

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
  /** The page's language; English when omitted. */
  t?: Translator | undefined;
}

function why(o: ConfirmLogoutPageOptions, { t, th }: Translator): Html {
  const client = o.clientName ?? t('logout.anApplication');
  switch (o.reason) {
    case 'invalid_hint':
      return html`<p>${t('logout.why.invalidHint')}</p>`;
    case 'other_user':
      return html`<p>${th('logout.why.otherUser', { client })}</p>`;
    case 'other_session':
      return html`<p>${th('logout.why.otherSession', { client })}</p>`;
    case 'no_hint':
      return o.clientName === null ? html`` : html`<p>${th('logout.why.noHint', { client: o.clientName })}</p>`;
  }
}

export function confirmLogoutPage(o: ConfirmLogoutPageOptions): Html {
  const goBack = o.postLogoutRedirectUri !== null && o.clientId !== null;
  const tr = o.t ?? ENGLISH;
  const { t, th } = tr;
  return layout({
    title: t('logout.confirm.title'),
    t: tr,
    userName: o.userName,
    csrfToken: o.csrfToken,
    body: html`<section class="card narrow">
<h1>${t('logout.confirm.heading')}</h1>
<p class="muted">${t('common.signedInAs', { name: o.userName, email: o.userEmail })}</p>
${why(o, tr)}
<p>${t('logout.explain')}</p>
<form method="post" action="${LOGOUT_CONFIRM_PATH}">
${csrfInput(o.csrfToken)}
${goBack ? html`<input type="hidden" name="client_id" value="${o.clientId ?? ''}">
<input type="hidden" name="post_logout_redirect_uri" value="${o.postLogoutRedirectUri ?? ''}">
${o.state !== null ? html`<input type="hidden" name="state" value="${o.state}">` : html``}` : html``}
${goBack ? html`<p class="hint">${th('logout.afterwards', { destination: destination(o.postLogoutRedirectUri ?? '') })}</p>` : html``}
<div class="actions"><button type="submit">${t('logout.signOut')}</button><a href="/account">${t('logout.stay')}</a></div>
</form>
</section>`,
  });
}

/**
 * "You are signed out"; with `offer`, a link back to the application that asked (not followed
 * by itself: oauth/logout.ts withoutBlindRedirect), naming where it leads.
 */
export function signedOutPage(offer?: { clientName: string; location: string }, tr: Translator = ENGLISH): Html {
  const { t, th } = tr;
  return layout({
    title: t('logout.done.title'),
    t: tr,
    body: html`<section class="card narrow">
<h1>${t('logout.done.heading')}</h1>
<p>${t('logout.done.message')}</p>
${offer ? html`<p>${th('logout.done.offer', { client: offer.clientName, destination: destination(offer.location) })}</p>` : html``}
<div class="actions">${offer ? html`<a class="button" href="${offer.location}">${t('logout.done.goBack', { client: offer.clientName })}</a>` : html``}<a class="button${offer ? ' secondary' : ''}" href="/login">${t('logout.done.signInAgain')}</a></div>
</section>`,
  });
}
