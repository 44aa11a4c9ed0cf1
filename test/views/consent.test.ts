// The consent page (src/views/consent.ts) rendered directly: every name it shows (the client's,
// the user's, organizations') is HTML-escaped, the form carries what the decision needs, the
// organization picker follows the plans, and there is no inline script.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { consentPage, INTEGRATIONS_OFF_MESSAGE, type ConsentPageOptions } from '../../src/views/consent.js';
import { formMarkup, hiddenFields, radioOptions } from '../helpers/html.js';
import { assertNoInlineCode, HOSTILE, HOSTILE_ESCAPED } from '../helpers/markup.js';

function render(overrides: Partial<ConsentPageOptions> = {}): string {
  return consentPage({
    clientName: 'Hover',
    redirectUri: 'https://hover.example/oauth/callback',
    scope: ['profile', 'email'],
    organizations: [],
    selectedOrganizationId: null,
    authorizationRequest: 'encoded-request',
    csrfToken: 'csrf-token',
    userName: 'Ann',
    userEmail: 'ann@example.com',
    ...overrides,
  }).toString();
}

describe('consent page', () => {
  test('the client\'s name, the user\'s name and e-mail, organization names and the error are escaped everywhere', () => {
    const page = render({
      clientName: HOSTILE, userName: HOSTILE, userEmail: HOSTILE, error: HOSTILE,
      organizations: [{ id: 1, name: HOSTILE, integrationsEnabled: true }],
    });
    assert.ok(!page.includes('<script>alert'), 'no raw <script> from a name');
    assert.ok(!page.includes("onerror='y'>"), 'no raw attribute from a name');
    assert.ok(page.includes(`<title>Allow ${HOSTILE_ESCAPED} to access your account? · Latchkey</title>`));
    assert.ok(page.includes(`<h1>Allow <strong>${HOSTILE_ESCAPED}</strong> to access your account?</h1>`));
    assert.ok(page.includes(`<h2>${HOSTILE_ESCAPED} asks to see</h2>`));
    assert.ok(page.includes(`Signed in as ${HOSTILE_ESCAPED} (${HOSTILE_ESCAPED}).`));
    assert.ok(page.includes(`<div class="alert alert-error" role="alert">${HOSTILE_ESCAPED}</div>`));
    assert.ok(page.includes(`<span>${HOSTILE_ESCAPED}</span>`));
    assertNoInlineCode(page);
  });

  test('hidden fields carry the CSRF token and the authorization request, escaped as attribute values', () => {
    const page = render({ csrfToken: 'a"b<c', authorizationRequest: `x"><script>y</script>` });
    assert.deepEqual(hiddenFields(page, '/oauth/authorize/decision'), { csrf_token: 'a"b<c', authorization_request: 'x"><script>y</script>' });
    assert.ok(page.includes('value="x&quot;&gt;&lt;script&gt;y&lt;/script&gt;"'));
    assertNoInlineCode(page);
  });

  test('each scope is listed with what it means; a hostile scope name is escaped', () => {
    const page = render({ scope: ['profile', 'email', '<b>x</b>'] });
    assert.ok(page.includes('<li><strong>profile</strong>: Your name, your language, and your account id</li>'));
    assert.ok(page.includes('<li><strong>email</strong>: Your e-mail address</li>'));
    assert.ok(page.includes('<li><strong>&lt;b&gt;x&lt;/b&gt;</strong>: Access named “&lt;b&gt;x&lt;/b&gt;”</li>'));
    assert.ok(render({ scope: [] }).includes('Only that you have an account here'));
  });

  test('it names where the user will be sent: the host, or an app\'s own scheme', () => {
    assert.ok(render().includes('sends you back to <code>hover.example</code>'));
    assert.ok(render({ redirectUri: 'http://127.0.0.1:8765/cb' }).includes('<code>127.0.0.1:8765</code>'));
    assert.ok(render({ redirectUri: 'com.example.app:/oauth' }).includes('<code>com.example.app</code>'));
  });

  test('organizations: the preselected enabled one is checked; one whose plan has integrations off is disabled with the message', () => {
    const page = render({
      organizations: [{ id: 1, name: 'Acme', integrationsEnabled: true }, { id: 2, name: 'Free Co', integrationsEnabled: false }],
      selectedOrganizationId: 1,
    });
    assert.deepEqual(radioOptions(page, 'organization_id'), [
      { value: '1', disabled: false, checked: true },
      { value: '2', disabled: true, checked: false },
    ]);
    assert.ok(page.includes(`<p class="field-error" id="org-2-note">${INTEGRATIONS_OFF_MESSAGE}</p>`));
    assert.ok(/<button type="submit" name="decision" value="allow">Allow<\/button>/.test(page));
    // A disabled organization is not preselected even when asked.
    assert.deepEqual(radioOptions(render({ organizations: [{ id: 2, name: 'Free Co', integrationsEnabled: false }], selectedOrganizationId: 2 }), 'organization_id'),
      [{ value: '2', disabled: true, checked: false }]);
  });

  test('Allow is disabled when every organization has integrations off; Deny is always there and skips validation', () => {
    const page = render({ organizations: [{ id: 2, name: 'Free Co', integrationsEnabled: false }] });
    assert.ok(page.includes('<button type="submit" name="decision" value="allow" disabled>Allow</button>'));
    assert.ok(page.includes('<button type="submit" name="decision" value="deny" class="secondary" formnovalidate>Deny</button>'));
    assert.ok(formMarkup(render(), '/oauth/authorize/decision')?.includes('value="deny"'));
    assert.deepEqual(radioOptions(render(), 'organization_id'), [], 'no picker without organizations');
  });
});
