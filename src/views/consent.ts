// The consent page: names the client and where it will send the user, lists what each scope
// means, lets a member of organizations pick the one the grant is for (Hover: consent is per
// organization), and posts allow or deny with the CSRF token and the authorization request.
import { describeScope } from '../oauth/scope.js';
import type { Organization } from '../oauth/model.js';
import { html, type Html } from './html.js';
import { layout } from './layout.js';

/** Hover's wording, shown for an organization whose plan has integrations off. */
export const INTEGRATIONS_OFF_MESSAGE = 'Third-party integrations are not available on your plan.';

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

function organizationPicker(options: ConsentPageOptions): Html {
  const orgs = options.organizations;
  if (orgs.length === 0) return html``;
  return html`<fieldset>
  <legend>Organization this access is for</legend>
  ${orgs.map((org) => {
    const id = `org-${org.id}`;
    const enabled = org.integrationsEnabled;
    return html`<label class="radio" for="${id}"><input type="radio" id="${id}" name="organization_id" value="${org.id}" required${
      options.selectedOrganizationId === org.id && enabled ? html` checked` : ''}${
      enabled ? '' : html` disabled aria-describedby="${id}-note"`}> <span>${org.name}</span></label>
  ${enabled ? '' : html`<p class="field-error" id="${id}-note">${INTEGRATIONS_OFF_MESSAGE}</p>`}`;
  })}
</fieldset>`;
}

export function consentPage(options: ConsentPageOptions): Html {
  const orgs = options.organizations;
  // Allow is offered only when some organization can be allowed (or the user has none). Deny
  // needs no organization: `formnovalidate` lets it past the required radio group.
  const canAllow = orgs.length === 0 || orgs.some((o) => o.integrationsEnabled);
  const title = `Allow ${options.clientName} to access your account?`;
  return layout({
    title,
    userName: options.userName,
    csrfToken: options.csrfToken,
    body: html`<section class="card narrow">
<h1>Allow <strong>${options.clientName}</strong> to access your account?</h1>
<p class="muted">Signed in as ${options.userName} (${options.userEmail}).</p>
${options.error ? html`<div class="alert alert-error" role="alert">${options.error}</div>` : ''}
<form method="post" action="/oauth/authorize/decision">
  <input type="hidden" name="csrf_token" value="${options.csrfToken}">
  <input type="hidden" name="authorization_request" value="${options.authorizationRequest}">
  <h2>${options.clientName} asks to see</h2>
  ${options.scope.length === 0
    ? html`<p>Only that you have an account here (no personal details).</p>`
    : html`<ul class="scopes">${options.scope.map((s) => html`<li><strong>${s}</strong>: ${describeScope(s)}</li>`)}</ul>`}
  ${organizationPicker(options)}
  <p class="hint">Allowing sends you back to <code>${destination(options.redirectUri)}</code>. You can withdraw this access from your account page at any time.</p>
  <div class="actions">
    <button type="submit" name="decision" value="allow"${canAllow ? '' : html` disabled`}>Allow</button>
    <button type="submit" name="decision" value="deny" class="secondary" formnovalidate>Deny</button>
  </div>
</form>
</section>`,
  });
}
