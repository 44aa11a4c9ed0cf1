// The consent page: names the client and where it will send the user, lists what each scope
// means, lets a member of organizations pick the one the grant is for (Hover: consent is per
// organization), and posts allow or deny with the CSRF token and the authorization request.
import type { Organization } from '../oauth/model.js';
import { ENGLISH, type Translator } from '../i18n/index.js';
import { html, type Html } from '../html.js';
import { layout } from './layout.js';

/** Hover's wording, shown for an organization whose plan has integrations off (English; `consent.integrationsOff`). */
export const INTEGRATIONS_OFF_MESSAGE = ENGLISH.t('consent.integrationsOff');

const KNOWN_SCOPES: Readonly<Record<string, 'scope.openid' | 'scope.offline_access' | 'scope.profile' | 'scope.email'>> = {
  openid: 'scope.openid', offline_access: 'scope.offline_access', profile: 'scope.profile', email: 'scope.email',
};

/** What a scope means, in the page's language (oauth/scope.ts describeScope says it in English). */
export function describeScopeIn(t: Translator, scope: string): string {
  const key = Object.hasOwn(KNOWN_SCOPES, scope) ? KNOWN_SCOPES[scope] : undefined;
  return key === undefined ? t.t('scope.other', { scope }) : t.t(key);
}

export interface ConsentPageOptions {
  clientName: string;
  /** Where the browser will be sent: the client's redirect URI. */
  redirectUri: string;
  scope: readonly string[];
  organizations: readonly Organization[];
  /** The organization to preselect, if any. */
  selectedOrganizationId: number | null;
  /** The encoded authorization request (oauth/authorize.ts encodeAuthorizationRequest). */
  authorizationRequest: string;
  csrfToken: string;
  userName: string;
  userEmail: string;
  error?: string | null;
  /** The page's language; English when omitted. */
  t?: Translator | undefined;
}

/** What the user can recognise of a redirect URI: its host, or its scheme for an app's own scheme. */
export function destination(uri: string): string {
  try {
    const url = new URL(uri);
    return url.host !== '' ? url.host : url.protocol.replace(/:$/, '');
  } catch {
    return uri;
  }
}

function organizationPicker(options: ConsentPageOptions, tr: Translator): Html {
  const orgs = options.organizations;
  if (orgs.length === 0) return html``;
  return html`<fieldset>
  <legend>${tr.t('consent.organizationLegend')}</legend>
  ${orgs.map((org) => {
    const id = `org-${org.id}`;
    const enabled = org.integrationsEnabled;
    return html`<label class="radio" for="${id}"><input type="radio" id="${id}" name="organization_id" value="${org.id}" required${
      options.selectedOrganizationId === org.id && enabled ? html` checked` : ''}${
      enabled ? '' : html` disabled aria-describedby="${id}-note"`}> <span>${org.name}</span></label>
  ${enabled ? '' : html`<p class="field-error" id="${id}-note">${tr.t('consent.integrationsOff')}</p>`}`;
  })}
</fieldset>`;
}

export function consentPage(options: ConsentPageOptions): Html {
  const orgs = options.organizations;
  // Allow is offered only when some organization can be allowed (or the user has none). Deny
  // needs no organization: `formnovalidate` lets it past the required radio group.
  const canAllow = orgs.length === 0 || orgs.some((o) => o.integrationsEnabled);
  const tr = options.t ?? ENGLISH;
  const { t, th } = tr;
  const client = options.clientName;
  return layout({
    title: t('consent.title', { client }),
    t: tr,
    userName: options.userName,
    csrfToken: options.csrfToken,
    body: html`<section class="card narrow">
<h1>${th('consent.heading', { client })}</h1>
<p class="muted">${t('common.signedInAs', { name: options.userName, email: options.userEmail })}</p>
${options.error ? html`<div class="alert alert-error" role="alert">${options.error}</div>` : ''}
<form method="post" action="/oauth/authorize/decision">
  <input type="hidden" name="csrf_token" value="${options.csrfToken}">
  <input type="hidden" name="authorization_request" value="${options.authorizationRequest}">
  <h2>${t('consent.asksToSee', { client })}</h2>
  ${options.scope.length === 0
    ? html`<p>${t('consent.noScopes')}</p>`
    : html`<ul class="scopes">${options.scope.map((s) => html`<li><strong>${s}</strong>: ${describeScopeIn(tr, s)}</li>`)}</ul>`}
  ${organizationPicker(options, tr)}
  <p class="hint">${th('consent.sendsBack', { destination: destination(options.redirectUri) })}</p>
  <div class="actions">
    <button type="submit" name="decision" value="allow"${canAllow ? '' : html` disabled`}>${t('consent.allow')}</button>
    <button type="submit" name="decision" value="deny" class="secondary" formnovalidate>${t('consent.deny')}</button>
  </div>
</form>
</section>`,
  });
}
