// prompt=select_account (OpenID Connect Core §3.1.2.1): who is signed in, with "continue" and
// "use another account". Both are links (GET): continuing changes nothing, and the other
// account goes through the login page, which replaces the session only after a correct password.
import { html, type Html } from './html.js';
import { layout } from './layout.js';

export interface SelectAccountPageOptions {
  clientName: string;
  userName: string;
  userEmail: string;
  csrfToken: string;
  /** The authorization request again, without select_account. */
  continueUrl: string;
  /** The login page, coming back to the request. */
  otherAccountUrl: string;
}

export function selectAccountPage(options: SelectAccountPageOptions): Html {
  return layout({
    title: 'Choose an account',
    userName: options.userName,
    csrfToken: options.csrfToken,
    body: html`<section class="card narrow">
<h1>Choose an account</h1>
<p><strong>${options.clientName}</strong> asks which account to use.</p>
<p>You are signed in as <strong>${options.userName}</strong> (${options.userEmail}).</p>
<div class="actions">
  <a class="button" href="${options.continueUrl}">Continue as ${options.userName}</a>
  <a class="button secondary" href="${options.otherAccountUrl}">Use another account</a>
</div>
</section>`,
  });
}
