// Organizations: the user's memberships, the invitations addressed to them (Accept, Decline)
// and a form to create one; an organization's page with its members, roles (admins change
// them), inviting by e-mail and the pending invitations (admins), and the plan's integrations
// switch, which admins see but only a server administrator flips.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, notice, timeOf, type FormErrors } from './forms.js';
import type { Invitation, Member, Membership, Organization, PendingInvitation, Role, User } from '../oauth/model.js';
import { ENGLISH, type Translator } from '../i18n/index.js';

interface PageBase {
  user: User;
  csrfToken: string;
  /** The page's language; English when omitted. */
  t?: Translator | undefined;
}

function trOf(o: PageBase): Translator {
  return o.t ?? ENGLISH;
}

function roleLabel({ t }: Translator, role: Role): string {
  return role === 'admin' ? t('orgs.role.admin') : t('orgs.role.member');
}

function orgPath(org: Organization, suffix = ''): string {
  return `/orgs/${org.id}${suffix}`;
}

function pendingItem(o: PageBase, i: PendingInvitation): Html {
  const base = `/orgs/invitations/${i.id}`;
  const { t, th } = trOf(o);
  const org = i.organizationName;
  return html`<li class="item">
<div class="item-main"><h3 class="item-title">${i.organizationName}</h3>
<p class="muted">${i.role === 'admin' ? t('orgs.invitations.asAdmin') : t('orgs.invitations.asMember')} · ${th('orgs.invitations.until', { time: timeOf(i.expiresAt) })}</p></div>
<div class="item-action">
<form method="post" action="${base}/accept">${csrfInput(o.csrfToken)}<button type="submit">${th('orgs.invitations.accept', { org })}</button></form>
<form method="post" action="${base}/decline">${csrfInput(o.csrfToken)}<button type="submit" class="secondary">${th('orgs.invitations.decline', { org })}</button></form>
</div>
</li>`;
}

export function orgListPage(o: PageBase & { memberships: Membership[]; invitations: PendingInvitation[]; name: string; errors: FormErrors; notice?: string | undefined }): Html {
  const tr = trOf(o);
  const { t } = tr;
  return layout({
    title: t('orgs.title'),
    t: tr,
    userName: o.user.name,
    csrfToken: o.csrfToken,
    body: html`<h1>${t('orgs.title')}</h1>
${notice(o.notice)}
${o.invitations.length === 0
  ? html``
  : html`<section class="card" aria-labelledby="invitations-heading">
<h2 id="invitations-heading">${t('orgs.invitations.heading')}</h2>
<p class="muted">${t('orgs.invitations.explain')}</p>
<ul class="items">${o.invitations.map((i) => pendingItem(o, i))}</ul>
</section>`}
<section class="card" aria-labelledby="mine-heading">
<h2 id="mine-heading">${t('orgs.mine.heading')}</h2>
${o.memberships.length === 0
  ? html`<p class="muted">${t('orgs.mine.empty')}</p>`
  : html`<ul class="items">${o.memberships.map((m) => html`<li class="item">
<div class="item-main"><h3 class="item-title"><a href="${orgPath(m.organization)}">${m.organization.name}</a></h3>
<p class="muted">${m.role === 'admin' ? t('orgs.mine.youAreAdmin') : t('orgs.mine.youAreMember')} · ${m.organization.integrationsEnabled ? t('orgs.mine.integrationsOn') : t('orgs.mine.integrationsOff')}</p></div>
</li>`)}</ul>`}
</section>
<section class="card" aria-labelledby="create-heading">
<h2 id="create-heading">${t('orgs.create.heading')}</h2>
${formAlert(o.errors.form)}
<form method="post" action="/orgs" novalidate>
${csrfInput(o.csrfToken)}
${field({ idPrefix: 'org', name: 'name', label: t('orgs.create.name'), value: o.name, error: o.errors.name, required: true, maxlength: 200, hint: t('orgs.create.hint') })}
<div class="actions"><button type="submit">${t('orgs.create.submit')}</button></div>
</form>
</section>`,
  });
}

export interface OrgPageOptions extends PageBase {
  organization: Organization;
  role: Role;
  members: Member[];
  /** The organization's invitations (shown to admins). */
  invitations: Invitation[];
  now: number;
  invite: { email: string; role: Role };
  errors: FormErrors;
  notice?: string | undefined;
}

function roleSelect(id: string, selected: Role, tr: Translator): Html {
  return html`<select id="${id}" name="role">${(['member', 'admin'] as const).map((r) => html`<option value="${r}"${r === selected ? html` selected` : html``}>${roleLabel(tr, r)}</option>`)}</select>`;
}

function memberItem(o: OrgPageOptions, m: Member): Html {
  const isAdmin = o.role === 'admin';
  const self = m.userId === o.user.id;
  const base = orgPath(o.organization, `/members/${m.userId}`);
  const tr = trOf(o);
  const { t, th } = tr;
  return html`<li class="item">
<div class="item-main">
<h3 class="item-title">${m.name}${self ? html` <span class="muted">${t('orgs.member.you')}</span>` : html``}</h3>
<p class="muted">${m.email}</p>
${isAdmin ? html`` : html`<p><span class="badge">${roleLabel(tr, m.role)}</span></p>`}
</div>
${isAdmin
  ? html`<div class="item-action">
<form method="post" action="${base}/role" class="role-form">
${csrfInput(o.csrfToken)}
<label for="role-${m.userId}" class="visually-hidden">${t('orgs.member.roleOf', { name: m.name })}</label>
${roleSelect(`role-${m.userId}`, m.role, tr)}
<button type="submit" class="secondary">${th('orgs.member.changeRole', { name: m.name })}</button>
</form>
<form method="post" action="${base}/remove">
${csrfInput(o.csrfToken)}
<button type="submit" class="link danger-link">${self ? t('orgs.member.leave') : th('orgs.member.remove', { name: m.name })}</button>
</form>
</div>`
  : self
    ? html`<div class="item-action"><form method="post" action="${base}/remove">${csrfInput(o.csrfToken)}<button type="submit" class="link danger-link">${t('orgs.member.leave')}</button></form></div>`
    : html``}
</li>`;
}

function invitationItem(o: OrgPageOptions, i: Invitation): Html {
  const expired = i.expiresAt <= o.now;
  const { t, th } = trOf(o);
  return html`<li class="item">
<div class="item-main"><h3 class="item-title">${i.email}</h3>
<p class="muted">${i.role === 'admin' ? t('orgs.invitation.asAdmin') : t('orgs.invitation.asMember')} · ${expired ? t('orgs.invitation.expired') : th('orgs.invitation.validUntil', { time: timeOf(i.expiresAt) })}</p></div>
<div class="item-action"><form method="post" action="${orgPath(o.organization, `/invitations/${i.id}/cancel`)}">
${csrfInput(o.csrfToken)}
<button type="submit" class="link danger-link">${th('orgs.invitation.cancel', { email: i.email })}</button>
</form></div>
</li>`;
}

export function orgPage(o: OrgPageOptions): Html {
  const org = o.organization;
  const isAdmin = o.role === 'admin';
  const tr = trOf(o);
  const { t, th } = tr;
  return layout({
    title: org.name,
    t: tr,
    userName: o.user.name,
    csrfToken: o.csrfToken,
    body: html`<p class="crumbs"><a href="/orgs">${t('orgs.title')}</a></p>
<h1>${org.name}</h1>
${notice(o.notice)}
${formAlert(o.errors.form)}
${isAdmin
  ? html`<section class="card" aria-labelledby="plan-heading">
<h2 id="plan-heading">${t('orgs.plan.heading')}</h2>
<p>${t('orgs.plan.integrations')} <span class="badge ${org.integrationsEnabled ? 'badge-on' : 'badge-off'}">${org.integrationsEnabled ? t('orgs.plan.on') : t('orgs.plan.off')}</span></p>
<p class="muted">${org.integrationsEnabled ? t('orgs.plan.onText') : t('orgs.plan.offText')}
${th('orgs.plan.managed', { command: `latchkey org set-integrations --org ${org.id} --enabled true|false` })}</p>
</section>`
  : html``}
<section class="card" aria-labelledby="members-heading">
<h2 id="members-heading">${t('orgs.members.heading')}</h2>
<p class="muted">${isAdmin ? t('orgs.members.youAreAdmin') : t('orgs.members.youAreMember')}</p>
<ul class="items">${o.members.map((m) => memberItem(o, m))}</ul>
</section>
${isAdmin
  ? html`<section class="card" aria-labelledby="invite-heading">
<h2 id="invite-heading">${t('orgs.invite.heading')}</h2>
<form method="post" action="${orgPath(org, '/members')}" novalidate>
${csrfInput(o.csrfToken)}
${field({ idPrefix: 'invite', name: 'email', label: t('orgs.invite.email'), type: 'email', value: o.invite.email, error: o.errors.email, required: true, hint: t('orgs.invite.hint') })}
<div class="field"><label for="invite-role">${t('orgs.invite.role')}</label>${roleSelect('invite-role', o.invite.role, tr)}</div>
<div class="actions"><button type="submit">${t('orgs.invite.submit')}</button></div>
</form>
</section>
${o.invitations.length === 0
  ? html``
  : html`<section class="card" aria-labelledby="pending-heading">
<h2 id="pending-heading">${t('orgs.pending.heading')}</h2>
<ul class="items">${o.invitations.map((i) => invitationItem(o, i))}</ul>
</section>`}`
  : html``}`,
  });
}
