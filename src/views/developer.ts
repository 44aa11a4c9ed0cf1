// The developer portal: a user's API clients, registering one, the once-only secret page,
// editing, resetting the secret and deleting, each destructive step behind a confirmation.
import { html, type Html } from '../html.js';
import { layout } from './layout.js';
import { checkbox, csrfInput, field, formAlert, notice, select, textarea, timeOf, type FormErrors } from './forms.js';
import type { Client, User } from '../oauth/model.js';
import { hasResettableSecret } from '../accounts/client-registration.js';
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

/** The OpenID Connect settings both client forms share: post-logout redirect URIs and the ID token algorithm. */
function openIdFields(values: ClientFormValues | ClientEditValues, errors: FormErrors, { t, th }: Translator): Html {
  const algs: ReadonlyArray<readonly [string, string]> = [['RS256', t('developer.alg.rs256')], ['ES256', t('developer.alg.es256')]];
  return html`${textarea({ name: 'post_logout_redirect_uris', label: t('developer.postLogoutUris'), value: values.postLogoutRedirectUris, error: errors.post_logout_redirect_uris, hint: th('developer.postLogoutHint'), rows: 2 })}
${select({ name: 'id_token_signed_response_alg', label: t('developer.idTokenAlg'), value: values.idTokenAlg, error: errors.id_token_signed_response_alg, options: algs, hint: t('developer.idTokenAlgHint') })}`;
}

function clientPath(client: Client, suffix = ''): string {
  return `/developer/clients/${encodeURIComponent(client.clientId)}${suffix}`;
}

function page(o: PageBase, title: string, body: Html): Html {
  return layout({ title, t: trOf(o), userName: o.user.name, csrfToken: o.csrfToken, body });
}

function kind(client: Client, { t }: Translator): string {
  // Dynamically registered clients (RFC 7591) may authenticate without a secret: private_key_jwt.
  const how = client.isPublic ? t('developer.kind.public')
    : client.tokenEndpointAuthMethod === 'private_key_jwt' ? t('developer.kind.privateKeyJwt') : t('developer.kind.confidential');
  return client.registration === null ? how : `${how}, ${t('developer.kind.registered')}`;
}

export function clientListPage(o: PageBase & { clients: Client[]; notice?: string | undefined }): Html {
  const tr = trOf(o);
  const { t, th } = tr;
  return page(o, t('developer.list.title'), html`<div class="page-head"><h1>${t('developer.list.title')}</h1><a class="button" href="/developer/clients/new">${t('developer.list.new')}</a></div>
${notice(o.notice)}
${o.clients.length === 0
  ? html`<section class="card"><p>${t('developer.list.empty')}</p>
<p><a href="/developer/clients/new">${t('developer.list.registerFirst')}</a>.</p></section>`
  : html`<ul class="items card">${o.clients.map((c) => html`<li class="item">
<div class="item-main">
<h2 class="item-title"><a href="${clientPath(c)}">${c.name}</a></h2>
<p class="muted">${th('developer.list.clientId', { id: c.clientId })}</p>
<p class="muted">${kind(c, tr)} · ${t(c.redirectUris.length === 1 ? 'developer.list.redirectCount.one' : 'developer.list.redirectCount.other', { count: c.redirectUris.length })} · ${th('developer.list.created', { time: timeOf(c.createdAt) })}</p>
</div>
</li>`)}</ul>`}`);
}

/** What the edit form shows and sends back: the text as typed. */
export interface ClientEditValues {
  name: string;
  redirectUris: string;
  postLogoutRedirectUris: string;
  idTokenAlg: string;
}

export interface ClientFormValues extends ClientEditValues {
  isPublic: boolean;
}

export function newClientPage(o: PageBase & { values: ClientFormValues; errors: FormErrors }): Html {
  const { values, errors } = o;
  const tr = trOf(o);
  const { t, th } = tr;
  return page(o, t('developer.new.title'), html`<p class="crumbs"><a href="/developer/clients">${t('developer.list.title')}</a></p>
<section class="card">
<h1>${t('developer.new.heading')}</h1>
${formAlert(errors.form)}
<form method="post" action="/developer/clients/new" novalidate>
${csrfInput(o.csrfToken)}
${field({ name: 'name', label: t('developer.name'), value: values.name, error: errors.name, required: true, maxlength: 200, hint: t('developer.nameHint') })}
${textarea({ name: 'redirect_uris', label: t('developer.redirectUris'), value: values.redirectUris, error: errors.redirect_uris, required: true, hint: th('developer.redirectHint') })}
${openIdFields(values, errors, tr)}
${checkbox({ name: 'public', label: t('developer.public'), checked: values.isPublic, hint: t('developer.publicHint') })}
<div class="actions"><button type="submit">${t('developer.new.submit')}</button><a href="/developer/clients">${t('common.cancel')}</a></div>
</form>
</section>`);
}

function copyable(id: string, label: string, value: string, { t }: Translator): Html {
  return html`<div class="field">
<p class="label" id="${id}-label">${label}</p>
<div class="copy-row"><code class="secret" id="${id}">${value}</code>
<button type="button" class="secondary copy" data-copy="${id}" data-copied="${t('common.copied')}" data-selected="${t('common.copySelected')}" hidden>${t('common.copy')}<span class="visually-hidden"> ${label}</span></button></div>
</div>`;
}

/** Shown once, right after registration or a secret reset; the secret is never shown again. */
export function clientSecretPage(o: PageBase & { client: Client; secret: string | null; reset: boolean }): Html {
  const { client } = o;
  const tr = trOf(o);
  const { t, th } = tr;
  const title = o.reset ? t('developer.secret.resetTitle') : t('developer.secret.registeredTitle');
  return page(o, title, html`<section class="card">
<h1>${title}</h1>
<p>${o.reset ? th('developer.secret.hasNew', { name: client.name }) : th('developer.secret.registered', { name: client.name })}</p>
${o.secret !== null
  ? html`<div class="alert alert-warn" role="note"><strong>${t('developer.secret.copyNow')}</strong>
${t('developer.secret.warning')}</div>`
  : html`<p>${th('developer.secret.public')}</p>`}
${copyable('client-id', t('developer.clientId'), client.clientId, tr)}
${o.secret !== null ? copyable('client-secret', t('developer.clientSecret'), o.secret, tr) : html``}
<div class="actions"><a class="button" href="${clientPath(client)}">${t('developer.done')}</a></div>
</section>
<script src="/assets/copy.js" defer></script>`);
}

export function clientEditPage(o: PageBase & { client: Client; values: ClientEditValues; errors: FormErrors; notice?: string | undefined }): Html {
  const { client, values, errors } = o;
  const tr = trOf(o);
  const { t, th } = tr;
  const none = t('developer.edit.none');
  return page(o, client.name, html`<p class="crumbs"><a href="/developer/clients">${t('developer.list.title')}</a></p>
<h1>${client.name}</h1>
${notice(o.notice)}
<section class="card" aria-labelledby="details-heading">
<h2 id="details-heading">${t('developer.edit.details')}</h2>
<dl class="details">
<dt>${t('developer.clientId')}</dt><dd><code>${client.clientId}</code></dd>
<dt>${t('developer.edit.type')}</dt><dd>${kind(client, tr)}</dd>
<dt>${t('developer.edit.grantTypes')}</dt><dd>${client.grantTypes.join(', ')}</dd>
<dt>${t('developer.edit.scopes')}</dt><dd>${client.scopes.join(' ') || none}</dd>
<dt>${t('developer.edit.postLogoutUris')}</dt><dd>${client.postLogoutRedirectUris.length === 0 ? none : html`<ul class="plain">${client.postLogoutRedirectUris.map((u) => html`<li><code>${u}</code></li>`)}</ul>`}</dd>
<dt>${t('developer.edit.idTokenAlg')}</dt><dd>${client.idTokenSignedResponseAlg}</dd>
<dt>${t('developer.edit.created')}</dt><dd>${timeOf(client.createdAt)}</dd>
</dl>
</section>
<section class="card" aria-labelledby="settings-heading">
<h2 id="settings-heading">${t('developer.edit.settings')}</h2>
${formAlert(errors.form)}
<form method="post" action="${clientPath(client)}" novalidate>
${csrfInput(o.csrfToken)}
${field({ name: 'name', label: t('developer.name'), value: values.name, error: errors.name, required: true, maxlength: 200 })}
${textarea({ name: 'redirect_uris', label: t('developer.redirectUris'), value: values.redirectUris, error: errors.redirect_uris, required: true, hint: th('developer.redirectHint') })}
${openIdFields(values, errors, tr)}
<div class="actions"><button type="submit">${t('developer.edit.save')}</button></div>
</form>
</section>
${!hasResettableSecret(client)
  ? html``
  : html`<section class="card" aria-labelledby="secret-heading">
<h2 id="secret-heading">${t('developer.edit.secretHeading')}</h2>
<p>${t('developer.edit.secretText')}</p>
<div class="actions"><a class="button secondary" href="${clientPath(client, '/reset-secret')}">${t('developer.edit.resetLink')}</a></div>
</section>`}
<section class="card danger-zone" aria-labelledby="delete-heading">
<h2 id="delete-heading">${t('developer.edit.deleteHeading')}</h2>
<p>${t('developer.edit.deleteText')}</p>
<div class="actions"><a class="button danger" href="${clientPath(client, '/delete')}">${t('developer.edit.deleteLink')}</a></div>
</section>`);
}

export function confirmResetPage(o: PageBase & { client: Client; error?: string | undefined }): Html {
  const { client } = o;
  const { t, th } = trOf(o);
  return page(o, t('developer.reset.title', { name: client.name }), html`<p class="crumbs narrow"><a href="${clientPath(client)}">${client.name}</a></p>
<section class="card narrow">
<h1>${t('developer.reset.heading')}</h1>
<p>${th('developer.reset.text', { name: client.name })}</p>
<form method="post" action="${clientPath(client, '/reset-secret')}">
${csrfInput(o.csrfToken)}
${checkbox({ name: 'confirm', label: t('developer.reset.confirm'), required: true, error: o.error })}
<div class="actions"><button type="submit" class="danger">${t('developer.reset.submit')}</button><a href="${clientPath(client)}">${t('common.cancel')}</a></div>
</form>
</section>`);
}

export function confirmDeletePage(o: PageBase & { client: Client; error?: string | undefined }): Html {
  const { client } = o;
  const { t, th } = trOf(o);
  return page(o, t('developer.delete.title', { name: client.name }), html`<p class="crumbs narrow"><a href="${clientPath(client)}">${client.name}</a></p>
<section class="card narrow">
<h1>${t('developer.delete.heading')}</h1>
<p>${th('developer.delete.text', { name: client.name })}</p>
<form method="post" action="${clientPath(client, '/delete')}">
${csrfInput(o.csrfToken)}
${checkbox({ name: 'confirm', label: t('developer.delete.confirm'), required: true, error: o.error })}
<div class="actions"><button type="submit" class="danger">${t('developer.delete.submit')}</button><a href="${clientPath(client)}">${t('common.cancel')}</a></div>
</form>
</section>`);
}
