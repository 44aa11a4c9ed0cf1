// The framework-free pieces of the authorization endpoint: building the redirect (RFC 6749
// §4.1.2, §3.1.2), prompt parsing (OpenID Connect Core §3.1.2.1), carrying the request through
// the consent form, choosing the organization, and stripping prompt=login for the way back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  appendQuery,
  chooseOrganization,
  consentCovers,
  decodeAuthorizationRequest,
  encodeAuthorizationRequest,
  implicitOrganization,
  parsePrompt,
} from '../../src/oauth/authorize.js';
import { returnAfterLogin as withoutPromptLogin } from '../../src/http/routes/authorize.js';

test('appendQuery adds ? or & as needed, encodes values and leaves out undefined ones', () => {
  assert.equal(appendQuery('https://a.example/cb', { code: 'c', state: 's' }), 'https://a.example/cb?code=c&state=s');
  assert.equal(appendQuery('https://a.example/cb?x=1', { code: 'c' }), 'https://a.example/cb?x=1&code=c');
  assert.equal(appendQuery('https://a.example/cb?', { code: 'c' }), 'https://a.example/cb?code=c');
  assert.equal(appendQuery('https://a.example/cb?x=1&', { code: 'c' }), 'https://a.example/cb?x=1&code=c');
  assert.equal(appendQuery('https://a.example/cb', { code: 'c', state: undefined }), 'https://a.example/cb?code=c');
  assert.equal(appendQuery('https://a.example/cb', {}), 'https://a.example/cb');
  assert.equal(appendQuery('com.example.app:/oauth', { code: 'c' }), 'com.example.app:/oauth?code=c');
  const state = 'a b&c=d+e%/?#é😀';
  const url = new URL(appendQuery('https://a.example/cb?x=%20y', { code: 'c', state }));
  assert.equal(url.searchParams.get('state'), state);
  assert.equal(url.searchParams.get('x'), ' y');
  // A lone surrogate (only a malformed request has one) does not throw.
  assert.equal(appendQuery('https://a.example/cb', { state: 'a\uD800b' }), 'https://a.example/cb?state=a%EF%BF%BDb');
});

test('parsePrompt: none, login, consent, select_account; unknown values and none with others are refused', () => {
  assert.deepEqual([...(parsePrompt(undefined) ?? [])], []);
  assert.deepEqual([...(parsePrompt('login consent') ?? [])], ['login', 'consent']);
  assert.deepEqual([...(parsePrompt(' consent  ') ?? [])], ['consent']);
  assert.deepEqual([...(parsePrompt('none') ?? [])], ['none']);
  assert.equal(parsePrompt('none consent'), null);
  assert.deepEqual([...(parsePrompt('select_account') ?? [])], ['select_account']);
  assert.equal(parsePrompt('none select_account'), null);
  assert.equal(parsePrompt('select-account'), null);
  assert.equal(parsePrompt('Login'), null);
});

test('the consent form carries the request byte for byte, and junk decodes to null', () => {
  const params = { client_id: 'abc', state: 'line\r\nbreak\u0000nul "quoted" <tag> 😀', scope: 'profile email' };
  assert.deepEqual({ ...decodeAuthorizationRequest(encodeAuthorizationRequest(params)) }, params);
  for (const junk of [undefined, 42, '', '!!!', Buffer.from('[1,2]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url'), Buffer.from('null').toString('base64url'), 'a'.repeat(20_000)]) {
    assert.equal(decodeAuthorizationRequest(junk), null, String(junk).slice(0, 20));
  }
});

test('consentCovers: every requested scope must have been consented to', () => {
  assert.equal(consentCovers(undefined, []), false);
  assert.equal(consentCovers('profile email', ['email']), true);
  assert.equal(consentCovers('profile', ['profile', 'email']), false);
  assert.equal(consentCovers('', []), true);
});

const on = (id: number) => ({ id, name: `on ${id}`, integrationsEnabled: true });
const off = (id: number) => ({ id, name: `off ${id}`, integrationsEnabled: false });

test('implicitOrganization: none without organizations, the only one if it allows integrations, else ask', () => {
  assert.deepEqual(implicitOrganization([]), { organizationId: null });
  assert.deepEqual(implicitOrganization([on(3)]), { organizationId: 3 });
  assert.equal(implicitOrganization([off(3)]), undefined);
  assert.equal(implicitOrganization([on(3), on(4)]), undefined);
});

test('chooseOrganization: a member organization with integrations on, or none for a user without any', () => {
  assert.deepEqual(chooseOrganization([], undefined), { ok: true, organizationId: null });
  assert.deepEqual(chooseOrganization([], ''), { ok: true, organizationId: null });
  assert.deepEqual(chooseOrganization([], '1'), { ok: false, reason: 'not_member' });
  assert.deepEqual(chooseOrganization([on(1), off(2)], '1'), { ok: true, organizationId: 1 });
  assert.deepEqual(chooseOrganization([on(1), off(2)], '2'), { ok: false, reason: 'integrations_off' });
  assert.deepEqual(chooseOrganization([on(1)], undefined), { ok: false, reason: 'missing' });
  for (const bad of ['3', '1.0', '0x1', ' 1e0', '-1', '1 2']) assert.equal(chooseOrganization([on(1)], bad).ok, false, bad);
});

test('withoutPromptLogin removes only login from prompt and keeps every other byte', () => {
  assert.equal(withoutPromptLogin('/oauth/authorize?a=1&prompt=login&state=x%26y'), '/oauth/authorize?a=1&state=x%26y');
  assert.equal(withoutPromptLogin('/oauth/authorize?prompt=login+consent&state=%zz'), '/oauth/authorize?prompt=consent&state=%zz');
  assert.equal(withoutPromptLogin('/oauth/authorize?prompt=consent%20login'), '/oauth/authorize?prompt=consent');
  assert.equal(withoutPromptLogin('/oauth/authorize?prompt=login'), '/oauth/authorize');
  assert.equal(withoutPromptLogin('/oauth/authorize?p%72ompt=login&x'), '/oauth/authorize?x');
  assert.equal(withoutPromptLogin('/oauth/authorize'), '/oauth/authorize');
  // What the sign-in has answered goes too: select_account, max_age and the hints.
  assert.equal(withoutPromptLogin('/oauth/authorize?prompt=select_account+consent&max_age=0&id_token_hint=x.y.z&login_hint=a%40b&nonce=n&state=%0A'),
    '/oauth/authorize?prompt=consent&nonce=n&state=%0A');
});
