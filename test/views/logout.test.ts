// RP-initiated logout's pages (src/views/logout.ts) and the OpenID scopes in words, rendered
// directly: names are escaped, the confirmation form carries the way back only when given,
// and no page carries inline script.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { accountPage } from '../../src/views/account.js';
import { consentPage } from '../../src/views/consent.js';
import { confirmLogoutPage, signedOutPage, type ConfirmLogoutPageOptions } from '../../src/views/logout.js';
import type { User } from '../../src/oauth/model.js';
import { hiddenFields } from '../helpers/html.js';
import { assertNoInlineCode, HOSTILE, HOSTILE_ESCAPED } from '../helpers/markup.js';

const USER: User = { id: 1, email: 'ann@example.com', name: 'Ann', locale: 'en', subject: 'sub-1', emailVerified: true, updatedAt: 0 };

function confirm(overrides: Partial<ConfirmLogoutPageOptions> = {}): string {
  return confirmLogoutPage({
    userName: 'Ann', userEmail: 'ann@example.com', csrfToken: 'csrf', clientName: null, reason: 'no_hint',
    clientId: null, postLogoutRedirectUri: null, state: null, ...overrides,
  }).toString();
}

describe('logout pages', () => {
  test('confirmation: the button "Sign out", a CSRF field, and no way back unless given', () => {
    const page = confirm();
    assert.match(page, /<h1>Sign out of Latchkey\?<\/h1>/);
    assert.match(page, /<button type="submit">Sign out<\/button>/);
    assert.deepEqual(hiddenFields(page, '/oauth/logout/confirm'), { csrf_token: 'csrf' });
    assert.doesNotMatch(page, /you go back to/);
    assertNoInlineCode(page);
  });

  test('confirmation with a way back: client_id, the URI and state as hidden fields, the host named; all escaped', () => {
    const page = confirm({ clientName: HOSTILE, clientId: 'cid"<', postLogoutRedirectUri: 'https://rp.example/bye?a="1"', state: HOSTILE, userName: HOSTILE, userEmail: HOSTILE });
    assert.deepEqual(hiddenFields(page, '/oauth/logout/confirm'), { csrf_token: 'csrf', client_id: 'cid"<', post_logout_redirect_uri: 'https://rp.example/bye?a="1"', state: HOSTILE });
    assert.ok(!page.includes('<script>alert'));
    assert.ok(page.includes(`<strong>${HOSTILE_ESCAPED}</strong> asks to sign you out`));
    assert.ok(page.includes('you go back to <code>rp.example</code>'));
    assertNoInlineCode(page);
  });

  test('each reason is said in words; the signed-out page offers to sign in again', () => {
    assert.match(confirm({ reason: 'invalid_hint' }), /could not be verified as coming from an application you use/);
    assert.match(confirm({ reason: 'other_user', clientName: 'RP' }), /<strong>RP<\/strong> asked to sign out someone else/);
    assert.match(confirm({ reason: 'other_session', clientName: 'RP' }), /<strong>RP<\/strong> asks to sign you out, but from an earlier sign-in than this one/);
    const out = signedOutPage().toString();
    assert.match(out, /<h1>You are signed out<\/h1>/);
    assert.match(out, /href="\/login">Sign in again</);
    assertNoInlineCode(out);
  });
});

describe('OpenID scopes in words', () => {
  const OPENID = 'Sign you in with your Latchkey account (it learns an identifier for you, not your password)';
  const OFFLINE = 'Stay connected when you are not using it';

  test('the consent page says what openid and offline_access mean', () => {
    const page = consentPage({
      clientName: 'RP', redirectUri: 'https://rp.example/cb', scope: ['openid', 'profile', 'offline_access'], organizations: [], selectedOrganizationId: null,
      authorizationRequest: 'x', csrfToken: 't', userName: 'Ann', userEmail: 'ann@example.com',
    }).toString();
    assert.ok(page.includes(`<li><strong>openid</strong>: ${OPENID}</li>`));
    assert.ok(page.includes(`<li><strong>offline_access</strong>: ${OFFLINE}</li>`));
    assert.ok(page.includes('<li><strong>profile</strong>: Your name, your language, and your account id</li>'), 'the existing words stay');
  });

  test('the account page lists a connected app\'s openid and offline_access scopes in the same words', () => {
    const page = accountPage({
      user: USER, csrfToken: 't',
      apps: [{ clientId: 1, clientPublicId: 'cid', clientName: 'RP', organizationId: null, organizationName: null, scope: 'openid email offline_access', grantedAt: 0 }],
    }).toString();
    assert.ok(page.includes(`<li><code>openid</code> — ${OPENID}</li>`));
    assert.ok(page.includes(`<li><code>offline_access</code> — ${OFFLINE}</li>`));
    assert.ok(page.includes('<li><code>email</code> — Your e-mail address</li>'));
  });
});
