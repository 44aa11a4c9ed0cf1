// prompt=select_account (OpenID Connect Core §3.1.2.1): who is signed in, with "continue" and
// "use another account". Both are links (GET): continuing changes nothing, and the other
// account goes through the login page, which replaces the session only after a correct password.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export interface SelectAccountPageOptions {
  clientName: string;
  userName: string;
  userEmail: string;
  csrfToken: string;
  /** The authorization request again, without select_account. */
  continueUrl: string;
  /** The login page, coming back to the request. */
  otherAccountUrl: string;
  /** The page's language; English when omitted. */
  t?: Translator | undefined;
}

export function selectAccountPage(options: SelectAccountPageOptions): Html {
  const tr = options.t ?? ENGLISH;
  const { t, th } = tr;
  return layout({
    title: t('selectAccount.title'),
    t: tr,
    userName: options.userName,
    csrfToken: options.csrfToken,
    body: html`<section class="card narrow">
<h1>${t('selectAccount.title')}</h1>
<p>${th('selectAccount.asks', { client: options.clientName })}</p>
<p>${th('selectAccount.signedInAs', { name: options.userName, email: options.userEmail })}</p>
<div class="actions">
  <a class="button" href="${options.continueUrl}">${t('selectAccount.continueAs', { name: options.userName })}</a>
  <a class="button secondary" href="${options.otherAccountUrl}">${t('selectAccount.other')}</a>
</div>
</section>`,
  });
}
