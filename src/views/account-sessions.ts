// The account page's list of signed-in sessions: the device each signed in from, the address
// it was last seen from and when, this browser marked, and "Sign out everywhere else".
import { html, type Html } from './html.js';
import { csrfInput, timeOf } from './forms.js';
import { describeDevice } from '../accounts/device.js';

export interface SessionView {
  current: boolean;
  userAgent: string | null;
  address: string | null;
  createdAt: number;
  lastSeenAt: number;
}

function sessionItem(s: SessionView): Html {
  return html`<li class="item">
<div class="item-main">
<h3>${describeDevice(s.userAgent)}${s.current ? html` <span class="badge">This browser</span>` : html``}</h3>
<p class="muted">${s.address ? html`From ${s.address} · ` : html``}last seen ${timeOf(s.lastSeenAt)} · signed in ${timeOf(s.createdAt)}</p>
</div>
</li>`;
}

export function sessionsSection(sessions: readonly SessionView[], csrfToken: string): Html {
  const others = sessions.filter((s) => !s.current).length;
  return html`<section class="card" id="sessions" aria-labelledby="sessions-heading">
<h2 id="sessions-heading">Signed-in sessions</h2>
<p class="muted">Where your account is signed in now. If you do not recognise one, sign out everywhere else and change your password.</p>
<ul class="items">${sessions.map(sessionItem)}</ul>
${others > 0
  ? html`<form method="post" action="/account/sessions/sign-out-others">
${csrfInput(csrfToken)}
<div class="actions"><button type="submit" class="danger">Sign out everywhere else</button></div>
</form>`
  : html`<p class="muted">This browser is the only one signed in.</p>`}
</section>`;
}
