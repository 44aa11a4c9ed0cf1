// The developer portal: a user's API clients, registering one, the once-only secret page,
// editing, resetting the secret and deleting, each destructive step behind a confirmation.
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { checkbox, csrfInput, field, formAlert, notice, select, textarea, timeOf, type FormErrors } from './forms.js';
import type { Client, User } from '../oauth/model.js';

interface PageBase {
  user: User;
  csrfToken: string;
}

const REDIRECT_HINT = html`Separate several with commas or put one per line. Each must be an absolute URI without a
<code>#</code> fragment, using <code>https</code> (plain <code>http</code> only for <code>localhost</code> or
<code>127.0.0.1</code>). The app may only be sent back to exactly one of these.`;

const POST_LOGOUT_HINT = html`Optional. The exact addresses your app may ask to send people back to after they sign out here
(<code>post_logout_redirect_uri</code>), by the same rules as the redirect URIs; leave empty if it never does.`;

const ID_TOKEN_ALGS: ReadonlyArray<readonly [string, string]> = [['RS256', 'RS256 (RSA, the default)'], ['ES256', 'ES256 (elliptic curve P-256)']];

/** The OpenID Connect settings both client forms share: post-logout redirect URIs and the ID token algorithm. */
function openIdFields(values: ClientFormValues | ClientEditValues, errors: FormErrors): Html {
  return html`${textarea({ name: 'post_logout_redirect_uris', label: 'Post-logout URIs', value: values.postLogoutRedirectUris, error: errors.post_logout_redirect_uris, hint: POST_LOGOUT_HINT, rows: 2 })}
${select({ name: 'id_token_signed_response_alg', label: 'ID token signing algorithm', value: values.idTokenAlg, error: errors.id_token_signed_response_alg, options: ID_TOKEN_ALGS, hint: 'How the ID tokens your app receives are signed (OpenID Connect).' })}`;
}

function clientPath(client: Client, suffix = ''): string {
  return `/developer/clients/${encodeURIComponent(client.clientId)}${suffix}`;
}

function page(o: PageBase, title: string, body: Html): Html {
  return layout({ title, userName: o.user.name, csrfToken: o.csrfToken, body });
}

function kind(client: Client): string {
  return client.isPublic ? 'Public (no secret, PKCE)' : 'Confidential (with secret)';
}

export function clientListPage(o: PageBase & { clients: Client[]; notice?: string | undefined }): Html {
  return page(o, 'Your API clients', html`<div class="page-head"><h1>Your API clients</h1><a class="button" href="/developer/clients/new">New client</a></div>
${notice(o.notice)}
${o.clients.length === 0
  ? html`<section class="card"><p>You have not registered any API clients yet. A client lets your app ask people for access to their Latchkey account.</p>
<p><a href="/developer/clients/new">Register your first client</a>.</p></section>`
  : html`<ul class="items card">${o.clients.map((c) => html`<li class="item">
<div class="item-main">
<h2 class="item-title"><a href="${clientPath(c)}">${c.name}</a></h2>
<p class="muted">Client id <code>${c.clientId}</code></p>
<p class="muted">${kind(c)} · ${c.redirectUris.length} redirect URI${c.redirectUris.length === 1 ? '' : 's'} · created ${timeOf(c.createdAt)}</p>
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
  return page(o, 'New API client', html`<p class="crumbs"><a href="/developer/clients">Your API clients</a></p>
<section class="card">
<h1>Register an API client</h1>
${formAlert(errors.form)}
<form method="post" action="/developer/clients/new" novalidate>
${csrfInput(o.csrfToken)}
${field({ name: 'name', label: 'Name', value: values.name, error: errors.name, required: true, maxlength: 200, hint: 'People see this name when your app asks for access.' })}
${textarea({ name: 'redirect_uris', label: 'Redirect URIs', value: values.redirectUris, error: errors.redirect_uris, required: true, hint: REDIRECT_HINT })}
${openIdFields(values, errors)}
${checkbox({ name: 'public', label: 'Public client (a mobile, desktop or single-page app)', checked: values.isPublic, hint: 'A public client cannot keep a secret: it gets none and must use PKCE. Leave this off for an app that runs on your server.' })}
<div class="actions"><button type="submit">Register client</button><a href="/developer/clients">Cancel</a></div>
</form>
</section>`);
}

function copyable(id: string, label: string, value: string): Html {
  return html`<div class="field">
<p class="label" id="${id}-label">${label}</p>
<div class="copy-row"><code class="secret" id="${id}">${value}</code>
<button type="button" class="secondary copy" data-copy="${id}" hidden>Copy<span class="visually-hidden"> ${label}</span></button></div>
</div>`;
}

/** Shown once, right after registration or a secret reset; the secret is never shown again. */
export function clientSecretPage(o: PageBase & { client: Client; secret: string | null; reset: boolean }): Html {
  const { client } = o;
  const title = o.reset ? 'New client secret' : 'Client registered';
  return page(o, title, html`<section class="card">
<h1>${title}</h1>
<p><strong>${client.name}</strong> ${o.reset ? 'has a new secret. The old secret no longer works.' : 'is registered.'}</p>
${o.secret !== null
  ? html`<div class="alert alert-warn" role="note"><strong>Copy the client secret now: it is shown only this once.</strong>
We store only a fingerprint of it and cannot show it again; if you lose it, reset it.
Keep it on your server: never put it in client-side code (a browser app, a mobile app) or in a public repository.</div>`
  : html`<p>This is a public client: it has no secret and must use PKCE (<code>code_challenge</code> with <code>S256</code>).</p>`}
${copyable('client-id', 'Client id', client.clientId)}
${o.secret !== null ? copyable('client-secret', 'Client secret', o.secret) : html``}
<div class="actions"><a class="button" href="${clientPath(client)}">Done</a></div>
</section>
<script src="/assets/copy.js" defer></script>`);
}

export function clientEditPage(o: PageBase & { client: Client; values: ClientEditValues; errors: FormErrors; notice?: string | undefined }): Html {
  const { client, values, errors } = o;
  return page(o, client.name, html`<p class="crumbs"><a href="/developer/clients">Your API clients</a></p>
<h1>${client.name}</h1>
${notice(o.notice)}
<section class="card" aria-labelledby="details-heading">
<h2 id="details-heading">Details</h2>
<dl class="details">
<dt>Client id</dt><dd><code>${client.clientId}</code></dd>
<dt>Type</dt><dd>${kind(client)}</dd>
<dt>Grant types</dt><dd>${client.grantTypes.join(', ')}</dd>
<dt>Scopes</dt><dd>${client.scopes.join(' ') || 'none'}</dd>
<dt>Post-logout redirect URIs</dt><dd>${client.postLogoutRedirectUris.length === 0 ? 'none' : html`<ul class="plain">${client.postLogoutRedirectUris.map((u) => html`<li><code>${u}</code></li>`)}</ul>`}</dd>
<dt>ID token algorithm</dt><dd>${client.idTokenSignedResponseAlg}</dd>
<dt>Created</dt><dd>${timeOf(client.createdAt)}</dd>
</dl>
</section>
<section class="card" aria-labelledby="settings-heading">
<h2 id="settings-heading">Settings</h2>
${formAlert(errors.form)}
<form method="post" action="${clientPath(client)}" novalidate>
${csrfInput(o.csrfToken)}
${field({ name: 'name', label: 'Name', value: values.name, error: errors.name, required: true, maxlength: 200 })}
${textarea({ name: 'redirect_uris', label: 'Redirect URIs', value: values.redirectUris, error: errors.redirect_uris, required: true, hint: REDIRECT_HINT })}
${openIdFields(values, errors)}
<div class="actions"><button type="submit">Save changes</button></div>
</form>
</section>
${client.isPublic
  ? html``
  : html`<section class="card" aria-labelledby="secret-heading">
<h2 id="secret-heading">Client secret</h2>
<p>The secret was shown once when it was issued. If it is lost or may have leaked, reset it: the old secret stops working at once.</p>
<div class="actions"><a class="button secondary" href="${clientPath(client, '/reset-secret')}">Reset secret…</a></div>
</section>`}
<section class="card danger-zone" aria-labelledby="delete-heading">
<h2 id="delete-heading">Delete this client</h2>
<p>Deleting it revokes every token it holds; apps using it stop working.</p>
<div class="actions"><a class="button danger" href="${clientPath(client, '/delete')}">Delete client…</a></div>
</section>`);
}

export function confirmResetPage(o: PageBase & { client: Client; error?: string | undefined }): Html {
  const { client } = o;
  return page(o, `Reset the secret of ${client.name}`, html`<p class="crumbs narrow"><a href="${clientPath(client)}">${client.name}</a></p>
<section class="card narrow">
<h1>Reset the client secret?</h1>
<p>A new secret is issued for <strong>${client.name}</strong> and shown once. The current secret stops working <strong>at once</strong>: every server that uses it fails until you give it the new one. Tokens already issued keep working.</p>
<form method="post" action="${clientPath(client, '/reset-secret')}">
${csrfInput(o.csrfToken)}
${checkbox({ name: 'confirm', label: 'I understand that the current secret stops working at once', required: true, error: o.error })}
<div class="actions"><button type="submit" class="danger">Reset secret</button><a href="${clientPath(client)}">Cancel</a></div>
</form>
</section>`);
}

export function confirmDeletePage(o: PageBase & { client: Client; error?: string | undefined }): Html {
  const { client } = o;
  return page(o, `Delete ${client.name}`, html`<p class="crumbs narrow"><a href="${clientPath(client)}">${client.name}</a></p>
<section class="card narrow">
<h1>Delete this client?</h1>
<p><strong>${client.name}</strong> is deleted for good. Every access and refresh token it holds is revoked, people's consent to it is forgotten, and sign-ins through it fail.</p>
<form method="post" action="${clientPath(client, '/delete')}">
${csrfInput(o.csrfToken)}
${checkbox({ name: 'confirm', label: 'I understand that this cannot be undone', required: true, error: o.error })}
<div class="actions"><button type="submit" class="danger">Delete client</button><a href="${clientPath(client)}">Cancel</a></div>
</form>
</section>`);
}
