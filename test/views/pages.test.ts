// Every page a visitor meets first, rendered directly with hostile values: what the visitor
// typed comes back escaped, and no page carries inline script or style (the CSP forbids both).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clientSecretPage } from '../../src/views/developer.js';
import { homePage } from '../../src/views/home.js';
import { LOGIN_FAILED_MESSAGE, loginPage } from '../../src/views/login.js';
import { signupPage } from '../../src/views/signup.js';
import type { Client } from '../../src/oauth/model.js';
import { hiddenFields } from '../helpers/html.js';
import { assertNoInlineCode, HOSTILE, HOSTILE_ESCAPED } from '../helpers/markup.js';

describe('pages', () => {
  test('home: links to sign-in, and to sign-up only when it is open', () => {
    const open = homePage({ signup: true }).toString();
    const closed = homePage({ signup: false }).toString();
    assert.ok(open.includes('href="/signup"'));
    assert.ok(!closed.includes('href="/signup"'));
    assertNoInlineCode(open);
  });

  test('login: the typed e-mail and the next path come back escaped; the sign-up link carries next URL-encoded', () => {
    const page = loginPage({ csrfToken: 't', next: `/oauth/authorize?a=1&b="${HOSTILE}`, email: HOSTILE, error: LOGIN_FAILED_MESSAGE, signupOpen: true }).toString();
    assert.ok(page.includes(`value="${HOSTILE_ESCAPED}"`));
    assert.deepEqual(hiddenFields(page, '/login'), { csrf_token: 't', next: `/oauth/authorize?a=1&b="${HOSTILE}` });
    assert.ok(page.includes(`href="/signup?next=${encodeURIComponent(`/oauth/authorize?a=1&b="${HOSTILE}`).replace(/'/g, '&#39;')}"`));
    assert.ok(page.includes(LOGIN_FAILED_MESSAGE));
    assertNoInlineCode(page);
  });

  test('sign-up: the values typed and the errors come back escaped', () => {
    const page = signupPage({
      csrfToken: 't', next: null, values: { name: HOSTILE, email: HOSTILE, locale: HOSTILE }, errors: { name: HOSTILE, form: HOSTILE },
    }).toString();
    assert.ok(!page.includes('<script>alert'));
    assert.ok(page.split(HOSTILE_ESCAPED).length - 1 >= 5, 'name, e-mail, locale, the name error and the form alert');
    assertNoInlineCode(page);
  });

  test('the once-only secret page loads its copy script as a file and escapes the client name', () => {
    const client: Client = {
      id: 1, clientId: 'cid', secretHash: 'h', name: HOSTILE, redirectUris: ['https://a.example/cb'], ownerUserId: 1, isPublic: false,
      grantTypes: ['authorization_code'], scopes: ['profile'], refreshWithoutSecret: false, createdAt: 0, trusted: false,
      postLogoutRedirectUris: [], idTokenSignedResponseAlg: 'RS256',
      tokenEndpointAuthMethod: null, jwks: null, jwksUri: null, secretSealed: null, metadata: {}, registration: null, registrationTokenHash: null,
    };
    const page = clientSecretPage({ user: { id: 1, email: 'a@example.com', name: 'Ann', locale: 'en', subject: 'subject-1', emailVerified: false, updatedAt: 0 }, csrfToken: 't', client, secret: 'the-secret', reset: false }).toString();
    assert.ok(page.includes('<script src="/assets/copy.js" defer></script>'));
    assert.ok(page.includes(`<strong>${HOSTILE_ESCAPED}</strong>`));
    assert.ok(page.includes('the-secret'));
    assertNoInlineCode(page);
  });
});
