// Organizations: the user's memberships, the invitations addressed to them (Accept, Decline)
// and a form to create one; an organization's page with its members, roles (admins change
// them), inviting by e-mail and the pending invitations (admins), and the plan's integrations
// switch, which admins see but only a server administrator flips.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { csrfInput, field, formAlert, notice, timeOf, type FormErrors } from './forms.js';
import type { Invitation, Member, Membership, Organization, PendingInvitation, Role, User } from '../oauth/model.js';

interface PageBase {
  user: User;
  csrfToken: string;
}

const ROLE_LABEL: Record<Role, string> = { admin: 'Admin', member: 'Member' };

function orgPath(org: Organization, suffix = ''): string {
  return `/orgs/${org.id}${suffix}`;
}

function pendingItem(o: PageBase, i: PendingInvitation): Html {
  const base = `/orgs/invitations/${i.id}`;
  return html`<li class="item">
<div class="item-main"><h3 class="item-title">${i.organizationName}</h3>
<p class="muted">You are invited as ${i.role === 'admin' ? 'an admin' : 'a member'} · until ${timeOf(i.expiresAt)}</p></div>
<div class="item-action">
<form method="post" action="${base}/accept">${csrfInput(o.csrfToken)}<button type="submit">Accept<span class="visually-hidden"> the invitation to ${i.organizationName}</span></button></form>
<form method="post" action="${base}/decline">${csrfInput(o.csrfToken)}<button type="submit" class="secondary">Decline<span class="visually-hidden"> the invitation to ${i.organizationName}</span></button></form>
</div>
</li>`;
}

export function orgListPage(o: PageBase & { memberships: Membership[]; invitations: PendingInvitation[]; name: string; errors: FormErrors; notice?: string | undefined }): Html {
  return layout({
    title: 'Organizations',
    userName: o.user.name,
    csrfToken: o.csrfToken,
    body: html`<h1>Organizations</h1>
${notice(o.notice)}
${o.invitations.length === 0
  ? html``
  : html`<section class="card" aria-labelledby="invitations-heading">
<h2 id="invitations-heading">Invitations</h2>
<p class="muted">You become a member only if you accept. An organization you join can see your name and e-mail address, and apps you connect may act for it.</p>
<ul class="items">${o.invitations.map((i) => pendingItem(o, i))}</ul>
</section>`}
<section class="card" aria-labelledby="mine-heading">
<h2 id="mine-heading">Your organizations</h2>
${o.memberships.length === 0
  ? html`<p class="muted">You do not belong to any organization yet. Create one, or ask an admin of one to invite you.</p>`
  : html`<ul class="items">${o.memberships.map((m) => html`<li class="item">
<div class="item-main"><h3 class="item-title"><a href="${orgPath(m.organization)}">${m.organization.name}</a></h3>
<p class="muted">You are ${m.role === 'admin' ? 'an admin' : 'a member'} · integrations ${m.organization.integrationsEnabled ? 'on' : 'off'}</p></div>
</li>`)}</ul>`}
</section>
<section class="card" aria-labelledby="create-heading">
<h2 id="create-heading">Create an organization</h2>
${formAlert(o.errors.form)}
<form method="post" action="/orgs" novalidate>
${csrfInput(o.csrfToken)}
${field({ idPrefix: 'org', name: 'name', label: 'Organization name', value: o.name, error: o.errors.name, required: true, maxlength: 200, hint: 'You become its first admin.' })}
<div class="actions"><button type="submit">Create organization</button></div>
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

function roleSelect(id: string, selected: Role): Html {
  return html`<select id="${id}" name="role">${(['member', 'admin'] as const).map((r) => html`<option value="${r}"${r === selected ? html` selected` : html``}>${ROLE_LABEL[r]}</option>`)}</select>`;
}

function memberItem(o: OrgPageOptions, m: Member): Html {
  const isAdmin = o.role === 'admin';
  const self = m.userId === o.user.id;
  const base = orgPath(o.organization, `/members/${m.userId}`);
  return html`<li class="item">
<div class="item-main">
<h3 class="item-title">${m.name}${self ? html` <span class="muted">(you)</span>` : html``}</h3>
<p class="muted">${m.email}</p>
${isAdmin ? html`` : html`<p><span class="badge">${ROLE_LABEL[m.role]}</span></p>`}
</div>
${isAdmin
  ? html`<div class="item-action">
<form method="post" action="${base}/role" class="role-form">
${csrfInput(o.csrfToken)}
<label for="role-${m.userId}" class="visually-hidden">Role of ${m.name}</label>
${roleSelect(`role-${m.userId}`, m.role)}
<button type="submit" class="secondary">Change role<span class="visually-hidden"> of ${m.name}</span></button>
</form>
<form method="post" action="${base}/remove">
${csrfInput(o.csrfToken)}
<button type="submit" class="link danger-link">${self ? 'Leave' : html`Remove<span class="visually-hidden"> ${m.name}</span>`}</button>
</form>
</div>`
  : self
    ? html`<div class="item-action"><form method="post" action="${base}/remove">${csrfInput(o.csrfToken)}<button type="submit" class="link danger-link">Leave</button></form></div>`
    : html``}
</li>`;
}

function invitationItem(o: OrgPageOptions, i: Invitation): Html {
  const expired = i.expiresAt <= o.now;
  return html`<li class="item">
<div class="item-main"><h3 class="item-title">${i.email}</h3>
<p class="muted">Invited as ${ROLE_LABEL[i.role].toLowerCase()} · ${expired ? html`expired` : html`valid until ${timeOf(i.expiresAt)}`}</p></div>
<div class="item-action"><form method="post" action="${orgPath(o.organization, `/invitations/${i.id}/cancel`)}">
${csrfInput(o.csrfToken)}
<button type="submit" class="link danger-link">Cancel<span class="visually-hidden"> the invitation of ${i.email}</span></button>
</form></div>
</li>`;
}

export function orgPage(o: OrgPageOptions): Html {
  const org = o.organization;
  const isAdmin = o.role === 'admin';
  return layout({
    title: org.name,
    userName: o.user.name,
    csrfToken: o.csrfToken,
    body: html`<p class="crumbs"><a href="/orgs">Organizations</a></p>
<h1>${org.name}</h1>
${notice(o.notice)}
${formAlert(o.errors.form)}
${isAdmin
  ? html`<section class="card" aria-labelledby="plan-heading">
<h2 id="plan-heading">Plan</h2>
<p>Third-party integrations: <span class="badge ${org.integrationsEnabled ? 'badge-on' : 'badge-off'}">${org.integrationsEnabled ? 'On' : 'Off'}</span></p>
<p class="muted">${org.integrationsEnabled
    ? 'Members may connect apps to this organization.'
    : 'Members cannot connect apps to this organization, and tokens already issued for it do not work.'}
The plan is managed by the operator of this server: a server administrator switches integrations on or off with
<code>latchkey org set-integrations --org ${org.id} --enabled true|false</code>.</p>
</section>`
  : html``}
<section class="card" aria-labelledby="members-heading">
<h2 id="members-heading">Members</h2>
<p class="muted">You are ${isAdmin ? 'an admin: you can invite people and change roles' : 'a member'}.</p>
<ul class="items">${o.members.map((m) => memberItem(o, m))}</ul>
</section>
${isAdmin
  ? html`<section class="card" aria-labelledby="invite-heading">
<h2 id="invite-heading">Invite someone</h2>
<form method="post" action="${orgPath(org, '/members')}" novalidate>
${csrfInput(o.csrfToken)}
${field({ idPrefix: 'invite', name: 'email', label: 'E-mail address', type: 'email', value: o.invite.email, error: o.errors.email, required: true, hint: 'They see the invitation when they sign in with this address, and become a member only if they accept. It is valid for 7 days.' })}
<div class="field"><label for="invite-role">Role</label>${roleSelect('invite-role', o.invite.role)}</div>
<div class="actions"><button type="submit">Send invitation</button></div>
</form>
</section>
${o.invitations.length === 0
  ? html``
  : html`<section class="card" aria-labelledby="pending-heading">
<h2 id="pending-heading">Pending invitations</h2>
<ul class="items">${o.invitations.map((i) => invitationItem(o, i))}</ul>
</section>`}`
  : html``}`,
  });
}
