// The account page's list of signed-in sessions: the device each signed in from, the address
// it was last seen from and when, this browser marked, and "Sign out everywhere else".
import { html, type Html } from '../html.js';
import { csrfInput, timeOf } from './forms.js';
import { deviceParts } from '../accounts/device.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

export interface SessionView {
  current: boolean;
  userAgent: string | null;
  address: string | null;
  createdAt: number;
  lastSeenAt: number;
}

/** The device in the page's language: "Chrome on Linux", "Chrome op Linux", "Chrome unter Linux". */
function deviceName(userAgent: string | null, { t }: Translator): string {
  const { browser, system } = deviceParts(userAgent);
  if (browser && system) return t('account.sessions.device', { browser, system });
  return browser ?? system ?? t('account.sessions.unknownDevice');
}

function sessionItem(s: SessionView, tr: Translator): Html {
  const { t, th } = tr;
  return html`<li class="item">
<div class="item-main">
<h3>${deviceName(s.userAgent, tr)}${s.current ? html` <span class="badge">${t('account.sessions.thisBrowser')}</span>` : html``}</h3>
<p class="muted">${s.address ? t('account.sessions.from', { address: s.address }) : ''}${th('account.sessions.seen', { lastSeen: timeOf(s.lastSeenAt), signedIn: timeOf(s.createdAt) })}</p>
</div>
</li>`;
}

export function sessionsSection(sessions: readonly SessionView[], csrfToken: string, tr: Translator = ENGLISH): Html {
  const { t } = tr;
  const others = sessions.filter((s) => !s.current).length;
  return html`<section class="card" id="sessions" aria-labelledby="sessions-heading">
<h2 id="sessions-heading">${t('account.sessions.heading')}</h2>
<p class="muted">${t('account.sessions.explain')}</p>
<ul class="items">${sessions.map((s) => sessionItem(s, tr))}</ul>
${others > 0
  ? html`<form method="post" action="/account/sessions/sign-out-others">
${csrfInput(csrfToken)}
<div class="actions"><button type="submit" class="danger">${t('account.sessions.signOutOthers')}</button></div>
</form>`
  : html`<p class="muted">${t('account.sessions.onlyThis')}</p>`}
</section>`;
}
